"""The shared store: PostgreSQL through psycopg 3, for several nodes on one database.

The queries and the story logic are SQLStore's (sql.py); this module supplies PostgreSQL's side
of the seam. Unlike SQLite, many transactions write at once (worker processes on several
machines save their polls side by side), in READ COMMITTED: each statement sees what was
committed before it started. What keeps the Store's promises then:

- **Story identity.** Before a poll's stories are decided, its transaction takes advisory locks
  (held until it ends) on everything by which two entries can meet as candidates: each
  entry's sketch hashes and link key, and the source. Two copies of one story share a sketch
  hash or their link, so whichever comes second waits for the first to commit, then finds it
  as a candidate: one story, one alert. Unrelated polls share no lock and run side by side.
  The locks are taken in sorted order, so two polls never wait for each other in a circle;
  a poll with more than MAX_KEY_LOCKS of them takes the whole story lock instead (PostgreSQL's
  lock table is finite), which every other poll holds in shared mode. Joining or taking over
  a story locks its standing entry's row and checks it still stands (another writer may
  have made it a copy meanwhile); forgetting and deciding every story again hold the story
  lock exclusively. A deadlock between row locks aborts one transaction, which is run again.
- **Exactly-once delivery, leases, politeness.** Claims and leases are UPDATEs of rows chosen
  `FOR UPDATE SKIP LOCKED`: two nodes claiming at once get disjoint rows; a host's request
  slots are counted under a lock on the host's row.
- **Feeds per node.** Each node writes its own output_dir, so "this feed must be written" is a
  version per feed (bumped by every change, last in its transaction, so versions grow in
  commit order) and the version each node last wrote.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from syndicator import stories
from syndicator.errors import StoreError
from syndicator.model import NewEntry
from syndicator.redact import redact_url, shown
from syndicator.store import schema
from syndicator.store.sql import STORY_WINDOW, SQLStore, default_node

log = logging.getLogger(__name__)

MAX_IDLE = 4  # connections kept for threads to come, beyond those threads hold

MAX_KEY_LOCKS = 512  # advisory locks one poll may hold; past this it takes the story lock
CONNECT_TIMEOUT = 10  # seconds, unless the URL says otherwise


def database_trouble(url: str, exc: psycopg.Error) -> StoreError:
    """A psycopg error as one line that names the database (its URL without credentials) and
    says what to do: an unreachable or full server is the operator's to fix, not a bug."""
    where = redact_url(url)
    text = shown(" ".join(str(exc).split())) or type(exc).__name__
    state = exc.sqlstate or ""
    if isinstance(exc, psycopg.OperationalError) and not state:
        if text.startswith("connection failed"):
            return StoreError(
                f"cannot connect to the state database {where}: {text}; check that PostgreSQL "
                "runs and accepts connections there, and the URL's host, port, user, password "
                "and database"
            )
        advice = "the connection was lost: it is made again on the next try"
    elif state.startswith("57P"):
        advice = "the database server is shutting down or starting: it is tried again"
    elif state == "53100":
        advice = "its disk is full: free some space (what was not saved is redone)"
    elif state.startswith("53"):
        advice = "the database server is out of resources: raise its limits, or run fewer nodes"
    elif state == "42501":
        advice = "the database user lacks a privilege: grant it on the database or schema"
    elif state == "25006":
        advice = "the database is read-only (a standby?): point the URL at the primary"
    elif state.startswith("40"):
        advice = "another node's transaction conflicted with this one: it is tried again"
    else:
        advice = "see the PostgreSQL server's log"
    return StoreError(f"state database {where}: {text}; {advice}")


def _text(values: Sequence[Any]) -> list[Any]:
    """PostgreSQL's text holds no NUL character, which a feed can carry (`&#0;` in a title):
    it is stored as U+FFFD, so such an entry is stored as on SQLite, not refused."""
    return [
        v.replace("\x00", "\ufffd") if isinstance(v, str) and "\x00" in v else v for v in values
    ]


@lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    """`?` → psycopg's `%s` (a literal `%` doubled); the queries hold no `?` in a string."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Connection:
    """psycopg connections that speak the `?` of the shared queries: one per thread that uses
    the store (a worker asks for host slots on other threads while its writer thread saves a
    poll: each is its own transaction), in autocommit mode (a read is its own statement;
    writes are in explicit transactions), made again when the server dropped one (a
    restart), between transactions."""

    def __init__(self, url: str, read_only: bool) -> None:
        self._url = url
        self._read_only = read_only
        self._local = threading.local()
        self._lock = threading.Lock()
        # Every connection made, by the thread that uses it; those of ended threads, idle.
        self._owners: dict[int, tuple[psycopg.Connection[Any], threading.Thread]] = {}
        self._idle: list[psycopg.Connection[Any]] = []
        self.live()  # a wrong URL or a server that does not answer fails the open, not later

    def _connect(self) -> psycopg.Connection[Any]:
        given = conninfo_to_dict(self._url)
        extra: dict[str, Any] = {}
        if "connect_timeout" not in given:
            extra["connect_timeout"] = CONNECT_TIMEOUT
        if "application_name" not in given:
            extra["application_name"] = "syndicator"
        conn = psycopg.connect(self._url, autocommit=True, **extra)
        if self._read_only:
            conn.execute("SET default_transaction_read_only = on")
        return conn

    @property
    def in_transaction(self) -> bool:
        return bool(getattr(self._local, "in_transaction", False))

    @in_transaction.setter
    def in_transaction(self, value: bool) -> None:
        self._local.in_transaction = value

    def live(self) -> psycopg.Connection[Any]:
        """This thread's connection, made (again) when there is none or it was dropped. A
        thread that ended leaves its connection to the next thread that needs one: executor
        threads come and go with every cycle, and their connections must not pile up."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None and (not conn.closed or self.in_transaction):
            return conn
        with self._lock:
            if conn is not None:
                log.info("store: connecting to the state database again")
                self._owners.pop(id(conn), None)
            self._reap()
            fresh = next((c for c in self._idle if not c.closed), None)
            self._idle = [c for c in self._idle if c is not fresh and not c.closed]
        if fresh is None:
            fresh = self._connect()
        self._local.conn = fresh
        with self._lock:
            self._owners[id(fresh)] = (fresh, threading.current_thread())
        return fresh

    def _reap(self) -> None:
        """Connections of threads that ended: idle, for the next thread (a few are kept)."""
        for key, (conn, thread) in list(self._owners.items()):
            if not thread.is_alive():
                del self._owners[key]
                if conn.closed or len(self._idle) >= MAX_IDLE:
                    conn.close()
                else:
                    self._idle.append(conn)

    def execute(self, sql: str, parameters: Any = None, /) -> psycopg.Cursor[Any]:
        if not parameters:
            return self.live().execute(sql)  # without parameters psycopg reads no placeholder
        return self.live().execute(_placeholders(sql), _text(parameters))

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> psycopg.Cursor[Any]:
        cursor = self.live().cursor()
        cursor.executemany(_placeholders(sql), [_text(row) for row in parameters])
        return cursor

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Rows into a table by COPY (inside the caller's transaction); how many."""
        count = 0
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.live().cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(_text(row))
                count += 1
        return count

    def close(self) -> None:
        with self._lock:
            for conn in [*(c for c, _ in self._owners.values()), *self._idle]:
                conn.close()
            self._owners = {}
            self._idle = []


class PostgresStore(SQLStore):
    """The Store and ClusterStore protocols on a PostgreSQL database (or one schema of it:
    `?options=-csearch_path%3Dname` in the URL). `node` names this node (its claims, leases
    and written feeds); `read_only=True` opens it for the reports only, creating nothing.

    Each thread that uses the store has its own connection, so its transactions are its own.
    """

    _FOR_UPDATE = " FOR UPDATE"
    _SKIP_LOCKED = " SKIP LOCKED"
    _INSTR = "strpos"
    _ATTEMPTS = 3

    def __init__(
        self,
        url: str,
        story_window: float = STORY_WINDOW,
        *,
        node: str | None = None,
        read_only: bool = False,
    ) -> None:
        self.url = url
        self.story_window = story_window
        self.node = node or default_node()
        self._written: dict[str, int] = {}  # feed → the version dirty_feeds() read
        try:
            self._db = self._pg = _Connection(url, read_only)
            row = self._pg.execute("SELECT coalesce(current_schema(), '')").fetchone()
            # Advisory locks are the database's: keyed by schema, schemas do not share them.
            self._salt = f"{row[0] if row else ''}\0"
            if not read_only:
                self._create()
        except psycopg.Error as exc:
            raise database_trouble(url, exc) from exc

    @property
    def backend_pid(self) -> int:
        """The server process of this connection (pg_stat_activity, pg_terminate_backend)."""
        return int(self._pg.live().info.backend_pid)

    def exists(self) -> bool:
        """Whether Syndicator's tables are there (a read-only store creates nothing)."""
        (found,) = self._db.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
        return bool(found)

    def _create(self) -> None:
        """Create the tables, or check their version, under a lock: nodes may start at once."""
        with self._transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(?)", (self._lock_id("schema", ""),))
            version = None
            if self.exists():
                row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                version = None if row is None else str(row[0])
            schema.check_version(version)
            if version is None:
                self._db.execute(schema.POSTGRES_SCHEMA)
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (str(schema.SCHEMA_VERSION),),
                )
            elif int(version) < 7:
                # The status page's indexes (schema 7).
                for statement in schema.PAGE_INDEXES:
                    self._db.execute(statement)
            if version is not None and int(version) < schema.SCHEMA_VERSION:
                for step in schema.postgres_upgrade(int(version)):  # schema 8 on
                    self._db.execute(step)
                self._db.execute(
                    "UPDATE meta SET value=? WHERE key='schema'", (str(schema.SCHEMA_VERSION),)
                )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        conn = self._pg.live()
        self._pg.in_transaction = True
        try:
            with conn.transaction():
                yield
        finally:
            self._pg.in_transaction = False

    def _batched(self) -> AbstractContextManager[object]:
        return self._pg.live().pipeline()

    def _transient(self, exc: BaseException) -> bool:
        return isinstance(exc, pg_errors.DeadlockDetected | pg_errors.SerializationFailure)

    def close(self) -> None:
        self._pg.close()

    def load(
        self, tables: Iterable[tuple[str, Sequence[str], Iterable[Sequence[Any]]]], dirty: set[str]
    ) -> dict[str, int]:
        """Fill an empty database with another state's rows, ids kept, in one transaction
        (`syndicator migrate`): a half-copied state is never left behind. `dirty` are the feeds
        still to be written. Returns the rows copied per table."""
        counts: dict[str, int] = {}
        with self._transaction():
            (sources,) = self._db.execute("SELECT count(*) FROM sources").fetchone()
            (entries,) = self._db.execute("SELECT count(*) FROM entries").fetchone()
            (outbox,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
            (forgotten,) = self._db.execute("SELECT count(*) FROM forgotten").fetchone()
            if sources or entries or outbox or forgotten:
                raise StoreError(
                    f"state database {redact_url(self.url)} already holds a Syndicator state "
                    f"({sources} sources, {entries} entries, {outbox} outbox rows, {forgotten} "
                    "forgotten entries): migrate copies into an empty database; name another "
                    "database or schema, or drop these tables first"
                )
            for table, columns, rows in tables:
                counts[table] = self._pg.copy(table, columns, rows)
            for table in ("entries", "outbox"):  # new rows get ids after the copied ones
                self._db.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce(max(id), 0) + 1, false) FROM {table}"
                )
            self._put_dirty(dirty)
        return counts

    # -- the story decision beside other writers -------------------------------------------

    def _lock_id(self, kind: str, value: str) -> int:
        digest = hashlib.blake2b(f"{self._salt}{kind}\0{value}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big", signed=True)

    def _lock_poll(self, source: str, entries: Sequence[NewEntry]) -> None:
        if not entries:
            return
        keys = {self._lock_id("source", source)}
        for e in entries:
            link = stories.link_key(e.clean.link)
            if link is not None:
                keys.add(self._lock_id("link", link))
            keys.update(self._lock_id("sketch", str(h)) for h in e.sketch)
        if len(keys) > MAX_KEY_LOCKS:
            self._lock_stories()
            return
        self._db.execute("SELECT pg_advisory_xact_lock_shared(?)", (self._lock_id("stories", ""),))
        self._db.execute(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(? AS BIGINT[])) AS k",
            (sorted(keys),),
        ).fetchall()

    def _lock_stories(self) -> None:
        self._db.execute("SELECT pg_advisory_xact_lock(?)", (self._lock_id("stories", ""),))

    # -- feeds to republish, per node ------------------------------------------------------

    def _put_dirty(self, feeds: Iterable[str]) -> None:
        rows = [(feed,) for feed in sorted(set(feeds))]  # one order: no deadlock between two
        if rows:
            self._db.executemany(
                "INSERT INTO feed_versions (feed, version) VALUES (?, 1) "
                "ON CONFLICT (feed) DO UPDATE SET version = feed_versions.version + 1",
                rows,
            )

    def dirty_feeds(self) -> set[str]:
        """The feeds this node has not written in their latest version."""
        rows = self._db.execute(
            "SELECT v.feed, v.version FROM feed_versions v "
            "LEFT JOIN feed_written w ON w.feed = v.feed AND w.node = ? "
            "WHERE w.version IS NULL OR w.version < v.version",
            (self.node,),
        ).fetchall()
        self._written = {str(feed): int(version) for feed, version in rows}
        return set(self._written)

    def clear_dirty(self, feeds: Iterable[str]) -> None:
        """This node wrote these feeds in the versions dirty_feeds() read; a change marked
        since then leaves them dirty."""
        rows = [(self.node, f, self._written.pop(f)) for f in feeds if f in self._written]
        if rows:
            with self._transaction():
                self._db.executemany(
                    "INSERT INTO feed_written (node, feed, version) VALUES (?, ?, ?) "
                    "ON CONFLICT (node, feed) DO UPDATE "
                    "SET version = GREATEST(feed_written.version, excluded.version)",
                    rows,
                )
