"""Managing sources: feed discovery, names, comment-preserving config edits, `add` and `remove`
run as the installed command against a loopback server."""

from __future__ import annotations

import os
import sqlite3
import tomllib
from pathlib import Path

import pytest

from syndicator.cli import main
from syndicator.config import load_config
from syndicator.config_edit import (
    NewSource,
    SourceEditError,
    append_sources,
    name_from,
    remove_source,
    same_url_key,
    slugify,
    unique_name,
    write_config_text,
)
from syndicator.discover import FeedLink, discover_feeds, normalize_input_url
from tests.conftest import DATA, REAL, ROOT, FeedServer, Route, run_cli, write_config

SHIPPED = (ROOT / "config.toml").read_text(encoding="utf-8")

PAGE = b"""<!doctype html>
<html lang="de"><head>
<meta charset="utf-8"><title>Beispiel-Zeitung</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" hreflang="en" href="/en/">
<link rel="alternate" type="application/feed+json" title="JSON" href="/feed.json">
<link rel="alternate" type="application/rss+xml" title="Beispiel-Zeitung &raquo; Feed"
      href="/feed/">
<link rel="alternate" type="application/rss+xml" title="Beispiel-Zeitung &raquo; Kommentare"
      href="https://example.org/comments/feed/">
<link rel="alternate" type="application/atom+xml" href="/feed/">
</head><body><p>Nachrichten</p></body></html>"""


# -- discovery -------------------------------------------------------------------------------


def test_discovery_prefers_rss_and_atom_in_page_order_and_resolves_hrefs() -> None:
    links = discover_feeds(PAGE, "https://example.org/politik/artikel.html")
    assert links == [
        FeedLink("https://example.org/feed/", "RSS", "Beispiel-Zeitung » Feed"),
        FeedLink("https://example.org/comments/feed/", "RSS", "Beispiel-Zeitung » Kommentare"),
        FeedLink("https://example.org/feed.json", "JSON Feed", "JSON"),
    ]
    assert not links[-1].readable


def test_discovery_honours_base_href_feed_scheme_and_multi_valued_rel() -> None:
    page = b"""<html><head><base href="https://cdn.example.net/site/">
    <link rel="Alternate Feed" type="Application/Atom+XML; charset=utf-8" href="atom.xml">
    <link rel="alternate" type="application/rss+xml" href="feed://example.net/rss">
    <link rel="alternate" type="application/rss+xml" href="javascript:void(0)">
    <link rel="alternate" type="application/rss+xml" href="">
    </head></html>"""
    assert [(f.url, f.kind) for f in discover_feeds(page, "https://example.net/")] == [
        ("https://cdn.example.net/site/atom.xml", "Atom"),
        ("http://example.net/rss", "RSS"),
    ]


def test_discovery_finds_nothing_on_plain_pages_and_garbage() -> None:
    assert discover_feeds(b"<html><head><title>x</title></head></html>", "https://a.b/") == []
    assert discover_feeds(b"\x00\xff not html at all", "https://a.b/") == []
    assert discover_feeds("", "https://a.b/") == []


# -- names and URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "url", "name"),
    [
        ("Süddeutsche Zeitung", "https://rss.sueddeutsche.de/x", "suddeutsche-zeitung"),
        ("BBC", "https://bbc.co.uk/", "BBC"),  # already a valid name: kept (OPML round-trips)
        ("日本語ニュース", "https://www.nhk.or.jp/rss/news/cat0.xml", "nhk.or.jp"),
        ("", "https://feeds.example.org/all.xml", "example.org"),
        ("", "", "feed"),
        (
            "Le Monde.fr - Actualités et Infos en France et dans le monde",
            "https://www.lemonde.fr/rss/une.xml",
            "le-monde.fr-actualites-et-infos-en",
        ),
    ],
)
def test_names_from_titles(title: str, url: str, name: str) -> None:
    assert name_from(title, url) == name


def test_unique_names_avoid_taken_and_reserved_case_insensitively() -> None:
    assert unique_name("dw", ["DW", "dw-2"]) == "dw-3"
    assert unique_name("status", []) == "status-2"
    assert unique_name("x" * 64, ["x" * 64]) == "x" * 62 + "-2"
    assert slugify("!!!") == ""


def test_urls_as_users_type_them() -> None:
    assert normalize_input_url("example.org/feed") == "https://example.org/feed"
    assert normalize_input_url("feed://example.org/rss") == "http://example.org/rss"
    assert normalize_input_url(" http://example.org ") == "http://example.org"
    assert same_url_key("HTTPS://Example.org:443/a?b#c") == same_url_key("https://example.org/a?b")
    assert same_url_key("https://example.org") == same_url_key("https://example.org/")
    assert same_url_key("https://example.org/a") != same_url_key("https://example.org/b")


