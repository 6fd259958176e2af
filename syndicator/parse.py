"""Bytes and response headers → ParsedFeed, through feedparser.

Pure: feedparser is only ever given bytes (never a str, which it would treat as a URL or a path).
Its own sanitizer is off because the clean stage sanitizes with an allowlist anyway, and doing it
twice costs half the parse time.

Sources are other people's servers, so before feedparser sees a document it is checked here:

- the encoding is settled first (BOM, then charset, then XML declaration, then UTF-8 with a
  windows-1252 fallback per invalid byte), so a wrong or missing charset, stray Latin-1 bytes in
  a UTF-8 feed and control characters cost a warning, not mojibake or the lenient fallback parser;
- a document that declares XML entities is refused: expat resolves no external entity here and
  caps billion-laughs expansion, but when expat gives up feedparser re-parses with its lenient
  parser, which expands the entities it thinks safe without any limit (a 100 kB entity used
  10,000 times took minutes and gigabytes);
- feedparser costs tens of microseconds per XML element, so a document's elements, nesting and
  entries are budgeted: over budget, the entries read so far are kept (with a warning) or, if
  there are none, the document is refused.
"""

from __future__ import annotations

import bisect
import calendar
import codecs
import contextlib
import hashlib
import logging
import pyexpat
import re
import time
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.sanitizer import replace_doctype

from syndicator.errors import ParseError
from syndicator.model import ParsedEntry, ParsedFeed
from syndicator.redact import public_url

log = logging.getLogger(__name__)

# Dates outside this window are publisher mistakes; they would sort a feed wrongly for years.
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_MAX_FUTURE_S = 2 * 86400
_MAX_TITLE = 500
_MAX_AUTHOR = 200
_MAX_LINK = 4096  # longer is no link anyone can follow; a truncated URL would be a wrong one
_MAX_GUID = 1024  # a longer guid is hashed, so the store's keys stay small
_MAX_HTML = 1 << 20  # characters of one entry's body; the cleaner's cost grows with it
# feedparser spends 25-80 µs per XML element and ~6 µs per HTML tag in escaped or CDATA
# content (the cleaner then ~20 µs): these keep one document to seconds, not minutes.
_MAX_ELEMENTS = 100_000
_MAX_HTML_TAGS = 300_000
_MAX_DEPTH = 256
_MAX_ENTRIES = 1000

ENTITY_REASON = "feed declares XML entities (refused: XXE/entity expansion)"

_ENTRY_NAMES = frozenset({"item", "entry"})
_XML_ENCODING = re.compile(
    rb"^\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']"
)
_LOOSE_ENTRY = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
_LOOKS_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)
# C0 controls other than tab, CR, LF: forbidden in XML 1.0, and one of them sends the whole
# document to feedparser's lenient parser. In UTF-8 these bytes never occur inside a character.
_C0 = bytes(b for b in range(32) if b not in (9, 10, 13))
# Single-byte labels that publishers put on UTF-8 documents by mistake.
_HIGH = bytes(range(128, 256))
_WESTERN = frozenset({"ascii", "latin-1", "iso8859-1", "cp1252"})
_UTF8_OR_WESTERN = _WESTERN | {"utf-8"}


def _total_cp1252_table() -> None:
    """Give feedparser the same windows-1252 mapping as a table every lookup hits.

    feedparser passes every text it returns through str.translate with a 27-key dict (the
    C1 controls that cp1252 uses for quotes, dashes, the euro sign). Each other character is
    a KeyError raised and caught inside translate: a tenth of all parse time on a non-ASCII
    feed. A list over the Basic Multilingual Plane returns every other character as itself;
    characters beyond it miss (IndexError) and stay as they are, as with the dict. The result
    is the same string (tests/unit/test_parse.py checks every code point). Another feedparser
    without that dict is left alone.
    """
    from feedparser import mixin

    table = getattr(mixin, "_cp1252", None)
    if not isinstance(table, dict) or not all(isinstance(k, int) for k in table):
        return
    total: list[int | str] = list(range(0x10000))
    for code, char in table.items():
        total[code] = char
    mixin._cp1252 = total


_total_cp1252_table()


class _Refused(Exception):
    """Raised inside expat handlers to stop the pre-check."""


