"""OPML (syndicator/opml.py): real exports of Feedly, Inoreader, Miniflux, FreshRSS and newsboat
import; our export renders back; hostile files read nothing. `import` and `export` as a user runs
them: tests/system/test_opml.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from syndicator.config import Source
from syndicator.opml import OpmlError, OpmlFeed, parse_opml, plan_import, render_opml
from tests.conftest import DATA

OPML = DATA / "opml"


def feeds(name: str) -> list[OpmlFeed]:
    return parse_opml((OPML / name).read_bytes())


def test_feedly_nests_feeds_in_categories_and_repeats_a_feed_in_two() -> None:
    got = feeds("feedly.opml")
    assert [(f.title, f.category) for f in got][:2] == [
        ("tagesschau.de - Die Nachrichten der ARD", "News"),
        ("Süddeutsche Zeitung", "News"),
    ]
    assert {f.category for f in got} == {"News", "Tech & Science"}
    plan = plan_import(got, [])
    assert len(plan.add) == 5
    assert [(f.url, why) for f, why in plan.skipped] == [
        ("https://feeds.bbci.co.uk/news/world/rss.xml", "already a source (bbc-news-world)")
    ]


def test_inoreader_folders_and_top_level_feeds() -> None:
    plan = plan_import(feeds("inoreader.opml"), [])
    assert [(s.name, s.category) for s in plan.add] == [
        ("dw-deutsch", "Politik"),
        ("france-24-info", "Politik"),
        ("daring-fireball", "Blogs"),
        ("xkcd.com", ""),
    ]


def test_miniflux_text_only_folders_without_type_and_go_escapes() -> None:
    got = feeds("miniflux.opml")
    assert [f.category for f in got] == ["All", "All", "Science", "Science"]
    assert got[3].title == "Nature's news feed"
    assert got[0].html_url == "https://lwn.net"
    assert len(plan_import(got, []).add) == 4


def test_freshrss_skips_scraped_web_pages() -> None:
    plan = plan_import(feeds("freshrss.opml"), [])
    assert [s.url for s in plan.add] == [
        "https://github.com/FreshRSS/FreshRSS/releases.atom",
        "https://netzpolitik.org/feed/",
        "https://www.lemonde.fr/rss/une.xml",
    ]
    assert [why for _, why in plan.skipped] == ["not a feed subscription (type 'html+xpath')"]


def test_newsboat_flat_list_with_an_untitled_feed() -> None:
    plan = plan_import(feeds("newsboat.opml"), [])
    assert [(s.name, s.category) for s in plan.add] == [
        ("LWN.net", ""),
        ("heise-online-news", ""),
        ("fefes-blog", ""),
        ("planet.debian.org", ""),
    ]


def test_opml2_category_attribute_when_flat() -> None:
    assert [f.category for f in feeds("category-attribute.opml")] == [
        "News/Germany",
        "News/Spain",
        "",
    ]


def test_import_skips_what_is_already_configured_and_non_http_urls() -> None:
    existing = [Source("dw", "https://RSS.dw.com/xml/rss-de-all", 900.0)]
    got = [
        *feeds("inoreader.opml"),
        OpmlFeed("file:///etc/passwd", "local"),
        OpmlFeed("feed://example.org/rss", "Example"),
    ]
    plan = plan_import(got, existing)
    assert [s.url for s in plan.add][-1] == "http://example.org/rss"
    reasons = {f.url: why for f, why in plan.skipped}
    assert reasons == {
        "https://rss.dw.com/xml/rss-de-all": "already a source (dw)",
        "file:///etc/passwd": "not an http(s) URL",
    }


def test_nested_folders_become_category_paths_and_render_back() -> None:
    data = b"""<opml version="2.0"><body>
      <outline text="News"><outline title="Germany">
        <outline text="Tagesschau" xmlUrl="https://www.tagesschau.de/xml/rss2/"/>
      </outline><outline text="Top" xmlUrl="https://top.example/rss"/></outline>
      <outline text="  "><outline text="x" xmlUrl="https://x.example/"/></outline>
    </body></opml>"""
    got = parse_opml(data)
    assert [(f.title, f.category) for f in got] == [
        ("Tagesschau", "News/Germany"),
        ("Top", "News"),
        ("x", ""),
    ]
    sources = [Source(f.title, f.url, 900.0, category=f.category) for f in got]
    rendered = render_opml(sources, datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    root = etree.fromstring(rendered)
    assert root.get("version") == "2.0"
    assert root.findtext("head/dateCreated") == "Tue, 02 Jan 2024 03:04:05 GMT"
    folder = root.find("body/outline[@text='News']/outline[@text='Germany']/outline")
    assert folder is not None and folder.get("xmlUrl") == "https://www.tagesschau.de/xml/rss2/"
    assert folder.get("type") == "rss" and folder.get("title") == "Tagesschau"
    assert parse_opml(rendered) == [OpmlFeed(f.url, f.title, f.category, "", "rss") for f in got]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<rss version='2.0'><channel/></rss>", "root element is <rss>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
        (b"<opml><body><outline text='a & b'/></body></opml>", "not well-formed"),
        (b"", "not well-formed"),
    ],
)
def test_not_opml(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        parse_opml(data)


def test_hostile_entities_read_no_file_and_expand_nothing(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    uri = secret.as_uri()
    in_text = (
        f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY xxe SYSTEM "{uri}">]>'
        '<opml version="2.0"><head><title>&xxe;</title></head><body>'
        '<outline text="a" xmlUrl="https://a.example/"/></body></opml>'
    ).encode()
    in_attr = in_text.replace(b'text="a"', b'text="&xxe;"')
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        + "".join(
            f'<!ENTITY {n} "{("&" + p + ";") * 10}">'
            for p, n in zip("abcdefg", "bcdefgh", strict=True)
        )
        + ']><opml version="2.0"><body><outline text="&h;" xmlUrl="https://a.example/"/>'
        "</body></opml>"
    ).encode()
    for data in (in_text, in_attr, laughs):
        try:
            got = parse_opml(data)
        except OpmlError as exc:
            assert "TOPSECRET" not in str(exc)
        else:
            pytest.fail(f"accepted {got}")
