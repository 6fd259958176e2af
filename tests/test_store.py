"""The store, on SQLite and on PostgreSQL alike: entries once, changes in place, an outbox that
survives; and what several nodes sharing one database need (claims, leases, host slots, feeds
per node, two copies of one story saved at once)."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from syndicator.model import CleanEntry, NewEntry, ParsedEntry, SourceState, TopicHit, Validators
from syndicator.store import SCHEMA_VERSION, SQLiteStore, SQLStore, entry_uid
from tests.conftest import DATA, Backend


def new(key: str, title: str = "T", hits: tuple[TopicHit, ...] = ()) -> NewEntry:
    parsed = ParsedEntry(key=key, title=title, link=f"https://e/{key}", html="<p>x</p>")
    clean = CleanEntry(title=title, link=parsed.link, html="<p>x</p>", text="x")
    return NewEntry("src", parsed, f"d-{title}", clean, hits)


def test_entries_are_saved_once_and_updated_in_place(backend: Backend) -> None:
    store = backend.open()
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
    reopened = backend.open()
    assert reopened.source_states()["src"].validators.etag == '"1"'
    assert reopened.source_states()["src"].entries == 2


def test_outbox_is_unique_per_channel_and_entry(store: SQLStore) -> None:
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


def test_a_failed_save_leaves_nothing_behind(store: SQLStore) -> None:
    with pytest.raises(IndexError):  # an alert pointing at an entry that is not there
        store.save_poll(
            SourceState("src", validators=Validators(etag='"x"')),
            [new("a")],
            [("console", 5, ("t",))],
            1.0,
        )
    assert store.feed_entries(None, 10) == []
    assert store.source_states() == {}


def test_raw_entries_give_back_what_was_fetched(store: SQLStore) -> None:
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


def _schema4(path: Path) -> sqlite3.Connection:
    """The state a Syndicator of schema 4 left after polling Scripting News."""
    db = sqlite3.connect(path)
    db.executescript((DATA / "databases" / "schema4-scripting-news.sql").read_text("utf-8"))
    return db


def test_a_schema_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    """Databases written before raw_base existed open, keep their entries, gain the column, and
    trade SimHash bands for story keys."""
    path = tmp_path / "s.sqlite"
    db = _schema4(path)
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
    raws = list(upgraded.raw_entries())
    assert len(raws) == 48 and all(raw.base == "" for _, _, raw in raws)
    upgraded.save_poll(SourceState("src"), [new("b")], [], 2.0)
    assert upgraded.all_digests("src") == {"b": "d-T"}
    assert len(upgraded.feed_entries(None, 100)) == 49
    upgraded.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert not {f"entries_band{b}" for b in range(4)} & indexes
    assert not {f"entries_near{b}" for b in range(4)} & indexes
    columns = {r[1] for r in db.execute("PRAGMA table_info(entries)")}
    assert "raw_base" in columns and "simhash" not in columns and "dup_why" in columns
    assert db.execute("SELECT count(DISTINCT entry_id) FROM story_keys").fetchone()[0] > 20
    db.close()


def test_a_schema_4_database_decides_every_story_again(tmp_path: Path) -> None:
    """41 of Scripting News's 48 posts were hidden as copies of others by the SimHash rule;
    after the upgrade each stands alone, and each is marked: never alerted, owed an alert."""
    path = tmp_path / "s.sqlite"
    db = _schema4(path)
    hidden = {r[0] for r in db.execute("SELECT key FROM entries WHERE dup_of IS NOT NULL")}
    db.close()
    assert len(hidden) == 41
    store = SQLiteStore(path)
    assert len(store.feed_entries(None, 100)) == 48
    regrouped = store.regrouped()
    assert {e.uid for e, alone, _ in regrouped if alone} == {
        entry_uid("scripting", key) for key in hidden
    }
    assert store.settle_regrouped([], 0.0) == 0 and store.regrouped() == []
    store.close()
    assert SQLiteStore(path).regrouped() == []  # decided once, not on every open


def test_forgotten_entries_leave_only_their_key_and_digest(store: SQLStore) -> None:
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


def test_a_story_outlives_its_forgotten_first_version(store: SQLStore) -> None:
    """The newer copy of a story whose first version was forgotten is published again."""
    story = "https://e/story"

    def copy(source: str, title: str, text: str) -> NewEntry:
        entry = new("k", title=title)
        return dataclasses.replace(
            entry,
            source=source,
            parsed=dataclasses.replace(entry.parsed, link=story),
            clean=dataclasses.replace(entry.clean, link=story, text=text),
        )

    # One article from two sources: the same link, the same title (plus a tag).
    store.save_poll(SourceState("a"), [copy("a", "NATO office in Tokyo", "a much longer text")],
                    [], 100.0)
    store.save_poll(SourceState("b"), [copy("b", "NATO office in Tokyo (dpa)", "x")], [], 200.0)
    assert [e.title for e in store.feed_entries(None, 10)] == ["NATO office in Tokyo"]
    assert store.forget(150.0) == 1
    assert [e.title for e in store.feed_entries(None, 10)] == ["NATO office in Tokyo (dpa)"]
    store.close()


def test_the_most_complete_copy_of_a_forgotten_story_stands_for_the_rest(store: SQLStore) -> None:
    text = " ".join(f"word{n % 7} filler" for n in range(40))

    def copy(source: str, extra: str, when: float) -> None:
        entry = dataclasses.replace(new("k", title="A story"), source=source)
        entry = dataclasses.replace(
            entry, clean=dataclasses.replace(entry.clean, text=text + extra),
            parsed=dataclasses.replace(entry.parsed, link=f"https://{source}/k"),
        )
        store.save_poll(SourceState(source), [entry], [], when)

    copy("a", " and the longest ending of all", 100.0)
    copy("b", " Foto", 200.0)
    copy("c", " Foto dpa", 200.0)
    assert [e.source for e in store.feed_entries(None, 10)] == ["a"]
    assert store.forget(150.0) == 1
    assert [e.source for e in store.feed_entries(None, 10)] == ["c"]  # one, the longer
    store.close()
