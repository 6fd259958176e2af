"""The store, on SQLite and on PostgreSQL alike: entries once, changes in place, an outbox that
survives; and what several nodes sharing one database need (claims, leases, host slots, feeds
per node, two copies of one story saved at once)."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest

from syndicator.errors import StoreError
from syndicator.model import (
    CleanEntry,
    NewEntry,
    NewNotice,
    ParsedEntry,
    SourceState,
    TopicHit,
    Validators,
)
from syndicator.store import (
    SCHEMA_VERSION,
    SQLiteStore,
    SQLStore,
    database_errors,
    entry_uid,
    open_reader,
)
from syndicator.store.postgres import PostgresStore
from syndicator.stories import sketch
from tests.conftest import DATA, Backend, postgres_admin

T = TypeVar("T")


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


# -- several nodes on one database ------------------------------------------------------------


def _alerting(store: SQLStore, count: int, channel: str = "mail") -> list[int]:
    """`count` entries, each with an alert on `channel`; their outbox ids."""
    hit = (TopicHit("nato", ("NATO",)),)
    entries = [new(f"k{i}", title=f"T{i}", hits=hit) for i in range(count)]
    store.save_poll(SourceState("src"), entries, [(channel, i, ("nato",)) for i in range(count)], 1)
    return sorted(a.id for a in store.pending_alerts(channel, now=1, limit=count))


def _at_once(*work: Callable[[], T]) -> list[T]:
    """Run each callable on a thread of its own, all released at the same moment."""
    start = threading.Barrier(len(work))

    def run(job: Callable[[], T]) -> T:
        start.wait()
        return job()

    with ThreadPoolExecutor(len(work)) as pool:
        return list(pool.map(run, work))


def test_two_nodes_claiming_at_once_get_disjoint_alerts(backend: Backend) -> None:
    """Exactly once across nodes: each claims alerts three at a time until none is left."""
    a, b = backend.open(node="a"), backend.open(node="b")
    ids = _alerting(a, 60)

    def drain(store: SQLStore) -> list[int]:
        got: list[int] = []
        while claimed := store.claim_alerts("mail", now=5, limit=3, ttl=60):
            got += [alert.id for alert in claimed]
        return got

    got_a, got_b = _at_once(lambda: drain(a), lambda: drain(b))
    assert not set(got_a) & set(got_b)
    assert sorted(got_a + got_b) == ids
    assert a.claim_alerts("mail", now=6, limit=100, ttl=60) == []  # all held until now+ttl


def test_a_claim_holds_until_marked_released_or_expired(store: SQLStore, backend: Backend) -> None:
    other = backend.open(node="b")
    first, second, third = _alerting(store, 3)
    (claimed,) = store.claim_alerts("mail", now=10, limit=1, ttl=60)
    assert claimed.id == first and claimed.entry.title == "T0" and claimed.topics == ("nato",)
    assert [a.id for a in other.claim_alerts("mail", now=20, limit=9, ttl=60)] == [second, third]
    assert other.claim_alerts("mail", now=20, limit=9, ttl=60) == []
    other.release([first, second])  # not its claim on the first: only the second goes back
    assert [a.id for a in store.claim_alerts("mail", now=30, limit=9, ttl=60)] == [second]
    # The node that claimed the first died mid-send: after its claim expires, another sends it.
    assert other.claim_alerts("mail", now=69, limit=9, ttl=60) == []
    assert [a.id for a in other.claim_alerts("mail", now=70, limit=9, ttl=60)] == [first]
    other.mark_sent(first, 71)
    store.mark_failed(second, "refused", next_try=200)  # a failure gives it back, for later
    assert [a.id for a in other.claim_alerts("mail", now=150, limit=9, ttl=60)] == [third]
    assert [a.id for a in other.claim_alerts("mail", now=200, limit=9, ttl=60)] == [second]
    assert store.outbox_counts() == (2, 1)


def test_notices_are_claimed_like_alerts(backend: Backend) -> None:
    a, b = backend.open(node="a"), backend.open(node="b")
    a.save_state(SourceState("s"), [NewNotice("mail", "s is failing", "body")], now=1)
    (notice,) = a.claim_notices("mail", now=2, limit=5, ttl=60)
    assert (notice.subject, notice.body) == ("s is failing", "body")
    assert b.claim_notices("mail", now=3, limit=5, ttl=60) == []
    assert a.claim_alerts("mail", now=3, limit=5, ttl=60) == []  # a notice is no alert
    a.release([notice.id])
    assert [n.id for n in b.claim_notices("mail", now=4, limit=5, ttl=60)] == [notice.id]


def test_one_due_source_is_leased_to_one_scheduler(backend: Backend) -> None:
    a, b = backend.open(node="a"), backend.open(node="b")
    a.sync_sources(["s", "t"])
    a.sync_sources(["s"])  # again: nothing changes
    assert {n: st.next_poll for n, st in b.source_states().items()} == {"s": 0.0, "t": 0.0}
    assert a.claim_sources([("s", 0.0)], now=100, lease=60) == ["s"]
    assert b.claim_sources([("s", 0.0), ("t", 0.0)], now=100, lease=60) == ["t"]
    assert a.leased(["s", "t", "u"]) == {"s", "t"}
    # Stored: the lease ends, and the source is due again at its next poll, not before.
    a.save_poll(SourceState("s", next_poll=1000.0), [new("x")], [], 110)
    b.save_state(SourceState("t", next_poll=1000.0), now=110)
    assert a.leased(["s", "t"]) == set()
    assert b.claim_sources([("s", 0.0)], now=120, lease=60) == []  # it read an old next poll
    assert b.claim_sources([("s", 1000.0)], now=1000, lease=60) == ["s"]
    # A scheduler that died with a lease: another takes the source over once it expires.
    assert a.claim_sources([("s", 1000.0)], now=1059, lease=60) == []
    assert a.claim_sources([("s", 1000.0)], now=1060, lease=60) == ["s"]


def test_two_schedulers_leasing_at_once_share_the_sources_out(backend: Backend) -> None:
    a, b = backend.open(node="a"), backend.open(node="b")
    names = [f"s{i:04d}" for i in range(1200)]  # more than one chunk of the statement
    a.sync_sources(names)
    wanted = [(name, 0.0) for name in names]
    got_a, got_b = _at_once(
        lambda: a.claim_sources(wanted, now=5, lease=60),
        lambda: b.claim_sources(wanted, now=5, lease=60),
    )
    assert not set(got_a) & set(got_b)
    assert sorted(got_a + got_b) == names
    assert got_a == sorted(got_a)  # in the order asked


def test_host_slots_hold_across_nodes(backend: Backend) -> None:
    a, b = backend.open(node="a"), backend.open(node="b")
    host = "news.example:443"
    assert a.acquire_host(host, "a1", per_host=2, spacing=0.5, now=100.0, ttl=30) == 100.0
    assert b.acquire_host(host, "b1", per_host=2, spacing=0.5, now=100.1, ttl=30) == 100.5
    assert a.acquire_host(host, "a2", per_host=2, spacing=0.5, now=100.2, ttl=30) is None
    assert b.acquire_host("other.example:443", "b2", 2, 0.5, now=100.2, ttl=30) == 100.2
    b.release_host(host, "b1")
    assert a.acquire_host(host, "a2", per_host=2, spacing=0.5, now=100.3, ttl=30) == 101.0
    # Holders that crashed: their slots expire, and the spacing still counts from the last.
    assert b.acquire_host(host, "b3", per_host=2, spacing=0.5, now=129.0, ttl=30) is None
    assert b.acquire_host(host, "b3", per_host=2, spacing=0.5, now=130.0, ttl=30) == 130.0
    assert b.acquire_host(host, "b4", per_host=2, spacing=5.0, now=130.5, ttl=30) == 135.0


def test_many_nodes_asking_one_host_at_once_get_per_host_slots(backend: Backend) -> None:
    nodes = [backend.open(node=f"n{i}") for i in range(6)]
    starts = _at_once(
        *(
            partial(n.acquire_host, "news.example:443", f"r{i}", 2, 0.25, 100.0, 30.0)
            for i, n in enumerate(nodes)
        )
    )
    assert sorted(s for s in starts if s is not None) == [100.0, 100.25]


def _copy(story: int, source: str, title: str, text: str) -> NewEntry:
    parsed = ParsedEntry(f"k{story}", title, f"https://{source}.example/{story}", "")
    clean = CleanEntry(title, parsed.link, "", text)
    return NewEntry(source, parsed, f"d{story}", clean, (TopicHit("nato", ()),), sketch(text))


def test_two_copies_of_one_story_saved_at_once_are_one_story_and_one_alert(
    backend: Backend,
) -> None:
    """Two workers store two sources' copies of one story at the same moment, each its own
    connection: whichever commits second finds the first, for ten stories in a row."""
    a, b = backend.open(node="a"), backend.open(node="b")
    rng = random.Random(7)
    words = [f"{w}{n}" for n in range(40) for w in ("alpha", "beta", "gamma", "delta", "omega")]
    for story in range(10):
        text = " ".join(rng.choice(words) for _ in range(80))
        one = _copy(story, "one", f"Story {story}", text)
        two = _copy(story, "two", f"(dpa) Story {story}", text + " Foto: dpa")
        _at_once(
            partial(a.save_poll, SourceState("one"), [one], [("mail", 0, ("nato",))], 1.0),
            partial(b.save_poll, SourceState("two"), [two], [("mail", 0, ("nato",))], 1.0),
        )
    published = a.feed_entries(None, 100)
    assert sorted(e.title for e in published) == [f"(dpa) Story {n}" for n in range(10)]
    assert len(a.pending_alerts("mail", now=2)) == 10


def test_each_node_writes_every_feed_it_is_behind_on(postgres_url: str) -> None:
    """On PostgreSQL each scheduler node writes its own output_dir: a feed written by one is
    still to be written by the other, and a change marked while a node was writing a feed
    leaves that feed to be written again."""
    a = PostgresStore(postgres_url, node="host-a:/srv/feeds")
    b = PostgresStore(postgres_url, node="host-b:/srv/feeds")
    try:
        a.save_poll(SourceState("s"), [new("x")], [], 1, dirty=["all", "nato"])
        assert a.dirty_feeds() == {"all", "nato"}
        a.clear_dirty(["all", "nato"])
        assert a.dirty_feeds() == set()
        assert b.dirty_feeds() == {"all", "nato"}
        b.save_poll(SourceState("s"), [new("y")], [], 2, dirty=["all"])  # while b writes
        b.clear_dirty(["all", "nato"])
        assert b.dirty_feeds() == {"all"}
        assert a.dirty_feeds() == {"all"}
        a.mark_dirty(["gone"])
        assert a.dirty_feeds() == {"all", "gone"}
        a.clear_dirty(["all", "gone"])
        assert a.dirty_feeds() == set() and b.dirty_feeds() == {"all", "gone"}
    finally:
        a.close()
        b.close()


def test_a_reader_creates_nothing_and_writes_nothing(backend: Backend) -> None:
    assert open_reader(backend.where) is None  # never run here
    if isinstance(backend.where, Path):
        assert not backend.where.exists()
    backend.open().close()
    reader = open_reader(backend.where)
    assert reader is not None
    try:
        assert reader.source_states() == {}
        refused = pytest.raises(StoreError, match=r"read-only|readonly")
        with refused, database_errors(backend.where):
            reader.save_state(SourceState("s"))
    finally:
        reader.close()


def test_a_nul_character_from_a_feed_is_stored_on_either_database(store: SQLStore) -> None:
    """`&#0;` in a title reaches the store as a NUL, which PostgreSQL's text cannot hold: it is
    stored as U+FFFD there, instead of failing the source's every poll."""
    entry = new("k", title="a\x00b")
    store.save_poll(SourceState("src"), [entry], [], 1.0)
    ((_, _, raw),) = list(store.raw_entries())
    assert raw.title in ("a\x00b", "a\ufffdb")
    assert [e.title.replace("\ufffd", "\x00") for e in store.feed_entries(None, 10)] == ["a\x00b"]


