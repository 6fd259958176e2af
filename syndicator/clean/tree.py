"""The small document tree the cleaner edits: elements and text nodes with parent links.

Built from lxml's HTML parser (libxml2, the parser bs4 used here before) and shaped as bs4
shapes it: one node per text run, whitespace-only runs outside <pre> collapsed to "\\n" or " ",
text inside <rt>/<rp> set apart. Only what the rules need, in plain slotted objects: building
and editing bs4's tree was over half of the cleaning time, and libxml2 alone is a tenth of it.
CSS selectors run as XPath (cssselect) on lxml's tree, which is kept beside ours, unedited.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from lxml import etree

# Tags whose text is kept apart from ordinary text (bs4's string containers for HTML that can
# survive the input sanitizer): get_text() of any other element leaves it out.
_CONTAINERS = frozenset({"rt", "rp"})
_PRESERVE = frozenset({"pre", "textarea"})
ASCII_SPACE = " \t\n\r\f"
# Elements serialized as <x/> when they have no children.
VOID = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "menuitem",
        "meta", "param", "source", "track", "wbr", "basefont", "bgsound", "command", "frame",
        "image", "isindex", "nextid", "spacer",
    }
)  # fmt: skip


class Node:
    """A text node or an element; parent is None once it is out of the tree.

    prev/next link the children of one parent, so that a sibling is one step away whatever
    the number of children (a plain-text body can have tens of thousands of lines).
    """

    __slots__ = ("next", "parent", "prev")
    parent: Element | None
    prev: Node | None
    next: Node | None

    def extract(self) -> Node:
        parent = self.parent
        if parent is not None:
            parent.contents.remove(self)  # by identity: nodes do not define ==
            self._unlink()
        return self

    def _unlink(self) -> None:
        prev, nxt = self.prev, self.next
        if prev is not None:
            prev.next = nxt
        if nxt is not None:
            nxt.prev = prev
        self.parent = self.prev = self.next = None

    def replace_with(self, new: Node) -> None:
        parent = self.parent
        if parent is None:
            return
        new.extract()
        contents = parent.contents
        contents[contents.index(self)] = new
        new.parent, new.prev, new.next = parent, self.prev, self.next
        if self.prev is not None:
            self.prev.next = new
        if self.next is not None:
            self.next.prev = new
        self.parent = self.prev = self.next = None

    @property
    def parents(self) -> Iterator[Element]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class Text(Node):
    """A run of text. kind is "" for article text, else the <rt>/<rp> it was parsed in."""

    __slots__ = ("data", "kind")

    def __init__(self, data: str, kind: str = "", parent: Element | None = None) -> None:
        self.parent = parent
        self.prev = self.next = None
        self.data = data
        self.kind = kind

    def __repr__(self) -> str:
        return f"Text({self.data!r})"


class Element(Node):
    __slots__ = ("attrs", "contents", "name")

    def __init__(self, name: str, attrs: dict[str, str] | None = None) -> None:
        self.parent = self.prev = self.next = None
        self.name = name
        self.attrs: dict[str, str] = attrs if attrs is not None else {}
        self.contents: list[Node] = []

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def append(self, node: Node) -> None:
        node.extract()
        _add(self, node)

    def unwrap(self) -> None:
        """Replace this element by its children."""
        parent = self.parent
        kids = self.contents
        if parent is None or not kids:
            self.extract()
            return
        contents = parent.contents
        i = contents.index(self)
        for kid in kids:
            kid.parent = parent
        contents[i : i + 1] = kids
        first, last = kids[0], kids[-1]
        first.prev, last.next = self.prev, self.next
        if self.prev is not None:
            self.prev.next = first
        if self.next is not None:
            self.next.prev = last
        self.contents = []
        self.parent = self.prev = self.next = None

    @property
    def children(self) -> list[Node]:
        return self.contents

    def descendants(self) -> Iterator[Node]:
        """Every node under this one in document order (iterative: trees can be deep)."""
        stack = self.contents[::-1]
        while stack:
            node = stack.pop()
            yield node
            if type(node) is Element and node.contents:
                stack.extend(node.contents[::-1])

    def tags(self) -> list[Element]:
        """Every element under this one in document order."""
        found: list[Element] = []
        stack = self.contents[::-1]
        while stack:
            node = stack.pop()
            if type(node) is Element:
                found.append(node)
                if node.contents:
                    stack.extend(node.contents[::-1])
        return found

    def strings(self) -> list[Text]:
        """The article-text nodes under this element (those get_text() joins), in order."""
        kind = self.name if self.name in _CONTAINERS else ""
        found: list[Text] = []
        stack = self.contents[::-1]
        while stack:
            node = stack.pop()
            if type(node) is Text:
                if node.kind == kind:
                    found.append(node)
            elif type(node) is Element and node.contents:
                stack.extend(node.contents[::-1])
        return found

    def get_text(self) -> str:
        return "".join([node.data for node in self.strings()])


def _add(parent: Element, node: Node) -> None:
    """Make a node that is in no tree the last child of parent."""
    contents = parent.contents
    if contents:
        last = contents[-1]
        last.next = node
        node.prev = last
    node.parent = parent
    contents.append(node)


@dataclass(frozen=True, slots=True)
class Parsed:
    """One parsed body: our tree, and lxml's for CSS selectors, with its elements mapped."""

    body: Element
    lxml_root: etree._Element
    mapping: dict[etree._Element, Element]


