"""The Store protocol in SQL, once for every database: SQLStore holds the queries and the story
logic that SQLite and PostgreSQL share, and leaves a small seam to each dialect.

The seam (what sqlite.py and postgres.py provide):
- `_db`: a DB-API connection whose `execute`/`executemany` take `?` placeholders;
- `_transaction()`: one write transaction (SQLite: BEGIN IMMEDIATE, one writer at a time;
  PostgreSQL: READ COMMITTED, many writers at once);
- `_FOR_UPDATE` and `_SKIP_LOCKED`: the row-locking clauses a shared database needs (empty for
  SQLite, whose write transaction already excludes every other writer);
- `_lock_poll`, `_lock_stories`: what makes the story decision safe beside other writers;
- `_transient`: an error after which a transaction is simply run again (a deadlock);
- the feeds to republish (`_put_dirty`, `dirty_feeds`, `clear_dirty`): one table of marks in
  SQLite; a version per feed and per node in PostgreSQL, where each node writes its own files.

One transaction per polled source: the new entries, their hits, their outbox rows and the
source's new validators land together or not at all, so a kill at any moment leaves either the
old state (the poll is simply repeated) or the new one — never an entry without its alert or
validators that would hide an unsaved entry. Which entries tell one story is decided by
stories.py; this module finds the candidates and records the outcome.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from syndicator import stories
from syndicator.model import (
    Copy,
    FullTextPage,
    NewAlert,
    NewEntry,
    NewNotice,
    Notice,
    OwedAlert,
    ParsedEntry,
    PendingAlert,
    RawEntry,
    Recleaned,
    Regrouped,
    SourceState,
    SourceUpdate,
    StoredEntry,
    Story,
    TopicHit,
)
from syndicator.store.api import entry_uid
from syndicator.store.reports import Reports
from syndicator.template import WINDOW

log = logging.getLogger(__name__)

T = TypeVar("T")

STORY_WINDOW = 3 * 86400.0  # default: copies of one story are published within days
MAX_CANDIDATES = 4  # stories compared word by word per new entry, the likeliest first
MIN_SHARED = 2  # of the sketch's hashes: one alone is too often a common phrase
CHUNK = 500  # ids or names per `IN (…)`: within every database's limit on parameters
JOIN_TRIES = 5  # story decisions redone when another writer changed the story meanwhile


class Cursor(Protocol):
    """What the queries need of a DB-API cursor (sqlite3's and psycopg's both fit)."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection that takes SQL with `?` placeholders."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...


@dataclass(frozen=True)
class _Story:
    """One entry as the story decision sees it."""

    id: int
    key: str
    stamp: float  # publication time (else the feed's update time, else first seen)
    text: stories.StoryText
    sketch: tuple[int, ...]


def default_node() -> str:
    """Who this store is to the others when the caller does not say: the host."""
    return socket.gethostname()