def parse_feed(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a feed document. Raises ParseError when the bytes hold no (acceptable) feed."""
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    # What relative links resolve against (feedparser's base for entry links and xml:base,
    # the cleaner's for bodies): the feed's URL without its credentials, so that none is
    # published in a resolved link.
    base = _resolution_base(url, response_headers.get("content-location", ""))
    response_headers["content-location"] = base
    notes: list[str] = []
    body = _settle_encoding(body, response_headers, notes)
    body = _check_structure(body, response_headers, url, notes)
    try:
        d: Any = feedparser.parse(
            body,
            response_headers=response_headers,
            sanitize_html=False,
            # The cleaner resolves them against each body's base (ParsedEntry.base) in the
            # tree it builds anyway; feedparser's resolver reparses every body in Python and
            # cost a third of its parse time.
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser is forgiving; anything escaping it is a broken document
        raise ParseError(url, f"unparseable document: {_short(exc)}") from exc
    version = d.get("version") or ""
    if not version and not d.entries:
        raise ParseError(url, _not_a_feed(body, base, response_headers, d))
    if d.get("bozo") and d.get("bozo_exception") is not None:
        notes.insert(0, _short(d.bozo_exception))
    now = time.time()
    seen: set[str] = set()
    entries = []
    truncated = 0
    for raw in d.entries:
        entry, cut = _entry(raw, url, now)
        truncated += cut
        if entry.key in seen:  # duplicate ids inside one feed: the first one wins
            continue
        seen.add(entry.key)
        entries.append(entry)
    if truncated:
        notes.append(f"{truncated} entry bodies cut to {_MAX_HTML} characters")
    feed = d.feed
    return ParsedFeed(
        title=_text(feed.get("title"), _MAX_TITLE) or url,
        link=_link(feed.get("link")) or base,
        entries=tuple(entries),
        warning="; ".join(notes)[:500] if notes else None,
    )


def _resolution_base(url: str, content_location: str) -> str:
    """The feed's URL (or the Content-Location it names, relative to it) as public_url()."""
    try:
        located = urljoin(url, content_location.strip()) if content_location.strip() else url
    except ValueError:  # a Content-Location urljoin cannot take (a bad IPv6 literal)
        located = url
    return public_url(located)


def entry_key(guid: str, link: str, title: str, content: str = "") -> str:
    """The guid when there is one, else a hash of link and title (stable across polls).

    `content` only counts when there is neither link nor title, so that such entries do not
    all collapse into one key.
    """
    guid = guid.strip()
    if guid:
        if len(guid) <= _MAX_GUID:
            return guid
        return "sha256:" + hashlib.sha256(guid.encode("utf-8", "replace")).hexdigest()[:32]
    text = f"{link}\n{title}" if link or title else f"\n\n{content}"
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]
    return f"sha256:{digest}"


# -- before feedparser: encoding -------------------------------------------------------------


def _settle_encoding(body: bytes, headers: dict[str, str], notes: list[str]) -> bytes:
    """Return the document as UTF-8 and say so in the headers, when it is (or is meant to be)
    UTF-8 or a Western single-byte encoding; other encodings are left to feedparser.

    feedparser decodes the whole document as windows-1252 at the first invalid UTF-8 byte and
    as ISO-8859-1 when the server sends no Content-Type; both turn a UTF-8 feed into mojibake.
    """
    bom = body.startswith(codecs.BOM_UTF8)
    if bom:
        body = body[3:]
    elif b"\0" in body[:4] or body[:4] == b"\x4c\x6f\xa7\x94":  # UTF-16/32, EBCDIC: feedparser
        return body
    mime, _, params = headers.get("content-type", "").partition(";")
    in_xml = _xml_encoding(body)
    xml_codec = _codec(in_xml)
    # The first label Python knows: the BOM, the charset parameter, the XML declaration.
    known = [(x, c) for x in (_charset(params), in_xml) if (c := _codec(x))]
    declared, codec = ("a UTF-8 BOM", "utf-8") if bom else (known[0] if known else (None, None))
    if codec is not None and codec not in _UTF8_OR_WESTERN:
        return body
    try:
        text = body.decode("utf-8")
        if codec in _WESTERN and not text.isascii():
            notes.append(f"declared as {declared} but is UTF-8; decoded as UTF-8")
    except UnicodeDecodeError:
        if not bom and xml_codec and xml_codec not in _UTF8_OR_WESTERN:
            return body  # a wrong charset header: feedparser falls back to the declaration
        if bom or (codec not in _WESTERN and _mostly_utf8(body)):
            text = body.decode("utf-8", errors=_CP1252_FALLBACK)
            notes.append("invalid UTF-8 bytes decoded as windows-1252")
        else:
            text = body.decode("cp1252", errors=_LATIN1_FALLBACK)
            if codec is None:
                notes.append("not UTF-8 and no charset declared; decoded as windows-1252")
            elif codec == "utf-8":
                notes.append(f"declared as {declared} but is not; decoded as windows-1252")
    data = text.encode("utf-8")
    if data.translate(None, _C0) != data:
        data = data.translate(None, _C0)
        notes.append("control characters removed")
    headers["content-type"] = f"{mime.strip() or 'application/xml'}; charset=utf-8"
    return data


