"""All topics compiled into one matcher that reads each entry once.

The naive way (one regex per topic) costs (topics x text length). Here the text is folded and
split into words once; a set intersection finds the words that spell a whole term (`Indopazifik`,
`"Indo-Pacific"` as "indopacific", `NATO` and its acronym compounds), one trie-shaped regex over
the entry's distinct words finds every wildcard prefix, and a term spelt over several words of
the text ("Indo-Pazifik-Strategie", "cyber attack") is looked for only from the positions of words
that begin some term's letters. Only topics with a present positive term (plus those true on an
empty text, such as `NOT sport`) are then evaluated, so the cost per entry grows with the number
of *relevant* topics, not with the number configured.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from typing import TypeAlias

from syndicator.errors import QueryError
from syndicator.match.acronyms import HEADS
from syndicator.match.query import FIELDS, And, Node, Not, Or, Term, fold, parse_query, split_folded
from syndicator.model import Topic, TopicHit

Present = Set[int]
Predicate = Callable[[Present], bool]

# An atom is what can be looked up in one field's words: a term's letters, the offsets where the
# query breaks between two digits, whether it is a prefix (`word*`), whether it is an acronym.
# `Indo-Pacific` and `Indopacific` are one atom: where the query breaks between letters does not
# matter.
Atom = tuple[str, frozenset[int], bool, bool]
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
            atom = (term.letters, _digit_breaks(term.words), term.prefix, term.acronym)
            aid = atoms.setdefault(atom, len(atoms))
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

        # One word of the text spells a term (no break in it, so no query break between digits).
        exact: dict[str, list[int]] = {}
        prefix_atoms: dict[str, int] = {}
        # Several words of the text spell a term: the first is one of `starts` (a proper prefix
        # of some term's letters, with the letters that may come next); while the words so far
        # spell one of `stems`, the next is added; `ends` are the exact terms so spelt, `rests`
        # what a prefix term still needs.
        starts: dict[str, set[str]] = {}
        stems: set[str] = set()
        ends: dict[str, list[int]] = {}
        rests: dict[str, list[tuple[str, int]]] = {}
        digits: dict[int, tuple[frozenset[int], frozenset[int]]] = {}
        for (letters, breaks, prefix, acronym), aid in atoms.items():
            joins = _digit_joins(letters)
            if joins:
                digits[aid] = (breaks, joins)
            if not breaks:
                if prefix:
                    prefix_atoms[letters] = aid
                else:
                    exact.setdefault(letters, []).append(aid)
            if acronym:
                for noun in HEADS:
                    exact.setdefault(letters + noun, []).append(aid)
            for k in range(1, len(letters)):
                head = letters[:k]
                next_letters = starts.get(head)
                if next_letters is None:
                    starts[head] = next_letters = set()
                next_letters.add(letters[k])
                if prefix:
                    rests.setdefault(head, []).append((letters[k:], aid))
            stems.add(letters)
            if not prefix:
                ends.setdefault(letters, []).append(aid)
        stems.update(starts)
        # Most words spell one term; the few that spell several (`NATO` and `nato`, an acronym's
        # compound and a term of its own) are looked up apart, so the common path stays a set.
        self._exact = {w: ids[0] for w, ids in exact.items() if len(ids) == 1}
        self._exact_many = {w: tuple(ids) for w, ids in exact.items() if len(ids) > 1}
        self._exact_keys = frozenset(self._exact)
        self._exact_many_keys = frozenset(self._exact_many)
        self._starts = {start: frozenset(letters) for start, letters in starts.items()}
        self._start_keys = frozenset(starts)
        self._stems = frozenset(stems)
        self._ends = {w: tuple(ids) for w, ids in ends.items()}
        # what a prefix term still needs after the words so far, by the rest's first letter: a
        # word such as "a" begins hundreds of terms, and only those going on as the next word
        # does are worth comparing
        self._rests: dict[str, dict[str, tuple[tuple[str, ...], tuple[int, ...]]]] = {}
        for spelt, pairs in rests.items():
            by_letter: dict[str, list[tuple[str, int]]] = {}
            for rest, aid in pairs:
                by_letter.setdefault(rest[0], []).append((rest, aid))
            self._rests[spelt] = {
                c: (tuple(rest for rest, _ in r), tuple(aid for _, aid in r))
                for c, r in by_letter.items()
            }
        self._digits = digits
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
        if self._exact_many:
            for w in self._exact_many_keys.intersection(unique):
                found.update(self._exact_many[w])
        if self._prefix_re is not None:
            closure = self._prefix_closure
            for m in self._prefix_re.finditer("\n".join(unique)):
                found.update(closure[m.group()])
        starts = self._start_keys.intersection(unique)
        if starts:
            self._spelt_over_words(tokens, starts, found)
        return found

    def _spelt_over_words(self, tokens: list[str], starts: Set[str], found: set[int]) -> None:
        """Terms whose letters run over two or more adjacent words ("Indo-Pazifik-Strategie").

        `starts` are the entry's words that begin some term. Most ("a", "in", "die") are
        followed by a word that cannot go on with it, which its first letter tells; the few
        others are followed further in `_spell_on`.
        """
        following_letters, stems, rests = self._starts, self._stems, self._rests
        # the positions of those words, found without a Python step per word of the text
        for i in itertools.compress(range(len(tokens) - 1), map(starts.__contains__, tokens)):
            word, following = tokens[i], tokens[i + 1]
            if following[0] not in following_letters[word]:
                continue
            by_letter = rests.get(word)
            if by_letter is not None:
                wanted = by_letter.get(following[0])
                if wanted is not None and following.startswith(wanted[0]):
                    self._spell_on(tokens, i, found)
                    continue
            if word + following in stems:
                self._spell_on(tokens, i, found)

    def _spell_on(self, tokens: list[str], i: int, found: set[int]) -> None:
        """Add the words after tokens[i] while they go on spelling some term; record the terms
        spelt on the way."""
        stems, ends, rests = self._stems, self._ends, self._rests
        spelt = tokens[i]
        for j in range(i + 1, len(tokens)):
            following = tokens[j]
            by_letter = rests.get(spelt)
            wanted = by_letter.get(following[0]) if by_letter is not None else None
            if wanted is not None:
                for rest, aid in zip(*wanted, strict=True):
                    if following.startswith(rest) and self._digits_agree(aid, tokens, i, j):
                        found.add(aid)
            spelt += following
            if spelt not in stems:
                return
            for aid in ends.get(spelt, ()):
                if self._digits_agree(aid, tokens, i, j):
                    found.add(aid)

    def _digits_agree(self, aid: int, tokens: list[str], i: int, j: int) -> bool:
        """Where two digits meet, words i..j break exactly where the query does."""
        rule = self._digits.get(aid)
        if rule is None:
            return True
        breaks, joins = rule
        text: set[int] = set()
        at = 0
        for word in tokens[i:j]:
            at += len(word)
            text.add(at)
        return all((k in breaks) == (k in text) for k in joins)

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


def _digit_breaks(words: tuple[str, ...]) -> frozenset[int]:
    """Offsets in the joined words where two of them meet between two digits ("2:1": {1})."""
    out: set[int] = set()
    at = 0
    for left, right in itertools.pairwise(words):
        at += len(left)
        if left[-1].isdigit() and right[0].isdigit():
            out.add(at)
    return frozenset(out)


def _digit_joins(letters: str) -> frozenset[int]:
    """Offsets between two digits: the only places where the text must break as the query."""
    return frozenset(
        k for k in range(1, len(letters)) if letters[k - 1].isdigit() and letters[k].isdigit()
    )


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
