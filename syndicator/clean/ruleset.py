"""The rules as data: what a rule is, how the package's TOML files and the user's config
become one RuleSet, and the indexes that make applying a RuleSet cheap.

Apart from the engine because the two change for different reasons: this module when a rule
kind or a rule file's field is added, the engine when the way a body is cut changes. A reader
asking why a rule did not load, or why a selector is never tried, reads this file alone.
Named `ruleset` because `rules/` beside it is the folder of TOML files it reads (a `rules.py`
would compete with that folder for the import name `syndicator.clean.rules`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from typing import Any

from lxml import etree

from syndicator.clean.tree import Element

KINDS = ("block", "selector", "url", "tail", "teaser", "structural", "params", "redirect")
STRUCTURAL_TESTS = (
    "pixel-size",
    "topic-links",
    "link-only-same-site",
    "image-caption",
    "orphan-caption",
)
_URL_TARGETS = ("img", "a", "any")
_SHORT = 120
# colon, fullwidth colon, dashes, guillemet, single guillemet, greater-than
_SEPARATOR_CHARS = ":\uff1a\\-\u2013\u2014\u00bb\u203a>"


def short(text: str, limit: int = _SHORT) -> str:
    """One line of at most limit characters: how rule names and removal records quote text."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Rule:
    """One named rule, from a package TOML file or from the user's config."""

    name: str
    kind: str
    reason: str
    origin: str = ""
    pattern: re.Pattern[str] | None = None
    selector: str = ""
    target: str = "any"
    link: bool = False
    keep_in_caption: bool = False
    container: bool = False
    needs: tuple[str, ...] = ()
    test: str = ""
    params: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    numbers: tuple[tuple[str, int], ...] = ()

    def number(self, key: str, default: int) -> int:
        return dict(self.numbers).get(key, default)


@dataclass(frozen=True)
class RuleSet:
    """All rules for one source, indexed by kind; immutable so it can be cached and shared."""

    rules: tuple[Rule, ...]
    block: tuple[Rule, ...] = field(default=(), repr=False)
    teasers: tuple[Rule, ...] = field(default=(), repr=False)
    # Whether any teaser regex matches at the start of a text: one search instead of one per
    # rule for the many blocks that start no teaser. None: try each rule.
    teaser_start: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    tails: tuple[Rule, ...] = field(default=(), repr=False)
    # XPath objects compare by identity: left out of ==, which compares the rules themselves.
    selectors: tuple[tuple[Rule, etree.XPath], ...] = field(default=(), repr=False, compare=False)
    # The package rules' selectors one by one, in rule order: each names a class or id, so it
    # is only evaluated on a body that has an element carrying one of its own.
    keyed: tuple[_KeyedSelector, ...] = field(default=(), repr=False, compare=False)
    # The users' selectors as one, evaluated on every body.
    user_selector: etree.XPath | None = field(default=None, repr=False, compare=False)
    url_img: tuple[Rule, ...] = field(default=(), repr=False)
    url_a: tuple[Rule, ...] = field(default=(), repr=False)
    structural: tuple[Rule, ...] = field(default=(), repr=False)
    tracking_names: frozenset[str] = field(default=frozenset(), repr=False)
    tracking_prefixes: tuple[str, ...] = field(default=(), repr=False)
    host_params: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = field(default=(), repr=False)
    redirects: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = field(default=(), repr=False)
    # `block` as one alternation per caption mode (see _BlockIndex); built from `block`.
    block_index: tuple[_BlockIndex, _BlockIndex] | None = field(
        default=None, repr=False, compare=False
    )

    @classmethod
    def of(cls, rules: Sequence[Rule]) -> RuleSet:
        names: set[str] = set()
        for rule in rules:
            if rule.name in names:
                raise ValueError(f"duplicate rule name {rule.name!r}")
            names.add(rule.name)
        selectors = tuple((r, compile_selector(r.selector)) for r in rules if r.kind == "selector")
        keyed = tuple(
            _KeyedSelector(r.name, _SelectorKeys.of(part), compile_selector(part))
            for r, _ in selectors
            if r.origin != "config"
            for part in _split_selector_list(r.selector)
        )
        user = ", ".join(r.selector for r, _ in selectors if r.origin == "config")
        tracking = [r for r in rules if r.kind == "params"]
        block = tuple(r for r in rules if r.kind == "block")
        return cls(
            rules=tuple(rules),
            block=block,
            block_index=(_BlockIndex.of(block, False), _BlockIndex.of(block, True)),
            teasers=tuple(r for r in rules if r.kind == "teaser"),
            teaser_start=_any_of(r.pattern for r in rules if r.kind == "teaser"),
            tails=tuple(r for r in rules if r.kind in ("tail",))
            + tuple(r for r in rules if r.kind == "structural" and r.test == "topic-links"),
            selectors=selectors,
            keyed=keyed,
            user_selector=compile_selector(user) if user else None,
            url_img=tuple(r for r in rules if r.kind == "url" and r.target in ("img", "any")),
            url_a=tuple(r for r in rules if r.kind == "url" and r.target in ("a", "any")),
            structural=tuple(r for r in rules if r.kind == "structural"),
            tracking_names=frozenset(p for r in tracking if r.pattern is None for p in r.params),
            tracking_prefixes=tuple(p for r in tracking if r.pattern is None for p in r.prefixes),
            host_params=tuple(
                (r.pattern, frozenset(r.params)) for r in tracking if r.pattern is not None
            ),
            redirects=tuple(
                (r.pattern, r.params)
                for r in rules
                if r.kind == "redirect" and r.pattern is not None
            ),
        )

    def test(self, name: str) -> Rule | None:
        """The structural rule implementing `name`, if the rule set has it."""
        for rule in self.structural:
            if rule.test == name:
                return rule
        return None


