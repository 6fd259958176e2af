"""After the rules: the edited tree made into output that a second clean leaves as it is.

Empty elements are pruned (also before the rules look, so that they judge the tree the output
will have), <br>s trimmed at block edges, whitespace folded as a parser folds it, the plain text
taken paragraph by paragraph, and nesting that a parser would repair detected, so that the
engine knows when to clean its own output again. No rule is applied here: everything in this
module serves the output's shape and the cleaner's fixed point.
"""

from __future__ import annotations

from syndicator.clean import sanitize, tree
from syndicator.clean.tree import Element, Node, Text
from syndicator.clean.units import BLOCK, INLINE_ONLY, MAX_DEPTH, drop, meaningful, norm, plain

_PRUNABLE = frozenset(
    {
        "a", "abbr", "address", "article", "aside", "b", "blockquote", "cite", "dd", "details",
        "div", "dl", "dt", "em", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "i", "li", "main", "mark", "nav", "ol", "p", "q", "s", "section", "small",
        "span", "strong", "sub", "summary", "sup", "u", "ul",
    }
)  # fmt: skip
_LIST_ITEM_PARENTS = frozenset({"ul", "ol"})
_TABLE_PARTS = {
    "caption": frozenset({"table"}),
    "colgroup": frozenset({"table"}),
    "col": frozenset({"colgroup", "table"}),
    "thead": frozenset({"table"}),
    "tbody": frozenset({"table"}),
    "tfoot": frozenset({"table"}),
    "tr": frozenset({"table", "thead", "tbody", "tfoot"}),
    "td": frozenset({"tr"}),
    "th": frozenset({"tr"}),
    "dt": frozenset({"dl"}),
    "dd": frozenset({"dl"}),
    "li": _LIST_ITEM_PARENTS,
}
_ONLY_CHILDREN = {
    "ul": frozenset({"li"}),
    "ol": frozenset({"li"}),
    "dl": frozenset({"dt", "dd"}),
    "table": frozenset({"caption", "colgroup", "thead", "tbody", "tfoot", "tr"}),
    "thead": frozenset({"tr"}),
    "tbody": frozenset({"tr"}),
    "tfoot": frozenset({"tr"}),
    "tr": frozenset({"td", "th"}),
    "colgroup": frozenset({"col"}),
}


def misnested(body: Element) -> bool:
    """Nesting that a parser would repair (so lxml and html5ever may disagree about it)."""
    for tag in body.tags():
        parent = tag.parent
        if parent is None or parent is body:
            if tag.name in _TABLE_PARTS:
                return True
            continue
        name, up = tag.name, parent.name
        if name in BLOCK and (up not in BLOCK or up in INLINE_ONLY):
            return True
        if name in _TABLE_PARTS and up not in _TABLE_PARTS[name]:
            return True
        if up in _ONLY_CHILDREN and name not in _ONLY_CHILDREN[up]:
            return True
        if name == "a" and any(p.name == "a" for p in tag.parents):
            return True
    return False


def finish(body: Element) -> tuple[str, str]:
    """Tidy the tree and serialize it through the output sanitizer: (html, text)."""
    prune(body, 0)
    _trim_edges(body)
    _normalize_space(body)
    text = _extract_text(body)
    out = sanitize.sanitize_output(tree.serialize(body)).strip()
    if not text and "<img" not in out:
        return "", ""  # only whitespace, empty cells or rules left: nothing to read
    if out and "<" not in out:
        out = f"<p>{out}</p>"  # bare text would be taken for plain text by the next clean
    return out, text


def prune(el: Element, depth: int) -> bool:
    """Drop elements left empty by removals (and empty ones the source had); True if el has
    content. Leading/trailing <br>s in each block go too."""
    has = False
    for child in el.contents[:]:
        if isinstance(child, Element):
            name = child.name
            if name in ("img", "hr"):
                has = True
                continue
            if name in ("br", "wbr"):
                continue
            if depth < MAX_DEPTH:
                sub = prune(child, depth + 1)
            else:
                sub = bool(child.get_text().strip()) or any(t.name == "img" for t in child.tags())
            if not sub and name in _PRUNABLE:
                drop(child)
                continue
            if name in BLOCK:
                _trim_edges(child)
            has = has or sub
        elif type(child) is Text and not child.kind and child.data.strip():
            has = True
    return has


def _normalize_space(body: Element) -> None:
    """Merge adjacent text nodes; whitespace-only ones (outside <pre>) become one "\\n" or " ",
    as lxml makes them when it parses our own output: without this a second clean would differ.
    Iterative, so hostile nesting cannot exhaust the stack."""
    stack: list[tuple[Element, bool]] = [(body, False)]
    while stack:
        el, in_pre = stack.pop()
        in_pre = in_pre or el.name == "pre"
        previous: Text | None = None
        for child in el.contents[:]:
            if type(child) is Text and not child.kind:
                if previous is not None:
                    previous.data += child.data
                    child.extract()
                else:
                    previous = child
                continue
            previous = None
            if isinstance(child, Element):
                stack.append((child, in_pre))
        if el.name == "pre":
            # Parsers drop one newline right after <pre>; leading newlines would shrink on
            # every clean, so none are kept.
            first = el.contents[0] if el.contents else None
            if plain(first) and first.data.startswith(("\n", "\r")):
                rest = first.data.lstrip("\r\n")
                if rest:
                    first.data = rest
                else:
                    first.extract()
        if in_pre:
            continue
        for child in el.contents:
            if type(child) is Text and not child.kind and child.data:
                data = child.data
                if not data.strip(tree.ASCII_SPACE):
                    child.data = "\n" if ("\n" in data or "\r" in data) else " "


def _trim_edges(el: Element) -> None:
    for step in (0, -1):
        while True:
            edge = _edge(el, step)
            if edge is None:
                break
            if (
                isinstance(edge, Element)
                and edge.name in ("br", "hr")
                and (edge.name == "br" or el.name == "body")
            ):
                edge.extract()
                continue
            break


def _edge(el: Element, step: int) -> Node | None:
    """The first (step 0) or last (step -1) child of el that meaningful() accepts."""
    for child in el.contents if step == 0 else reversed(el.contents):
        if meaningful(child):
            return child
    return None


def _extract_text(body: Element) -> str:
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        lines = (norm(line) for line in "".join(current).split("\n"))
        para = "\n".join(line for line in lines if line)
        if para:
            paragraphs.append(para)
        current.clear()

    def walk(el: Element, depth: int) -> None:
        for child in el.children:
            if type(child) is Text:
                if not child.kind:
                    current.append(child.data)
            elif isinstance(child, Element):
                name = child.name
                if name == "br":
                    current.append("\n")
                elif name == "pre":
                    flush()
                    lines = [line.rstrip() for line in child.get_text().split("\n")]
                    para = "\n".join(line for line in lines if line.strip())
                    if para:
                        paragraphs.append(para)
                elif name in BLOCK:
                    flush()
                    if depth < MAX_DEPTH:
                        walk(child, depth + 1)
                    else:
                        current.append(child.get_text())
                    flush()
                elif depth < MAX_DEPTH:
                    walk(child, depth + 1)
                else:
                    current.append(child.get_text())

    walk(body, 0)
    flush()
    return "\n\n".join(paragraphs)