def test_a_connection_the_server_dropped_is_made_again(postgres_url: str) -> None:
    """A database restart ends every connection: the operation under way fails as one line,
    and the next one connects again."""
    store = PostgresStore(postgres_url)
    try:
        store.save_state(SourceState("s"))
        with postgres_admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [store.backend_pid])
        failed = pytest.raises(StoreError, match=r"^state database postgresql://\*\*\*@.*: ")
        with failed, database_errors(postgres_url):
            store.source_states()
        assert list(store.source_states()) == ["s"]
        store.save_state(SourceState("t"))
        assert sorted(store.source_states()) == ["s", "t"]
    finally:
        store.close()


def test_one_store_used_by_several_threads_at_once(postgres_url: str) -> None:
    """A worker asks for host slots on other threads while its writer thread saves polls: on
    PostgreSQL each thread has a connection of its own, so each transaction is its own."""
    store = PostgresStore(postgres_url, node="worker")
    other = PostgresStore(postgres_url, node="other")
    try:

        def save(n: int) -> None:
            for i in range(15):
                entries = [
                    dataclasses.replace(new(f"t{i}-{k}", title=f"T{n}.{i}.{k}"), source=f"s{n}")
                    for k in range(3)
                ]
                store.save_poll(SourceState(f"s{n}"), entries, [], float(i))

        def slots(n: int) -> None:
            for i in range(30):
                holder = f"h{n}-{i}"
                assert store.acquire_host(f"host{n}", holder, 1, 0.0, float(i), 60.0) == i
                store.release_host(f"host{n}", holder)

        _at_once(partial(save, 0), partial(save, 1), partial(slots, 0), partial(slots, 1))
        assert {n: s.entries for n, s in other.source_states().items()} == {"s0": 45, "s1": 45}
        for n in range(2):  # every slot was released: one is free for another node
            assert other.acquire_host(f"host{n}", "x", 1, 0.0, 100.0, 60.0) == 100.0
    finally:
        store.close()
        other.close()


