"""Where state lives: sources, entries and their stories, topic hits, the alert outbox.

- api.py: the Store protocol every implementation keeps, and entry_uid;
- schema.py: the SQLite tables and their migrations;
- sqlite.py: SQLiteStore, the embedded implementation (one file, WAL, one writer);
- reports.py: the read-only views `list`, `status` and the status page show.

`open_store` is the one place that picks an implementation from the config.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from syndicator.store.api import Store, entry_uid
from syndicator.store.schema import SCHEMA_VERSION
from syndicator.store.sqlite import SQLiteStore, database_errors, database_trouble

if TYPE_CHECKING:
    from syndicator.config import Config

__all__ = [
    "SCHEMA_VERSION",
    "SQLiteStore",
    "Store",
    "database_errors",
    "database_trouble",
    "entry_uid",
    "open_reader",
    "open_store",
]


def open_store(config: Config) -> SQLiteStore:
    """The store the config names, created or upgraded as needed."""
    return SQLiteStore(config.state, story_window=config.story_window)


def open_reader(path: Path) -> SQLiteStore | None:
    """The state opened read-only for reports, or None when the daemon has never run."""
    if not path.exists():
        return None
    return SQLiteStore(path, read_only=True)
