"""Every real feed through the whole pipeline; the output obeys the Atom rules the W3C Feed
Validator checks (asserted here with lxml)."""

from __future__ import annotations

import os
import re
import signal
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from syndicator.config import load_config
from syndicator.model import StoredEntry, TopicHit
from syndicator.pipeline import POOL_THRESHOLD, Pipeline
from syndicator.publish import render_feed, write_atomic
from syndicator.store import SQLiteStore
from tests.conftest import REAL, FeedServer, Route, write_config

A = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
IRI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def assert_valid_atom(path: Path) -> etree._Element:
    raw = path.read_bytes()
    assert b"<![CDATA[" not in raw
    root = etree.fromstring(raw)
    assert root.tag == f"{A}feed"
    for name in ("id", "title", "updated"):
        assert (root.findtext(f"{A}{name}") or "").strip(), name
    assert IRI_SCHEME.match(root.findtext(f"{A}id") or "")
    assert RFC3339.match(root.findtext(f"{A}updated") or "")
    assert root.find(f"{A}author/{A}name") is not None
    self_links = [ln for ln in root.findall(f"{A}link") if ln.get("rel") == "self"]
    assert len(self_links) == 1 and urlsplit(self_links[0].get("href", "")).scheme
    ids = set()
    for entry in root.findall(f"{A}entry"):
        entry_id = entry.findtext(f"{A}id") or ""
        assert IRI_SCHEME.match(entry_id), entry_id
        assert entry_id not in ids
        ids.add(entry_id)
        assert (entry.findtext(f"{A}title") or "").strip()
        assert RFC3339.match(entry.findtext(f"{A}updated") or "")
        for link in entry.findall(f"{A}link"):
            parts = urlsplit(link.get("href", ""))
            assert parts.scheme in ("http", "https") and parts.netloc, link.get("href")
        contents = entry.findall(f"{A}content")
        assert len(contents) == 1 and contents[0].get("type") == "html"
    return root


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("all-real")
    sources = "".join(
        f'[[sources]]\nname = "f{i}"\nurl = "{path}"\n'
        for i, path in enumerate(sorted(REAL.iterdir()))
    )
    topics = '[[topics]]\nname = "java"\nquery = "Java"\n'
    config = load_config(write_config(tmp, sources + topics))
    store = SQLiteStore(config.state)
    report = Pipeline(config, store, senders=[]).run_cycle(once=True)
    store.close()
    assert report.failed == {}
    assert report.polled == len(list(REAL.iterdir()))
    return tmp / "feeds"


def test_every_real_feed_goes_through_and_all_atom_is_valid(published: Path) -> None:
    root = assert_valid_atom(published / "all.atom")
    assert len(root.findall(f"{A}entry")) == 100  # max_entries: the newest 100 of all feeds


def test_topic_feed_is_valid_and_says_why(published: Path) -> None:
    root = assert_valid_atom(published / "java.atom")
    entries = root.findall(f"{A}entry")
    assert entries
    for entry in entries:
        assert "java" in [c.get("term") for c in entry.findall(f"{A}category")]
        assert "Matched java: Java" in (entry.findtext(f"{A}summary") or "")


def entry(i: int, **kw: object) -> StoredEntry:
    base: dict[str, object] = dict(
        id=i,
        uid=f"urn:uuid:00000000-0000-0000-0000-{i:012d}",
        source="s",
        title=f"Title {i}",
        link=f"https://example.org/{i}",
        html=f"<p>Text {i}</p>",
        text=f"Text {i}",
        author="",
        published=None,
        updated=datetime(2024, 1, i, tzinfo=UTC),
        hits=(),
    )
    base.update(kw)
    return StoredEntry(**base)  # type: ignore[arg-type]


