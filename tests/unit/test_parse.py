"""Hostile and broken documents (syndicator/parse.py, and parse → clean → match → render through
analyse.preview): every case is refused or survived in bounded time and memory, reported in one
line, and nothing from the hostile input reaches the output or the machine. Fetch-level hostility
(size, compression, slowness, HTTP failures) is in test_fetch_hostile.py; all of it together
through the installed command is tests/system/test_hostile.py."""

from __future__ import annotations

import hashlib
import re
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from syndicator.analyse import preview
from syndicator.clean import load_rules
from syndicator.errors import ParseError
from syndicator.match import compile_topics
from syndicator.model import Topic
from syndicator.parse import ENTITY_REASON, parse_feed
from tests.conftest import DATA, FeedServer, Route
from tests.unit.test_fetch_hostile import MiB, get

HOSTILE = DATA / "hostile"
ATOM = "{http://www.w3.org/2005/Atom}"
PASSWD = "root:x:0:0"
RULES = load_rules()
MATCHER = compile_topics([Topic("harbour", "harbour OR ferry OR Größe")])
# What an injection leaves behind in HTML a reader renders.
DANGEROUS_TAGS = {
    "script", "style", "iframe", "object", "embed", "base", "meta", "link", "form", "input",
    "button", "svg", "math", "frame", "frameset", "applet", "textarea", "template", "noscript",
    "area", "map", "video", "audio",
}  # fmt: skip
# A script URL where a browser would follow it. ("javascript:" elsewhere can be harmless: an
# entity-encoded `&#106;avascript:` href is resolved by feedparser into an https URL's path.)
BAD_URL = re.compile(r"""(?i)\b(?:href|src|action|data)\s*=\s*["']?\s*(?:java|vb)script:""")
URL_ATTRIBUTES = {"href", "src", "cite", "longdesc", "background", "poster", "action", "data"}


def parse_failure(body: bytes, url: str = "https://hostile.example/feed") -> str:
    with pytest.raises(ParseError) as info:
        parse_feed(body, url, {"Content-Type": "application/rss+xml"})
    assert "\n" not in info.value.reason
    return info.value.reason


def hostile(name: str) -> bytes:
    return (HOSTILE / name).read_bytes()


def scheme(url: str) -> str:
    """The scheme a browser sees (tabs and newlines dropped, C0 and spaces stripped); "" for a
    relative URL, which a "scheme" like "ht=ps:" makes."""
    url = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(33))))
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    return match.group(1).lower() if match else ""


def assert_safe_html(html: str) -> None:
    """Nothing a browser would execute or that would redirect or re-base the reader."""
    tags = " ".join(re.findall(r"<[^<>]*>", html)).lower()  # text may say anything
    for needle in ("<script", "expression(", "http-equiv"):
        assert needle not in tags, (needle, html)
    assert not BAD_URL.search(tags), html
    assert not re.search(r"\son[a-z]+\s*=", tags), html
    if not html.strip():
        return
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        assert el.tag not in DANGEROUS_TAGS, (el.tag, html)
        for name, value in el.attrib.items():
            assert not name.startswith("on") and name != "style", (name, html)
            if name in URL_ATTRIBUTES:
                assert scheme(value) in ("", "http", "https", "mailto"), (name, value)


def publish(body: bytes, url: str, headers: dict[str, str] | None = None) -> bytes:
    """parse → clean → match → render, as the pipeline does, minus the store."""
    return preview(body, url, headers, RULES, MATCHER)


def atom_entries(data: bytes) -> list[etree._Element]:
    return etree.fromstring(data).findall(f"{ATOM}entry")


