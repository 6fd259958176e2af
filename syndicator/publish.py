"""Stored entries → Atom 1.0 files that any feed reader accepts, and the same feeds as
JSON Feed 1.1 beside them.

Rendering is pure (entries in, bytes out); writing is atomic (temp file, fsync, rename), so a
reader or the HTTP server never sees half a feed, even if the daemon is killed mid-write.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from syndicator import __version__
from syndicator.model import StoredEntry

log = logging.getLogger(__name__)

# Characters XML 1.0 forbids; a single one from a publisher would make the whole feed unreadable.
# Also DEL and the C1 controls, which XML allows but discourages: no reader shows them as text,
# and a terminal reader (newsboat) would obey one (CSI \x9b starts an escape sequence).
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
ALL = "all"
FEED_FILES = (".atom", ".json")  # every feed is written in each of these shapes


def xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)


def render_feed(
    name: str,
    title: str,
    entries: Sequence[StoredEntry],
    base_url: str,
    now: datetime,
    subtitle: str = "",
    topic: str | None = None,
    hub: str | None = None,
) -> bytes:
    """One Atom document. `topic` adds a note to each entry saying which terms matched."""
    self_url = f"{base_url}{name}.atom"
    from feedgen.feed import FeedGenerator  # only when a feed changed: not on start-up

    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(xml_safe(title))
    if subtitle:
        fg.subtitle(xml_safe(subtitle))
    fg.author({"name": "Syndicator"})
    fg.link(href=self_url, rel="self", type="application/atom+xml")
    if base_url.startswith(("http://", "https://")):
        fg.link(href=base_url, rel="alternate", type="text/html")
    if hub:
        fg.link(href=hub, rel="hub")
    fg.generator("Syndicator", version=__version__)
    fg.updated(max((e.updated for e in entries), default=now))
    # feedgen prepends each added entry, so add the oldest first to keep newest-first order.
    for entry in reversed(entries):
        fe = fg.add_entry()
        fe.id(entry.uid)
        fe.title(xml_safe(entry.title) or xml_safe(_fallback_title(entry)) or "(untitled)")
        fe.updated(entry.updated)
        if entry.published:
            fe.published(entry.published)
        if _absolute(entry.link):
            fe.link(href=entry.link, rel="alternate", type="text/html")
        if entry.author:
            fe.author({"name": xml_safe(entry.author)})
        fe.content(xml_safe(entry.html) or "<p></p>", type="html")
        for hit in entry.hits:
            fe.category(term=hit.topic, label=hit.topic)
        fe.summary(xml_safe(_note(entry, topic)))
    data: bytes = fg.atom_str(pretty=True)
    return data


JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def render_json_feed(
    name: str,
    title: str,
    entries: Sequence[StoredEntry],
    base_url: str,
    subtitle: str = "",
    topic: str | None = None,
    hub: str | None = None,
) -> bytes:
    """The same feed as JSON Feed 1.1 (https://jsonfeed.org/version/1.1): the entries, text and
    notes of the Atom document, for readers and automations that prefer JSON."""
    feed: dict[str, Any] = {"version": JSON_FEED_VERSION, "title": xml_safe(title)}
    if base_url.startswith(("http://", "https://")):
        feed["home_page_url"] = base_url
    feed["feed_url"] = f"{base_url}{name}.json"
    if subtitle:
        feed["description"] = xml_safe(subtitle)
    feed["authors"] = [{"name": "Syndicator"}]
    if hub:
        feed["hubs"] = [{"type": "WebSub", "url": hub}]
    items = []
    for entry in entries:
        item: dict[str, Any] = {"id": entry.uid}
        if _absolute(entry.link):
            item["url"] = entry.link
        item["title"] = xml_safe(entry.title) or xml_safe(_fallback_title(entry)) or "(untitled)"
        item["content_html"] = xml_safe(entry.html) or "<p></p>"
        item["summary"] = xml_safe(_note(entry, topic))
        item["date_published"] = _rfc3339(entry.published or entry.updated)
        item["date_modified"] = _rfc3339(entry.updated)
        if entry.author:
            item["authors"] = [{"name": xml_safe(entry.author)}]
        if entry.hits:
            item["tags"] = [hit.topic for hit in entry.hits]
        items.append(item)
    feed["items"] = items
    return (json.dumps(feed, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC, as JSON Feed asks: `2024-01-01T12:00:00Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _note(entry: StoredEntry, topic: str | None) -> str:
    """Why the entry is in this feed: its source and, in a topic feed, the terms that matched."""
    parts = [f"Source: {entry.source}"]
    for hit in entry.hits:
        if topic is None or hit.topic == topic:
            terms = ", ".join(hit.terms)
            parts.append(f"Matched {hit.topic}" + (f": {terms}" if terms else ""))
    return " · ".join(parts)


def _fallback_title(entry: StoredEntry) -> str:
    words = entry.text.split()
    return " ".join(words[:12]) + ("…" if len(words) > 12 else "") if words else "(untitled)"


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace path with data unless it already holds exactly that; True when written.

    Leaving an unchanged file alone keeps its mtime, so the server's Last-Modified and readers'
    conditional requests stay quiet when nothing is new.
    """
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def utcnow() -> datetime:
    return datetime.now(UTC)


def ping_hub(hub: str, feed_urls: list[str], timeout: float = 10.0) -> None:
    """Tell a WebSub hub which feeds changed, so subscribers hear at once instead of polling.
    A hub that is down costs a log line, never a poll."""
    import httpx

    for url in feed_urls:
        try:
            response = httpx.post(
                hub, data={"hub.mode": "publish", "hub.url": url}, timeout=timeout
            )
            if response.status_code >= 400:
                log.warning("websub hub %s answered %d for %s", hub, response.status_code, url)
        except httpx.HTTPError as exc:
            log.warning("websub hub %s unreachable for %s: %s", hub, url, exc)
