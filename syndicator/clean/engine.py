"""The cleaner: a RuleSet applied to one parsed tree per entry.

A feed body is sanitized (Ammonia), parsed once with lxml into tree.py's tree, and then cut
only along block boundaries: a paragraph, list item, cell, a <br>-separated line or a plain-text
line either matches a rule as a whole or stays as it is. The few markers that sit inside a block
(`[…]`, a trailing "Continue reading" link, Golem's topic links) are rules anchored at the
block's end. That is what lets "Die Polizei hat Anzeige erstattet." survive while a lone
"Anzeige" goes.

This module is the order of the passes (element, block and shape rules) and the element and
block rules themselves. What a rule is lives in ruleset.py, what a block is in units.py, the
rules that judge a block by its shape in shapes.py, what becomes of a URL in urls.py, and how
the edited tree becomes output in tidy.py.
"""

from __future__ import annotations

import html as htmllib
import logging
import re
from collections.abc import Sequence

from lxml import etree

from syndicator.clean import sanitize, shapes, tidy, tree, urls
from syndicator.clean.ruleset import Rule, RuleSet, short
from syndicator.clean.tree import Element, Node, Text
from syndicator.clean.units import (
    INLINE_ONLY,
    Unit,
    attr,
    collect_units,
    drop,
    link_stats,
    meaningful,
    norm,
)
from syndicator.model import CleanEntry, ParsedEntry, Removal
from syndicator.redact import public_url
from syndicator.template import NOTHING, Template, block_key

log = logging.getLogger(__name__)


def clean_entry(
    entry: ParsedEntry, rules: RuleSet, *, explain: bool = True, template: Template = NOTHING
) -> CleanEntry:
    """Title as one plain line, link without tracking, body sanitized and stripped of junk.

    explain=False leaves CleanEntry.removals empty: the same clean without the record of what
    each rule took (only `clean --explain` shows it; the daemon would throw it away).
    `template` is what was learned of the source's own boilerplate (template.py): its
    blocks go too, unless they are all the entry has.
    """
    removals: list[Removal] = []
    orig = entry.orig_link
    link = urls.unwrap_feedproxy(_valid_text(entry.link).strip(), orig)
    link, params = urls.clean_url(link, rules)
    if params and explain:
        removals.append(Removal("tracking-params", f"entry link: {', '.join(params)}"))
    if not sanitize.safe_scheme(link):
        link = ""
    cleaner = _Cleaner(rules, link, entry.base, explain, template)
    body, text, body_removals = _run(cleaner, entry.html)
    return CleanEntry(
        title=clean_title(entry.title),
        link=link,
        html=body,
        text=text,
        removals=tuple(removals) + body_removals,
        blocks=cleaner.blocks,
    )


def clean_title(title: str) -> str:
    """Titles are shown as plain text: no markup, entities decoded, whitespace collapsed."""
    title = _valid_text(title)
    if "<" in title or "&" in title:
        title = htmllib.unescape(sanitize.strip_markup(title))
    return " ".join(title.split())


def clean_html(
    html: str,
    rules: RuleSet,
    base_url: str = "",
    content_base: str = "",
    *,
    explain: bool = True,
) -> tuple[str, str, tuple[Removal, ...]]:
    """(safe html, its plain text, what was removed and by which rule). Never raises.

    base_url is the article's own URL (which links are "same site"); relative URLs resolve
    against content_base (the body's xml:base or the feed's URL), else against base_url.
    explain=False: the same html and text, and no removals recorded.
    """
    return _run(_Cleaner(rules, base_url, content_base, explain), html)


