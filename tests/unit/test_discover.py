"""Feed discovery (syndicator/discover.py): the feeds a page advertises, in page order, with
its base href, as links resolved against the page."""

from __future__ import annotations

from syndicator.discover import FeedLink, discover_feeds

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
