"""One cycle of the pipeline (syndicator/pipeline.py) in process, on real files and SQLite:
a bug in one source's analysis or an unexpected error handling its response costs that source
only; entries past `retain` leave the feeds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from syndicator.config import load_config
from syndicator.pipeline import Pipeline
from syndicator.store import SQLiteStore
from tests.conftest import REAL, FeedServer, write_config
from tests.unit.test_fetch_headers import _two_sources
from tests.unit.test_publish import A


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


def test_an_unexpected_error_handling_one_response_costs_that_source_only(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The safety net under the parsers: the clock (an argument, for tests) fails once, while
    the first response is handled; that source fails with a one-line reason, the other one is
    stored and published, and the cycle ends normally."""
    config = load_config(write_config(tmp_path, _two_sources(feed_server, {})))
    calls = 0

    def clock() -> float:
        nonlocal calls
        calls += 1
        if calls == 2:  # the first call is the cycle's; the second, the first source's
            raise RuntimeError("clock failed\nsecond line")
        return 1_700_000_000.0

    store = SQLiteStore(config.state)
    try:
        report = Pipeline(config, store, senders=[], clock=clock).run_cycle(once=True)
        states = store.source_states()
    finally:
        store.close()
    reasons = list(report.failed.values())
    assert reasons == ["internal error: RuntimeError: clock failed second line"]
    failed = next(iter(report.failed))
    worked = ({"hostile", "other"} - {failed}).pop()
    assert states[failed].failures == 1 and states[worked].failures == 0
    assert f"Source: {worked}" in (tmp_path / "feeds" / "all.atom").read_text()
