"""Publishing (syndicator/publish.py): every real feed through the whole pipeline; the output
obeys the Atom rules the W3C Feed Validator checks (asserted here with lxml)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from syndicator.config import load_config
from syndicator.model import StoredEntry, TopicHit
from syndicator.pipeline import Pipeline
from syndicator.publish import render_feed, write_atomic
from syndicator.store import SQLiteStore
from tests.conftest import REAL, write_config

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