# -- XML entities --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["xxe-file.rss", "xxe-oneline.rss", "xxe-parameter.rss"])
def test_external_entity_is_refused_and_never_resolved(name: str) -> None:
    assert PASSWD in Path("/etc/passwd").read_text(), "the test needs a readable /etc/passwd"
    assert parse_failure(hostile(name)) == ENTITY_REASON


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-7", "cp037"])
def test_external_entity_in_another_encoding_is_refused(encoding: str) -> None:
    """The check reads the document as feedparser will decode it, not its raw bytes."""
    text = hostile("xxe-file.rss").decode().replace('encoding="utf-8"', f'encoding="{encoding}"')
    body = text.encode(encoding).replace(b"<!ENTITY", b"+ADw-!ENTITY")  # UTF-7's "<"
    assert b"<!ENTITY" not in body
    assert parse_failure(body) == ENTITY_REASON


def test_remote_dtd_and_external_entities_are_never_fetched(feed_server: FeedServer) -> None:
    feed_server.routes["/evil.dtd"] = Route(b'<!ENTITY remote SYSTEM "file:///etc/passwd">')
    feed_server.routes["/evil-entity"] = Route(b"stolen " + PASSWD.encode())
    dtd_feed = hostile("xxe-remote-dtd.rss").replace(b"@BASE@", feed_server.base.encode())
    feed_server.routes["/dtd.rss"] = Route(dtd_feed)
    entity_feed = hostile("xxe-file.rss").replace(
        b"file:///etc/passwd", f"{feed_server.base}/evil-entity".encode()
    )
    feed_server.routes["/entity.rss"] = Route(entity_feed)

    fetched = get(feed_server.base + "/dtd.rss")
    data = publish(fetched.body, fetched.url, fetched.headers)  # a DTD alone is harmless
    assert len(atom_entries(data)) == 1 and PASSWD.encode() not in data
    fetched = get(feed_server.base + "/entity.rss")
    with pytest.raises(ParseError, match=re.escape(ENTITY_REASON)):
        parse_feed(fetched.body, fetched.url, fetched.headers)
    assert not feed_server.requests_to("/evil.dtd")
    assert not feed_server.requests_to("/evil-entity")


def _measure(body: bytes) -> tuple[str, float, int]:
    tracemalloc.start()
    started = time.monotonic()
    try:
        reason = parse_failure(body)
    finally:
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return reason, elapsed, peak


def test_billion_laughs_is_refused_fast_in_bounded_memory() -> None:
    reason, elapsed, peak = _measure(hostile("billion-laughs.rss"))
    assert reason == ENTITY_REASON
    assert elapsed < 1 and peak < 10 * MiB


def quadratic_blowup(size: int = 20_000, uses: int = 2_000) -> bytes:
    """One long entity used many times: each use is legal, the sum is not. expat refuses it
    (amplification limit), and feedparser's lenient fallback then expanded it without limit."""
    refs = "&a;" * uses
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "{"x" * size}">\n]>\n'
        f'<rss version="2.0"><channel><title>{refs}</title><item><title>{refs}</title>'
        f"<description>{refs}</description></item></channel></rss>"
    ).encode()


def test_quadratic_entity_expansion_is_refused_fast_in_bounded_memory() -> None:
    reason, elapsed, peak = _measure(quadratic_blowup())
    assert reason == ENTITY_REASON
    assert elapsed < 1 and peak < 10 * MiB


# -- not a feed ----------------------------------------------------------------------------


def test_html_page_is_not_a_feed_and_names_the_feeds_it_advertises(
    feed_server: FeedServer,
) -> None:
    feed_server.routes["/blog/"] = Route(hostile("html-page.html"), "text/html; charset=utf-8")
    feed_server.routes["/parked"] = Route(hostile("html-page-no-feed.html"), "text/html")
    page = get(feed_server.base + "/blog/")
    with pytest.raises(ParseError) as info:
        parse_feed(page.body, page.url, page.headers)
    base = feed_server.base
    assert info.value.reason == (
        f"not a feed (the page advertises {base}/feed.xml, {base}/blog/comments/atom.xml)"
    )
    parked = get(feed_server.base + "/parked")
    with pytest.raises(ParseError, match=r"^not a feed \(an HTML page that advertises no feed\)$"):
        parse_feed(parked.body, parked.url, parked.headers)


