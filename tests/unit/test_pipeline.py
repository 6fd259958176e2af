"""One cycle of the pipeline (syndicator/pipeline.py) in process, on real files and SQLite:
a bug in one source's analysis costs that source only; entries past `retain` leave the feeds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from syndicator.config import load_config
from syndicator.pipeline import Pipeline
from syndicator.store import SQLiteStore
from tests.conftest import REAL, write_config
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
