"""A URL means one thing everywhere: schemes are case-insensitive, a URL is never silently a
local path, and one function (config.http_url) decides which is which for the config, `add`,
`clean`, discovery and OPML import; here through the installed command. The rules in process:
tests/unit/test_config_urls.py."""

from __future__ import annotations

from pathlib import Path

from syndicator.config import load_config
from syndicator.discover import discover_feeds, normalize_input_url
from tests.conftest import REAL, FeedServer, Route, run_cli, write_config


def test_an_upper_case_scheme_in_the_config_is_fetched_not_read_as_a_file(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve_file("/f.rss", REAL / "rss-parser-guardian.rss")
    config = write_config(
        tmp_path, f'[[sources]]\nname = "loud"\nurl = "{url.replace("http://", "HTTP://")}"\n'
    )
    assert load_config(config).sources[0].url == url
    done = run_cli("run", "--once", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0 and "source=loud status=200" in done.stderr, done.stderr
    assert len(feed_server.requests_to("/f.rss")) == 1


def test_a_control_character_in_a_configured_url_is_refused_naming_the_key(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, '[[sources]]\nname = "a"\nurl = "https://a.example/\\nx"\n')
    done = run_cli("check", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2 and "sources[0].url: contains a control character" in done.stderr


def test_add_and_discovery_take_any_case_and_drop_links_with_control_characters(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    assert normalize_input_url("HTTPS://example.org/feed") == "https://example.org/feed"
    page = (
        b'<link rel="alternate" type="application/rss+xml" href="HTTP://example.org/rss">'
        b'<link rel="alternate" type="application/rss+xml" href="http://example.org/&#10;x">'
    )
    assert [link.url for link in discover_feeds(page, "https://example.org/")] == [
        "http://example.org/rss"
    ]
    feed_server.serve_file("/feed.rss", REAL / "rss-parser-guardian.rss")
    feed_server.routes["/page"] = Route(
        f'<link rel="alternate" type="application/rss+xml" href="HTTP://127.0.0.1:'
        f'{feed_server.httpd.server_address[1]}/feed.rss">'.encode(),
        "text/html",
    )
    config = write_config(tmp_path, "")
    typed = feed_server.base.replace("http://", "Http://") + "/page"
    done = run_cli("add", typed, "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert load_config(config).sources[0].url == feed_server.base + "/feed.rss"
    assert len(feed_server.requests_to("/feed.rss")) == 1