def test_render_keeps_order_escapes_html_and_drops_bad_characters() -> None:
    entries = [
        entry(3, title="Bad \x00\x0b chars", html="<p>a <b>b</b> \x1f</p>"),
        entry(2, link="relative/path"),
        entry(1, title="", text="words of the body"),
    ]
    data = render_feed("all", "All", entries, "http://127.0.0.1:8080/", datetime.now(UTC))
    root = etree.fromstring(data)
    found = root.findall(f"{A}entry")
    assert [e.findtext(f"{A}title") for e in found] == [
        "Bad  chars",
        "Title 2",
        "words of the body",
    ]
    assert found[0].findtext(f"{A}content") == "<p>a <b>b</b> </p>"
    assert found[1].find(f"{A}link") is None  # a relative link would be invalid: left out
    assert root.findtext(f"{A}updated", "").startswith("2024-01-03")


def test_topic_note_names_the_matched_terms() -> None:
    hit = TopicHit("nato", ("NATO", "OTAN"))
    data = render_feed(
        "nato", "N", [entry(1, hits=(hit,))], "http://h/", datetime.now(UTC), topic="nato"
    )
    root = etree.fromstring(data)
    assert root.find(f"{A}entry/{A}category").get("term") == "nato"
    assert root.findtext(f"{A}entry/{A}summary") == "Source: s · Matched nato: NATO, OTAN"


def test_write_atomic_replaces_and_leaves_identical_files_alone(tmp_path: Path) -> None:
    target = tmp_path / "out" / "all.atom"
    assert write_atomic(target, b"one")
    mtime = target.stat().st_mtime_ns
    assert not write_atomic(target, b"one")
    assert target.stat().st_mtime_ns == mtime
    assert write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["all.atom"]  # no temp files left


def test_worker_processes_and_in_process_analysis_publish_the_same(tmp_path: Path) -> None:
    sources = "".join(
        f'[[sources]]\nname = "f{i}"\nurl = "{path}"\n'
        for i, path in enumerate(sorted(REAL.iterdir()))
    )
    results = []
    for workers in (1, 2):
        directory = tmp_path / f"w{workers}"
        directory.mkdir()
        config = replace(
            load_config(write_config(directory, sources)), workers=workers, max_entries=1000
        )
        store = SQLiteStore(config.state)
        pipeline = Pipeline(config, store, senders=[])
        pipeline.run_cycle(once=True)
        assert (pipeline.workers.process_pool is not None) == (workers == 2)
        pipeline.close()
        store.close()
        root = etree.parse(str(directory / "feeds" / "all.atom")).getroot()
        results.append(
            {(e.findtext(f"{A}id"), e.findtext(f"{A}content")) for e in root.findall(f"{A}entry")}
        )
    assert results[0] == results[1] and len(results[0]) > 400


def test_workers_start_with_the_cycle_only_when_whole_bodies_are_sure_to_come(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Sources that cannot be asked conditionally start the workers with the cycle, beside the
    fetches; a cycle whose sources all can answer 304 (and do) starts none."""
    sources = "".join(
        f'[[sources]]\nname = "s{i}"\nurl = "{feed_server.base}/f{i}.rss"\n'
        for i in range(POOL_THRESHOLD)
    )

    def cycle(directory: Path) -> int:
        directory.mkdir(exist_ok=True)
        body = sources + '[fetch]\nper_host_interval = "0s"\n'
        config = replace(load_config(write_config(directory, body)), workers=2)
        store = SQLiteStore(config.state)
        pipeline = Pipeline(config, store, senders=[])
        pipeline.run_cycle(once=True)
        pool = pipeline.workers.process_pool
        started = len(pool._processes) if pool is not None else 0  # type: ignore[attr-defined]
        pipeline.close()
        store.close()
        return started

    # Never fetched: the workers start up front, even when (here, every URL is a 404) no body
    # ever comes.
    assert not feed_server.routes
    assert cycle(tmp_path / "a") == 2
    for i in range(POOL_THRESHOLD):
        feed_server.serve_file(f"/f{i}.rss", REAL / "rss-parser-guardian.rss")
    assert cycle(tmp_path / "b") == 2
    assert cycle(tmp_path / "b") == 0  # the same state again: every source answered 304
    assert [r.status for r in feed_server.log[-POOL_THRESHOLD:]] == [304] * POOL_THRESHOLD


def test_a_worker_that_died_between_cycles_is_replaced(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A worker killed while the daemon sleeps (the OOM killer, say) breaks the pool; the next
    cycle starts new workers instead of failing."""
    for i in range(POOL_THRESHOLD):  # no ETag or Last-Modified: every cycle fetches whole bodies
        feed_server.routes[f"/f{i}.rss"] = Route(
            (REAL / "rss-parser-guardian.rss").read_bytes(),
            headers={"ETag": "", "Last-Modified": ""},
            stream=True,
        )
    sources = "".join(
        f'[[sources]]\nname = "s{i}"\nurl = "{feed_server.base}/f{i}.rss"\n'
        for i in range(POOL_THRESHOLD)
    )
    body = sources + '[fetch]\nper_host_interval = "0s"\n'
    config = replace(load_config(write_config(tmp_path, body)), workers=2)
    store = SQLiteStore(config.state)
    pipeline = Pipeline(config, store, senders=[])
    try:
        assert pipeline.run_cycle(once=True).polled == POOL_THRESHOLD
        pool = pipeline.workers.process_pool
        assert pool is not None
        os.kill(next(iter(pool._processes)), signal.SIGKILL)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        while not pool._broken and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.05)  # waiting for the pool to notice, not for a timing
        assert pool._broken  # type: ignore[attr-defined]
        report = pipeline.run_cycle(once=True)
        assert report.polled == POOL_THRESHOLD and not report.failed
        assert pipeline.workers.process_pool not in (None, pool)
    finally:
        pipeline.close()
        store.close()


