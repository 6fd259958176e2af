"""How the rules see a body: as blocks, each matched as a whole or left alone.

A Unit is one block element, or a run of inline nodes between <br>s and block siblings: the
thing engine.py's promise ("cut only along block boundaries") is about. Here are the unit, how a
body is collected into units, and the small questions about nodes that the engine's rules and
tidy.py both ask (is this article text, is it empty, which elements are blocks). Apart from the
engine so that what a block is can be read, and changed, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

from syndicator.clean.tree import Element, Node, Text

# Deeper trees are hostile or broken; below this depth a subtree is handled as one block, so
# recursion stays far from Python's limit.
MAX_DEPTH = 120

BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "dd", "details", "div", "dl",
        "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
BLOCK_OR_BR = BLOCK | {"br"}
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
CAPTION = frozenset({"figure", "figcaption"})
INLINE_ONLY = HEADINGS | {"p", "pre"}


def drop(node: Node) -> None:
    """Take a node out of the tree. A block that stood between two runs of inline content leaves
    a <br> in its place: its removal must not glue the words on either side into one
    ("world<p>Anzeige</p>again" is "world<br>again", not "worldagain"), and those runs stay
    separate blocks for the next clean, which then finds what this one found."""
    if (
        isinstance(node, Element)
        and node.name in BLOCK
        and _inline_content(node.prev)
        and _inline_content(node.next)
    ):
        node.replace_with(Element("br"))
    else:
        node.extract()


def _inline_content(node: Node | None) -> bool:
    if node is None:
        return False
    if isinstance(node, Text):
        return bool(node.data.strip())
    return isinstance(node, Element) and node.name not in BLOCK_OR_BR


def norm(text: str) -> str:
    return " ".join(text.split())


def attr(tag: Element, name: str) -> str:
    return tag.attrs.get(name) or ""


def plain(node: Node | None) -> TypeGuard[Text]:
    """An article-text node (not ruby annotation text, which get_text() leaves out)."""
    return type(node) is Text and not node.kind


def _text_of(node: Node) -> str:
    if type(node) is Element:
        return node.get_text()
    return node.data if type(node) is Text and not node.kind else ""


def meaningful(node: Node) -> bool:
    if type(node) is Element:
        return True
    return type(node) is Text and not node.kind and bool(node.data.strip())


class Unit:
    """A block as the rules see it: one block element, or a run of inline nodes between
    <br>s / block siblings. Mutable working state of one clean, never leaves the cleaner."""

    __slots__ = (
        "ancestors",
        "br_after",
        "br_before",
        "element",
        "nodes",
        "parent",
        "removed",
        "text",
    )

    def __init__(
        self,
        nodes: list[Node],
        element: Element | None,
        parent: Element,
        ancestors: frozenset[str],
        br_before: Element | None = None,
        br_after: Element | None = None,
    ) -> None:
        self.nodes = nodes
        self.element = element
        self.parent = parent
        self.ancestors = ancestors
        self.br_before = br_before
        self.br_after = br_after
        self.removed = False
        self.text = ""
        self.refresh()

    def refresh(self) -> None:
        nodes = self.nodes
        if len(nodes) == 1:
            self.text = norm(_text_of(nodes[0]))
        else:
            self.text = norm("".join([_text_of(n) for n in nodes]))

    @property
    def children(self) -> list[Node]:
        return list(self.element.children) if self.element is not None else list(self.nodes)

    @property
    def in_caption(self) -> bool:
        return bool(self.ancestors & CAPTION)


@dataclass
class LinkStats:
    plain: str
    linked: str
    links: list[Element]
    images: int


def link_stats(nodes: Sequence[Node]) -> LinkStats:
    plain: list[str] = []
    linked: list[str] = []
    links: list[Element] = []
    images = 0
    stack: list[tuple[Node, bool]] = [(n, False) for n in reversed(nodes)]
    while stack:
        node, in_link = stack.pop()
        if type(node) is Element:
            if node.name == "a":
                links.append(node)
                in_link = True
            elif node.name == "img":
                images += 1
            stack.extend((c, in_link) for c in reversed(node.contents))
        elif type(node) is Text and not node.kind:
            (linked if in_link else plain).append(node.data)
    return LinkStats(norm("".join(plain)), norm("".join(linked)), links, images)


def collect_units(body: Element) -> list[Unit]:
    structured: set[int] = set()  # tags with a block or <br> somewhere inside
    for tag in body.tags():
        if tag.name not in BLOCK_OR_BR:
            continue
        parent = tag.parent
        while parent is not None and parent is not body and id(parent) not in structured:
            structured.add(id(parent))
            parent = parent.parent
    units: list[Unit] = []
    _collect(body, frozenset(), units, structured, 0)
    return units


def _collect(
    el: Element, ancestors: frozenset[str], units: list[Unit], structured: set[int], depth: int
) -> None:
    run: list[Node] = []
    br_before: Element | None = None

    def close(br_after: Element | None) -> None:
        if run:
            unit = Unit(list(run), None, el, ancestors, br_before, br_after)
            if unit.text:  # not only whitespace
                units.append(unit)
            run.clear()

    for child in el.contents[:]:
        if isinstance(child, Element):
            name = child.name
            if name == "br":
                close(child)
                br_before = child
                continue
            nested = id(child) in structured
            if name in BLOCK or nested:
                close(None)
                br_before = None
                inner = ancestors | {name}
                if nested and name != "pre" and depth < MAX_DEPTH:
                    _collect(child, inner, units, structured, depth + 1)
                else:
                    unit = Unit([child], child, el, inner)
                    if unit.text:
                        units.append(unit)
                continue
            run.append(child)
        elif plain(child):
            run.append(child)
    close(None)
