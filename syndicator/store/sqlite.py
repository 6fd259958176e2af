"""The embedded store: SQLite in WAL mode, one file, one writer.

One transaction per polled source: the new entries, their hits, their outbox rows and the
source's new validators land together or not at all, so a kill at any moment leaves either the
old state (the poll is simply repeated) or the new one — never an entry without its alert or
validators that would hide an unsaved entry. Which entries tell one story is decided by
stories.py; this module finds the candidates and records the outcome.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from syndicator import stories
from syndicator.errors import StoreError
from syndicator.model import (
    Copy,
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
from syndicator.redact import shown
from syndicator.store import schema
from syndicator.store.api import entry_uid
from syndicator.store.reports import Reports

log = logging.getLogger(__name__)


def database_trouble(path: Path, exc: sqlite3.Error) -> StoreError:
    """A sqlite3 error as one line that names the file and says what to do, instead of a
    traceback: a full disk and a damaged file are the operator's to fix, not a bug."""
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    text = str(exc).lower()
    if name == "SQLITE_FULL" or "disk is full" in text:
        advice = "the disk is full: free some space (what was not saved is redone)"
    elif name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text:
        advice = (
            "the file is damaged: restore it from a backup, or move it aside to start afresh "
            "(every entry is then new, and alerted, again)"
        )
    elif name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        advice = "another process holds it locked: try again"
    else:
        advice = "check the disk and the file's permissions"
    return StoreError(f"state database {path}: {shown(str(exc))}; {advice}")


@contextmanager
def database_errors(path: Path) -> Iterator[None]:
    """Raise any sqlite3 error inside as database_trouble()."""
    try:
        yield
    except sqlite3.Error as exc:
        raise database_trouble(path, exc) from exc


STORY_WINDOW = 3 * 86400.0  # default: copies of one story are published within days
MAX_CANDIDATES = 4  # stories compared word by word per new entry, the likeliest first
MIN_SHARED = 2  # of the sketch's hashes: one alone is too often a common phrase


@dataclass(frozen=True)
class _Story:
    """One entry as the story decision sees it."""

    id: int
    key: str
    stamp: float  # publication time (else the feed's update time, else first seen)
    text: stories.StoryText
    sketch: tuple[int, ...]


