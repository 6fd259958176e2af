"""What a URL becomes on its way through the cleaner: tracking parameters and redirect
wrappers taken off, FeedBurner links unwrapped, relative references resolved, and the site a
URL belongs to.

One module for every URL rule, so that "why did this link change" has one place to look. The
parts that take plain data (strip_params, unwrap_redirect) know nothing of rules; clean_url
feeds them a RuleSet's tracking and redirect rules.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, unquote_plus, urljoin, urlsplit, urlunsplit

from syndicator.clean.ruleset import RuleSet, load_rules


@lru_cache(maxsize=1)
def _default_rules() -> RuleSet:
    return load_rules()


def strip_tracking(url: str) -> str:
    """The URL without tracking parameters and without known redirect wrappers around it."""
    return clean_url(url, _default_rules())[0]


def unwrap_feedproxy(link: str, orig_link: str) -> str:
    """FeedBurner's feedproxy/~r/ redirect → the publisher's URL, when the feed gave origLink."""
    if (
        orig_link
        and FEEDPROXY.search(link)
        and orig_link.lower().startswith(("http://", "https://"))
    ):
        return orig_link.strip()
    return link


# feedproxy.google.com, feeds.feedburner.com and publishers' FeedBurner CNAMEs share the path.
FEEDPROXY = re.compile(r"^https?://[^/]+/~r/[^?#]+/~3/", re.I)


def clean_url(url: str, rules: RuleSet) -> tuple[str, tuple[str, ...]]:
    """(the URL out of its redirect wrappers and without tracking parameters, the names of
    the parameters taken off)."""
    url = url.strip()
    for _ in range(5):  # a redirect may wrap another one
        target = unwrap_redirect(url, rules.redirects)
        if target == url:
            break
        url = target
    return strip_params(url, rules.tracking_names, rules.tracking_prefixes, rules.host_params)


def absolutize(url: str, base: str) -> str:
    """Resolve a relative reference against base; leave absolute and unparsable ones alone."""
    url = url.strip()
    if not base or not url or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url):
        return url
    try:
        return urljoin(base, url)
    except ValueError:
        return url


def registrable_host(url: str) -> str:
    """Approximate eTLD+1 (no public-suffix list): enough to tell "same site" for teasers."""
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""
    labels = host.split(".")
    if len(labels) <= 2:
        return host
    # example.co.uk, example.com.br: a short second-level label under a country code
    if len(labels[-1]) == 2 and labels[-2] in {"co", "com", "org", "net", "gov", "ac", "edu"}:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def strip_params(
    url: str,
    names: frozenset[str],
    prefixes: tuple[str, ...],
    host_names: tuple[tuple[re.Pattern[str], frozenset[str]], ...],
) -> tuple[str, tuple[str, ...]]:
    """Drop tracking parameters from query and fragment; returns (url, removed names).

    Works on the raw query string and rebuilds only when something was removed, so an
    untouched URL keeps its exact bytes (ordering, encoding, a trailing '?').
    """
    if "?" not in url and "#" not in url:
        return url, ()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, ()
    if parts.scheme.lower() not in ("http", "https", ""):
        return url, ()
    host = (parts.hostname or "").lower()
    extra: frozenset[str] = frozenset()
    for pattern, params in host_names:
        if pattern.search(host):
            extra = extra | params
    removed: list[str] = []

    def keep(piece: str) -> bool:
        key = piece.split("=", 1)[0]
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        key = key.strip().lower()
        if key in names or key in extra or key.startswith(prefixes):
            removed.append(key)
            return False
        return True

    query = parts.query
    if query:
        query = "&".join(p for p in query.split("&") if p and keep(p))
    fragment = parts.fragment
    if fragment and "=" in fragment and not fragment.startswith(("/", "!")):
        pieces = fragment.split("&")
        if all("=" in p for p in pieces):
            fragment = "&".join(p for p in pieces if keep(p))
    if not removed:
        return url, ()
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, fragment)), tuple(removed)


def unwrap_redirect(
    url: str, redirects: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]
) -> str:
    """The target of a known redirect wrapper (google.com/url?q=…), else url unchanged.

    A parameter name "*" stands for a target appended to the path after a '*'
    (redir.folha.com.br/redir/online/…/*https://…).
    """
    if "?" not in url and "*" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    where = f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}{parts.path}"
    for pattern, params in redirects:
        if not pattern.search(where):
            continue
        if "*" in params:
            star = url.find("*http")
            target = url[star + 1 :] if star >= 0 else ""
            if target.lower().startswith(("http://", "https://")):
                return target
        values = dict(parse_qsl(parts.query, keep_blank_values=True))
        for name in params:
            target = values.get(name, "").strip()
            if target.lower().startswith(("http://", "https://")):
                return target
    return url