def _mostly_utf8(body: bytes) -> bool:
    """More bytes in valid multi-byte UTF-8 sequences than invalid ones: a UTF-8 document with
    stray single-byte characters, not a Latin-1 one where some byte pairs happen to be valid."""
    replaced = body.decode("utf-8", errors="replace")
    invalid = replaced.count("\ufffd") - body.count(b"\xef\xbf\xbd")
    high = len(body) - len(body.translate(None, _HIGH))
    return high - invalid > invalid


def _charset(params: str) -> str | None:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'").lower() or None
    return None


def _xml_encoding(body: bytes) -> str | None:
    match = _XML_ENCODING.match(body[:300])
    return match.group(1).decode("ascii").lower() if match else None


def _codec(label: str | None) -> str | None:
    """Python's name for an encoding label; None for no label or one Python does not know."""
    if not label:
        return None
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):  # ValueError: a label with a NUL in it
        return None


def _cp1252(exc: UnicodeError) -> tuple[str, int]:
    """A decode error handler: each invalid byte as windows-1252 (mixed-encoding documents)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("cp1252", errors=_LATIN1_FALLBACK), exc.end


def _latin1(exc: UnicodeError) -> tuple[str, int]:
    """The five bytes windows-1252 leaves undefined, as ISO-8859-1 does."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


_CP1252_FALLBACK = "syndicator-cp1252-fallback"
_LATIN1_FALLBACK = "syndicator-latin1-fallback"
codecs.register_error(_CP1252_FALLBACK, _cp1252)
codecs.register_error(_LATIN1_FALLBACK, _latin1)


# -- before feedparser: entities and budget --------------------------------------------------


def _check_structure(body: bytes, headers: dict[str, str], url: str, notes: list[str]) -> bytes:
    """Refuse entity declarations; keep a document within the element/depth/entry budget.

    The checks run on exactly what feedparser's parsers get: its UTF-8 conversion, then its
    DOCTYPE rewrite for expat, and the entity table it hands to the lenient parser.
    """
    rewritten: bytes
    try:
        data: bytes = convert_to_utf8(headers, body, {})
        _version, rewritten, loose_entities = replace_doctype(data)
    except Exception as exc:  # feedparser.parse would fail the same way on these bytes
        raise ParseError(url, f"unparseable document: {_short(exc)}") from exc
    if _prolog_declares_entities(data):
        raise ParseError(url, ENTITY_REASON)
    if loose_entities:
        raise ParseError(url, ENTITY_REASON)
    parser = pyexpat.ParserCreate()
    budget = _Budget(parser, rewritten)
    try:
        parser.Parse(rewritten, True)
    except _Refused:
        pass
    except pyexpat.ExpatError:
        budget.malformed = True
    if budget.entities:
        raise ParseError(url, ENTITY_REASON)
    if budget.cut is not None:
        cut, closing = budget.cut
        if budget.entries == 0:
            raise ParseError(url, f"feed too complex: {budget.why}")
        notes.append(f"feed too large, read only its first {budget.entries} entries ({budget.why})")
        headers["content-type"] = _utf8_type(headers)
        return rewritten[:cut] + closing
    if budget.malformed:
        return _loose_budget(rewritten, headers, url, notes) or body
    return body