def _run(cleaner: _Cleaner, html: str) -> tuple[str, str, tuple[Removal, ...]]:
    try:
        return cleaner.run(html)
    except Exception:  # the contract is "never raises"; fall back to sanitizer-only output
        log.exception("cleaner failed; returning sanitized html without rule cleaning")
        try:
            safe = sanitize.sanitize_output(_valid_text(html))
            text = " ".join(htmllib.unescape(sanitize.strip_markup(safe)).split())
            return safe, text, ()
        except Exception:
            log.exception("sanitizer failed")
            return "", "", ()


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_TAG = re.compile(r"<(?:[A-Za-z][A-Za-z0-9:-]*(?=[\s/>])|/[A-Za-z]|!--|!\[CDATA\[)")
_KNOWN_TAG = re.compile(
    r"</?(?:p|br|a|div|span|img|b|i|em|strong|u|ul|ol|li|h[1-6]|blockquote|table|tr|td|pre"
    r"|code|figure|figcaption|hr|section|article)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_ESCAPED_START = re.compile(
    r"\s*&lt;(?:!--|/?(?:p|div|span|a|ul|ol|li|h[1-6]|blockquote|table|pre|figure|img|br)"
    r"(?:\s|/|&gt;))",
    re.IGNORECASE,
)
_REAL_TAG = re.compile(r"(<[^<>]*>)")
_EMPTY_ELEMENT = re.compile(r"<([a-z][a-z0-9]*)(?:\s[^<>]*)?>\s*</\1>|<br>\s*</|<p>\s*<br>")
_HEADING_SEPARATORS = tuple(":\uff1a-\u2013\u2014\u00bb\u203a>")
_SEPARATORS = re.compile("[\\s,;|\u2022\u00b7\u2013\u2014\\-:/()\\[\\]\u00bb\u203a>]+")


def _valid_text(value: object) -> str:
    """Only characters XML 1.0 allows: the output ends up in Atom documents."""
    return _XML_INVALID.sub("", value) if isinstance(value, str) else ""


def _web_url(url: str) -> str:
    """The URL when it is http(s); resolving against anything else would give no web link."""
    url = _valid_text(url).strip()
    return url if url.lower().startswith(("http://", "https://")) else ""