# -- editing config.toml ---------------------------------------------------------------------


def test_append_preserves_every_byte_outside_the_new_tables() -> None:
    new = [NewSource("new", "https://x.org/f", "10m", "News/Germany"), NewSource("n2", "https://y")]
    text = append_sources(SHIPPED, new)
    block = (
        '\n[[sources]]\nname = "new"\nurl = "https://x.org/f"\ninterval = "10m"\n'
        'category = "News/Germany"\n\n[[sources]]\nname = "n2"\nurl = "https://y"\n'
    )
    assert block in text and text.replace(block, "", 1) == SHIPPED
    # right after the last source, before the topics' comment
    assert text.index(block) < text.index("# Topics:")
    assert tomllib.loads(text)["sources"][-1] == {"name": "n2", "url": "https://y"}


def test_append_escapes_values_and_keeps_crlf() -> None:
    crlf = SHIPPED.replace("\n", "\r\n")
    text = append_sources(crlf, [NewSource("q", 'https://x.org/?a="b"', category='Tech & "AI"')])
    assert "\n" not in text.replace("\r\n", "")
    assert tomllib.loads(text)["sources"][-1]["category"] == 'Tech & "AI"'


def test_append_to_configs_without_sources_or_final_newline() -> None:
    text = append_sources('[syndicator]\ninterval = "5m"  # fast', [NewSource("a", "https://a/")])
    assert (
        text
        == '[syndicator]\ninterval = "5m"  # fast\n\n[[sources]]\nname = "a"\nurl = "https://a/"\n'
    )
    assert append_sources("", [NewSource("a", "https://a/")]).startswith("[[sources]]\n")


def test_unusual_files_fall_back_to_a_structural_edit_that_is_still_right() -> None:
    inline = 'sources = [{ name = "a", url = "https://a/" }]\n[[topics]]\nname = "t"\nquery = "x"\n'
    text = append_sources(inline, [NewSource("b", "https://b/")])
    assert [s["name"] for s in tomllib.loads(text)["sources"]] == ["a", "b"]
    tricky = (
        '[[sources]]\nname = "a"\nurl = "https://a/"\ndrop = ["""\n[[sources]]\n"""]\n'
        '[[sources]]\nname = "b"\nurl = "https://b/"\n'
    )
    assert [s["name"] for s in tomllib.loads(remove_source(tricky, "a"))["sources"]] == ["b"]
    both = tomllib.loads(append_sources(tricky, [NewSource("c", "https://c/")]))["sources"]
    assert [s["name"] for s in both] == ["a", "b", "c"] and both[0]["drop"] == ["[[sources]]\n"]


@pytest.mark.parametrize("name", ["sample", "dw", "bbc-world", "france24"])
def test_remove_keeps_other_comments_and_tables(name: str) -> None:
    text = remove_source(SHIPPED, name)
    expected = tomllib.loads(SHIPPED)
    expected["sources"] = [s for s in expected["sources"] if s["name"] != name]
    assert tomllib.loads(text) == expected
    comments = [line for line in SHIPPED.splitlines() if line.startswith("#")]
    assert comments == [line for line in text.splitlines() if line.startswith("#")]
    assert "\n\n\n" not in text


def test_remove_the_only_source_and_unknown_names() -> None:
    text = remove_source('# mine\n[[sources]]\nname = "a"  # x\nurl = "https://a/"\n\n# end\n', "a")
    assert text == "# mine\n\n# end\n"
    with pytest.raises(SourceEditError, match="no source named 'zz'"):
        remove_source(SHIPPED, "zz")


def test_write_is_atomic_follows_symlinks_keeps_mode_and_refuses_a_changed_file(
    tmp_path: Path,
) -> None:
    real = tmp_path / "etc" / "config.toml"
    real.parent.mkdir()
    real.write_text("a = 1\n")
    os.chmod(real, 0o600)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    write_config_text(link, "a = 1\n", "a = 2\n")
    assert link.is_symlink() and real.read_text() == "a = 2\n"
    assert real.stat().st_mode & 0o777 == 0o600
    with pytest.raises(SourceEditError, match="changed while"):
        write_config_text(link, "a = 1\n", "a = 3\n")
    assert real.read_text() == "a = 2\n" and os.listdir(real.parent) == ["config.toml"]


# -- `syndicator add` / `remove` as a user runs them -----------------------------------------

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