class SQLiteStore(Reports):
    """The Store protocol on one SQLite file. `read_only=True` opens an existing database for
    the reports only: nothing is created or migrated, so `status` can run beside the daemon."""

    def __init__(
        self, path: Path, story_window: float = STORY_WINDOW, *, read_only: bool = False
    ) -> None:
        self.path = path
        self.story_window = story_window
        try:
            if read_only:
                self._db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
                self._db.execute("PRAGMA busy_timeout=5000")
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            # The pipeline uses the store from one worker thread at a time, never concurrently.
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=5000")
            schema.create(self._db)
            with self._transaction():
                if schema.migrate(self._db):
                    self._regroup_all()
        except sqlite3.Error as exc:
            raise database_trouble(path, exc) from exc

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:  # SQLite ends it itself on a full disk or an I/O error
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    # -- sources ---------------------------------------------------------------------------

    def save_state(
        self, state: SourceState, notices: Sequence[NewNotice] = (), now: float = 0.0
    ) -> None:
        """The source's new state, with any notices about it (channel, subject, body)."""
        with self._transaction():
            self._put_state(state)
            self._put_notices(notices, now)

    def _put_notices(self, notices: Sequence[NewNotice], now: float) -> None:
        self._db.executemany(
            "INSERT INTO outbox (channel, entry_id, topics, subject, body, created) "
            "VALUES (?, NULL, '[]', ?, ?, ?)",
            [(channel, subject, body, now) for channel, subject, body in notices],
        )

    def _put_state(self, s: SourceState) -> None:
        self._db.execute(
            "INSERT INTO sources (name, etag, last_modified, last_status, last_error, "
            "last_attempt, last_success, next_poll, failures, unhealthy) "
            "VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(name) DO UPDATE SET etag=excluded.etag, "
            "last_modified=excluded.last_modified, last_status=excluded.last_status, "
            "last_error=excluded.last_error, last_attempt=excluded.last_attempt, "
            "last_success=excluded.last_success, next_poll=excluded.next_poll, "
            "failures=excluded.failures, unhealthy=excluded.unhealthy",
            (
                s.name,
                s.validators.etag,
                s.validators.last_modified,
                s.last_status,
                s.last_error,
                s.last_attempt,
                s.last_success,
                s.next_poll,
                s.failures,
                int(s.unhealthy),
            ),
        )

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
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO forgotten (source, key, digest) "
                "SELECT source, key, digest FROM entries WHERE first_seen < ?",
                (before,),
            )
            gone = self._db.execute("DELETE FROM entries WHERE first_seen < ?", (before,)).rowcount
            if gone:
                self._promote_orphans()
        return int(gone)

    def _promote_orphans(self) -> None:
        """The copies of a forgotten story's standing entry: the most complete of them stands
        for the story now, and the rest stay its copies."""
        orphans: dict[int, list[tuple[tuple[int, str, str], int]]] = {}
        for entry_id, dup_of, length, source, key in self._db.execute(
            "SELECT id, dup_of, length(text), source, key FROM entries "
            "WHERE dup_of IS NOT NULL AND dup_of NOT IN (SELECT id FROM entries)"
        ).fetchall():
            orphans.setdefault(int(dup_of), []).append(((length, source, key), int(entry_id)))
        for members in orphans.values():
            head = max(members)[1]
            self._db.execute("UPDATE entries SET dup_of=NULL, dup_why=NULL WHERE id=?", (head,))
            self._db.executemany(
                "UPDATE entries SET dup_of=? WHERE id=?",
                [(head, entry_id) for _, entry_id in members if entry_id != head],
            )

    def save_states(self, updates: Sequence[SourceUpdate], now: float) -> None:
        """Many sources' new states (and notices) in one transaction: 10,000 sources answering
        304 cost one commit, not 10,000."""
        if not updates:
            return
        with self._transaction():
            for state, notices in updates:
                self._put_state(state)
                self._put_notices(notices, now)

    def save_poll(
        self,
        state: SourceState,
        entries: Sequence[NewEntry],
        alerts: Sequence[NewAlert],
        now: float,
        notices: Sequence[NewNotice] = (),
        dirty: Sequence[str] = (),
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
        touched: set[str] = set()
        with self._transaction():
            saved = [self._put_entry(e, now, touched) for e in entries]
            for channel, index, topics in alerts:
                entry_id, group = saved[index]
                self._put_alert(channel, entry_id, group, topics, now)
            self._put_notices(notices, now)
            self._put_state(state)
            self._put_dirty([*dirty, *touched])
        return touched

    # -- feeds to republish ----------------------------------------------------------------

    def _put_dirty(self, feeds: Iterable[str]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO dirty_feeds (feed) VALUES (?)", [(f,) for f in set(feeds)]
        )

    def mark_dirty(self, feeds: Iterable[str]) -> None:
        """These feeds must be written again (rules changed, entries forgotten)."""
        with self._transaction():
            self._put_dirty(feeds)

    def dirty_feeds(self) -> set[str]:
        return {str(r[0]) for r in self._db.execute("SELECT feed FROM dirty_feeds")}

    def clear_dirty(self, feeds: Iterable[str]) -> None:
        """These feeds were written (or are no longer published)."""
        with self._transaction():
            self._db.executemany("DELETE FROM dirty_feeds WHERE feed=?", [(f,) for f in feeds])

    def _put_entry(self, e: NewEntry, now: float, touched: set[str]) -> tuple[int, list[int]]:
        """Upsert one entry and decide its story; returns its id and the other entries of the
        same story."""
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
                updated,
                now,
                stories.link_key(c.link),
                p.orig_link,
                p.base,
            ),
        ).fetchone()
        entry_id, dup_of = int(row[0]), row[1]
        self._put_hits(entry_id, e.hits)
        story = _Story(entry_id, p.key, published if published is not None else updated,
                       stories.StoryText(e.source, c.title, c.text, c.link), e.sketch)
        self._db.execute("DELETE FROM story_keys WHERE entry_id=?", (entry_id,))
        self._put_keys(story)
        head = self._join_story(story, None if dup_of is None else int(dup_of), touched)
        return entry_id, self._group(head, entry_id)

    def _put_keys(self, story: _Story) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO story_keys (key, stamp, entry_id) VALUES (?,?,?)",
            [(key, story.stamp, story.id) for key in story.sketch],
        )

    def _join_story(self, story: _Story, dup_of: int | None, touched: set[str]) -> int:
        """Find the story this entry tells among the entries published within the window, on
        the evidence of stories.compare, and make the most complete version stand for it.
        Returns the id of the entry that now stands for the story."""
        if dup_of is not None:  # a changed copy: still the same story as the one it joined?
            verdict = stories.compare(story.text, self._story_text(dup_of))
            if verdict.same:
                return dup_of
            log.info("story: entry %d no longer tells story %d: %s", story.id, dup_of, verdict.why)
            self._db.execute("UPDATE entries SET dup_of=NULL, dup_why=NULL WHERE id=?", (story.id,))
        elif self._db.execute(
            "SELECT 1 FROM entries WHERE dup_of=? LIMIT 1", (story.id,)
        ).fetchone():
            return story.id  # it stands for copies already: it stays their story
        new_rank = stories.rank(story.text.text, story.text.source, story.key)
        join = stories.choose(story.text, new_rank, self._candidates(story))
        if join is None:
            return story.id
        why = f"{join.verdict.rule}: {join.verdict.why}"
        # The more complete version stands for the story; the other is its copy.
        head, copy = (story.id, join.head) if join.stands else (join.head, story.id)
        if join.stands:  # the old head's copies, and its feeds, go to the new one
            touched.update(
                topic
                for (topic,) in self._db.execute(
                    "SELECT DISTINCT topic FROM hits WHERE entry_id IN "
                    "(SELECT id FROM entries WHERE id=? OR dup_of=?)",
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

    def _candidates(self, story: _Story) -> Iterator[stories.Candidate]:
        """The stories (their standing entries) that may be this one's: the same link, or a
        shared shingle hash, within the window of publication time; the likeliest first, each
        read only when the one before was not it."""
        low, high = story.stamp - self.story_window, story.stamp + self.story_window
        found: dict[int, int] = {}
        link = stories.link_key(story.text.link)
        if link is not None:
            for (other,) in self._db.execute(
                "SELECT id FROM entries WHERE story=? AND id<>? "
                "AND coalesce(published, updated) BETWEEN ? AND ? ORDER BY id LIMIT ?",
                (link, story.id, low, high, MAX_CANDIDATES),
            ):
                found[int(other)] = len(story.sketch) + 1
        if story.sketch:
            marks = ",".join("?" * len(story.sketch))
            for other, shared in self._db.execute(
                f"SELECT entry_id, count(*) AS shared FROM story_keys WHERE key IN ({marks}) "
                "AND stamp BETWEEN ? AND ? AND entry_id<>? GROUP BY entry_id HAVING shared >= ? "
                "ORDER BY shared DESC, entry_id LIMIT ?",
                (*story.sketch, low, high, story.id, MIN_SHARED, MAX_CANDIDATES),
            ):
                found[int(other)] = max(found.get(int(other), 0), int(shared))
        heads: dict[int, int] = {}
        for other, score in sorted(found.items(), key=lambda item: (-item[1], item[0])):
            (dup_of,) = self._db.execute(
                "SELECT dup_of FROM entries WHERE id=?", (other,)
            ).fetchone()
            head = other if dup_of is None else int(dup_of)
            if head != story.id:
                heads.setdefault(head, score)
        for head in heads:
            source, title, text, link, key = self._db.execute(
                "SELECT source, title, text, link, key FROM entries WHERE id=?", (head,)
            ).fetchone()
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
        before = dict(self._db.execute("SELECT id, dup_of FROM entries"))
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
        after = dict(self._db.execute("SELECT id, dup_of FROM entries"))
        changed = [
            (entry_id, int(before[entry_id] is not None and dup_of is None))
            for entry_id, dup_of in after.items()
            if before.get(entry_id) != dup_of
        ]
        self._db.executemany(
            "INSERT INTO regrouped (entry_id, alert) VALUES (?,?) "
            "ON CONFLICT(entry_id) DO UPDATE SET alert=max(alert, excluded.alert)",
            changed,
        )
        if changed:
            log.warning(
                "story: decided the story of %d entries again; %d changed, %d now stand alone",
                len(rows), len(changed), sum(alert for _, alert in changed),
            )
        return len(changed)

    def _group(self, head: int, exclude: int) -> list[int]:
        rows = self._db.execute(
            "SELECT id FROM entries WHERE (id=? OR dup_of=?) AND id<>?", (head, head, exclude)
        )
        return [int(r[0]) for r in rows]

    def _put_alert(
        self, channel: str, entry_id: int, group: list[int], topics: tuple[str, ...], now: float
    ) -> bool:
        """One outbox row, for the topics not yet alerted for this story on this channel;
        False when there is none to add (all alerted, or this entry was alerted already)."""
        if group:
            done = self._alerted_topics(channel, group)
            topics = tuple(t for t in topics if t not in done)
            if not topics:
                return False
        added = self._db.execute(
            "INSERT OR IGNORE INTO outbox (channel, entry_id, topics, created) VALUES (?,?,?,?)",
            (channel, entry_id, json.dumps(list(topics)), now),
        ).rowcount
        return bool(added)

    def _alerted_topics(self, channel: str, entry_ids: Sequence[int]) -> set[str]:
        marks = ",".join("?" * len(entry_ids))
        done: set[str] = set()
        for (topics,) in self._db.execute(
            f"SELECT topics FROM outbox WHERE channel=? AND entry_id IN ({marks})",
            [channel, *entry_ids],
        ):
            done.update(json.loads(topics))
        return done

    def _put_hits(self, entry_id: int, hits: Sequence[TopicHit]) -> None:
        self._db.execute("DELETE FROM hits WHERE entry_id=?", (entry_id,))
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
        with self._transaction():
            for entry_id, clean, hits in updates:
                self._db.execute(
                    "UPDATE entries SET title=?, link=?, html=?, text=? WHERE id=?",
                    (clean.title, clean.link, clean.html, clean.text, entry_id),
                )
                self._put_hits(entry_id, hits)
            return self._regroup_all()

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
        with self._transaction():
            self._put_dirty(dirty)
            queued = sum(
                self._put_alert(channel, entry_id, self._group(entry_id, entry_id), topics, now)
                for channel, entry_id, topics in alerts
            )
            self._db.execute("DELETE FROM regrouped")
        return queued

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
            where += " AND (instr(lower(e.title), lower(?)) OR instr(lower(e.link), lower(?)))"
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

    def _entries(self, rows: Iterable[tuple[object, ...]]) -> list[StoredEntry]:
        rows = list(rows)
        hits: dict[int, list[TopicHit]] = {}
        ids = [int(str(r[0])) for r in rows]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
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
        rows = self._db.execute(
            f"SELECT o.id, o.topics, o.attempts, o.created, {_ENTRY_COLUMNS} FROM outbox o "
            "JOIN entries e ON e.id = o.entry_id "
            "WHERE o.channel=? AND o.sent IS NULL AND o.next_try <= ? ORDER BY o.id LIMIT ?",
            (channel, now, limit),
        ).fetchall()
        entries = self._entries(r[4:] for r in rows)
        return [
            PendingAlert(
                id=r[0],
                channel=channel,
                entry=entry,
                topics=tuple(json.loads(r[1])),
                attempts=r[2],
                created=r[3],
            )
            for r, entry in zip(rows, entries, strict=True)
        ]

    def pending_notices(self, channel: str, now: float) -> list[Notice]:
        rows = self._db.execute(
            "SELECT id, subject, body, attempts FROM outbox WHERE channel=? AND entry_id IS NULL "
            "AND sent IS NULL AND next_try <= ? ORDER BY id",
            (channel, now),
        ).fetchall()
        return [Notice(r[0], channel, r[1] or "", r[2] or "", r[3]) for r in rows]

    def next_retry(self) -> float | None:
        """When the earliest unsent outbox row may be tried again (the daemon wakes for it)."""
        row = self._db.execute("SELECT min(next_try) FROM outbox WHERE sent IS NULL").fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def mark_sent(self, alert_id: int, now: float) -> None:
        with self._transaction():
            self._db.execute("UPDATE outbox SET sent=? WHERE id=?", (now, alert_id))

    def mark_failed(self, alert_id: int, error: str, next_try: float) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=?, next_try=? WHERE id=?",
                (error, next_try, alert_id),
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