class _Cleaner:
    """One clean of one body: owns the tree, the units and the removal log."""

    def __init__(
        self,
        rules: RuleSet,
        base_url: str,
        content_base: str = "",
        explain: bool = True,
        template: Template = NOTHING,
    ) -> None:
        self.rules = rules
        self.template = template
        self.blocks: tuple[str, ...] = ()  # the short blocks the rules left (template memory)
        self.explain = explain  # record removals (nothing the cleaning decides depends on it)
        self.base = _web_url(base_url)
        # A content base is the feed's URL (or an xml:base against it); entries stored before
        # bases were kept without credentials still carry them, and a reclean must not
        # publish them (see redact.public_url).
        self.resolve_base = public_url(_web_url(content_base)) or self.base
        # A FeedBurner redirect as base says nothing about which site the article is on.
        known = self.base and not urls.FEEDPROXY.search(self.base)
        self.site = urls.registrable_host(self.base) if known else ""
        self.removals: list[Removal] = []
        self.params_removed: dict[str, int] = {}
        self.body: Element | None = None

    # -- pipeline ------------------------------------------------------------------------------

    def run(self, raw: str) -> tuple[str, str, tuple[Removal, ...]]:
        out, text, unsettled = self._once(raw)
        for _ in range(3):
            # lxml and html5ever repair misnested markup differently (a list in a <pre>, a
            # heading in a heading): clean our own output again until it stops changing, so
            # that a later clean sees the same tree. Rare, hence only when it can happen.
            if not unsettled:
                break
            again = _Cleaner(self.rules, self.base, self.resolve_base, self.explain)
            settled, settled_text, unsettled = again._once(out)
            self.removals.extend(again.removals)
            # The template's blocks are gone from `out`; what it counted stays this pass's.
            self.blocks = tuple(dict.fromkeys((*self.blocks, *again.blocks)))
            for name, count in again.params_removed.items():
                self.params_removed[name] = self.params_removed.get(name, 0) + count
            if settled == out:
                break
            out, text = settled, settled_text
        if self.params_removed and self.explain:
            summary = ", ".join(
                f"{k} x{n}" if n > 1 else k for k, n in sorted(self.params_removed.items())
            )
            self.removals.append(Removal("tracking-params", summary))
        return out, text, tuple(self.removals)

    def _once(self, raw: str) -> tuple[str, str, bool]:
        """One pass: (html, text, whether a reparse of the html could come out different)."""
        raw = _valid_text(raw)
        if not raw.strip():
            return "", "", False
        if _ESCAPED_START.match(raw):
            # Escaped once too often (Reddit's Atom selftext): the markup is in the text
            # segments between the real tags.
            raw = "".join(
                part if i % 2 else htmllib.unescape(part)
                for i, part in enumerate(_REAL_TAG.split(raw))
            )
        if not _TAG.search(raw):
            unescaped = htmllib.unescape(raw)
            # Entity-escaped HTML (double-escaped feeds) is HTML; "&lt;nick&gt;" in a chat log
            # is text, so only well-known tags count.
            raw = unescaped if _KNOWN_TAG.search(unescaped) else _lines_to_html(unescaped)
        if self.explain:
            for what, count in sorted(sanitize.dangerous_markup(raw).items()):
                self.removals.append(Removal("sanitize", f"{what} x{count}"))
        safe = _valid_text(sanitize.sanitize_input(raw))  # "&#1;" decodes to a control char
        if not safe.strip():
            return "", "", False
        rules = self.rules
        keep = "all" if rules.user_selector is not None else "keyed" if rules.keyed else ""
        parsed = tree.parse(safe, keep)
        if parsed is None:
            return "", "", False
        body = self.body = parsed.body
        if parsed.mapping:
            self._selectors(parsed)
        self._elements(body)
        # Empty elements go before the rules look, so that every decision sees the tree the
        # output will have (otherwise a second clean could decide differently).
        tidy.prune(body, 0)
        units = collect_units(body)
        self._block_pass(units)
        self._structural_pass(units)
        self._template_pass(units)
        misnested = tidy.misnested(body)
        out, text = tidy.finish(body)
        return out, text, misnested or bool(_EMPTY_ELEMENT.search(out))

    def _record(self, rule: str, text: str) -> None:
        if self.explain:
            self.removals.append(Removal(rule, short(text)))

    # -- element-level rules -------------------------------------------------------------------

    def _selectors(self, parsed: tree.Parsed) -> None:
        """Elements matching a selector go, outermost first, in document order."""
        root, mapping = parsed.lxml_root, parsed.mapping
        keyed = [el for el in mapping.values() if "class" in el.attrs or "id" in el.attrs]
        classes = {name for el in keyed for name in el.attrs.get("class", "").split()}
        ids = {ident.lower() for el in keyed if (ident := el.attrs.get("id"))}
        # element -> the first rule (package rules come first) whose selector matches it
        found: dict[etree._Element, str] = {}
        for part in self.rules.keyed:
            if part.keys is None or part.keys.present(classes, ids):
                for lx in _select(part.xpath, root):
                    el = mapping.get(lx)
                    if el is not None and ("class" in el.attrs or "id" in el.attrs):
                        found.setdefault(lx, part.rule)
        if self.rules.user_selector is not None:
            hits = [lx for lx in _select(self.rules.user_selector, root) if lx not in found]
            if hits:
                per_rule = [
                    (r.name, set(_select(xpath, root)))
                    for r, xpath in self.rules.selectors
                    if r.origin == "config"
                ]
                for lx in hits:
                    found[lx] = next((n for n, matched in per_rule if lx in matched), "selector")
        if not found:
            return
        gone: set[int] = set()
        for lx, el in mapping.items():
            name = found.get(lx)
            if name is None or any(id(p) in gone for p in el.parents):
                continue
            if self.explain:
                self._record(name, norm(el.get_text()) or f"<{el.name}>")
            gone.add(id(el))
            drop(el)

    def _elements(self, body: Element) -> None:
        pixel = self.rules.test("pixel-size")
        max_size = pixel.number("max_size", 1) if pixel else -1
        gone: set[int] = set()
        for el in [t for t in body.tags() if t.name in ("a", "img")]:
            if any(id(p) in gone for p in el.parents):
                continue
            if el.name == "img":
                if not self._image(el, pixel, max_size):
                    gone.add(id(el))
                    el.extract()
            elif not self._link(el):
                gone.add(id(el))
                el.extract()

    def _image(self, img: Element, pixel: Rule | None, max_size: int) -> bool:
        src = attr(img, "src").strip()
        if not src or src.lower().startswith("data:"):
            for name in sanitize.LAZY_SRC_ATTRS:
                lazy = attr(img, name).strip()
                if lazy and sanitize.safe_scheme(lazy) and not lazy.lower().startswith("data:"):
                    src = lazy
                    break
        if not src:
            return False  # nothing to show (a data: URL or a placeholder the sanitizer dropped)
        src = urls.absolutize(src, self.resolve_base)
        if pixel is not None and any(
            _is_pixel_size(attr(img, dim), max_size) for dim in ("width", "height")
        ):
            self._record(pixel.name, src)
            return False
        for rule in self.rules.url_img:
            if rule.pattern is not None and rule.pattern.search(src):
                self._record(rule.name, src)
                return False
        img.attrs["src"] = self._track(src)
        return True

    def _link(self, a: Element) -> bool:
        href = attr(a, "href").strip()
        if not href:
            a.unwrap()  # its script/bad URL is gone; the text stays as text
            return True
        href = urls.absolutize(href, self.resolve_base)
        for rule in self.rules.url_a:
            if rule.pattern is not None and rule.pattern.search(href):
                if self.explain:
                    self._record(rule.name, f"{norm(a.get_text())} <{href}>".strip())
                return False
        a.attrs["href"] = self._track(href)
        return True

    def _track(self, url: str) -> str:
        url, removed = urls.clean_url(url, self.rules)
        for name in removed:
            self.params_removed[name] = self.params_removed.get(name, 0) + 1
        return url

    # -- block-level rules ---------------------------------------------------------------------

    def _remove(self, unit: Unit, rule: str) -> None:
        self._record(rule, unit.text)
        self._drop(unit)

    def _drop(self, unit: Unit) -> None:
        for node in unit.nodes:
            drop(node)
        if unit.br_after is not None and unit.br_after.parent is not None:
            unit.br_after.extract()
        elif unit.br_before is not None and unit.br_before.parent is not None:
            unit.br_before.extract()
        unit.removed = True

    def _block_pass(self, units: list[Unit]) -> None:
        scope: tuple[Element, Rule] | None = None
        for unit in units:
            if not unit.removed and _detached(unit, self.body):
                unit.removed = True  # inside a box an earlier rule took out
            if unit.removed:
                continue
            for _ in range(4):  # a trimmed tail can expose a block rule or a heading
                heading = self._teaser_heading(unit)
                if heading is not None:
                    # A heading that is a line inside a block governs what follows the block.
                    container = unit.parent
                    if unit.element is None and container.parent is not None:
                        container = container.parent
                    self._remove(unit, heading.name)
                    scope = (container, heading)
                    break
                rule = self._block_rule(unit)
                if rule is not None:
                    self._remove(unit, rule.name)
                    if rule.container:
                        self._remove_box(unit, rule)
                    break
                if not self._tails(unit):
                    break
            if unit.removed or not unit.text:
                continue
            if scope is not None and _within(unit, scope[0]) and _link_like(unit):
                self._remove(unit, scope[1].name)
                continue
            scope = None

    def _remove_box(self, unit: Unit, rule: Rule) -> None:
        """A sign-up prompt takes its small widget box (pitch line, form labels) with it."""
        box: Element | None = unit.parent
        if box is not None and box.name in INLINE_ONLY:
            box = box.parent
        body = self.body
        if box is None or body is None or box is body or box.name not in _BOXES:
            return
        if box.parent is None or _detached_tag(box, body):
            return
        rest = norm(box.get_text())
        if len(rest) > _MAX_BOX or len(norm(body.get_text())) <= len(rest):
            return  # too much text for a widget, or the box is all the entry has
        if rest:
            self._record(rule.name, rest)
        drop(box)

    def _block_rule(self, unit: Unit) -> Rule | None:
        index = self.rules.block_index
        if index is not None:
            return index[1 if unit.in_caption else 0].first(unit.text)
        text = unit.text
        lower = text.lower()
        caption = unit.in_caption
        for rule in self.rules.block:
            if rule.keep_in_caption and caption:
                continue
            if rule.needs and not any(word in lower for word in rule.needs):
                continue  # cheap pre-check for rules whose regex is costly on long prose
            if rule.pattern is not None and rule.pattern.fullmatch(text):
                return rule
        return None

    def _teaser_heading(self, unit: Unit) -> Rule | None:
        if unit.in_caption:
            return None
        start = self.rules.teaser_start
        if start is not None and not start.match(unit.text):
            return None
        for rule in self.rules.teasers:
            pattern = rule.pattern
            if pattern is None or not pattern.match(unit.text):
                continue
            if pattern.fullmatch(unit.text):
                return rule
            stats = link_stats(unit.nodes)
            if not stats.links or stats.images or not stats.linked:
                continue
            # "Related: <a>Other story</a>": the words outside the links are the heading
            if stats.plain and pattern.fullmatch(stats.plain):
                return rule
            # "<a>Lesen Sie auch: Other story</a>": heading and separator inside the link
            head = pattern.match(stats.linked)
            if not stats.plain and head and head.group(0).rstrip()[-1:] in _HEADING_SEPARATORS:
                return rule
        return None

    def _tails(self, unit: Unit) -> bool:
        if "pre" in unit.ancestors or (unit.element is not None and unit.element.name == "pre"):
            return False
        strings: list[Text] | None = None  # the unit's text nodes, for the text tails
        for rule in self.rules.tails:
            if rule.kind == "structural":
                cut = self._topic_links(unit, rule)
            elif rule.link:
                cut = self._link_tail(unit, rule)
            else:
                if strings is None:
                    strings = _strings(unit.nodes)
                cut = self._text_tail(unit, rule, strings)
            if cut:
                unit.refresh()
                if not unit.text:
                    self._drop(unit)  # the tail was all there was; it is recorded already
                return True
        return False

    def _text_tail(self, unit: Unit, rule: Rule, strings: list[Text]) -> bool:
        if rule.pattern is None:
            return False
        raw = "".join([s.data for s in strings])
        match = rule.pattern.search(raw)
        if match is None:
            return False
        self._record(rule.name, match.group(0))
        remaining = len(raw) - match.start()
        for s in reversed(strings):
            if remaining <= 0:
                break
            if len(s.data) <= remaining:
                remaining -= len(s.data)
                s.extract()
            else:
                _replace(unit, s, Text(s.data[: len(s.data) - remaining]))
                remaining = 0
        unit.nodes = [n for n in unit.nodes if n.parent is not None]
        return True

    def _link_tail(self, unit: Unit, rule: Rule) -> bool:
        kids = [c for c in unit.children if meaningful(c)]
        if len(kids) < 2 or rule.pattern is None:
            return False  # a block that is only the link is a block rule's business
        top = node = kids[-1]
        while isinstance(node, Element) and node.name != "a":
            inner = [c for c in node.children if meaningful(c)]
            if len(inner) != 1:
                return False
            node = inner[0]
        if not isinstance(node, Element) or node.name != "a":
            return False
        label = norm(node.get_text())
        if not label or not rule.pattern.fullmatch(label):
            return False
        self._record(rule.name, label)
        top.extract()
        unit.nodes = [n for n in unit.nodes if n.parent is not None]
        return True

    def _topic_links(self, unit: Unit, rule: Rule) -> bool:
        """Golem-style '(<a>Topic</a>, <a>Topic</a>)' at the very end of a block."""
        if rule.pattern is None:
            return False
        kids = unit.children
        i = len(kids) - 1
        while i >= 0 and not meaningful(kids[i]):
            i -= 1
        closing = kids[i] if i >= 0 else None
        if not isinstance(closing, Text) or closing.data.strip() != ")":
            return False
        i -= 1
        links: list[Element] = []
        separators: list[Node] = []
        while i >= 0:
            node = kids[i]
            if not (isinstance(node, Element) and node.name == "a"):
                return False
            if not rule.pattern.search(attr(node, "href")):
                return False
            links.append(node)
            i -= 1
            between = kids[i] if i >= 0 else None
            if not isinstance(between, Text):
                return False
            text = between.data
            if text.strip() == ",":
                separators.append(between)
                i -= 1
                continue
            if text.rstrip().endswith("("):
                opening = between
                prefix = text.rstrip()[:-1]
                self._record(
                    rule.name, "(" + ", ".join(norm(a.get_text()) for a in reversed(links)) + ")"
                )
                for node in [closing, *links, *separators]:
                    node.extract()
                if prefix.strip():
                    _replace(unit, opening, Text(prefix))
                else:
                    opening.extract()
                unit.nodes = [n for n in unit.nodes if n.parent is not None]
                return True
            return False
        return False

    # -- the source's learned template ------------------------------------------------------

    def _template_pass(self, units: list[Unit]) -> None:
        """Record the short blocks the rules left (for the source's memory), then remove those
        the source's template holds, unless they are every block with text left: no entry is
        ever emptied by what its neighbours repeat."""
        live = [u for u in units if not u.removed and u.text and not _detached(u, self.body)]
        keyed = [(u, block_key(u.text)) for u in live]
        self.blocks = tuple(dict.fromkeys(k for _, k in keyed if k is not None))
        if not self.template:
            return
        known = self.template.by_key
        doomed = [(u, known[k]) for u, k in keyed if k is not None and k in known]
        if not doomed or len(doomed) == len(live):
            return
        for unit, learned in doomed:
            self._remove(unit, learned.rule)

    # -- shape-level rules ---------------------------------------------------------------------

    def _structural_pass(self, units: list[Unit]) -> None:
        for unit in units:
            if not unit.removed and _detached(unit, self.body):
                unit.removed = True
        caption = self.rules.test("image-caption")
        if caption is not None:
            for unit in units:
                if not unit.removed:
                    shapes.image_caption(unit, caption)
        related = self.rules.test("link-only-same-site")
        if related is not None and self.site:
            for i, unit in enumerate(units):
                if not unit.removed and shapes.is_related_link(units, i, self.site, self.base):
                    self._remove(unit, related.name)
        orphan = self.rules.test("orphan-caption")
        if orphan is not None:
            for i, unit in enumerate(units):
                if not unit.removed and shapes.is_orphan_caption(units, i, orphan):
                    self._remove(unit, orphan.name)


