"""Moving from one machine to many: a SQLite state copied into PostgreSQL, `syndicator migrate
--to postgresql://…`.

Everything that makes the next run carry on where the last stopped is copied, with its ids:
the sources with their validators and back-off (so nothing is fetched unconditionally), the
entries with their stories and evidence, topic hits, the outbox with what was sent and tried
(so nothing is alerted again), the forgotten entries' tombstones (so nothing comes back),
the story keys and the feeds still to be written. Leases and claims are not: they belong to
processes of the old state. The copy is one transaction into an empty database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from syndicator.errors import StoreError
from syndicator.store.postgres import PostgresStore
from syndicator.store.schema import COPIED
from syndicator.store.sqlite import SQLiteStore, database_trouble

BATCH = 1000  # rows read from SQLite at a time


def copy_state(path: Path, url: str) -> dict[str, int]:
    """Copy the SQLite state at `path` into the empty PostgreSQL database at `url`; the rows
    copied per table (`dirty_feeds`: the feeds still to be written)."""
    if not path.exists():
        raise StoreError(f"no state database at {path}: nothing to migrate")
    try:
        SQLiteStore(path).close()  # brought to the current schema first, as a run would
        source = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise database_trouble(path, exc) from exc
    try:
        dirty = {str(r[0]) for r in source.execute("SELECT feed FROM dirty_feeds")}
        target = PostgresStore(url)
        try:
            counts = target.load(
                ((t, columns, _rows(source, t, columns)) for t, columns in COPIED.items()), dirty
            )
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise database_trouble(path, exc) from exc
    finally:
        source.close()
    counts["dirty_feeds"] = len(dirty)
    return counts


def _rows(db: sqlite3.Connection, table: str, columns: Sequence[str]) -> Iterator[Sequence[Any]]:
    cursor = db.execute(f"SELECT {', '.join(columns)} FROM {table}")
    while batch := cursor.fetchmany(BATCH):
        yield from batch