@dataclass(frozen=True)
class _SelectorKeys:
    """A necessary condition for matching the package selectors, checked before evaluating them.

    Package selectors name a class or an id on the element they select, so in a body where no
    element carries one of those classes, ids or id prefixes (most bodies) they cannot match and
    are not evaluated. Built from the selector text; a selector whose subject it cannot read
    gives no keys.
    """

    classes: frozenset[str]
    ids: frozenset[str]  # lowercased
    id_prefixes: tuple[str, ...]  # lowercased

    @classmethod
    def of(cls, selector: str) -> _SelectorKeys | None:
        classes: set[str] = set()
        ids: set[str] = set()
        prefixes: set[str] = set()
        for part in _split_selector_list(selector):
            subject = _COMBINATOR.split(part.strip())[-1]
            if not _KEYED_COMPOUND.fullmatch(subject):
                return None
            found = False
            for m in _KEY.finditer(subject):
                kind, name, attr, op, value = m.group(1, 2, 3, 4, 6)
                if kind == ".":
                    classes.add(name)
                elif kind == "#":
                    ids.add(name.lower())
                elif attr.lower() == "class":
                    classes.add(value)
                elif op == "^=":
                    prefixes.add(value.lower())
                else:
                    ids.add(value.lower())
                found = True
            if not found:
                return None
        return cls(frozenset(classes), frozenset(ids), tuple(sorted(prefixes)))

    def candidate(self, el: Element) -> bool:
        attrs = el.attrs
        names = attrs.get("class")
        if names and not self.classes.isdisjoint(names.split()):
            return True
        ident = attrs.get("id")
        if ident:
            ident = ident.lower()
            return ident in self.ids or ident.startswith(self.id_prefixes)
        return False

    def present(self, classes: set[str], ids: set[str]) -> bool:
        """Whether a body whose elements carry these classes and (lowercased, non-empty) ids
        has an element that is a candidate()."""
        return (
            not self.classes.isdisjoint(classes)
            or not self.ids.isdisjoint(ids)
            or bool(self.id_prefixes and any(i.startswith(self.id_prefixes) for i in ids))
        )


@dataclass(frozen=True)
class _KeyedSelector:
    """One selector of a package rule's selector list."""

    rule: str
    keys: _SelectorKeys | None  # None: evaluated on every body
    xpath: etree.XPath


@lru_cache(maxsize=1024)
def compile_selector(selector: str) -> etree.XPath:
    """A CSS selector list as one XPath over the whole document (what cssselect, the
    translator behind lxml.cssselect, supports). Raises ValueError saying what is wrong.

    Cached: a rule's selector is compiled to check it, to name removals and to find them."""
    from cssselect import HTMLTranslator, SelectorError

    try:
        return etree.XPath(HTMLTranslator().css_to_xpath(selector))
    except SelectorError as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    except (etree.XPathError, TypeError) as exc:
        raise ValueError(f"cannot be evaluated: {exc}") from exc


# The subject compound of a package selector: an optional tag, then classes, ids and
# [id=], [id^=], [class~=] attribute tests, nothing else (no pseudo-classes, no :not()).
_KEY = re.compile(
    r"([.#])(-?[A-Za-z_][\w-]*)"
    r"|\[\s*(id|class)\s*(\^=|=|~=)\s*([\"']?)([\w-]+)\5\s*\]"
)
_KEYED_COMPOUND = re.compile(rf"(?:[A-Za-z][\w-]*|\*)?(?:{_KEY.pattern})+")
_COMBINATOR = re.compile(r"\s*[>+~]\s*|\s+")


