"""The embedded store: SQLite in WAL mode, one file, one writer.

The queries and the story logic are SQLStore's (sql.py); this module opens the file, runs the
schema's migrations, and supplies SQLite's side of the seam: BEGIN IMMEDIATE takes the one
write lock at once, so a write transaction sees the latest state and no other writer runs
beside it, which is all the story decision and the claims need. The feeds to republish are one
table of marks: there is one node, the machine the file is on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from syndicator.errors import StoreError
from syndicator.redact import shown
from syndicator.store import schema
from syndicator.store.sql import STORY_WINDOW, SQLStore, default_node


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


class SQLiteStore(SQLStore):
    """The Store protocol on one SQLite file. `read_only=True` opens an existing database for
    the reports only: nothing is created or migrated, so `status` can run beside the daemon."""

    _db: sqlite3.Connection

    def __init__(
        self,
        path: Path,
        story_window: float = STORY_WINDOW,
        *,
        read_only: bool = False,
        node: str | None = None,
    ) -> None:
        self.path = path
        self.story_window = story_window
        self.node = node or default_node()
        try:
            if read_only:
                self._db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
                self._db.execute("PRAGMA busy_timeout=5000")
                self._check_current(path)
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

    def _check_current(self, path: Path) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        try:
            schema.require_current(None if row is None else str(row[0]), str(path))
        except StoreError:
            self._db.close()
            raise

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

    # -- feeds to republish: marked with the change that dirties them, cleared once written --

    def _put_dirty(self, feeds: Iterable[str]) -> None:
        self._db.executemany(
            "INSERT INTO dirty_feeds (feed) VALUES (?) ON CONFLICT DO NOTHING",
            [(f,) for f in sorted(set(feeds))],
        )

    def dirty_feeds(self) -> set[str]:
        return {str(r[0]) for r in self._db.execute("SELECT feed FROM dirty_feeds")}

    def clear_dirty(self, feeds: Iterable[str]) -> None:
        """These feeds were written (or are no longer published)."""
        with self._transaction():
            self._db.executemany("DELETE FROM dirty_feeds WHERE feed=?", [(f,) for f in feeds])