_local = threading.local()
# libxml2 stops building a tree (and drops the rest of the document) below this depth; its SAX
# events go on, so a deeper document is parsed again into lxml's TreeBuilder, a third as fast.
_TREE_DEPTH_LIMIT = 256


def _parser() -> etree.HTMLParser:
    parser: etree.HTMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.HTMLParser(recover=True)
    return parser


def parse(markup: str, keep: str = "") -> Parsed | None:
    """Parse an HTML fragment as the content of <body>; None when there is no body.

    keep chooses which lxml elements the mapping holds, in document order, for selector
    matching: "" none, "keyed" those with a class or id, "all" every one.
    """
    document = f"<body>{markup}</body>"
    parser = _parser()
    parser.feed(document)
    root = parser.close()
    parsed, depth = _copy(root, keep)
    if depth >= _TREE_DEPTH_LIMIT - 4:  # html, body and a margin
        parser = etree.HTMLParser(recover=True, target=etree.TreeBuilder())
        parser.feed(document)
        parsed, depth = _copy(parser.close(), keep)
    return parsed


def _copy(root: etree._Element | None, keep: str) -> tuple[Parsed | None, int]:
    """Our tree from lxml's, and the depth of its deepest element under <body>."""
    if root is None:
        return None, 0
    src = next(root.iter("body"), None)
    if src is None:
        return None, 0
    body = Element("body", _attrs(src))
    mapping: dict[etree._Element, Element] = {}
    every = keep == "all"
    text = src.text
    if text:
        _add(body, Text(_collapse(text)))
    # (children still to copy, their new parent, the innermost <rt>/<rp> around them, whether
    # whitespace is kept there (<pre>, <textarea>), the text after that parent)
    stack: list[tuple[Iterator[etree._Element], Element, str, bool, str | None]] = [
        (iter(src), body, "", False, None)
    ]
    depth = 1
    while stack:
        children, el, kind, keep_space, _ = frame = stack[-1]
        for child in children:
            tag = child.tag
            if isinstance(tag, str):  # not a comment or processing instruction
                attrs = _attrs(child)
                new = Element(tag, attrs)
                _add(el, new)
                if keep and (every or "class" in attrs or "id" in attrs):
                    mapping[child] = new
                    names = attrs.get("class")
                    if names and " ".join(names.split()) != names:
                        # XPath's normalize-space() splits class lists on ASCII whitespace
                        # only; bs4 (and so the selectors before) split on any whitespace.
                        child.set("class", " ".join(names.split()))
                inner_kind = tag if tag in _CONTAINERS else kind
                inner_keep = keep_space or tag in _PRESERVE
                text = child.text
                if text:
                    new.contents.append(
                        Text(text if inner_keep else _collapse(text), inner_kind, new)
                    )  # the first child: nothing to link
                if len(child):
                    stack.append((iter(child), new, inner_kind, inner_keep, child.tail))
                    if len(stack) > depth:
                        depth = len(stack)
                    break
            tail = child.tail
            if tail:
                _add(el, Text(tail if keep_space else _collapse(tail), kind))
        else:
            stack.pop()
            tail = frame[4]
            if tail and stack:
                _, up, up_kind, up_keep, _ = stack[-1]
                _add(up, Text(tail if up_keep else _collapse(tail), up_kind))
    return Parsed(body, root, mapping), depth


def _attrs(el: etree._Element) -> dict[str, str]:
    return cast("dict[str, str]", dict(el.items()))


def _collapse(data: str) -> str:
    """Whitespace-only text as bs4 kept it: one newline if it had one, else one space."""
    if data.strip(ASCII_SPACE):
        return data
    return "\n" if "\n" in data else " "


def serialize(root: Element) -> str:
    """root's content as HTML: attributes sorted, &, < and > escaped, void tags as <x/> (what
    bs4 wrote, so that the output sanitizer sees what it saw before)."""
    pieces: list[str] = []
    stack = [(iter(root.contents), "")]
    while stack:
        for node in stack[-1][0]:
            if type(node) is Text:
                pieces.append(escape(node.data))
                continue
            assert type(node) is Element
            name = node.name
            attrs = node.attrs
            if attrs:
                parts = [name]
                for key, val in sorted(attrs.items()):
                    if key == "class":  # a token list, written as bs4 wrote it
                        val = " ".join(val.split())
                    val = escape(val)
                    if '"' in val:
                        if "'" in val:
                            val = '"' + val.replace('"', "&quot;") + '"'
                        else:
                            val = "'" + val + "'"
                    else:
                        val = '"' + val + '"'
                    parts.append(f"{key}={val}")
                start = " ".join(parts)
            else:
                start = name
            if not node.contents:
                pieces.append(f"<{start}/>" if name in VOID else f"<{start}></{name}>")
                continue
            pieces.append(f"<{start}>")
            stack.append((iter(node.contents), name))
            break
        else:
            _, name = stack.pop()
            if name:
                pieces.append(f"</{name}>")
    return "".join(pieces)


def escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text