def _replace(unit: Unit, old: Node, new: Text) -> None:
    """Swap a node in the tree and in the unit's node list (runs hold their strings)."""
    old.replace_with(new)
    unit.nodes = [new if n is old else n for n in unit.nodes]


def _lines_to_html(text: str) -> str:
    """Plain text: every non-blank line is a block of its own, kept byte for byte."""
    return "".join(
        f"<p>{htmllib.escape(line.strip(), quote=False)}</p>"
        for line in text.splitlines()
        if line.strip()
    )


_PIXELS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*")


def _is_pixel_size(value: str, max_size: int) -> bool:
    m = _PIXELS.fullmatch(value)
    return m is not None and float(m.group(1)) <= max_size


def _select(xpath: etree.XPath, root: etree._Element) -> list[etree._Element]:
    found = xpath(root)
    return [el for el in found if isinstance(el, etree._Element)] if isinstance(found, list) else []


def _strings(nodes: Sequence[Node]) -> list[Text]:
    """The article-text nodes in nodes and under them, in order."""
    found: list[Text] = []
    for node in nodes:
        if type(node) is Element:
            # get_text() of an <rt>/<rp> would want its own annotation text; here it is left out
            found.extend(s for s in node.descendants() if type(s) is Text and not s.kind)
        elif type(node) is Text and not node.kind:
            found.append(node)
    return found


_BOXES = frozenset({"div", "aside", "section", "footer", "header", "nav", "details", "figure"})
_MAX_BOX = 400


def _detached_tag(tag: Element, body: Element) -> bool:
    return not any(p is body for p in tag.parents)


def _detached(unit: Unit, body: Element | None) -> bool:
    node = unit.nodes[0] if unit.nodes else None
    if node is None or node.parent is None:
        return True
    top: Node = node
    while top.parent is not None:
        top = top.parent
    return top is not body


def _within(unit: Unit, scope: Element) -> bool:
    if unit.parent is scope:
        return True
    return any(p is scope for p in unit.parent.parents)


def _link_like(unit: Unit) -> bool:
    """A teaser list entry: links, and at most a short date or separator besides."""
    stats = link_stats(unit.nodes)
    if not stats.links or not stats.linked:
        return False
    rest = _SEPARATORS.sub("", stats.plain)
    return len(rest) <= min(30, len(stats.linked))