def _split_selector_list(selector: str) -> list[str]:
    """A selector list at its top-level commas (commas inside [...] or quotes stay)."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(selector):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(selector[start:i])
            start = i + 1
    parts.append(selector[start:])
    return parts


@dataclass(frozen=True)
class _BlockIndex:
    """The block rules that apply in one caption mode, for a first-match-in-order search.

    Rules without `needs` whose regex can stand in an alternation (no groups, standard flags)
    are merged into `combined`, one named group per rule, in rule order: its fullmatch finds
    the first of them that fullmatches. `checks` holds the others (with their index in
    `block`), tried one by one only when they come before that first match, so the result is
    exactly that of trying every rule in order.
    """

    block: tuple[Rule, ...]
    combined: re.Pattern[str] | None
    groups: dict[str, int]
    checks: tuple[tuple[int, Rule], ...]
    words: tuple[str, ...] = ()  # every `needs` word of the checks
    all_need: bool = False  # every check has `needs`

    @classmethod
    def of(cls, block: tuple[Rule, ...], caption: bool) -> _BlockIndex:
        merged: list[tuple[int, re.Pattern[str]]] = []
        checks: list[tuple[int, Rule]] = []
        for i, rule in enumerate(block):
            if (rule.keep_in_caption and caption) or rule.pattern is None:
                continue  # never matches in this mode
            pattern = rule.pattern
            if not rule.needs and pattern.groups == 0 and pattern.flags == _BLOCK_FLAGS:
                merged.append((i, pattern))
            else:
                checks.append((i, rule))
        combined: re.Pattern[str] | None = None
        groups: dict[str, int] = {}
        if merged:
            try:
                combined = re.compile(
                    "|".join(f"(?P<r{i}>{p.pattern})" for i, p in merged), re.IGNORECASE
                )
                groups = {f"r{i}": i for i, _ in merged}
            except re.error:  # keep every rule on its own then
                combined = None
                checks = sorted(checks + [(i, block[i]) for i, _ in merged], key=lambda c: c[0])
        words = tuple(dict.fromkeys(w for _, rule in checks for w in rule.needs))
        all_need = all(rule.needs for _, rule in checks)
        return cls(block, combined, groups, tuple(checks), words, all_need)

    def first(self, text: str) -> Rule | None:
        """The first rule in order whose regex fullmatches text (and whose needs it has)."""
        end = len(self.block)
        if self.combined is not None:
            m = self.combined.fullmatch(text)
            if m is not None and m.lastgroup is not None:
                end = self.groups[m.lastgroup]
        checks = self.checks
        if checks and checks[0][0] < end:
            # Cheap pre-check for rules whose regex is costly on long prose: a rule with
            # `needs` is tried only when one of its words is in the text.
            lower = text.lower()
            present = {word for word in self.words if word in lower}
            if present or not self.all_need:
                for i, rule in checks:
                    if i >= end:
                        break
                    if rule.needs and present.isdisjoint(rule.needs):
                        continue
                    if rule.pattern is not None and rule.pattern.fullmatch(text):
                        return rule
        return self.block[end] if end < len(self.block) else None


_BLOCK_FLAGS = re.compile("", re.IGNORECASE).flags


def _any_of(patterns: Iterable[re.Pattern[str] | None]) -> re.Pattern[str] | None:
    """One regex matching where any of these does, when they can be joined as alternatives
    (same flags, no groups to renumber), else None."""
    found = [p for p in patterns if p is not None]
    if not found or any(p.flags != found[0].flags or p.groups for p in found):
        return None
    try:
        return re.compile("|".join(f"(?:{p.pattern})" for p in found), found[0].flags)
    except re.error:
        return None


# ---------------------------------------------------------------------------------------------
# Loading


def load_rules(drop: Sequence[str] = (), drop_selectors: Sequence[str] = ()) -> RuleSet:
    """The package rules plus the user's. Raises ValueError naming a bad regex or selector."""
    return _load_rules(tuple(drop), tuple(drop_selectors))


def check_user_rules(drop: Sequence[str] = (), drop_selectors: Sequence[str] = ()) -> None:
    """What load_rules would raise for the user's rules, without compiling the package's: a
    config can be checked at start-up by a process that never cleans anything itself."""
    _user_rules(tuple(drop), tuple(drop_selectors))


@lru_cache(maxsize=256)
def _load_rules(drop: tuple[str, ...], drop_selectors: tuple[str, ...]) -> RuleSet:
    rules = [*_package_rules(), *_user_rules(drop, drop_selectors)]
    # The same regex twice in a config is harmless; keep the first.
    unique: dict[str, Rule] = {}
    for rule in rules:
        unique.setdefault(rule.name, rule)
    return RuleSet.of(list(unique.values()))


