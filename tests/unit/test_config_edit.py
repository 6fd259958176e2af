"""Managing sources (syndicator/config_edit.py): names, and comment-preserving edits of
config.toml. Feed discovery is tests/unit/test_discover.py; `add` and `remove` run as the installed
command against a loopback server, tests/system/test_sources.py."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

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
from syndicator.discover import normalize_input_url
from tests.conftest import ROOT

SHIPPED = (ROOT / "config.toml").read_text(encoding="utf-8")


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