def test_a_bug_in_analysis_costs_one_source_not_the_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import syndicator.clean as clean_module

    real_clean = clean_module.clean_entry

    def clean(entry, rules, **kw):  # type: ignore[no-untyped-def]
        if "Guardian" in entry.link or "guardian" in entry.link:
            raise RuntimeError("boom")
        return real_clean(entry, rules, **kw)

    monkeypatch.setattr(clean_module, "clean_entry", clean)  # the pipeline imports it late
    sources = (
        f'[[sources]]\nname = "g"\nurl = "{REAL / "rss-parser-guardian.rss"}"\n'
        f'[[sources]]\nname = "h"\nurl = "{REAL / "rss-parser-heise.atom"}"\n'
    )
    config = replace(load_config(write_config(tmp_path, sources)), workers=1)
    store = SQLiteStore(config.state)
    report = Pipeline(config, store, senders=[]).run_cycle(once=True)
    store.close()
    assert report.failed == {"g": "internal error: RuntimeError: boom"}
    assert report.new_entries == 15  # heise went through


def test_entries_past_retain_leave_the_feeds_and_do_not_come_back(tmp_path: Path) -> None:
    """`retain`: a month later the entries are forgotten and the feeds rewritten without
    them; the source still lists them, yet they are not new again (no second alert)."""
    source = f'[[sources]]\nname = "h"\nurl = "{REAL / "rss-parser-heise.atom"}"\n'
    config = replace(
        load_config(
            write_config(
                tmp_path,
                f'retain = "30d"\n{source}[[topics]]\nname = "any"\nquery = "der OR die OR und"\n'
                '[[alerts]]\ntype = "console"\n',
            )
        ),
        workers=1,
    )
    assert config.retain == 30 * 86400
    now = [1_900_000_000.0]
    store = SQLiteStore(config.state)
    first = Pipeline(config, store, clock=lambda: now[0]).run_cycle(once=True)
    assert first.new_entries > 0 and first.alerts_sent > 0
    atom = tmp_path / "feeds" / "all.atom"
    assert len(etree.parse(str(atom)).getroot().findall(f"{A}entry")) == first.new_entries
    now[0] += 31 * 86400
    later = Pipeline(config, store, clock=lambda: now[0]).run_cycle(once=True)
    assert later.new_entries == 0 and later.alerts_sent == 0
    assert etree.parse(str(atom)).getroot().findall(f"{A}entry") == []
    assert store.feed_entries(None, 100) == []
    assert len(store.all_digests("h")) == first.new_entries
    store.close()
