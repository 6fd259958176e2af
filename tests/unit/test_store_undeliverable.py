"""Outbox rows a receiver refused for good (schema 7), on SQLite and on PostgreSQL: never
claimed, pending or woken for again, counted as failed with their error; a schema 6 database
gains the column in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from syndicator.errors import StoreError
from syndicator.model import CleanEntry, NewEntry, ParsedEntry, SourceState, TopicHit
from syndicator.store import SQLiteStore, SQLStore
from syndicator.store.schema import SCHEMA_VERSION
from tests.conftest import Backend


def _queue(store: SQLStore, keys: list[str]) -> None:
    entries = []
    for key in keys:
        parsed = ParsedEntry(key, key.upper(), f"https://e/{key}", "<p>x</p>")
        clean = CleanEntry(key.upper(), f"https://e/{key}", "<p>NATO</p>", f"NATO {key}")
        entries.append(NewEntry("src", parsed, key, clean, (TopicHit("nato", ("NATO",)),)))
    store.save_poll(
        SourceState("src"), entries, [("hook", i, ("nato",)) for i in range(len(keys))], 0
    )


def test_a_refused_row_is_settled_and_counted_as_failed(store: SQLStore) -> None:
    assert SCHEMA_VERSION >= 7
    _queue(store, ["a", "b"])
    first, second = store.claim_alerts("hook", 1.0, 10, 600.0)
    store.mark_undeliverable(first.id, "webhook https://h/*** answered 404: gone", 1.0)
    store.mark_failed(second.id, "webhook https://h/*** answered 500", 100.0)
    counts = store.channel_counts()["hook"]
    assert (counts.pending, counts.sent, counts.retrying, counts.failed) == (1, 0, 1, 1)
    assert counts.last_error == "webhook https://h/*** answered 404: gone"  # the refusal first
    assert store.outbox_counts() == (1, 0)
    assert store.next_retry() == 100.0  # the refused row never wakes the daemon
    assert [a.id for a in store.pending_alerts("hook", 10**9)] == [second.id]
    assert [a.id for a in store.claim_alerts("hook", 10**9, 10, 600.0)] == [second.id]
    store.mark_sent(second.id, 10**9)
    assert store.next_retry() is None
    assert store.claim_alerts("hook", 10**10, 10, 600.0) == []
    counts = store.channel_counts()["hook"]
    assert (counts.pending, counts.sent, counts.failed) == (0, 1, 1)


def test_a_refused_notice_is_not_claimed_again(store: SQLStore) -> None:
    store.save_state(SourceState("src"), [("hook", "source src is failing", "…")], now=0.0)
    (notice,) = store.claim_notices("hook", 1.0, 1, 600.0)
    store.mark_undeliverable(notice.id, "answered 410", 1.0)
    assert store.claim_notices("hook", 10**9, 1, 600.0) == []
    assert store.pending_notices("hook", 10**9) == []
    assert store.channel_counts()["hook"].failed == 1


def test_a_schema_6_sqlite_database_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE outbox DROP COLUMN given_up")
    db.execute("UPDATE meta SET value='6' WHERE key='schema'")
    db.commit()
    db.close()
    store = SQLiteStore(path)
    _queue(store, ["a"])
    (alert,) = store.claim_alerts("hook", 1.0, 1, 600.0)
    store.mark_undeliverable(alert.id, "gone", 1.0)
    assert store.channel_counts()["hook"].failed == 1
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    db.close()


def test_a_schema_6_postgres_database_gains_the_column(postgres_url: str) -> None:
    backend = Backend("postgres", postgres_url)
    try:
        first = backend.open()
        first._db.execute("ALTER TABLE outbox DROP COLUMN given_up")
        first._db.execute("UPDATE meta SET value='6' WHERE key='schema'")
        first.close()
        store = backend.open(node="node-b")
        _queue(store, ["a"])
        (alert,) = store.claim_alerts("hook", 1.0, 1, 600.0)
        store.mark_undeliverable(alert.id, "gone", 1.0)
        assert store.channel_counts()["hook"].failed == 1
        (version,) = store._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        assert version == str(SCHEMA_VERSION)
    finally:
        backend.close()


def test_a_read_only_report_on_an_older_database_says_to_upgrade_it(tmp_path: Path) -> None:
    """`status` beside a daemon of the previous version: one line, not a missing-column error."""
    path = tmp_path / "s.sqlite"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE outbox DROP COLUMN given_up")
    db.execute("UPDATE meta SET value='6' WHERE key='schema'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="is at schema 6, older than this Syndicator"):
        SQLiteStore(path, read_only=True)
    SQLiteStore(path).close()  # a writing open upgrades it; then the reports read it
    reader = SQLiteStore(path, read_only=True)
    assert reader.channel_counts() == {}
    reader.close()