def _prolog_declares_entities(data: bytes) -> bool:
    """Entity declarations as expat reads them, before feedparser rewrites the DOCTYPE."""
    found = False
    parser = pyexpat.ParserCreate()

    def declared(*_args: object) -> None:
        nonlocal found
        found = True
        raise _Refused

    def element(*_args: object) -> None:
        raise _Refused

    parser.EntityDeclHandler = declared
    parser.UnparsedEntityDeclHandler = declared
    parser.StartElementHandler = element
    with contextlib.suppress(_Refused, pyexpat.ExpatError):
        parser.Parse(data, True)
    return found


class _Budget:
    """Counts elements, nesting, entries and the HTML tags in text during one expat pass, and
    records where to cut the document when one of them is over its limit."""

    def __init__(self, parser: Any, data: bytes) -> None:
        self.elements = 0
        self.html_tags = 0
        self.entries = 0
        self.stack: list[str] = []
        self.entities = False
        self.malformed = False
        self.cut: tuple[int, bytes] | None = None
        self.why = ""
        self._open_entry: tuple[int, int] | None = None  # (byte offset, depth) of its start tag
        self._parser = parser
        self._data = data
        self._last = 0  # offset of the previous tag
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.EntityDeclHandler = self.entity
        parser.UnparsedEntityDeclHandler = self.entity

    def entity(self, *_args: object) -> None:
        self.entities = True
        raise _Refused

    def start(self, name: str, _attrs: object) -> None:
        self.elements += 1
        here = self._text_since_last_tag()
        is_entry = len(self.stack) <= 3 and name.rpartition(":")[2] in _ENTRY_NAMES
        if is_entry and self.entries >= _MAX_ENTRIES:
            self._stop(f"more than {_MAX_ENTRIES} entries")
        if self.elements > _MAX_ELEMENTS:
            self._stop(f"more than {_MAX_ELEMENTS} XML elements")
        if len(self.stack) >= _MAX_DEPTH:
            self._stop(f"XML nested deeper than {_MAX_DEPTH} levels")
        if is_entry and self._open_entry is None:
            self.entries += 1
            self._open_entry = (here, len(self.stack))
        self.stack.append(name)

    def end(self, _name: str) -> None:
        self._text_since_last_tag()
        self.stack.pop()
        if self._open_entry is not None and len(self.stack) == self._open_entry[1]:
            self._open_entry = None

    def _text_since_last_tag(self) -> int:
        """Count the HTML tags in the text between the previous tag and this one: escaped ones,
        and '<' other than the previous tag's own (CDATA content). Two C-level counts."""
        here: int = self._parser.CurrentByteIndex
        data = self._data
        self.html_tags += data.count(b"&lt;", self._last, here)
        self.html_tags += max(0, data.count(b"<", self._last, here) - 1)
        self._last = here
        if self.html_tags > _MAX_HTML_TAGS:
            self._stop(f"more than {_MAX_HTML_TAGS} HTML tags in its text")
        return here

    def _stop(self, why: str) -> None:
        """Cut before the entry being read (it would be incomplete), else before this tag, and
        close the elements still open there."""
        self.why = why
        if self._open_entry is not None:
            offset, depth = self._open_entry
            self.entries -= 1
        else:
            offset, depth = self._last, len(self.stack)
        closing = "".join(f"</{name}>" for name in reversed(self.stack[:depth]))
        self.cut = (offset, closing.encode("utf-8"))
        raise _Refused


def _loose_budget(data: bytes, headers: dict[str, str], url: str, notes: list[str]) -> bytes | None:
    """For a document expat cannot parse, which feedparser re-reads with its lenient parser:
    estimate its tags by counting '<' and '&lt;', and cut before an entry when over budget."""
    starts = [m.start() for m in _LOOSE_ENTRY.finditer(data)]
    cuts: list[tuple[int, str]] = []
    if len(starts) > _MAX_ENTRIES:
        cuts.append((starts[_MAX_ENTRIES], f"more than {_MAX_ENTRIES} entries"))
    for needle, limit, what in (
        (b"<", 2 * _MAX_ELEMENTS, f"more than {_MAX_ELEMENTS} XML elements"),
        (b"&lt;", _MAX_HTML_TAGS, f"more than {_MAX_HTML_TAGS} HTML tags in its text"),
    ):
        if data.count(needle) > limit:
            position = -1
            for _ in range(limit):
                position = data.find(needle, position + 1)
            complete = bisect.bisect_left(starts, position) - 1  # that entry is not read whole
            cuts.append((starts[complete] if complete >= 0 else 0, what))
    if not cuts:
        return None
    cut, why = min(cuts)
    entries = bisect.bisect_left(starts, cut)
    if entries == 0:
        raise ParseError(url, f"feed too complex: {why}")
    notes.append(f"feed too large, read only its first {entries} entries ({why})")
    headers["content-type"] = _utf8_type(headers)
    return data[:cut]