class SQLStore(Reports):
    """The Store and ClusterStore protocols on a SQL database; subclasses supply the dialect.

    `node` names this store among the nodes sharing the database: its claims on outbox rows,
    leases on sources and slots on hosts carry it, and (PostgreSQL) which feed versions this
    node has written."""

    _db: Connection
    node: str
    story_window: float
    _FOR_UPDATE = ""  # locks the rows a SELECT reads until the transaction ends
    _SKIP_LOCKED = ""  # … and passes over rows another transaction holds
    _INSTR = "instr"  # position of a substring, 0 when absent
    _ATTEMPTS = 1  # tries of a transaction that failed transiently

    # -- the dialect's seam --------------------------------------------------------------------

    def _transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _batched(self) -> AbstractContextManager[object]:
        """Statements inside are sent together, their results read at the end (PostgreSQL's
        pipeline: one round trip instead of one each); a plain block elsewhere."""
        return nullcontext()

    def _lock_poll(self, source: str, entries: Sequence[NewEntry]) -> None:
        """Before a poll's stories are decided: wait for every other writer that could be
        deciding the same stories (nothing to do where there is one writer)."""

    def _lock_stories(self) -> None:
        """Before every story is decided again, or entries are forgotten: no other writer
        decides a story meanwhile."""

    def _transient(self, exc: BaseException) -> bool:
        """Whether the transaction that raised `exc` can simply be run again."""
        return False

    def _put_dirty(self, feeds: Iterable[str]) -> None:
        raise NotImplementedError

    def dirty_feeds(self) -> set[str]:
        raise NotImplementedError

    def clear_dirty(self, feeds: Iterable[str]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _atomic(self, work: Callable[[], T]) -> T:
        """`work` in one transaction, run again when the database aborted it transiently
        (PostgreSQL ends one of two deadlocked transactions; the other goes through)."""
        for attempt in range(1, self._ATTEMPTS + 1):
            try:
                with self._transaction():
                    return work()
            except Exception as exc:
                if attempt == self._ATTEMPTS or not self._transient(exc):
                    raise
                log.info("store: transaction aborted (%s); running it again", exc)
        raise AssertionError("unreachable")

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

    def _put_notices(self, notices: Sequence[NewNotice], now: float) -> None:
        if notices:
            self._db.executemany(
                "INSERT INTO outbox (channel, entry_id, topics, subject, body, created) "
                "VALUES (?, NULL, '[]', ?, ?, ?)",
                [(channel, subject, body, now) for channel, subject, body in notices],
            )

    def _put_states(self, states: Sequence[SourceState]) -> None:
        """Upsert sources' states; a stored poll or state ends the source's lease."""
        self._db.executemany(
            "INSERT INTO sources (name, etag, last_modified, last_status, last_error, "
            "last_attempt, last_success, next_poll, failures, unhealthy) "
            "VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(name) DO UPDATE SET etag=excluded.etag, "
            "last_modified=excluded.last_modified, last_status=excluded.last_status, "
            "last_error=excluded.last_error, last_attempt=excluded.last_attempt, "
            "last_success=excluded.last_success, next_poll=excluded.next_poll, "
            "failures=excluded.failures, unhealthy=excluded.unhealthy, "
            "leased_by=NULL, leased_until=NULL",
            [
                (
                    s.name,
                    s.validators.etag,
                    s.validators.last_modified,
                    s.last_status,
                    s.last_error,
                    s.last_attempt,
                    s.last_success,
                    float(s.next_poll),
                    s.failures,
                    int(s.unhealthy),
                )
                for s in states
            ],
        )

    # -- scheduler leases (several schedulers on one database) -----------------------------

    def sync_sources(self, names: Iterable[str]) -> None:
        """A row for every configured source (a new one is due at once), so that leases can
        be taken on sources never polled yet."""
        rows = [(name,) for name in sorted(set(names))]
        if rows:
            with self._transaction():
                self._db.executemany(
                    "INSERT INTO sources (name, next_poll) VALUES (?, 0) "
                    "ON CONFLICT (name) DO NOTHING",
                    rows,
                )

    def claim_sources(
        self, wanted: Sequence[tuple[str, float]], now: float, lease: float
    ) -> list[str]:
        """Lease each wanted source to this node until now+lease, if its next poll is still
        the one the caller read and no other node holds an unexpired lease on it; returns the
        names leased, in the order asked. Atomic: of two schedulers that read the same due
        source, one gets it, so no source is polled twice in one interval."""
        got: set[str] = set()
        with self._transaction():
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                values = ",".join("(?, ?)" for _ in chunk)
                params = [v for name, poll in chunk for v in (name, float(poll))]
                rows = self._db.execute(
                    f"WITH wanted (name, next_poll) AS (VALUES {values}) "
                    "UPDATE sources SET leased_by=?, leased_until=? WHERE name IN ("
                    "SELECT name FROM sources WHERE (name, next_poll) IN "
                    "(SELECT name, next_poll FROM wanted) "
                    "AND (leased_until IS NULL OR leased_until <= ?)"
                    f"{self._FOR_UPDATE}{self._SKIP_LOCKED}) RETURNING name",
                    [*params, self.node, now + lease, now],
                ).fetchall()
                got.update(str(r[0]) for r in rows)
        return [name for name, _ in wanted if name in got]

    def release_sources(self, names: Iterable[str]) -> None:
        """Give back this node's leases on sources it could not enqueue (the broker is down),
        so any scheduler may claim them at once instead of after the lease."""
        rows = [(self.node, name) for name in names]
        if rows:
            with self._transaction():
                self._db.executemany(
                    "UPDATE sources SET leased_by=NULL, leased_until=NULL "
                    "WHERE leased_by=? AND name=?",
                    rows,
                )

    def leased(self, names: Iterable[str], now: float | None = None) -> set[str]:
        """Which of these sources are leased and not yet stored since; with `now`, only those
        whose lease has not expired (an expired one's poll was lost: claim it again)."""
        found: set[str] = set()
        listed = list(names)
        alive = "" if now is None else " AND leased_until > ?"
        for start in range(0, len(listed), CHUNK):
            chunk = listed[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                str(r[0])
                for r in self._db.execute(
                    f"SELECT name FROM sources WHERE leased_by IS NOT NULL{alive} "
                    f"AND name IN ({marks})",
                    [*([] if now is None else [now]), *chunk],
                )
            )
        return found

    # -- politeness across nodes -------------------------------------------------------------

    def acquire_host(
        self, host: str, holder: str, per_host: int, spacing: float, now: float, ttl: float
    ) -> float | None:
        """A request slot on `host` for `holder` (one request), held until now+ttl or its
        release: the time the request may start — at least `spacing` after the previous
        start on that host, cluster-wide — or None while `per_host` live slots are taken.
        Serialized per host by a lock on the host's row; a crashed holder's slot expires."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO host_starts (host) VALUES (?) ON CONFLICT (host) DO NOTHING", (host,)
            )
            (last,) = self._db.execute(
                f"SELECT last_start FROM host_starts WHERE host=?{self._FOR_UPDATE}", (host,)
            ).fetchone()
            self._db.execute(
                "DELETE FROM host_slots WHERE host=? AND (until <= ? OR holder=?)",
                (host, now, holder),
            )
            (held,) = self._db.execute(
                "SELECT count(*) FROM host_slots WHERE host=?", (host,)
            ).fetchone()
            if int(held) >= per_host:
                return None
            start = now if last is None else max(now, float(last) + spacing)
            self._db.execute(
                "INSERT INTO host_slots (host, holder, until) VALUES (?, ?, ?)",
                (host, holder, now + ttl),
            )
            self._db.execute("UPDATE host_starts SET last_start=? WHERE host=?", (start, host))
        return start

    def release_host(self, host: str, holder: str) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM host_slots WHERE host=? AND holder=?", (host, holder))

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

    # -- each source's template memory, full-text pages --------------------------------------

    def template_history(self, source: str) -> list[tuple[str, tuple[str, ...]]]:
        """The block keys of the source's recent entries, newest first (template.WINDOW)."""
        rows = self._db.execute(
            "SELECT key, blocks FROM source_blocks WHERE source=? ORDER BY seen DESC, key LIMIT ?",
            (source, WINDOW),
        ).fetchall()
        return [(str(key), tuple(json.loads(blocks))) for key, blocks in rows]

    def save_template_history(
        self, source: str, entries: Sequence[tuple[str, tuple[str, ...]]], now: float
    ) -> None:
        """Replace a source's memory with these entries' blocks (newest first): a reclean
        learns again from what is stored."""
        with self._transaction():
            self._db.execute("DELETE FROM source_blocks WHERE source=?", (source,))
            self._put_blocks(source, entries, now)

    def _put_blocks(
        self, source: str, entries: Sequence[tuple[str, tuple[str, ...]]], now: float
    ) -> None:
        """Remember the entries' blocks (the first is the newest) and forget all but the
        source's WINDOW most recent entries."""
        if not entries:
            return
        self._db.executemany(
            "INSERT INTO source_blocks (source, key, seen, blocks) VALUES (?,?,?,?) "
            "ON CONFLICT (source, key) DO UPDATE SET seen=excluded.seen, blocks=excluded.blocks",
            [
                (source, key, float(now) - i * 1e-3, json.dumps(list(blocks)))
                for i, (key, blocks) in enumerate(entries)
            ],
        )
        self._db.execute(
            "DELETE FROM source_blocks WHERE source=? AND key NOT IN (SELECT key FROM "
            "source_blocks WHERE source=? ORDER BY seen DESC, key LIMIT ?)",
            (source, source, WINDOW),
        )

    def fulltext_pages(self, links: Iterable[str]) -> dict[str, FullTextPage]:
        """The article pages fetched before (or failed) among these links."""
        found: dict[str, FullTextPage] = {}
        listed = list(dict.fromkeys(links))
        for start in range(0, len(listed), CHUNK):
            chunk = listed[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            for link, source, ok, html, reason in self._db.execute(
                f"SELECT link, source, ok, html, reason FROM fulltext WHERE link IN ({marks})",
                chunk,
            ):
                found[str(link)] = FullTextPage(str(link), str(source), bool(ok), html, reason)
        return found

    def _put_pages(self, pages: Sequence[FullTextPage], now: float) -> None:
        if pages:
            self._db.executemany(
                "INSERT INTO fulltext (link, source, fetched, ok, html, reason) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (link) DO UPDATE SET source=excluded.source, "
                "fetched=excluded.fetched, ok=excluded.ok, html=excluded.html, "
                "reason=excluded.reason",
                [(p.link, p.source, float(now), int(p.ok), p.html, p.reason) for p in pages],
            )

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

    def _put_keys(self, story: _Story) -> None:
        if story.sketch:
            rows = ",".join("(?,?,?)" for _ in story.sketch)
            self._db.execute(
                f"INSERT INTO story_keys (key, stamp, entry_id) VALUES {rows} "
                "ON CONFLICT DO NOTHING",
                [v for key in story.sketch for v in (key, float(story.stamp), story.id)],
            )

    def _join_story(
        self, story: _Story, dup_of: int | None, touched: set[str], has_copies: bool = False
    ) -> int:
        """Find the story this entry tells among the entries published within the window, on
        the evidence of stories.compare, and make the most complete version stand for it.
        Returns the id of the entry that now stands for the story."""
        if dup_of is not None:  # a changed copy: still the same story as the one it joined?
            verdict = stories.compare(story.text, self._story_text(dup_of))
            if verdict.same:
                return dup_of
            log.info("story: entry %d no longer tells story %d: %s", story.id, dup_of, verdict.why)
            self._db.execute("UPDATE entries SET dup_of=NULL, dup_why=NULL WHERE id=?", (story.id,))
        elif has_copies:
            return story.id  # it stands for copies already: it stays their story
        new_rank = stories.rank(story.text.text, story.text.source, story.key)
        for _ in range(JOIN_TRIES):
            join = stories.choose(story.text, new_rank, self._candidates(story))
            if join is None:
                return story.id
            if self._still_head(join.head):
                break
            # Another writer made that story another's copy, or forgot it, since it was read:
            # decide again on what is there now (the lock taken stays until the commit).
        else:
            return story.id
        why = f"{join.verdict.rule}: {join.verdict.why}"
        # The more complete version stands for the story; the other is its copy.
        head, copy = (story.id, join.head) if join.stands else (join.head, story.id)
        if join.stands:  # the old head's copies, and its feeds, go to the new one
            touched.update(
                topic
                for (topic,) in self._db.execute(
                    "SELECT DISTINCT topic FROM hits WHERE entry_id=? "
                    "OR entry_id IN (SELECT id FROM entries WHERE dup_of=?)",
                    (copy, copy),
                )
            )
            self._db.execute("UPDATE entries SET dup_of=? WHERE dup_of=?", (head, copy))
        self._db.execute("UPDATE entries SET dup_of=?, dup_why=? WHERE id=?", (head, why, copy))
        log.info(
            "story: entry %d (source=%s %r) joins story %d, which entry %d stands for: %s",
            story.id, story.text.source, story.text.title, join.head, head, why,
        )
        return head

    def _still_head(self, entry_id: int) -> bool:
        """Lock a story's standing entry for this transaction (PostgreSQL: its row, so a
        writer joining or taking over the same story waits), and say whether it still stands
        for its story."""
        row = self._db.execute(
            f"SELECT dup_of FROM entries WHERE id=?{self._FOR_UPDATE}", (entry_id,)
        ).fetchone()
        return row is not None and row[0] is None

    def _candidates(self, story: _Story) -> Iterator[stories.Candidate]:
        """The stories (their standing entries) that may be this one's: the same link, or a
        shared shingle hash, within the window of publication time; the likeliest first, each
        read only when the one before was not it."""
        low, high = story.stamp - self.story_window, story.stamp + self.story_window
        found: dict[int, int] = {}
        link = stories.link_key(story.text.link)
        by_link = by_sketch = None
        with self._batched():
            if link is not None:
                by_link = self._db.execute(
                    "SELECT id FROM entries WHERE story=? AND id<>? "
                    "AND coalesce(published, updated) BETWEEN ? AND ? ORDER BY id LIMIT ?",
                    (link, story.id, low, high, MAX_CANDIDATES),
                )
            if story.sketch:
                marks = ",".join("?" * len(story.sketch))
                by_sketch = self._db.execute(
                    f"SELECT entry_id, count(*) AS shared FROM story_keys WHERE key IN ({marks}) "
                    "AND stamp BETWEEN ? AND ? AND entry_id<>? GROUP BY entry_id "
                    "HAVING count(*) >= ? ORDER BY shared DESC, entry_id LIMIT ?",
                    (*story.sketch, low, high, story.id, MIN_SHARED, MAX_CANDIDATES),
                )
        for (other,) in by_link.fetchall() if by_link is not None else ():
            found[int(other)] = len(story.sketch) + 1
        for other, shared in by_sketch.fetchall() if by_sketch is not None else ():
            found[int(other)] = max(found.get(int(other), 0), int(shared))
        if not found:
            return
        marks = ",".join("?" * len(found))
        head_of = {  # an entry forgotten meanwhile by another writer is not there
            int(other): int(other) if dup_of is None else int(dup_of)
            for other, dup_of in self._db.execute(
                f"SELECT id, dup_of FROM entries WHERE id IN ({marks})", list(found)
            ).fetchall()
        }
        heads: dict[int, int] = {}
        for other, score in sorted(found.items(), key=lambda item: (-item[1], item[0])):
            head = head_of.get(other)
            if head is not None and head != story.id:
                heads.setdefault(head, score)
        for head in heads:
            row = self._db.execute(
                "SELECT source, title, text, link, key FROM entries WHERE id=?", (head,)
            ).fetchone()
            if row is None:
                continue
            source, title, text, link, key = row
            yield stories.Candidate(
                head,
                stories.StoryText(str(source), str(title), str(text), str(link)),
                stories.rank(str(text), str(source), str(key)),
            )

    def _story_text(self, entry_id: int) -> stories.StoryText:
        source, title, text, link = self._db.execute(
            "SELECT source, title, text, link FROM entries WHERE id=?", (entry_id,)
        ).fetchone()
        return stories.StoryText(str(source), str(title), str(text), str(link))

    def _regroup_all(self) -> int:
        """Decide every stored entry's story again, in the order they arrived (after an
        upgrade of the rule, or new cleaning rules). An entry that was hidden as a copy and now
        stands alone is marked for an alert (it never had one); every entry whose story changed
        is marked, so its feeds are written again. Returns how many changed."""
        self._lock_stories()
        before = {int(i): d for i, d in self._db.execute("SELECT id, dup_of FROM entries")}
        self._db.execute("DELETE FROM story_keys")
        self._db.execute("UPDATE entries SET dup_of=NULL, dup_why=NULL")
        rows = self._db.execute(
            "SELECT id, key, coalesce(published, updated), source, title, text, link "
            "FROM entries ORDER BY id"
        ).fetchall()
        touched: set[str] = set()
        for entry_id, key, stamp, source, title, text, link in rows:
            self._db.execute(
                "UPDATE entries SET story=? WHERE id=?", (stories.link_key(link), entry_id)
            )
            story = _Story(
                int(entry_id),
                str(key),
                float(stamp),
                stories.StoryText(str(source), str(title), str(text), str(link)),
                stories.sketch(str(text)),
            )
            self._put_keys(story)
            self._join_story(story, None, touched)
        after = {int(i): d for i, d in self._db.execute("SELECT id, dup_of FROM entries")}
        changed = [
            (entry_id, int(before[entry_id] is not None and dup_of is None))
            for entry_id, dup_of in after.items()
            if before.get(entry_id) != dup_of
        ]
        self._db.executemany(
            "INSERT INTO regrouped (entry_id, alert) VALUES (?,?) "
            "ON CONFLICT(entry_id) DO UPDATE SET alert = CASE "
            "WHEN excluded.alert > regrouped.alert THEN excluded.alert ELSE regrouped.alert END",
            changed,
        )
        if changed:
            log.warning(
                "story: decided the story of %d entries again; %d changed, %d now stand alone",
                len(rows), len(changed), sum(alert for _, alert in changed),
            )
        return len(changed)

    def _put_alert(self, channel: str, entry_id: int, topics: tuple[str, ...], now: float) -> bool:
        """One outbox row, for the topics not yet alerted for this story on this channel;
        False when there is none to add (all alerted, or this entry was alerted already)."""
        done = self._alerted_topics(channel, entry_id)
        topics = tuple(t for t in topics if t not in done)
        if not topics:
            return False
        added = self._db.execute(
            "INSERT INTO outbox (channel, entry_id, topics, created) VALUES (?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            (channel, entry_id, json.dumps(list(topics)), now),
        ).rowcount
        return bool(added)

    def _alerted_topics(self, channel: str, entry_id: int) -> set[str]:
        """The topics alerted on a channel for the other entries of this entry's story, as the
        story stands now (its standing entry and every copy)."""
        head = "(SELECT coalesce(dup_of, id) FROM entries WHERE id=?)"
        done: set[str] = set()
        for (topics,) in self._db.execute(
            "SELECT topics FROM outbox WHERE channel=? AND entry_id IN ("
            f"SELECT id FROM entries WHERE id = {head} AND id<>? "
            f"UNION ALL SELECT id FROM entries WHERE dup_of = {head} AND id<>?)",
            (channel, entry_id, entry_id, entry_id, entry_id),
        ):
            done.update(json.loads(topics))
        return done

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

    def regrouped(self) -> list[Regrouped]:
        """Entries whose story changed when every story was decided again: each with whether
        it now stands alone after being hidden as a copy (so was never alerted), and when it
        was first seen."""
        rows = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS}, r.alert, e.first_seen FROM regrouped r "
            "JOIN entries e ON e.id = r.entry_id ORDER BY e.id"
        ).fetchall()
        entries = self._entries(r[:10] for r in rows)
        return [Regrouped(e, bool(r[10]), float(r[11])) for e, r in zip(entries, rows, strict=True)]

    def settle_regrouped(
        self, alerts: Sequence[OwedAlert], now: float, dirty: Sequence[str] = ()
    ) -> int:
        """Queue the alerts (channel, entry id, topics) that regrouped entries are owed, mark
        the `dirty` feeds for republishing and clear the marks, in one transaction. An entry
        alerted before (it stood for its story once), or a topic already alerted for its story
        on that channel, is not alerted again. Returns how many alerts were queued."""

        def work() -> int:
            queued = sum(
                self._put_alert(channel, entry_id, topics, now)
                for channel, entry_id, topics in alerts
            )
            self._db.execute("DELETE FROM regrouped")
            self._put_dirty(dirty)
            return queued

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

    def stories(self, search: str | None = None, limit: int = 50) -> list[Story]:
        """Published entries that stand for copies, newest first, each with its copies and the
        evidence; `search` keeps those whose title or link contains it (any case)."""
        where = "e.dup_of IS NULL AND EXISTS (SELECT 1 FROM entries c WHERE c.dup_of = e.id)"
        args: list[object] = []
        if search:
            where += (
                f" AND ({self._INSTR}(lower(e.title), lower(CAST(? AS TEXT))) > 0"
                f" OR {self._INSTR}(lower(e.link), lower(CAST(? AS TEXT))) > 0)"
            )
            args += [search, search]
        rows = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries e WHERE {where} "
            "ORDER BY e.updated DESC, e.id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        found = []
        for entry in self._entries(rows):
            copies = self._db.execute(
                "SELECT source, title, link, coalesce(dup_why, '') FROM entries WHERE dup_of=? "
                "ORDER BY id",
                (entry.id,),
            ).fetchall()
            found.append(Story(entry, tuple(Copy(*map(str, c)) for c in copies)))
        return found

    def _entries(self, rows: Iterable[Sequence[object]]) -> list[StoredEntry]:
        rows = list(rows)
        hits: dict[int, list[TopicHit]] = {}
        ids = [int(str(r[0])) for r in rows]
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            for entry_id, topic, terms in self._db.execute(
                f"SELECT entry_id, topic, terms FROM hits WHERE entry_id IN ({marks}) "
                "ORDER BY topic",
                chunk,
            ):
                hits.setdefault(entry_id, []).append(TopicHit(topic, tuple(json.loads(terms))))
        return [_stored(r, tuple(hits.get(int(str(r[0])), ()))) for r in rows]

    # -- outbox ----------------------------------------------------------------------------

    def pending_alerts(self, channel: str, now: float, limit: int = 100) -> list[PendingAlert]:
        """Unsent alerts due on a channel, claimed or not (what a single sender would send)."""
        return self._alerts(
            "o.channel=? AND o.sent IS NULL AND o.given_up IS NULL AND o.next_try <= ? "
            "ORDER BY o.id LIMIT ?",
            (channel, now, limit),
        )

    def _alerts(self, where: str, params: Sequence[object]) -> list[PendingAlert]:
        rows = self._db.execute(
            f"SELECT o.id, o.channel, o.topics, o.attempts, o.created, {_ENTRY_COLUMNS} "
            f"FROM outbox o JOIN entries e ON e.id = o.entry_id WHERE {where}",
            params,
        ).fetchall()
        entries = self._entries(r[5:] for r in rows)
        return [
            PendingAlert(
                id=int(r[0]),
                channel=str(r[1]),
                entry=entry,
                topics=tuple(json.loads(r[2])),
                attempts=int(r[3]),
                created=float(r[4]),
            )
            for r, entry in zip(rows, entries, strict=True)
        ]

    def pending_notices(self, channel: str, now: float) -> list[Notice]:
        return self._notices(
            "channel=? AND entry_id IS NULL AND sent IS NULL AND given_up IS NULL "
            "AND next_try <= ? ORDER BY id",
            (channel, now),
        )

    def _notices(self, where: str, params: Sequence[object]) -> list[Notice]:
        rows = self._db.execute(
            f"SELECT id, channel, subject, body, attempts FROM outbox WHERE {where}", params
        ).fetchall()
        return [Notice(int(r[0]), str(r[1]), r[2] or "", r[3] or "", int(r[4])) for r in rows]

    def _claim(self, channel: str, alerts: bool, now: float, limit: int, ttl: float) -> list[int]:
        """Mark up to `limit` unsent, due outbox rows that no live claim holds as this node's
        until now+ttl; the ids claimed, oldest first. Two nodes claiming at once get disjoint
        rows (PostgreSQL: the rows another transaction is claiming are skipped)."""
        kind = "entry_id IS NOT NULL" if alerts else "entry_id IS NULL"
        with self._transaction():
            rows = self._db.execute(
                "UPDATE outbox SET claimed_by=?, claimed_until=? WHERE id IN ("
                f"SELECT id FROM outbox WHERE channel=? AND {kind} AND sent IS NULL "
                "AND given_up IS NULL AND next_try <= ? "
                "AND (claimed_until IS NULL OR claimed_until <= ?) "
                f"ORDER BY id LIMIT ?{self._FOR_UPDATE}{self._SKIP_LOCKED}) RETURNING id",
                (self.node, now + ttl, channel, now, now, limit),
            ).fetchall()
        return sorted(int(r[0]) for r in rows)

    def claim_alerts(
        self, channel: str, now: float, limit: int, ttl: float
    ) -> list[PendingAlert]:
        """Claim due alerts for delivery by this node (see _claim): nobody else sends them
        until they are marked sent or failed, released, or the claim expires (a node that died
        mid-send: the one alert in flight is sent again, once)."""
        ids = self._claim(channel, True, now, limit, ttl)
        return self._by_ids(ids, lambda where, chunk: self._alerts(f"o.id IN ({where})", chunk))

    def claim_notices(self, channel: str, now: float, limit: int, ttl: float) -> list[Notice]:
        """As claim_alerts, for notices (outbox rows about Syndicator itself)."""
        ids = self._claim(channel, False, now, limit, ttl)
        return self._by_ids(ids, lambda where, chunk: self._notices(f"id IN ({where})", chunk))

    @staticmethod
    def _by_ids(ids: list[int], read: Callable[[str, list[int]], list[T]]) -> list[T]:
        found: list[T] = []
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            found += read(",".join("?" * len(chunk)), chunk)
        return found

    def release(self, ids: Iterable[int]) -> None:
        """Give back this node's claims on these unsent rows, for any node to send."""
        rows = [(self.node, int(i)) for i in ids]
        if rows:
            with self._transaction():
                self._db.executemany(
                    "UPDATE outbox SET claimed_by=NULL, claimed_until=NULL "
                    "WHERE claimed_by=? AND id=? AND sent IS NULL",
                    rows,
                )

    def next_retry(self) -> float | None:
        """When the earliest unsent outbox row may be tried again (the daemon wakes for it)."""
        row = self._db.execute(
            "SELECT min(next_try) FROM outbox WHERE sent IS NULL AND given_up IS NULL"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def mark_sent(self, alert_id: int, now: float) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET sent=?, claimed_by=NULL, claimed_until=NULL WHERE id=?",
                (now, alert_id),
            )

    def mark_failed(self, alert_id: int, error: str, next_try: float) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=?, next_try=?, "
                "claimed_by=NULL, claimed_until=NULL WHERE id=?",
                (error, next_try, alert_id),
            )

    def mark_undeliverable(self, alert_id: int, error: str, now: float) -> None:
        """The receiver refused this row for good (a webhook's 404, say): it is kept with its
        error, counted as failed, and never tried again."""
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=?, given_up=?, "
                "claimed_by=NULL, claimed_until=NULL WHERE id=?",
                (error, now, alert_id),
            )


_ENTRY_COLUMNS = (
    "e.id, e.uid, e.source, e.title, e.link, e.html, e.text, e.author, e.published, e.updated"
)


def _stored(r: Sequence[object], hits: tuple[TopicHit, ...]) -> StoredEntry:
    published = r[8]
    return StoredEntry(
        id=int(str(r[0])),
        uid=str(r[1]),
        source=str(r[2]),
        title=str(r[3]),
        link=str(r[4]),
        html=str(r[5]),
        text=str(r[6]),
        author=str(r[7]),
        published=_dt(published) if isinstance(published, float | int) else None,
        updated=_dt(r[9]) if isinstance(r[9], float | int) else datetime.now(UTC),
        hits=hits,
    )


def _dt(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)
