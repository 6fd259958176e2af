"""Bytes and response headers → ParsedFeed, through feedparser.

Pure: feedparser is only ever given bytes (never a str, which it would treat as a URL or a path).
Its own sanitizer is off because the clean stage sanitizes with an allowlist anyway, and doing it
twice costs half the parse time.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from syndicator.errors import ParseError
from syndicator.model import ParsedEntry, ParsedFeed

log = logging.getLogger(__name__)

# Dates outside this window are publisher mistakes; they would sort a feed wrongly for years.
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_MAX_FUTURE_S = 2 * 86400
_MAX_TITLE = 500


def parse_feed(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a feed document. Raises ParseError when the bytes hold no feed at all."""
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    response_headers.setdefault("content-location", url)
    try:
        d: Any = feedparser.parse(
            body,
            response_headers=response_headers,
            sanitize_html=False,
            resolve_relative_uris=True,
        )
    except Exception as exc:  # feedparser is forgiving; anything escaping it is a broken document
        raise ParseError(url, f"unparseable document: {type(exc).__name__}: {exc}") from exc
    version = d.get("version") or ""
    if not version and not d.entries:
        reason = "not a feed"
        if d.get("bozo") and d.get("bozo_exception") is not None:
            reason += f" ({_short(d.bozo_exception)})"
        raise ParseError(url, reason)
    warning = _short(d.bozo_exception) if d.get("bozo") and d.get("bozo_exception") else None
    now = time.time()
    seen: set[str] = set()
    entries = []
    for raw in d.entries:
        entry = _entry(raw, url, now)
        if entry.key in seen:  # duplicate ids inside one feed: the first one wins
            continue
        seen.add(entry.key)
        entries.append(entry)
    feed = d.feed
    return ParsedFeed(
        title=_text(feed.get("title")) or url,
        link=str(feed.get("link") or url),
        entries=tuple(entries),
        warning=warning,
    )


def entry_key(guid: str, link: str, title: str) -> str:
    """The guid when there is one, else a hash of link and title (stable across polls)."""
    if guid.strip():
        return guid.strip()
    digest = hashlib.sha256(f"{link}\n{title}".encode()).hexdigest()[:32]
    return f"sha256:{digest}"


def _entry(raw: Any, url: str, now: float) -> ParsedEntry:
    title = _text(raw.get("title"))[:_MAX_TITLE]
    link = str(raw.get("link") or "")
    guid = str(raw.get("id") or "")
    html = ""
    contents = raw.get("content") or []
    if contents:
        html = max((str(c.get("value") or "") for c in contents), key=len)
    summary = str(raw.get("summary") or "")
    if len(summary) > len(html):
        html = summary
    author = _text(raw.get("author"))
    return ParsedEntry(
        key=entry_key(guid, link, title),
        title=title,
        link=link,
        html=html,
        author=author,
        # dict.get: feedparser's own get() maps a missing updated to published, with a warning.
        published=_date(dict.get(raw, "published_parsed"), now),
        updated=_date(dict.get(raw, "updated_parsed"), now),
    )


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


def _text(value: Any) -> str:
    """Titles may carry markup or runs of whitespace; the reader wants one plain line."""
    if not value:
        return ""
    text = str(value)
    if "<" in text and ">" in text:
        from bs4 import BeautifulSoup

        text = BeautifulSoup(text, "lxml").get_text(" ")
    return " ".join(text.split())


def _short(exc: object) -> str:
    text = " ".join(str(exc).split())
    return text[:200]