def test_one_sources_state_is_read_alone(store: SQLStore) -> None:
    entry = dataclasses.replace(new("x"), source="a")
    store.save_poll(SourceState("a", validators=Validators(etag='"1"')), [entry], [], 1.0)
    store.save_state(SourceState("b", failures=2))
    assert store.source_state("a") == store.source_states()["a"]
    assert store.source_state("a") == SourceState("a", Validators(etag='"1"'), entries=1)
    assert store.source_state("nope") is None


def test_a_full_disk_mid_poll_is_one_store_error_and_the_poll_is_not_half_saved(
    tmp_path: Path,
) -> None:
    """SQLite's own limit on the file's size stands in for a full disk: the same error
    (SQLITE_FULL), which SQLite answers by rolling the transaction back itself."""
    path = tmp_path / "s.sqlite"
    store = SQLiteStore(path)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 2}")
    body = "NATO " * 20_000
    entries = [
        NewEntry(
            "s",
            ParsedEntry(f"k{i}", "T", f"https://e/{i}", body),
            f"d{i}",
            CleanEntry("T", f"https://e/{i}", body, body),
            (),
        )
        for i in range(5)
    ]
    with pytest.raises(StoreError) as info, database_errors(path):
        store.save_poll(SourceState("s"), entries, [], 0.0, dirty=["all"])
    assert str(info.value) == (
        f"state database {path}: database or disk is full; the disk is full: free some space "
        "(what was not saved is redone)"
    )
    assert store.source_states() == {} and store.dirty_feeds() == set()
    store.close()


def test_open_state_is_read_only_and_does_not_create(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    db = open_reader(path)
    assert db is None
    assert not path.exists()
    SQLiteStore(path).close()  # the real schema, as the daemon leaves it
    db = open_reader(path)
    assert db is not None and db.source_states() == {}
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db._db.execute("INSERT INTO sources (name) VALUES ('x')")
    db.close()
