"""OPML subscription lists in and out, as feed readers exchange them.

Readers differ in shape: Feedly and Inoreader nest feeds in folder outlines with `text` and
`title`, Miniflux and FreshRSS nest under `text` only (FreshRSS adds `frss:` attributes and
non-feed types), newsboat writes one flat list. A folder path becomes a source's `category`
("News/Germany"); the OPML 2.0 `category` attribute is the fallback for flat files.

The file comes from elsewhere, so it is parsed with no network, no DTD and no entity expansion:
an external entity cannot read local files, and nested entities cannot blow up memory.
"""

from __future__ import annotations

import email.utils
import logging
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from syndicator.config import Source, http_url
from syndicator.config_edit import NewSource, name_from, same_url_key, unique_name
from syndicator.discover import feed_scheme_to_http
from syndicator.errors import SyndicatorError

log = logging.getLogger(__name__)

# Outline types that are subscriptions to a feed; FreshRSS also exports scraped web pages
# ("HTML+XPath", "XML+XPath", "JSON+DotNotation"), whose xmlUrl is no feed.
_FEED_TYPES = {"", "rss", "atom", "rdf", "feed"}


class OpmlError(SyndicatorError):
    """The file is not an OPML subscription list."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str = ""
    category: str = ""  # folder path, "News/Germany"; "" at the top level
    html_url: str = ""
    type: str = "rss"


@dataclass
class ImportPlan:
    add: list[NewSource] = field(default_factory=list)
    skipped: list[tuple[OpmlFeed, str]] = field(default_factory=list)  # (feed, why)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """Every feed outline at any depth, in document order. Raises OpmlError."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise OpmlError(f"not well-formed XML: {exc}") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):  # type: ignore[union-attr]
        raise OpmlError("refused: the file declares XML entities, which no OPML export does")
    if etree.QName(root).localname.lower() != "opml":
        raise OpmlError(f"not OPML: the root element is <{etree.QName(root).localname}>")
    body = next((c for c in root if _local(c) == "body"), None)
    if body is None:
        raise OpmlError("not OPML: no <body>")
    return list(_walk(body, []))


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def _attrs(element: etree._Element) -> dict[str, str]:
    """Attributes by lower-case local name: exporters disagree on `xmlUrl` vs `xmlurl`."""
    return {etree.QName(k).localname.lower(): str(v).strip() for k, v in element.attrib.items()}


def _walk(parent: etree._Element, path: list[str]) -> Iterator[OpmlFeed]:
    for outline in parent:
        if _local(outline) != "outline":
            continue
        a = _attrs(outline)
        label = " ".join((a.get("title") or a.get("text") or "").split())
        if a.get("xmlurl"):
            yield OpmlFeed(
                url=a["xmlurl"],
                title=label or " ".join(a.get("text", "").split()),
                category="/".join(path) or _category_attribute(a.get("category", "")),
                html_url=a.get("htmlurl", ""),
                type=a.get("type", "").lower(),
            )
            yield from _walk(outline, path)
        else:
            folder = " ".join((a.get("text") or a.get("title") or "").split())
            yield from _walk(outline, [*path, folder] if folder else path)


def _category_attribute(value: str) -> str:
    """OPML 2.0: comma-separated slash paths, "/News/Germany,/Europe"; the first one wins."""
    first = value.split(",")[0].strip()
    return "/".join(p.strip() for p in first.split("/") if p.strip())


def plan_import(feeds: Sequence[OpmlFeed], existing: Sequence[Source]) -> ImportPlan:
    """Which feeds become new sources (with unique names) and which are skipped, and why."""
    plan = ImportPlan()
    taken = [s.name for s in existing]
    urls = {same_url_key(s.url): s.name for s in existing}
    for feed in feeds:
        url = feed_scheme_to_http(feed.url)
        if feed.type not in _FEED_TYPES:
            plan.skipped.append((feed, f"not a feed subscription (type {feed.type!r})"))
            continue
        if any(unicodedata.category(c) == "Cc" for c in url):
            # A newline in xmlUrl (`&#10;`) is an attack on whatever prints or stores it.
            plan.skipped.append((feed, "refused: the URL contains control characters"))
            continue
        normal = http_url(url)
        if normal is None:
            plan.skipped.append((feed, "not an http(s) URL"))
            continue
        url = normal
        key = same_url_key(url)
        if key in urls:
            plan.skipped.append((feed, f"already a source ({urls[key]})"))
            continue
        name = unique_name(name_from(feed.title, url), taken)
        taken.append(name)
        urls[key] = name
        plan.add.append(NewSource(name=name, url=url, category=feed.category))
    return plan


def render_opml(sources: Sequence[Source], now: datetime, title: str = "Syndicator") -> bytes:
    """OPML 2.0 with categories as nested folder outlines, the shape every reader imports."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = f"{title} subscriptions"
    etree.SubElement(head, "dateCreated").text = email.utils.format_datetime(now, usegmt=True)
    body = etree.SubElement(root, "body")
    folders: dict[tuple[str, ...], etree._Element] = {}
    for source in sources:
        parent = body
        parts = tuple(p for p in source.category.split("/") if p.strip())
        for depth in range(1, len(parts) + 1):
            key = parts[:depth]
            if key not in folders:
                text = parts[depth - 1].strip()
                folders[key] = etree.SubElement(parent, "outline", text=text, title=text)
            parent = folders[key]
        etree.SubElement(
            parent,
            "outline",
            type="rss",
            text=source.name,
            title=source.name,
            xmlUrl=source.url,
        )
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data