def test_a_base_href_decides_where_relative_feed_links_point() -> None:
    page = b'<html><head><base href="https://cdn.example/site/"><link rel="alternate" '
    page += b'type="application/atom+xml; charset=utf-8" href="atom.xml"></head></html>'
    reason = parse_failure(page, "https://www.example/")
    assert reason == "not a feed (the page advertises https://cdn.example/site/atom.xml)"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not a feed (empty document)"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "not a feed ("),
        (bytes(range(256)) * 4, "not a feed ("),
    ],
)
def test_other_non_feeds(body: bytes, reason: str) -> None:
    assert parse_failure(body).startswith(reason)


# -- encodings -----------------------------------------------------------------------------

DASH = "\u2013"
TEXT = f"Größe café {DASH} “quoted” €5"
DECLARED_UTF8 = '<?xml version="1.0" encoding="utf-8"?>'


def rss(description: bytes, declaration: str = DECLARED_UTF8) -> bytes:
    guid = "enc-" + hashlib.sha1(description).hexdigest()[:12]
    return (
        declaration.encode() + b'<rss version="2.0"><channel><title>Encodings</title>'
        b"<link>https://enc.example/</link><item><title>Harbour</title>"
        b"<link>https://enc.example/" + guid.encode() + b"</link><guid>" + guid.encode() + b""
        b"</guid><description>" + description + b"</description></item></channel></rss>"
    )


def _utf16(extra: str) -> bytes:
    doc = rss((TEXT + extra).encode(), '<?xml version="1.0" encoding="utf-16"?>')
    return doc.decode().encode("utf-16")


# id, body (given extra ASCII text for the description), Content-Type ("": no header at all),
# the description expected, whether a warning is expected
ENCODING_CASES: list[tuple[str, Callable[[str], bytes], str, str, bool]] = [
    ("utf8", lambda x: rss((TEXT + x).encode()), "application/rss+xml; charset=utf-8", TEXT,
     False),
    ("no-charset-no-declaration", lambda x: rss((TEXT + x).encode(), "<?xml version='1.0'?>"),
     "", TEXT, False),
    ("wrong-charset-latin1-label", lambda x: rss((TEXT + x).encode()),
     "text/xml; charset=iso-8859-1", TEXT, True),
    ("wrong-charset-utf8-label", lambda x: rss((TEXT + x).encode("cp1252")),
     "application/xml; charset=utf-8", TEXT, True),
    ("cp1252-undeclared", lambda x: rss((TEXT + x).encode("cp1252"), ""), "application/xml",
     TEXT, True),
    ("utf8-bom", lambda x: b"\xef\xbb\xbf" + rss((TEXT + x).encode()), "application/xml", TEXT,
     False),
    ("utf16-bom", _utf16, "application/xml", TEXT, False),
    ("invalid-utf8-bytes",
     lambda x: rss(b"Gr\xc3\xb6\xc3\x9fe \xff\xfe caf\xc3\xa9" + x.encode()),
     "application/xml; charset=utf-8", "Größe ÿþ café", True),
    ("mixed-encodings",
     lambda x: rss("Größe ".encode() + "café".encode("cp1252") + f" {DASH} €5{x}".encode()),
     "application/rss+xml", f"Größe café {DASH} €5", True),
    ("control-characters",
     lambda x: rss(b"Gr\xc3\xb6\xc3\x9fe\x00\x0b caf\xc3\xa9\x1b" + x.encode()),
     "application/xml", "Größe café", True),
    ("cp1251-declared",
     lambda x: rss(f"Привет, мир{x}".encode("cp1251"),
                   '<?xml version="1.0" encoding="windows-1251"?>'),
     "application/xml; charset=utf-8", "Привет, мир", True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "content_type", "expected", "warned"),
    [case[1:] for case in ENCODING_CASES],
    ids=[case[0] for case in ENCODING_CASES],
)
def test_encodings_are_decoded_sensibly(
    feed_server: FeedServer,
    make: Callable[[str], bytes],
    content_type: str,
    expected: str,
    warned: bool,
) -> None:
    feed_server.routes["/enc"] = Route(make(""), content_type, stream=True)  # "": no header
    fetched = get(feed_server.base + "/enc")
    assert ("content-type" in fetched.headers) == bool(content_type)
    feed = parse_feed(fetched.body, fetched.url, fetched.headers)
    assert [e.html for e in feed.entries] == [expected]
    assert bool(feed.warning) == warned, feed.warning


