"""Rules that judge a block by its shape and its neighbours, not by its words.

A short line right under a lone image is that image's caption; a paragraph that is one link to
another page of the same site, and nothing else, is a related-article teaser; a caption-sized
line between two paragraphs of prose, with no image near, is the caption of an image the feed
left out. No word list can tell these apart from article text, and these tests look at no
words: each is one question about a unit and the units around it. Apart from the engine,
whose structural pass asks them and records what they take, so that each can be read whole.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from syndicator.clean import urls
from syndicator.clean.ruleset import Rule
from syndicator.clean.tree import Element, Node
from syndicator.clean.units import (
    BLOCK_OR_BR,
    CAPTION,
    HEADINGS,
    Unit,
    attr,
    link_stats,
    meaningful,
    plain,
)

_TERMINAL = ".!?…"
_PROSE_END = re.compile("[.!?\u2026][\"'\u00bb\u00ab\u201d\u201c\u2019)\\]]*$")
# Where a lone link or a short line is a list entry, a cell or a quote, not a teaser/caption.
_NOT_PROSE_CONTEXT = (
    frozenset(
        {"li", "td", "th", "dd", "dt", "figcaption", "figure", "blockquote", "pre", "caption"}
    )
    | HEADINGS
)


def image_caption(unit: Unit, rule: Rule) -> None:
    """A short line right after an image-only element becomes its caption: both go into one
    <figure>, the line as its <figcaption>."""
    el = unit.element
    if el is None or el.name != "p" or unit.ancestors & CAPTION:
        return
    if not _caption_like(unit.text, rule.number("max_chars", 250), rule.number("max_words", 40)):
        return
    prev = _sibling(el, -1)
    if prev is None or not _image_only(prev):
        return
    figure = Element("figure")
    prev.replace_with(figure)
    if prev.name in ("img", "a"):
        figure.append(prev)
    else:
        for child in list(prev.children):
            figure.append(child.extract())
    figcaption = Element("figcaption")
    for child in el.contents[:]:
        figcaption.append(child.extract())
    figure.append(figcaption)
    el.extract()
    unit.element = figcaption
    unit.nodes = [figcaption]
    unit.parent = figure
    unit.ancestors = unit.ancestors | CAPTION


def is_related_link(units: list[Unit], i: int, site: str, base: str) -> bool:
    """units[i] is one link and nothing else, to another page of the site the article is on
    (a related-article teaser), and the entry has other text."""
    unit = units[i]
    if unit.ancestors & _NOT_PROSE_CONTEXT:
        return False
    el = unit.element
    if el is None or el.name != "a":
        # Words right in the block are outside any link: no need to walk the block.
        top = unit.nodes if el is None else el.contents
        if any(plain(n) and n.data.strip() for n in top):
            return False
    stats = link_stats(unit.nodes)
    if len(stats.links) != 1 or stats.images or not stats.linked:
        return False
    if stats.plain:
        return False  # any word outside the link ("-- Author") makes it something else
    href = attr(stats.links[0], "href")
    if urls.registrable_host(href) != site or _same_page(href, base):
        return False
    try:
        path = urlsplit(href).path
    except ValueError:
        return False
    if path in ("", "/"):
        return False
    return any(not u.removed and u.text for j, u in enumerate(units) if j != i)


def is_orphan_caption(units: list[Unit], i: int, rule: Rule) -> bool:
    """units[i] is a caption-sized line with no image near, between two paragraphs of prose:
    the caption of an image the feed left out."""
    unit = units[i]
    el = unit.element
    # Only whole paragraphs (and plain-text lines, which become paragraphs): a <br>-separated
    # line in HTML is far more often a subheading than a caption.
    if el is None or el.name not in ("p", "div") or unit.ancestors & _NOT_PROSE_CONTEXT:
        return False
    text = unit.text
    words = len(text.split())
    if not (rule.number("min_words", 8) <= words <= rule.number("max_words", 30)):
        return False
    if len(text) > rule.number("max_chars", 200) or text[-1] in _TERMINAL + ":;\"'»«”“":
        return False
    if not text[0].isupper():
        return False
    stats = link_stats(unit.nodes)
    if stats.links or stats.images:
        return False
    if _wholly_bold(el):
        return False  # a bold line is a heading
    first, last = unit.nodes[0], unit.nodes[-1]
    if _next_to_image(first, -1) or _next_to_image(last, 1):
        return False  # not orphaned: its image is right there
    min_chars = rule.number("min_neighbor_chars", 150)
    for step in (-1, 1):
        other = _neighbour(units, i, step)
        if other is None or len(other.text) < min_chars or not _PROSE_END.search(other.text):
            return False
    return True


def _neighbour(units: list[Unit], i: int, step: int) -> Unit | None:
    j = i + step
    while 0 <= j < len(units):
        if not units[j].removed and units[j].text:
            return units[j]
        j += step
    return None


def _sibling(node: Node, step: int) -> Element | None:
    """The nearest meaningful node before (-1) or after (1) node, if it is an element."""
    sib = node.prev if step < 0 else node.next
    while sib is not None and not meaningful(sib):
        sib = sib.prev if step < 0 else sib.next
    return sib if isinstance(sib, Element) else None


def _image_only(tag: Element) -> bool:
    if tag.name == "img":
        return True
    if tag.name not in ("p", "div", "a") or tag.get_text().strip():
        return False
    inner = tag.tags()
    return sum(t.name == "img" for t in inner) == 1 and not any(
        t.name in BLOCK_OR_BR for t in inner
    )


def _next_to_image(node: Node, step: int) -> bool:
    sib = _sibling(node, step)
    if sib is None:
        return False
    return sib.name == "img" or any(t.name == "img" for t in sib.tags())


def _caption_like(text: str, max_chars: int, max_words: int) -> bool:
    return (
        bool(text)
        and len(text) <= max_chars
        and len(text.split()) <= max_words
        and (text[-1] not in _TERMINAL + ":")
    )


def _wholly_bold(el: Element) -> bool:
    kids = [c for c in el.children if meaningful(c)]
    return len(kids) == 1 and isinstance(kids[0], Element) and kids[0].name in ("b", "strong")


def _same_page(href: str, base: str) -> bool:
    def key(url: str) -> str:
        try:
            p = urlsplit(url)
        except ValueError:
            return url
        return f"{(p.hostname or '').lower()}{p.path.rstrip('/')}?{p.query}"

    return key(href) == key(base)