@lru_cache(maxsize=256)
def _user_rules(drop: tuple[str, ...], drop_selectors: tuple[str, ...]) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for pattern in drop:
        if not isinstance(pattern, str) or not pattern.strip():
            raise ValueError(f"drop: empty regex {pattern!r}")
        try:
            re.compile(pattern)
            # Users write search patterns ('^Mehr aus dem Ressort'); blocks are tested with
            # fullmatch, so let the pattern stand anywhere in the block. The whole block goes.
            compiled = re.compile(f"(?s:.*?)(?:{pattern})(?s:.*)", re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"drop: invalid regex {pattern!r}: {exc}") from exc
        rules.append(
            Rule(
                name=f"drop:{short(pattern, 60)}",
                kind="block",
                reason="User rule (config `drop`): a whole block in which this regex is found.",
                origin="config",
                pattern=compiled,
            )
        )
    for selector in drop_selectors:
        if not isinstance(selector, str) or not selector.strip():
            raise ValueError(f"drop_selectors: empty selector {selector!r}")
        try:
            compile_selector(selector)
        except ValueError as exc:
            raise ValueError(f"drop_selectors: invalid selector {selector!r}: {exc}") from exc
        rules.append(
            Rule(
                name=f"drop_selectors:{short(selector, 60)}",
                kind="selector",
                reason="User rule (config `drop_selectors`): elements matching this selector.",
                origin="config",
                selector=selector,
            )
        )
    return tuple(rules)


@lru_cache(maxsize=1)
def _package_rules() -> tuple[Rule, ...]:
    folder = files("syndicator.clean").joinpath("rules")
    rules: list[Rule] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for raw in data.get("rule", []):
            rules.append(parse_rule(raw, entry.name))
    return tuple(rules)


def parse_rule(raw: dict[str, Any], origin: str) -> Rule:
    """One [[rule]] table → Rule; raises ValueError saying which rule and field is wrong."""
    name = raw.get("name")
    kind = raw.get("kind")
    reason = raw.get("reason")
    where = f"{origin}: rule {name!r}"
    if not isinstance(name, str) or not name:
        raise ValueError(f"{origin}: a rule has no name")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if not isinstance(reason, str) or not reason:
        raise ValueError(f"{where}: no reason")
    text = raw.get("pattern")
    pattern: re.Pattern[str] | None = None
    if text is not None:
        if not isinstance(text, str):
            raise ValueError(f"{where}: pattern must be a string")
        if kind == "tail" and not raw.get("link"):
            text = f"(?:{text})\\s*$"
        elif kind == "teaser":
            text = f"(?:{text})\\s*[{_SEPARATOR_CHARS}]*"
        try:
            pattern = re.compile(text, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"{where}: invalid pattern: {exc}") from exc
    elif kind in ("block", "url", "tail", "teaser", "redirect"):
        raise ValueError(f"{where}: needs a pattern")
    selector = raw.get("selector", "")
    if kind == "selector":
        if not isinstance(selector, str) or not selector:
            raise ValueError(f"{where}: needs a selector")
        try:
            compile_selector(selector)
        except ValueError as exc:
            raise ValueError(f"{where}: invalid selector: {exc}") from exc
    target = raw.get("target", "any")
    if target not in _URL_TARGETS:
        raise ValueError(f"{where}: target must be one of {', '.join(_URL_TARGETS)}")
    test = raw.get("test", "")
    if kind == "structural" and test not in STRUCTURAL_TESTS:
        raise ValueError(f"{where}: test must be one of {', '.join(STRUCTURAL_TESTS)}")
    params = tuple(str(p).lower() for p in raw.get("params", ()))
    prefixes = tuple(str(p).lower() for p in raw.get("prefixes", ()))
    if kind == "params" and not (params or prefixes):
        raise ValueError(f"{where}: needs params or prefixes")
    if kind == "params" and raw.get("host") is not None:
        try:
            pattern = re.compile(str(raw["host"]), re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"{where}: invalid host pattern: {exc}") from exc
    numbers = tuple(
        sorted(
            (k, int(v)) for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)
        )
    )
    return Rule(
        name=name,
        kind=kind,
        reason=reason,
        origin=origin,
        pattern=pattern,
        selector=selector if isinstance(selector, str) else "",
        target=target,
        link=bool(raw.get("link", False)),
        keep_in_caption=bool(raw.get("keep_in_caption", False)),
        container=bool(raw.get("container", False)),
        needs=tuple(str(n).lower() for n in raw.get("needs", ())),
        test=str(test),
        params=params,
        prefixes=prefixes,
        numbers=numbers,
    )