def test_windows_1252_characters_map_as_feedparser_maps_them() -> None:
    """syndicator.parse hands feedparser a faster table for its cp1252 mapping: it must give
    every code point the answer feedparser's own dict gives."""
    from feedparser import mixin
    from feedparser.html import _cp1252 as feedparsers

    assert isinstance(mixin._cp1252, list)  # installed when syndicator.parse was imported
    every = "".join(map(chr, range(0x110000)))
    assert every.translate(mixin._cp1252) == every.translate(feedparsers)
    doc = rss("&#147;Zitat&#148; f\u00fcr 5&#128; &#150; \U0001f600".encode())
    (entry,) = parse_feed(doc, "https://p.example/feed").entries
    assert entry.html == "\u201cZitat\u201d f\u00fcr 5\u20ac \u2013 \U0001f600"


def test_malformed_feed_that_still_has_entries_is_used_with_a_warning() -> None:
    feed = parse_feed(hostile("bozo-usable.rss"), "https://bozo.example/feed")
    assert [e.link for e in feed.entries] == [
        "https://bozo.example/one",
        "https://bozo.example/two",
    ]
    assert feed.warning and "undefined entity" in feed.warning


# -- odd entries ---------------------------------------------------------------------------


def odd_entries() -> bytes:
    long_title = "Tide tables " + "and more tide tables " * 50_000  # ~1 MB
    return hostile("entries-odd.rss").replace(b"@LONG_TITLE@", long_title.encode())


def test_odd_entries_are_kept_deduplicated_and_bounded() -> None:
    feed = parse_feed(odd_entries(), "https://odd.example/feed")
    by_title = {e.title: e for e in feed.entries}
    assert len(feed.entries) == 9  # ten items, one duplicate id
    untitled = [e for e in feed.entries if not e.title and not e.link]
    assert len(untitled) == 2 and untitled[0].key != untitled[1].key  # told apart by content
    assert "Same id, second version that must not replace the first" not in by_title
    assert all(e.published is None for e in feed.entries)  # future, 1900, unparseable, none
    long = next(e for e in feed.entries if e.link == "https://odd.example/long")
    assert long.title.startswith("Tide tables") and len(long.title) <= 500
    assert "Emphasis and a link in a title" in by_title

    data = publish(odd_entries(), "https://odd.example/feed")
    titles = [e.findtext(f"{ATOM}title") or "" for e in atom_entries(data)]
    assert len(titles) == 9 and all(t and len(t) <= 500 for t in titles)
    assert "Emphasis and a link in a title" in titles  # markup in a title is plain text


@pytest.mark.parametrize(
    ("name", "count", "kept"),
    [
        ("content-escape.rss", 15, ["Tram line extension approved.", "Ferry strike ends"]),
        ("content-escape.atom", 3, ["shark tunnel", "Night buses run", "botanical garden"]),
    ],
)
def test_injection_attempts_never_reach_the_output(name: str, count: int, kept: list[str]) -> None:
    data = publish(hostile(name), "https://hostile.example/feed", {"Content-Type": "text/xml"})
    entries = atom_entries(data)
    assert len(entries) == count
    raw = data.decode().lower()
    for needle in ("<script", " onerror=", "http-equiv", "expression("):
        assert needle not in raw
    assert not BAD_URL.search(raw)
    for entry in entries:
        assert_safe_html(entry.findtext(f"{ATOM}content") or "")
        for link in entry.findall(f"{ATOM}link"):
            assert link.get("href", "").startswith(("http://", "https://"))
    texts = " ".join(e.findtext(f"{ATOM}content") or "" for e in entries)
    assert all(text in texts for text in kept)
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert {"Bold title with markup", "XHTML title bold"} & set(titles)  # markup → plain text


