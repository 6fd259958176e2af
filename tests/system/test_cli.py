"""The user's tools for rules and queries, run as the installed command: clean, reclean, match."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import DATA, FeedServer, run_cli, write_config

SAMPLE = DATA / "sample-news.rss"


def test_clean_prints_cleaned_text_and_explains_removals(feed_server: FeedServer) -> None:
    plain = run_cli("clean", str(SAMPLE))
    assert plain.returncode == 0, plain.stderr
    assert "seinepolitische, militärische und sicherheitspolitische Rolle" in plain.stdout
    assert "[Anzeige_2]" not in plain.stdout and "Quellenlink" not in plain.stdout
    explained = run_cli("clean", str(SAMPLE), "--explain")
    assert "[ad-label] [Anzeige_2]" in explained.stdout
    assert "[de-source-link] Quellenlink" in explained.stdout
    url = feed_server.serve_file("/s.rss", SAMPLE)
    over_http = run_cli("clean", url)
    assert over_http.returncode == 0 and over_http.stdout == plain.stdout


def test_clean_reports_an_unreadable_source(tmp_path: Path) -> None:
    result = run_cli("clean", str(tmp_path / "missing.xml"))
    assert result.returncode == 1 and "file not found" in result.stderr


def test_reclean_applies_new_rules_to_stored_entries(tmp_path: Path) -> None:
    config = write_config(tmp_path, f'[[sources]]\nname = "s"\nurl = "{SAMPLE}"\n')
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    feed = tmp_path / "feeds" / "all.atom"
    assert "Die Bauarbeiten sollen im Frühjahr beginnen" in feed.read_text(encoding="utf-8")
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "[[sources]]", "[clean]\ndrop = ['^Die Bauarbeiten']\n[[sources]]", 1
        ),
        encoding="utf-8",
    )
    result = run_cli("reclean", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "re-cleaned 3 stored entries" in result.stdout
    text = feed.read_text(encoding="utf-8")
    assert "Die Bauarbeiten sollen" not in text
    assert "Die Stadt plant eine neue Fahrradbrücke" in text


def test_match_shows_where_terms_matched() -> None:
    proc = run_cli(
        "match", "NATO AND Indopazifi*", "-", stdin="Der NATO-Gipfel beriet über den Indopazifik."
    )
    assert proc.returncode == 0 and proc.stdout.startswith("MATCH")
    assert "[NATO]" in proc.stdout
    miss = run_cli("match", "NATO", str(DATA / "seed" / "nato-japan-liaison-office.de.txt"))
    assert miss.returncode == 0
    none = run_cli("match", "NATO", "-", stdin="Reise durch Anatolien")
    assert none.returncode == 1 and none.stdout.startswith("NO MATCH")
    bad = run_cli("match", "(NATO OR", "-")
    assert bad.returncode == 2 and "position" in bad.stderr


def test_start_up_leaves_the_cleaner_and_feedparser_unimported() -> None:
    """A run whose sources all answer 304 never cleans or parses: its start-up (most of its
    time) must not pay for the cleaner's parts (lxml, cssselect, nh3), feedparser or feedgen, nor
    for what only other commands use (the OPML and config editors: lxml, tomlkit)."""
    heavy = ["bs4", "lxml", "cssselect", "nh3", "feedparser", "feedgen", "tomlkit"]
    heavy += ["syndicator.clean", "syndicator.opml", "syndicator.config_edit"]
    heavy += ["syndicator.discover", "syndicator.overview", "syndicator.service", "apscheduler"]
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, syndicator.cli; print([m for m in {heavy!r} if m in sys.modules])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