def _utf8_type(headers: Mapping[str, str]) -> str:
    mime = headers.get("content-type", "").partition(";")[0].strip()
    return f"{mime or 'application/xml'}; charset=utf-8"


# -- after feedparser ------------------------------------------------------------------------


def _not_a_feed(body: bytes, url: str, headers: Mapping[str, str], d: Any) -> str:
    """'not a feed', and why: empty, an HTML page (naming the feeds it advertises), or the
    XML error."""
    if not body.strip():
        return "not a feed (empty document)"
    mime = headers.get("content-type", "").partition(";")[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml") or _LOOKS_HTML.search(body[:4096]):
        from syndicator.discover import advertised_urls  # only for the reason of a failure

        feeds = advertised_urls(body, url)
        if feeds:
            return "not a feed (the page advertises " + ", ".join(feeds[:3]) + ")"
        return "not a feed (an HTML page that advertises no feed)"
    if d.get("bozo") and d.get("bozo_exception") is not None:
        return f"not a feed ({_short(d.bozo_exception)})"
    return "not a feed"


def _entry(raw: Any, url: str, now: float) -> tuple[ParsedEntry, int]:
    """One entry, and 1 when its body had to be cut to _MAX_HTML."""
    title = _text(raw.get("title"), _MAX_TITLE)
    link = _link(raw.get("link"))
    guid = str(raw.get("id") or "")
    html = base = ""
    for content in raw.get("content") or []:
        value = str(content.get("value") or "")
        if not html or len(value) > len(html):
            html, base = value, str(content.get("base") or "")
    summary = str(raw.get("summary") or "")
    if len(summary) > len(html):
        html, base = summary, str((raw.get("summary_detail") or {}).get("base") or "")
    cut = 0
    if len(html) > _MAX_HTML:
        end = html.rfind("<", _MAX_HTML - 4096, _MAX_HTML)  # not inside a tag, if possible
        html = html[: end if end > 0 else _MAX_HTML]
        cut = 1
    author = _text(raw.get("author"), _MAX_AUTHOR)
    entry = ParsedEntry(
        key=entry_key(guid, link, title, html),
        title=title,
        link=link,
        html=html,
        author=author,
        # dict.get: feedparser's own get() maps a missing updated to published, with a warning.
        published=_date(dict.get(raw, "published_parsed"), now),
        updated=_date(dict.get(raw, "updated_parsed"), now),
        orig_link=_link(dict.get(raw, "feedburner_origlink")),
        base=_link(base),
    )
    return entry, cut


def _link(value: Any) -> str:
    link = str(value or "").strip()
    return link if len(link) <= _MAX_LINK else ""


def _date(value: Any, now: float) -> datetime | None:
    if not value:
        return None
    try:
        stamp = calendar.timegm(value)
        result = datetime.fromtimestamp(stamp, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    if result < _EARLIEST or stamp > now + _MAX_FUTURE_S:
        return None
    return result


def _text(value: Any, limit: int) -> str:
    """Titles may carry markup or runs of whitespace; the reader wants one plain line."""
    if not value:
        return ""
    text = str(value)[: limit * 20]  # markup and spaces shrink it; never parse megabytes
    if "<" in text and ">" in text:
        from bs4 import BeautifulSoup

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a title that looks like XML or a URL: harmless
            text = BeautifulSoup(text, "lxml").get_text(" ")
    return " ".join(text.split())[:limit]


def _short(exc: object) -> str:
    text = " ".join(str(exc).split())
    return text[:200]
