"""What every part of SQLStore stands on: the connection protocols, the dialect's seam, one
transaction retried, and stored entries read back with their hits.

SQLStore is one class made of mixins, one per domain (entries in sql.py, stories in
stories_sql.py, the outbox in outbox.py, leases in leases.py, each source's memory in
memory.py), so that no module holds every query. Each mixin derives from _SQLBase, which
declares what they all use, so every method is type-checked against the same attributes.

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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from syndicator.model import NewEntry, StoredEntry, TopicHit

log = logging.getLogger(__name__)

T = TypeVar("T")

CHUNK = 500  # ids or names per `IN (…)`: within every database's limit on parameters


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


class _SQLBase:
    """What the mixins of SQLStore share: the connection, who this node is, the dialect's
    seam, and entries read back. SQLStore (sql.py) and its dialects fill it in."""

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

    def _put_alert(self, channel: str, entry_id: int, topics: tuple[str, ...], now: float) -> bool:
        """One outbox row for the topics not yet alerted for this story (outbox.py)."""
        raise NotImplementedError

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
