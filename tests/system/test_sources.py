"""`syndicator add` and `remove` as a user runs them, against a loopback server: a page adds the
feed it advertises, a feed is named from its title, duplicates, pages without feeds and bad
arguments are refused, and `remove` keeps the stored entries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from syndicator.cli import main
from syndicator.config import load_config
from tests.conftest import DATA, REAL, FeedServer, Route, run_cli, write_config
from tests.unit.test_discover import PAGE

CONFIG_BODY = """
# My sources. Keep this comment!
[[sources]]
name = "sample"   # the bundled one
url = "sample.rss"

# Topics below.
[[topics]]
name = "nato"
query = "NATO"
"""


def _config(tmp_path: Path) -> Path:
    (tmp_path / "sample.rss").write_bytes((DATA / "sample-news.rss").read_bytes())
    return write_config(tmp_path, CONFIG_BODY)


def test_add_on_a_web_page_adds_the_feed_it_advertises(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = _config(tmp_path)
    before = config.read_text(encoding="utf-8")
    feed_server.routes["/news/"] = Route(
        PAGE.replace(b'href="/feed/"', b'href="../feed/"'), "text/html; charset=utf-8"
    )
    feed_server.serve_file("/feed/", REAL / "rss-parser-guardian.rss")
    feed_server.routes["/comments/feed/"] = Route(b"<rss/>")
    result = run_cli("add", f"{feed_server.base}/news/", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert f"* {feed_server.base}/feed/  RSS" in result.stdout
    assert "(chosen)" in result.stdout and "/feed.json  JSON Feed" in result.stdout
    source = load_config(config).sources[-1]
    assert source.url == f"{feed_server.base}/feed/"
    after = config.read_text(encoding="utf-8")
    block = f'\n[[sources]]\nname = "{source.name}"\nurl = "{source.url}"\n'
    assert after.replace(block, "", 1) == before  # every other byte, comments included
    assert f'added source "{source.name}"' in result.stdout


def test_add_a_feed_directly_names_it_from_its_title_and_refuses_duplicates(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = _config(tmp_path)
    url = feed_server.serve_file("/heise.atom", REAL / "rss-parser-heise.atom")
    result = run_cli("add", url, "--interval", "10m", "--config", str(config))
    assert result.returncode == 0, result.stderr
    added = load_config(config).sources[-1]
    assert (added.url, added.interval) == (url, 600)
    assert added.name.startswith("heise")
    again = run_cli(
        "add",
        url.replace("127.0.0.1", "127.0.0.1:80").replace(":80:", ":"),
        "--config",
        str(config),
    )
    assert again.returncode == 1 and "already a source" in again.stderr
    named = run_cli(
        "add", "https://other.example/", "--no-check", "--name", "sample", "--config", str(config)
    )
    assert named.returncode == 1 and "already a source named 'sample'" in named.stderr
    assert len(load_config(config).sources) == 2


def test_add_refuses_pages_without_feeds_and_bad_arguments(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    before = config.read_bytes()
    feed_server.routes["/plain"] = Route(b"<html><title>x</title></html>", "text/html")
    result = run_cli("add", f"{feed_server.base}/plain", "--config", str(config))
    assert result.returncode == 1
    assert "not a feed, and the page advertises none" in result.stderr
    # the rest in-process, for speed
    assert main(["add", f"{feed_server.base}/gone", "--config", str(config)]) == 1
    assert "HTTP 404" in capsys.readouterr().err
    assert main(["add", "x.example", "--interval", "soon", "--config", str(config)]) == 2
    assert "--interval" in capsys.readouterr().err
    assert main(["add", "x.example", "--name", "no spaces", "--config", str(config)]) == 2
    assert "invalid name" in capsys.readouterr().err
    assert main(["add", "ftp://x.example/", "--config", str(config)]) == 2
    assert "not an http(s) URL" in capsys.readouterr().err
    assert config.read_bytes() == before


def test_add_offline_then_remove(tmp_path: Path) -> None:
    config = _config(tmp_path)
    before = config.read_text(encoding="utf-8")
    added = run_cli("add", "www.example.org/rss", "--no-check", "--config", str(config))
    assert added.returncode == 0, added.stderr
    assert load_config(config).sources[-1].url == "https://www.example.org/rss"
    assert load_config(config).sources[-1].name == "example.org"
    removed = run_cli("remove", "example.org", "--config", str(config))
    assert removed.returncode == 0, removed.stderr
    assert config.read_text(encoding="utf-8") == before
    unknown = run_cli("remove", "nope", "--config", str(config))
    assert unknown.returncode == 1 and "no source named 'nope'" in unknown.stderr


def test_remove_keeps_the_stored_entries_and_says_so(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    result = run_cli("remove", "sample", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "stored entries stay in the state database" in result.stdout
    assert load_config(config).sources == ()
    text = config.read_text(encoding="utf-8")
    assert "# Topics below." in text and "# My sources. Keep this comment!" in text
    with sqlite3.connect(tmp_path / "state" / "s.sqlite") as db:
        assert db.execute("SELECT count(*) FROM entries WHERE source='sample'").fetchone()[0] > 0


def test_config_errors_exit_2_naming_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[[sources]]\nname = "a"\nurl = "https://a/"\nintervall = 1\n')
    result = run_cli("add", "https://b.example/", "--no-check", "--config", str(config))
    assert result.returncode == 2
    assert "sources[0].intervall" in result.stderr and len(result.stderr.splitlines()) == 1
