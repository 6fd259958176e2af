"""Where state lives: sources, entries and their stories, topic hits, the alert outbox.

- api.py: the Store and ClusterStore protocols every implementation keeps, and entry_uid;
- sql.py: SQLStore, what both databases share, one mixin per domain: sqlbase.py (the
  connection protocols and the dialect's seam), stories_sql.py (stories), outbox.py,
  leases.py (source states, leases, host slots), memory.py (template memory, full-text pages);
- sqlite.py: SQLiteStore, the embedded implementation (one file, WAL, one writer);
- postgres.py: PostgresStore, the shared one (several nodes, psycopg 3; the cluster extra);
- schema.py: the tables of both and their migrations;
- migrate.py: a SQLite state copied into PostgreSQL (`syndicator migrate --to`);
- reports.py: the read-only views `list`, `status` and the status page show.

`open_store` and `open_reader` are the one place that picks an implementation from the config:
`[syndicator] state` is a file path or a postgresql:// URL. `database_errors` turns either
database's errors into one StoreError line.
"""

from __future__ import annotations

import socket
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from syndicator.errors import ConfigError, StoreError
from syndicator.store import sqlite
from syndicator.store.api import ClusterStore, Store, entry_uid
from syndicator.store.schema import SCHEMA_VERSION
from syndicator.store.sql import SQLStore
from syndicator.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from syndicator.config import Config
    from syndicator.store.postgres import PostgresStore

__all__ = [
    "SCHEMA_VERSION",
    "ClusterStore",
    "SQLStore",
    "SQLiteStore",
    "Store",
    "database_errors",
    "database_trouble",
    "entry_uid",
    "migrate_to",
    "node_id",
    "open_reader",
    "open_store",
]


if TYPE_CHECKING:

    def _keeps_the_protocols(store: SQLStore) -> ClusterStore:
        return store  # mypy: both implementations are ClusterStores (hence Stores)


def node_id(config: Config) -> str:
    """This node among those sharing a database: the host and the directory it publishes to
    (two schedulers on one host writing one output_dir are one node, as far as feeds go)."""
    return f"{socket.gethostname()}:{config.output_dir.resolve()}"


def open_store(config: Config) -> SQLStore:
    """The store the config names, created or upgraded as needed."""
    if config.state_url is not None:
        store = _postgres_store()
        return store(config.state_url, config.story_window, node=node_id(config))
    return SQLiteStore(config.state, story_window=config.story_window, node=node_id(config))


def open_reader(where: Path | str) -> SQLStore | None:
    """The state (a SQLite file, or a PostgreSQL URL) opened read-only for reports, or None when
    the daemon has never run there: nothing is created."""
    if isinstance(where, str):
        store = _postgres_store()(where, read_only=True)
        if not store.exists():
            store.close()
            return None
        return store
    if not where.exists():
        return None
    return SQLiteStore(where, read_only=True)


def _postgres_store() -> type[PostgresStore]:
    try:
        from syndicator.store.postgres import PostgresStore
    except ImportError as exc:
        raise ConfigError(
            "syndicator.state",
            f"a PostgreSQL state needs psycopg ({exc.name} is missing): "
            "pip install 'syndicator[cluster]'",
        ) from exc
    return PostgresStore


def migrate_to(path: Path, url: str) -> dict[str, int]:
    """Copy the SQLite state at `path` into the empty PostgreSQL database at `url` (migrate.py);
    the rows copied per table."""
    _postgres_store()  # psycopg is there, or a ConfigError says how to install it
    from syndicator.store.migrate import copy_state

    return copy_state(path, url)


def database_trouble(where: Path | str, exc: Exception) -> StoreError | None:
    """Either database's error as one line naming the database and what to do; None for an
    exception that is no database's."""
    if isinstance(exc, sqlite3.Error):
        return sqlite.database_trouble(Path(where), exc)
    psycopg = sys.modules.get("psycopg")  # loaded if, and only if, a PostgreSQL state is used
    if psycopg is not None and isinstance(exc, psycopg.Error):
        from syndicator.store.postgres import database_trouble as postgres_trouble

        return postgres_trouble(str(where), exc)
    return None


@contextmanager
def database_errors(where: Path | str) -> Iterator[None]:
    """Raise any database error inside as database_trouble()."""
    try:
        yield
    except Exception as exc:
        trouble = database_trouble(where, exc)
        if trouble is None:
            raise
        raise trouble from exc
