"""All topics compiled into one matcher that reads each entry once.

The naive way (one regex per topic) costs (topics x text length). Here the text is folded and
split into words once; a set intersection finds the exact words any topic mentions, one
trie-shaped regex over the entry's distinct words finds every wildcard prefix, and phrases are
checked only when their first word is present. Only topics with a present positive term (plus
those true on an empty text, such as `NOT sport`) are then evaluated, so the cost per entry grows
with the number of *relevant* topics, not with the number configured.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from typing import TypeAlias

from syndicator.errors import QueryError
from syndicator.match.query import FIELDS, And, Node, Not, Or, Term, fold, parse_query, split_folded
from syndicator.model import Topic, TopicHit

Present = Set[int]
Predicate = Callable[[Present], bool]

# An atom is what can be looked up in one field's words: (words, is_prefix).
Atom = tuple[tuple[str, ...], bool]
_Trie: TypeAlias = "dict[str, _Trie]"  # "" marks the end of a prefix


def _trie_regex(prefixes: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching, at a line start, the longest of `prefixes` that the line starts with.

    Python's `re` tries alternatives one by one; sharing common prefixes in a trie keeps each
    attempt to one character test per level however many wildcards the topics use.
    """
    trie: _Trie = {}
    for p in prefixes:
        node = trie
        for ch in p:
            node = node.setdefault(ch, {})
        node[""] = {}
    if not trie:
        return None

    def render(node: _Trie) -> str:
        alts = []
        for ch, child in node.items():
            if ch:
                run = [ch]  # follow unbranched runs in a loop: recursion only at branch points
                while len(child) == 1 and "" not in child:
                    ((nxt, child),) = child.items()
                    run.append(nxt)
                alts.append(re.escape("".join(run)) + render(child))
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if "" in node:
            return f"(?:{body})?" if len(alts) == 1 else body + "?"
        return body

    return re.compile("^" + render(trie), re.MULTILINE)


@dataclass(frozen=True)
class _Compiled:
    name: str
    predicate: Predicate
    # Labels of positive terms in query order, each with every term id written that way
    # (`title:NATO OR NATO` shows "NATO" once, whichever of the two matched).
    labels: tuple[tuple[str, frozenset[int]], ...]


