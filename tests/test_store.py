"""The SQLite store on disk: entries once, changes in place, an outbox that survives."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from syndicator.model import CleanEntry, NewEntry, ParsedEntry, SourceState, TopicHit, Validators
from syndicator.store import SCHEMA_VERSION, SQLiteStore, entry_uid


def new(key: str, title: str = "T", hits: tuple[TopicHit, ...] = ()) -> NewEntry:
    parsed = ParsedEntry(key=key, title=title, link=f"https://e/{key}", html="<p>x</p>")
    clean = CleanEntry(title=title, link=parsed.link, html="<p>x</p>", text="x")
    return NewEntry("src", parsed, f"d-{title}", clean, hits)


def test_entries_are_saved_once_and_updated_in_place(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    state = SourceState("src", validators=Validators(etag='"1"'))
    store.save_poll(state, [new("a"), new("b", hits=(TopicHit("nato", ("NATO",)),))], [], 1.0)
    assert store.all_digests("src") == {"a": "d-T", "b": "d-T"}
    assert store.all_digests("other") == {}
    store.save_poll(state, [new("a", title="T2")], [], 2.0)
    entries = store.feed_entries(None, 10)
    assert sorted(e.title for e in entries) == ["T", "T2"]
    assert store.all_digests("src") == {"a": "d-T2", "b": "d-T"}
    topic = store.feed_entries("nato", 10)
    assert [e.title for e in topic] == ["T"] and topic[0].hits == (TopicHit("nato", ("NATO",)),)
    assert topic[0].uid == entry_uid("src", "b") and topic[0].uid.startswith("urn:uuid:")
    store.close()
    reopened = SQLiteStore(tmp_path / "s.sqlite")
    assert reopened.source_states()["src"].validators.etag == '"1"'
    assert reopened.source_states()["src"].entries == 2


def test_outbox_is_unique_per_channel_and_entry(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    hit = (TopicHit("nato", ("NATO",)),)
    store.save_poll(
        SourceState("src"),
        [new("a", hits=hit)],
        [("console", 0, ("nato",)), ("mail", 0, ("nato",))],
        1.0,
    )
    # The same story changes and matches again: no second alert on either channel.
    store.save_poll(
        SourceState("src"), [new("a", title="T2", hits=hit)], [("console", 0, ("nato",))], 2.0
    )
    pending = store.pending_alerts("console", now=5)
    assert len(pending) == 1 and pending[0].entry.title == "T2"
    store.mark_sent(pending[0].id, 5)
    assert store.pending_alerts("console", now=6) == []
    failed = store.pending_alerts("mail", now=5)[0]
    store.mark_failed(failed.id, "refused", next_try=100)
    assert store.pending_alerts("mail", now=50) == []
    retry = store.pending_alerts("mail", now=100)
    assert len(retry) == 1 and retry[0].attempts == 1
    assert store.outbox_counts() == (1, 1)


def test_a_failed_save_leaves_nothing_behind(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    with pytest.raises(IndexError):  # an alert pointing at an entry that is not there
        store.save_poll(
            SourceState("src", validators=Validators(etag='"x"')),
            [new("a")],
            [("console", 5, ("t",))],
            1.0,
        )
    assert store.feed_entries(None, 10) == []
    assert store.source_states() == {}


def test_raw_entries_give_back_what_was_fetched(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    parsed = ParsedEntry(
        key="k",
        title="Raw <b>t</b>",
        link="https://feedproxy.example/x",
        html="<p>raw</p>",
        author="A",
        orig_link="https://real.example/x",
        base="https://feeds.example/news/",
    )
    clean = CleanEntry(title="t", link="https://real.example/x", html="<p>raw</p>", text="raw")
    store.save_poll(SourceState("src"), [NewEntry("src", parsed, "d", clean, ())], [], 1.0)
    ((_, source, raw),) = list(store.raw_entries())
    assert source == "src" and raw == parsed


def test_a_schema_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    """Databases written before raw_base existed open, keep their entries, gain the column and
    trade the band indexes for covering ones."""
    path = tmp_path / "s.sqlite"
    store = SQLiteStore(path)
    store.save_poll(SourceState("src"), [new("a")], [], 1.0)
    store.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE entries DROP COLUMN raw_base")
    db.execute("DROP TABLE forgotten")
    db.execute("DROP INDEX entries_seen")
    db.execute("DROP INDEX entries_dup")
    for band in range(4):  # schema 1-3 indexed the bands alone
        db.execute(f"DROP INDEX entries_near{band}")
        db.execute(f"CREATE INDEX entries_band{band} ON entries (band{band})")
    db.execute("UPDATE meta SET value='1' WHERE key='schema'")
    db.commit()
    db.close()
    upgraded = SQLiteStore(path)
    ((_, _, raw),) = list(upgraded.raw_entries())
    assert raw.key == "a" and raw.base == ""
    upgraded.save_poll(SourceState("src"), [new("b")], [], 2.0)
    assert upgraded.all_digests("src") == {"a": "d-T", "b": "d-T"}
    assert upgraded.forget(1.5) == 1 and upgraded.all_digests("src") == {"a": "d-T", "b": "d-T"}
    upgraded.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {f"entries_near{b}" for b in range(4)} <= indexes
    assert not {f"entries_band{b}" for b in range(4)} & indexes
    # An older Syndicator opening it recreates its indexes before refusing the newer schema.
    db.execute("CREATE INDEX entries_band0 ON entries (band0)")
    db.commit()
    db.close()
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "entries_band0" not in indexes
    db.close()


def test_forgotten_entries_leave_only_their_key_and_digest(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    hit = (TopicHit("nato", ("NATO",)),)
    store.save_poll(SourceState("src"), [new("old", hits=hit)], [("mail", 0, ("nato",))], 100.0)
    store.save_poll(SourceState("src"), [new("fresh", title="F")], [], 200.0)
    assert store.forget(150.0) == 1
    assert [e.title for e in store.feed_entries(None, 10)] == ["F"]
    assert store.feed_entries("nato", 10) == []
    assert store.pending_alerts("mail", 1000.0) == []  # its outbox row went with it
    assert [raw.key for _, _, raw in store.raw_entries()] == ["fresh"]
    assert store.all_digests("src") == {"old": "d-T", "fresh": "d-F"}  # still not new
    assert store.source_states()["src"].entries == 1
    assert store.forget(150.0) == 0
    store.close()


def test_a_story_outlives_its_forgotten_first_version(tmp_path: Path) -> None:
    """The newer copy of a story whose first version was forgotten is published again."""
    store = SQLiteStore(tmp_path / "s.sqlite")
    first = new("a", title="Long version")
    second = new("b", title="Short")
    story = "https://e/story"
    first = dataclasses.replace(
        first,
        parsed=dataclasses.replace(first.parsed, link=story),
        clean=dataclasses.replace(first.clean, link=story, text="a much longer text"),
    )
    second = dataclasses.replace(
        second,
        parsed=dataclasses.replace(second.parsed, link=story),
        clean=dataclasses.replace(second.clean, link=story),
    )
    store.save_poll(SourceState("src"), [first], [], 100.0)
    store.save_poll(SourceState("src"), [second], [], 200.0)
    assert [e.title for e in store.feed_entries(None, 10)] == ["Long version"]
    assert store.forget(150.0) == 1
    assert [e.title for e in store.feed_entries(None, 10)] == ["Short"]
    store.close()
