"""Stories through the daemon: an upgrade from schema 4 publishes and alerts (when still
recent) the stories the old rule merged away, and one run of 1,250 distinct stories publishes and
alerts every one of them. The story decisions themselves: tests/unit/test_stories.py."""

from __future__ import annotations

import random
import shutil
import sqlite3
import time
from html import escape
from pathlib import Path

from bench import _stories
from tests.conftest import DATA, REAL, FeedServer, Route, run_cli, write_config
from tests.system.test_service import alert_lines


def _old_state(tmp_path: Path, age_days: float) -> tuple[Path, int]:
    """The state a Syndicator of schema 4 left after polling Scripting News (41 of 48 posts
    merged away by their fragment-less links), its entries first seen `age_days` ago; and how
    many of the merged-away posts matched the topic and were never alerted (some were, while
    they still stood for their story)."""
    (tmp_path / "state").mkdir()
    db = sqlite3.connect(tmp_path / "state" / "s.sqlite")
    db.executescript((DATA / "databases" / "schema4-scripting-news.sql").read_text("utf-8"))
    db.execute("UPDATE entries SET first_seen=?", (time.time() - age_days * 86400,))
    (owed,) = db.execute(
        "SELECT count(*) FROM entries e WHERE dup_of IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM hits h WHERE h.entry_id = e.id AND h.topic = 'web') "
        "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.entry_id = e.id)"
    ).fetchone()
    db.commit()
    db.close()
    shutil.copy(REAL / "netnewswire-scriptingNews.rss", tmp_path / "scripting.rss")
    write_config(
        tmp_path,
        """
[[sources]]
name = "scripting"
url = "scripting.rss"
[[topics]]
name = "web"
query = "web OR podcast* OR blog*"
[[alerts]]
type = "console"
""",
    )
    return tmp_path / "config.toml", int(owed)


def test_an_upgrade_publishes_and_alerts_the_stories_the_old_rule_merged_away(
    tmp_path: Path,
) -> None:
    config, owed = _old_state(tmp_path, age_days=0.5)
    assert owed >= 3
    first = run_cli("run", "--once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert len(alert_lines(first.stdout)) == owed  # each lost alert, once
    assert (tmp_path / "feeds" / "all.atom").read_text(encoding="utf-8").count("<entry>") == 48
    assert "41 entries changed story" in first.stderr  # said in the log, with the rule's age
    second = run_cli("run", "--once", "--config", str(config))
    assert alert_lines(second.stdout) == []  # and never twice


def test_an_upgrade_republishes_but_does_not_alert_old_stories(tmp_path: Path) -> None:
    config, owed = _old_state(tmp_path, age_days=30)
    result = run_cli("run", "--once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert owed > 0 and alert_lines(result.stdout) == []
    assert (tmp_path / "feeds" / "all.atom").read_text(encoding="utf-8").count("<entry>") == 48


def test_thousands_of_distinct_stories_are_all_published_and_alerted(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """One run adds 1,000 articles made of real sentences and 250 wire stories cast from five
    templates: every one of them a story of its own, published and alerted."""
    rng = random.Random(13)
    pool = _stories.sentence_pool(_stories.real_items([REAL]))
    items = _stories.articles(pool, 1000, rng, sources=10) + _stories.templated(250, rng)
    sources = ""
    for n, name in enumerate(sorted({i.source for i in items})):
        feed_server.routes[f"/{n}"] = Route(_rss([i for i in items if i.source == name]))
        sources += f'[[sources]]\nname = "{name}"\nurl = "{feed_server.base}/{n}"\n'
    config = write_config(
        tmp_path,
        "max_entries = 5000\n"
        + sources
        + '[[topics]]\nname = "every"\nquery = "source:articles* OR source:wire*"\n'
        + '[[alerts]]\ntype = "console"\n',
    )
    result = run_cli("run", "--once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    stories_told = len({i.story for i in items})  # the generator's only identical twins aside
    assert stories_told > 1200
    assert len(alert_lines(result.stdout)) == stories_told
    published = (tmp_path / "feeds" / "all.atom").read_text(encoding="utf-8")
    assert published.count("<entry>") == stories_told


def _rss(items: list[_stories.Item]) -> bytes:
    body = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f"<guid>{i.key}</guid><pubDate>{i.published.strftime('%a, %d %b %Y %H:%M:%S +0000')}"
        f"</pubDate><description>{escape('<p>' + escape(i.text) + '</p>')}</description></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://example.org/</link>{body}</channel></rss>"
    ).encode()
