"""Finding the feed behind what a user gives: a feed URL, a web page that advertises feeds, a
`feed:` link or a bare host name.

One table of feed types and one reading of `<link rel="alternate">` serve both `syndicator add`
(which picks the best readable feed of a page) and the parser (whose "not a feed" error names
the feeds a page advertises).
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

from syndicator.config import http_url
from syndicator.config_edit import SourceEditError
from syndicator.errors import FetchError, ParseError
from syndicator.fetch import Limits, fetch, make_client
from syndicator.model import Validators

log = logging.getLogger(__name__)

# MIME type → (kind shown to the user, preference rank; lower wins, equal ranks keep page order).
# Rank 0 are the feed formats proper (what the parser names in "not a feed").
FEED_TYPES = {
    "application/atom+xml": ("Atom", 0),
    "application/rss+xml": ("RSS", 0),
    "application/rdf+xml": ("RDF", 0),
    "application/xml": ("XML", 1),
    "text/xml": ("XML", 1),
    "application/feed+json": ("JSON Feed", 2),
    "application/json": ("JSON Feed", 2),
}
# feedparser reads no JSON Feed, so such links are listed but never chosen.
READABLE = frozenset({"Atom", "RSS", "RDF", "XML"})


PAGE_LIMIT = 1 << 20  # a page's first MiB holds its <head>


@dataclass(frozen=True)
class FeedLink:
    url: str
    kind: str  # "Atom", "RSS", "RDF", "XML", "JSON Feed"
    title: str = ""

    @property
    def readable(self) -> bool:
        return self.kind in READABLE


def _advertised(html: bytes | str, base_url: str) -> list[tuple[str, str, str]]:
    """(mime type, href resolved against `<base href>` or the page URL, title) of every feed
    link `<link rel="alternate" type=...>` of a page, in page order. Only the page's first
    PAGE_LIMIT bytes and its `<link>` and `<base>` tags are parsed."""
    from bs4 import BeautifulSoup, SoupStrainer, Tag  # off the daemon's start-up

    head = html[:PAGE_LIMIT]
    if isinstance(head, bytes):
        # UTF-8 when it is UTF-8 (a cut sequence at the limit aside): bs4 would ask a charset
        # detector first when one is installed (trafilatura brings charset-normalizer), and a
        # detector misreads short pages with C1 bytes.
        with contextlib.suppress(UnicodeDecodeError):  # else the declared charset, or a guess
            head = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4 warns about XHTML-looking pages; harmless here
        soup = BeautifulSoup(head, "lxml", parse_only=SoupStrainer(["link", "base"]))
    base = base_url
    base_tag = soup.find("base", href=True)
    if isinstance(base_tag, Tag):
        base = _join(base_url, " ".join(str(base_tag.get("href") or "").split())) or base_url
    found = []
    for tag in soup.find_all("link"):
        rel = tag.get("rel") or []
        rels = rel.split() if isinstance(rel, str) else list(rel)
        if "alternate" not in {r.lower() for r in rels}:
            continue
        mime = str(tag.get("type") or "").split(";")[0].strip().lower()
        href = str(tag.get("href") or "").strip()
        if mime in FEED_TYPES and href:
            found.append((mime, _join(base, href), " ".join(str(tag.get("title") or "").split())))
    return found


def discover_feeds(html: bytes | str, base_url: str) -> list[FeedLink]:
    """The feeds a web page advertises, best first: http(s) URLs only (a `feed:` link counts
    as one, a URL with a control character does not), each once."""
    found: list[tuple[int, int, FeedLink]] = []
    seen: set[str] = set()
    for mime, href, title in _advertised(html, base_url):
        url = http_url(feed_scheme_to_http(href)) if href else None
        if url is None or url in seen:
            continue
        seen.add(url)
        kind, rank = FEED_TYPES[mime]
        found.append((rank, len(found), FeedLink(url, kind, title)))
    return [link for _, _, link in sorted(found, key=lambda f: (f[0], f[1]))]


def advertised_urls(html: bytes, url: str) -> list[str]:
    """The feed formats proper (Atom, RSS, RDF) a page links, as the page wrote them: for the
    reason "not a feed (the page advertises …)", which reaches the operator escaped."""
    found: list[str] = []
    for mime, link, _title in _advertised(html, url):
        href = " ".join(link.split())
        wanted = FEED_TYPES[mime][1] == 0 and href.lower().startswith(("http://", "https://"))
        if wanted and len(href) <= 300 and href not in found:
            found.append(href)
    return found


def _join(base: str, href: str) -> str:
    try:
        return urljoin(base, href)
    except ValueError:  # an invalid IPv6 host, say
        return ""


def feed_scheme_to_http(url: str) -> str:
    """`feed://host/x` and `feed:https://host/x` are old browser conventions for http(s)."""
    if url.lower().startswith("feed:"):
        rest = url[5:]
        return rest if rest.lower().startswith(("http://", "https://")) else "http:" + rest
    return url


def normalize_input_url(text: str) -> str:
    """What a user types into a feed reader: `example.org/feed` means https://example.org/feed."""
    url = feed_scheme_to_http(text.strip())
    if "://" not in url and re.match(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?(/|$)", url):
        url = "https://" + url
    return http_url(url) or url


# -- finding the feed behind a URL (network) -------------------------------------------------


@dataclass(frozen=True)
class FoundFeed:
    url: str  # what goes into the config
    title: str
    page: str = ""  # the web page it was discovered on, when the URL was not a feed
    links: tuple[FeedLink, ...] = ()  # everything that page advertised
    rejected: tuple[tuple[str, str], ...] = ()  # (url, reason) of advertised links that failed


async def find_feed(
    url: str,
    limits: Limits,
    user_agent: str = "",
    allow: Iterable[tuple[str, int]] = (),
) -> FoundFeed:
    """The feed at `url`, or the first working feed the page at `url` advertises.

    `allow`: the endpoints the user named, which alone may be internal addresses (see
    fetch.AddressGuard); a page cannot point `add` at one it advertises.
    Raises FetchError/ParseError when `url` itself fails, SourceEditError when it is a page
    without a usable feed link.
    """
    from syndicator.parse import parse_feed  # only `add` needs it: kept off start-up

    async with make_client(limits, user_agent, allow=allow) as client:
        page = await fetch(client, url, Validators(), limits)
        try:
            feed = parse_feed(page.body, page.url, page.headers)
        except ParseError:
            pass
        else:
            return FoundFeed(url=url, title="" if feed.title == page.url else feed.title)
        links = tuple(discover_feeds(page.body, page.url))
        readable = [link for link in links if link.readable]
        if not readable:
            if links:
                raise SourceEditError(
                    f"{url}: not a feed, and the page advertises only feeds Syndicator cannot "
                    f"read ({', '.join(f'{link.kind} {link.url}' for link in links)})"
                )
            raise SourceEditError(f"{url}: not a feed, and the page advertises none")
        rejected: list[tuple[str, str]] = []
        for link in readable:
            try:
                got = await fetch(client, link.url, Validators(), limits)
                feed = parse_feed(got.body, got.url, got.headers)
            except (FetchError, ParseError) as exc:
                log.debug("advertised feed %s rejected: %s", link.url, exc)
                rejected.append((link.url, str(exc)))
                continue
            title = "" if feed.title == got.url else feed.title
            return FoundFeed(link.url, title or link.title, page.url, links, tuple(rejected))
        reasons = "; ".join(f"{u}: {r}" for u, r in rejected)
        raise SourceEditError(f"{url}: not a feed, and no feed it advertises works ({reasons})")


