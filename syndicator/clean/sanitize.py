"""The allowlist sanitizer the rule engine builds on (URL rules are in urls.py).

Feed bodies are hostile input (parse.py turns feedparser's sanitizer off), so everything that
reaches a reader passes through Ammonia (nh3) with an explicit allowlist twice: once on the way
in, keeping `class`/`id` so CSS-selector rules can still see them, and once on the way out with
the final allowlist. The second pass also means the engine's own tree edits can never smuggle
markup out, and its html5ever serialisation makes the output a fixed point of the cleaner.
"""

from __future__ import annotations

import re

import nh3

# Block and inline tags a reader needs to read an article; anything else is unwrapped (its text
# kept) or, for the tags in _DROP_WITH_CONTENT, removed together with its content.
ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "a", "abbr", "address", "article", "aside", "b", "bdi", "bdo", "blockquote", "br",
        "caption", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl",
        "dt", "em", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre", "q", "rp",
        "rt", "ruby", "s", "samp", "section", "small", "strong", "sub", "summary", "sup", "table",
        "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "wbr",
    }
)  # fmt: skip

# Executable, embedding or form-control elements: their content is fallback text, script source
# or widget labels, never article text. (<form> itself is only unwrapped: ASP.NET-era scrapes
# wrap whole articles in one.)
_DROP_WITH_CONTENT: frozenset[str] = frozenset(
    {
        "script", "style", "iframe", "object", "embed", "applet", "noscript", "noembed",
        "noframes", "frame", "frameset", "template", "textarea", "select", "button", "svg", "math",
        "video", "audio", "canvas", "map", "head", "title",
    }
)  # fmt: skip

URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"

_FINAL_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"lang", "dir"},
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
    "time": {"datetime"},
    "abbr": {"title"},
}

# Lazy-loading themes put the real image in data-* and a placeholder in src.
LAZY_SRC_ATTRS: tuple[str, ...] = ("data-src", "data-lazy-src", "data-original")

_INPUT_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) | ({"class", "id"} if tag == "*" else set())
    for tag, attrs in _FINAL_ATTRIBUTES.items()
}
_INPUT_ATTRIBUTES["img"] |= set(LAZY_SRC_ATTRS)

_INPUT = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(_DROP_WITH_CONTENT),
    attributes=_INPUT_ATTRIBUTES,
    link_rel=None,
    url_schemes=set(URL_SCHEMES),
    strip_comments=True,
)
_OUTPUT = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(_DROP_WITH_CONTENT),
    attributes=_FINAL_ATTRIBUTES,
    link_rel=LINK_REL,
    url_schemes=set(URL_SCHEMES),
    strip_comments=True,
)
_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=set(_DROP_WITH_CONTENT))

# What the engine reports when it was the sanitizer, not a rule, that removed something.
_DANGEROUS = re.compile(
    r"<\s*(script|style|iframe|object|embed|applet|form|base|meta|link|frame|svg|math)\b"
    r"|\s(on[a-z]+)\s*=|(javascript|vbscript|data)\s*:",
    re.IGNORECASE,
)
# The same three branches as separate patterns, which the regex engine can scan for by their
# first character (IGNORECASE on a leading letter, or a group of them, rules that out, so the
# URL branch spells its first letters out: j, v and d have no other case-insensitive matches).
# No match of one branch can overlap a match of another (their texts rule it out), so the
# counts are those of _DANGEROUS.finditer.
_DANGEROUS_TAG = re.compile(
    r"<\s*(script|style|iframe|object|embed|applet|form|base|meta|link|frame|svg|math)\b",
    re.IGNORECASE,
)
_DANGEROUS_HANDLER = re.compile(r"\s(on[a-z]+)\s*=", re.IGNORECASE)
_DANGEROUS_URL = re.compile(r"([jJvVdD](?i:(?<=j)avascript|(?<=v)bscript|(?<=d)ata))\s*:")


def sanitize_input(html: str) -> str:
    """First pass: safe markup that still carries class/id for selector rules."""
    return str(_INPUT.clean(html))


def sanitize_output(html: str) -> str:
    """Final pass: the allowlist the reader gets; adds rel to every link."""
    return str(_OUTPUT.clean(html))


def strip_markup(text: str) -> str:
    """Markup-free text, still entity-escaped (the caller unescapes)."""
    return str(_TEXT_ONLY.clean(text))


def dangerous_markup(html: str) -> dict[str, int]:
    """Counts of what the sanitizer is about to remove, so `--explain` can say so."""
    counts: dict[str, int] = {}
    for m in _DANGEROUS_TAG.finditer(html):
        key = f"<{m.group(1).lower()}>"
        counts[key] = counts.get(key, 0) + 1
    handlers = sum(1 for _ in _DANGEROUS_HANDLER.finditer(html))
    if handlers:
        counts["on*= handler"] = counts.get("on*= handler", 0) + handlers
    for m in _DANGEROUS_URL.finditer(html):
        key = f"{m.group(1).lower()}: URL"
        counts[key] = counts.get(key, 0) + 1
    return counts


def safe_scheme(url: str) -> bool:
    """True for URLs the output may keep: http(s), mailto, or relative."""
    head = url.split(":", 1)
    if len(head) == 1 or "/" in head[0] or "?" in head[0] or "#" in head[0]:
        return True  # no scheme: relative
    return head[0].strip().lower() in URL_SCHEMES
