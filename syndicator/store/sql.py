"""The Store protocol in SQL, once for every database: SQLStore combines the parts that SQLite
and PostgreSQL share, and leaves a small seam to each dialect (sqlbase.py).

SQLStore is made of one mixin per domain, each in its own module:
- sqlbase.py: the connection protocols, the dialect's seam, transactions retried, entries read;
- this module: entries saved with their poll, recleaned, listed and forgotten;
- stories_sql.py: which entries tell one story, and every story decided again;
- outbox.py: alerts and notices queued, claimed and marked;
- leases.py: source states, scheduler leases and host slots shared by nodes;
- memory.py: each source's template memory and the full-text pages;
- reports.py: the read-only views.

One transaction per polled source: the new entries, their hits, their outbox rows and the
source's new validators land together or not at all, so a kill at any moment leaves either the
old state (the poll is simply repeated) or the new one — never an entry without its alert or
validators that would hide an unsaved entry. Which entries tell one story is decided by
stories.py; stories_sql.py finds the candidates and records the outcome.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable, Iterator, Sequence

from syndicator import stories
from syndicator.model import (
    FullTextPage,
    NewAlert,
    NewEntry,
    NewNotice,
    ParsedEntry,
    RawEntry,
    Recleaned,
    SourceState,
    SourceUpdate,
    StoredEntry,
    TopicHit,
)
from syndicator.store.api import entry_uid
from syndicator.store.leases import Leases
from syndicator.store.memory import Memory
from syndicator.store.outbox import Outbox
from syndicator.store.reports import Reports
from syndicator.store.sqlbase import _ENTRY_COLUMNS, Connection, Cursor
from syndicator.store.stories_sql import StoryJoins, _Story

__all__ = ["STORY_WINDOW", "Connection", "Cursor", "SQLStore", "default_node"]

STORY_WINDOW = 3 * 86400.0  # default: copies of one story are published within days


def default_node() -> str:
    """Who this store is to the others when the caller does not say: the host."""
    return socket.gethostname()


class SQLStore(Reports, StoryJoins, Outbox, Leases, Memory):
    """The Store and ClusterStore protocols on a SQL database; subclasses supply the dialect.

    `node` names this store among the nodes sharing the database: its claims on outbox rows,
    leases on sources and slots on hosts carry it, and (PostgreSQL) which feed versions this
    node has written."""

    # -- sources ---------------------------------------------------------------------------

    def save_state(
        self, state: SourceState, notices: Sequence[NewNotice] = (), now: float = 0.0
    ) -> None:
        """The source's new state, with any notices about it (channel, subject, body)."""
        with self._transaction():
            self._put_states([state])
            self._put_notices(notices, now)

    def save_states(self, updates: Sequence[SourceUpdate], now: float) -> None:
        """Many sources' new states (and notices) in one transaction: 10,000 sources answering
        304 cost one commit, not 10,000."""
        if not updates:
            return
        with self._transaction():
            self._put_states([state for state, _ in updates])
            self._put_notices([n for _, notices in updates for n in notices], now)

    # -- entries ---------------------------------------------------------------------------

    def all_digests(self, source: str) -> dict[str, str]:
        """Every stored or forgotten entry's digest for a source: what an analysis needs to
        skip the unchanged entries before cleaning them."""
        known = dict(
            self._db.execute("SELECT key, digest FROM forgotten WHERE source=?", (source,))
        )
        # An entry stored again after it was forgotten (it changed) wins.
        known.update(self._db.execute("SELECT key, digest FROM entries WHERE source=?", (source,)))
        return known

    def forget(self, before: float) -> int:
        """Drop entries first seen before `before`, with their hits and outbox rows, keeping
        only their key and digest: a feed that still lists one does not make it new again,
        so it is neither republished nor alerted twice. Returns how many went."""
        # Every cycle asks; almost always nothing is due, and that needs no write lock.
        due = self._db.execute(
            "SELECT 1 FROM entries WHERE first_seen < ? LIMIT 1", (before,)
        ).fetchone()
        if due is None:
            return 0

        def work() -> int:
            self._lock_stories()
            self._db.execute(
                "INSERT INTO forgotten (source, key, digest) "
                "SELECT source, key, digest FROM entries WHERE first_seen < ? "
                "ON CONFLICT (source, key) DO UPDATE SET digest=excluded.digest",
                (before,),
            )
            gone = self._db.execute("DELETE FROM entries WHERE first_seen < ?", (before,)).rowcount
            # Their pages go too: an entry forgotten is never analysed again.
            self._db.execute("DELETE FROM fulltext WHERE fetched < ?", (before,))
            if gone:
                self._promote_orphans()
            return int(gone)

        return self._atomic(work)

    def _promote_orphans(self) -> None:
        """The copies of a forgotten story's standing entry: the most complete of them stands
        for the story now, and the rest stay its copies."""
        orphans: dict[int, list[tuple[tuple[int, str, str], int]]] = {}
        for entry_id, dup_of, length, source, key in self._db.execute(
            "SELECT id, dup_of, length(text), source, key FROM entries e WHERE dup_of IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM entries h WHERE h.id = e.dup_of)"
        ).fetchall():
            orphans.setdefault(int(dup_of), []).append(((length, source, key), int(entry_id)))
        for members in orphans.values():
            head = max(members)[1]
            self._db.execute("UPDATE entries SET dup_of=NULL, dup_why=NULL WHERE id=?", (head,))
            self._db.executemany(
                "UPDATE entries SET dup_of=? WHERE id=?",
                [(head, entry_id) for _, entry_id in members if entry_id != head],
            )

    def save_poll(
        self,
        state: SourceState,
        entries: Sequence[NewEntry],
        alerts: Sequence[NewAlert],
        now: float,
        notices: Sequence[NewNotice] = (),
        dirty: Sequence[str] = (),
        pages: Sequence[FullTextPage] = (),
    ) -> set[str]:
        """Entries, hits, outbox rows and the source state in one transaction, with the feeds
        they make stale (`dirty`, and those of displaced entries) marked for republishing.

        `alerts` name their entry by its index in `entries`. An outbox row is unique per channel
        and entry, so a changed entry that matches again is not alerted twice; and a story
        already known from another source (same link, or near-identical text) is published
        once, in its most complete version, and alerted only for topics not yet alerted.
        Returns the topics of older entries that a more complete version displaced, whose
        feeds must be republished too.
        """

        def work() -> set[str]:
            touched: set[str] = set()
            self._lock_poll(state.name, entries)
            saved = [self._put_entry(e, now, touched) for e in entries]
            for channel, index, topics in alerts:
                entry_id = saved[index]
                self._put_alert(channel, entry_id, topics, now)
            self._put_notices(notices, now)
            self._put_states([state])
            self._put_blocks(state.name, [(e.parsed.key, e.clean.blocks) for e in entries], now)
            self._put_pages(pages, now)
            self._put_dirty([*dirty, *touched])  # last: a shared mark is held the least time
            return touched

        return self._atomic(work)

    # -- feeds to republish ----------------------------------------------------------------

    def mark_dirty(self, feeds: Iterable[str]) -> None:
        """These feeds must be written again (rules changed, entries forgotten)."""
        with self._transaction():
            self._put_dirty(feeds)

    def _put_entry(self, e: NewEntry, now: float, touched: set[str]) -> int:
        """Upsert one entry and decide its story; returns its id."""
        p, c = e.parsed, e.clean
        published = p.published.timestamp() if p.published else None
        stamp = p.updated or p.published
        updated = stamp.timestamp() if stamp else now
        row = self._db.execute(
            "INSERT INTO entries (source, key, digest, uid, title, link, author, raw_title, "
            "raw_link, raw_html, html, text, published, updated, first_seen, story, "
            "raw_orig_link, raw_base) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(source, key) DO UPDATE SET digest=excluded.digest, "
            "title=excluded.title, link=excluded.link, author=excluded.author, "
            "raw_title=excluded.raw_title, raw_link=excluded.raw_link, "
            "raw_orig_link=excluded.raw_orig_link, raw_base=excluded.raw_base, "
            "raw_html=excluded.raw_html, html=excluded.html, text=excluded.text, "
            "published=excluded.published, updated=excluded.updated, story=excluded.story "
            "RETURNING id, dup_of",
            (
                e.source,
                p.key,
                e.digest,
                entry_uid(e.source, p.key),
                c.title,
                c.link,
                p.author,
                p.title,
                p.link,
                p.html,
                c.html,
                c.text,
                published,
                float(updated),
                float(now),
                stories.link_key(c.link),
                p.orig_link,
                p.base,
            ),
        ).fetchone()
        entry_id, dup_of = int(row[0]), row[1]
        story = _Story(entry_id, p.key, published if published is not None else updated,
                       stories.StoryText(e.source, c.title, c.text, c.link), e.sketch)
        with self._batched():
            self._put_hits(entry_id, e.hits)
            self._db.execute("DELETE FROM story_keys WHERE entry_id=?", (entry_id,))
            self._put_keys(story)
            copies = self._db.execute("SELECT 1 FROM entries WHERE dup_of=? LIMIT 1", (entry_id,))
        has_copies = copies.fetchone() is not None
        self._join_story(story, None if dup_of is None else int(dup_of), touched, has_copies)
        return entry_id

    def _put_hits(self, entry_id: int, hits: Sequence[TopicHit]) -> None:
        self._db.execute("DELETE FROM hits WHERE entry_id=?", (entry_id,))
        if hits:
            self._db.executemany(
                "INSERT INTO hits (entry_id, topic, terms) VALUES (?,?,?)",
                [(entry_id, h.topic, json.dumps(list(h.terms))) for h in hits],
            )

    def raw_entries(self) -> Iterator[RawEntry]:
        """Every stored entry as it was fetched, so new cleaning rules can be re-applied."""
        rows = self._db.execute(
            "SELECT id, source, key, raw_title, raw_link, raw_html, author, raw_orig_link, "
            "raw_base FROM entries ORDER BY id"
        ).fetchall()
        for entry_id, source, key, title, link, html, author, orig_link, base in rows:
            yield RawEntry(
                entry_id,
                source,
                ParsedEntry(key, title, link, html, author, orig_link=orig_link, base=base),
            )

    def update_cleaned(self, updates: Sequence[Recleaned]) -> int:
        """New cleaned text and topic hits for stored entries, then every story decided again
        on the new texts, in one transaction. No alerts here, since these stories are not new;
        an entry that now stands alone is marked as after an upgrade (see `regrouped`).
        Returns how many entries' stories changed."""

        def work() -> int:
            self._lock_stories()
            for entry_id, clean, hits in updates:
                self._db.execute(
                    "UPDATE entries SET title=?, link=?, html=?, text=? WHERE id=?",
                    (clean.title, clean.link, clean.html, clean.text, entry_id),
                )
                self._put_hits(entry_id, hits)
            return self._regroup_all()

        return self._atomic(work)

    def feed_entries(self, topic: str | None, limit: int) -> list[StoredEntry]:
        if topic is None:
            rows = self._db.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries e WHERE e.dup_of IS NULL "
                "ORDER BY e.updated DESC, e.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        else:
            rows = self._db.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries e JOIN hits h ON h.entry_id = e.id "
                "WHERE h.topic=? AND e.dup_of IS NULL ORDER BY e.updated DESC, e.id DESC LIMIT ?",
                (topic, limit),
            ).fetchall()
        return self._entries(rows)