# -- budget: documents that would take minutes ---------------------------------------------


def _items(count: int, body: str = "d") -> str:
    return "".join(
        f"<item><title>t{i}</title><guid>g{i}</guid><description>{body}</description></item>"
        for i in range(count)
    )


def test_oversized_documents_are_cut_or_refused_in_seconds() -> None:
    start = '<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
    end = "</channel></rss>"
    many = (start + _items(5000) + end).encode()
    deep = (start + _items(3) + "<x>" * 20_000 + "</x>" * 20_000 + end).encode()
    escaped = (start + _items(1, "&lt;div&gt;" * 400_000) + end).encode()
    dense = (start + _items(2) + "<y/>" * 200_000 + _items(2) + end).encode()
    started = time.monotonic()
    feed = parse_feed(many, "https://big.example/")
    assert len(feed.entries) == 1000 and feed.warning
    assert "read only its first 1000 entries (more than 1000 entries)" in feed.warning
    feed = parse_feed(deep, "https://big.example/")
    assert len(feed.entries) == 3 and "nested deeper than 256" in (feed.warning or "")
    assert parse_failure(escaped).startswith("feed too complex: more than 300000 HTML tags")
    feed = parse_feed(dense, "https://big.example/")
    assert len(feed.entries) == 2 and "more than 100000 XML elements" in (feed.warning or "")
    assert time.monotonic() - started < 10
    # the same cut for a document only feedparser's lenient parser reads
    loose = (start + "&nbsp;" + _items(3000) + end).encode()
    feed = parse_feed(loose, "https://big.example/")
    assert len(feed.entries) == 1000 and "more than 1000 entries" in (feed.warning or "")


# -- property-based ------------------------------------------------------------------------

SNIPPETS = [
    "<script>alert(1)</script>", '<img src=x onerror="alert(1)">', '<a href="javascript:x">a</a>',
    '<base href="https://evil.example/">', '<meta http-equiv="refresh" content="0;url=x">',
    '<p style="x:expression(alert(1))">s</p>', '<a href="data:text/html,x">d</a>', "&amp;",
    "&nbsp;", "&#0;", "]]>", "<![CDATA[", "<!--", "\x00", "\ufffe", "\ud800", "é", "€",
    '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', "&e;", "<svg onload=alert(1)>",
]  # fmt: skip


@st.composite
def feeds(draw: st.DrawFn) -> bytes:
    pieces = st.one_of(st.text(max_size=40), st.sampled_from(SNIPPETS))
    fragment = st.lists(pieces, max_size=6).map("".join)
    items = []
    for i in range(draw(st.integers(0, 4))):
        title, body = draw(fragment), draw(fragment)
        wrap = draw(st.sampled_from(["cdata", "escape", "raw"]))
        if wrap == "cdata":
            body = f"<![CDATA[{body}]]>"
        elif wrap == "escape":
            body = body.replace("&", "&amp;").replace("<", "&lt;")
        items.append(
            f"<item><title>{title}</title><link>https://p.example/{i}</link>"
            f"<description>{body}</description></item>"
        )
    doc = f'<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>{"".join(items)}'
    data = (doc + "</channel></rss>").encode(
        draw(st.sampled_from(["utf-8", "utf-16", "cp1252"])), errors="replace"
    )
    if draw(st.booleans()):  # a few random byte edits on top
        buf = bytearray(data)
        for _ in range(draw(st.integers(1, 5))):
            buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
        data = bytes(buf)
    return data


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(feeds())
def test_any_document_publishes_valid_safe_xml_or_is_refused(body: bytes) -> None:
    try:
        data = publish(body, "https://p.example/feed", {"Content-Type": "application/rss+xml"})
    except ParseError:
        return
    for entry in atom_entries(data):  # the XML parses, or this raises
        assert_safe_html(entry.findtext(f"{ATOM}content") or "")
    assert PASSWD.encode() not in data


# -- all together, through the installed command ------------------------------------------