class Matcher:
    """Matches an entry against every topic at once; build it with `compile_topics`."""

    def __init__(self, topics: Sequence[tuple[str, Node]]) -> None:
        atoms: dict[Atom, int] = {}
        term_ids: dict[tuple[int, frozenset[str]], int] = {}
        # per field: atom id -> term ids whose field set includes that field
        by_field: dict[str, dict[int, list[int]]] = {f: {} for f in FIELDS}
        compiled: list[_Compiled] = []
        triggers: dict[int, list[int]] = {}  # term id -> topics where it occurs positively
        always: list[int] = []

        def term_id(term: Term) -> int:
            aid = atoms.setdefault((term.words, term.prefix), len(atoms))
            key = (aid, term.fields)
            if key not in term_ids:
                term_ids[key] = tid = len(term_ids)
                for f in term.fields:
                    by_field[f].setdefault(aid, []).append(tid)
            return term_ids[key]

        for index, (name, root) in enumerate(topics):
            positives: list[tuple[int, str]] = []
            predicate = _predicate(root, term_id, positives, negated=False)
            by_label: dict[str, set[int]] = {}
            for tid, label in positives:
                triggers.setdefault(tid, []).append(index)
                by_label.setdefault(label, set()).add(tid)
            labels = tuple((label, frozenset(tids)) for label, tids in by_label.items())
            compiled.append(_Compiled(name, predicate, labels))
            # With no positive term present a query can only be as true as on an empty text
            # (terms under NOT only ever make it falser), so the rest can be skipped safely.
            if predicate(frozenset()):
                always.append(index)

        self._topics = tuple(compiled)
        self._always = frozenset(always)
        self._triggers = {tid: frozenset(ix) for tid, ix in triggers.items()}
        self._by_field = {f: {a: tuple(t) for a, t in m.items()} for f, m in by_field.items()}

        self._exact: dict[str, int] = {}
        self._phrases: dict[str, list[tuple[int, tuple[str, ...], bool]]] = {}
        prefix_atoms: dict[str, int] = {}
        for (ws, prefix), aid in atoms.items():
            if len(ws) > 1:
                self._phrases.setdefault(ws[0], []).append((aid, ws, prefix))
            elif prefix:
                prefix_atoms[ws[0]] = aid
            else:
                self._exact[ws[0]] = aid
        self._exact_keys = frozenset(self._exact)
        self._phrase_keys = frozenset(self._phrases)
        # Every wildcard that is a prefix of a longer one also matches what the longer matches;
        # precomputing that closure lets the regex report only the longest.
        self._prefix_closure = {
            p: tuple(prefix_atoms[p[:k]] for k in range(1, len(p) + 1) if p[:k] in prefix_atoms)
            for p in prefix_atoms
        }
        self._prefix_re = _trie_regex(prefix_atoms)

    def __len__(self) -> int:
        return len(self._topics)

    def _atoms_in(self, text: str) -> set[int]:
        tokens = split_folded(fold(text))
        unique = set(tokens)
        exact = self._exact
        found = {exact[w] for w in self._exact_keys.intersection(unique)}
        if self._prefix_re is not None:
            closure = self._prefix_closure
            for m in self._prefix_re.finditer("\n".join(unique)):
                found.update(closure[m.group()])
        # Phrases: only those whose every word occurs somewhere need their positions checked.
        candidates = [
            (aid, ws, prefix)
            for first in self._phrase_keys.intersection(unique)
            for aid, ws, prefix in self._phrases[first]
            if unique.issuperset(ws[1:-1] if prefix else ws[1:])
        ]
        if candidates:
            starts: dict[str, list[int]] = {ws[0]: [] for _, ws, _ in candidates}
            for i, w in enumerate(tokens):
                if w in starts:
                    starts[w].append(i)
            for aid, ws, prefix in candidates:
                if aid not in found and _phrase_at(tokens, starts[ws[0]], ws, prefix):
                    found.add(aid)
        return found

    def _present_terms(self, title: str, text: str, source: str = "") -> set[int]:
        present: set[int] = set()
        for field, value in (("title", title), ("content", text), ("source", source)):
            if value:
                table = self._by_field[field]
                for aid in self._atoms_in(value):
                    present.update(table.get(aid, ()))
        return present

    def match(self, title: str, text: str, source: str = "") -> tuple[TopicHit, ...]:
        """Topics (in config order) that the entry matches, each with its matching terms."""
        present = self._present_terms(title, text, source)
        candidates = set(self._always)
        triggers = self._triggers
        for tid in present:
            hit = triggers.get(tid)
            if hit is not None:
                candidates |= hit
        hits: list[TopicHit] = []
        for index in sorted(candidates):
            topic = self._topics[index]
            if topic.predicate(present):
                terms = tuple(lb for lb, ids in topic.labels if not ids.isdisjoint(present))
                hits.append(TopicHit(topic.name, terms))
        return tuple(hits)


def _phrase_at(tokens: list[str], starts: list[int], ws: tuple[str, ...], prefix: bool) -> bool:
    n = len(ws)
    head, last = list(ws[:-1]), ws[-1]
    for i in starts:
        if tokens[i : i + n - 1] == head and i + n <= len(tokens):
            tail = tokens[i + n - 1]
            if tail == last or (prefix and tail.startswith(last)):
                return True
    return False


def _predicate(
    node: Node,
    term_id: Callable[[Term], int],
    positives: list[tuple[int, str]],
    negated: bool,
) -> Predicate:
    """Closures rather than an AST walk per entry: no isinstance dispatch on the hot path."""
    if isinstance(node, Term):
        tid = term_id(node)
        if not negated:
            positives.append((tid, node.label))
        return lambda present: tid in present
    if isinstance(node, Not):
        inner = _predicate(node.operand, term_id, positives, not negated)
        return lambda present: not inner(present)
    parts = [_predicate(op, term_id, positives, negated) for op in node.operands]
    if all(isinstance(op, Term) for op in node.operands):
        ids = frozenset(term_id(op) for op in node.operands if isinstance(op, Term))
        if isinstance(node, And):
            return ids.issubset
        return lambda present: not ids.isdisjoint(present)
    if isinstance(node, And):
        return lambda present: all(p(present) for p in parts)
    assert isinstance(node, Or)
    return lambda present: any(p(present) for p in parts)


def compile_topics(topics: Sequence[Topic]) -> Matcher:
    """Parse and compile every topic; a QueryError names the topic that failed."""
    parsed: list[tuple[str, Node]] = []
    for topic in topics:
        try:
            parsed.append((topic.name, parse_query(topic.query).root))
        except QueryError as exc:
            # QueryError appends " at position N" itself; take it off to put the name in front.
            message = str(exc)
            if exc.position is not None:
                message = message.removesuffix(f" at position {exc.position}")
            raise QueryError(f"topic '{topic.name}': {message}", exc.query, exc.position) from exc
    return Matcher(parsed)
