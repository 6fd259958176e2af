"""`syndicator match`: why a query does or does not match a text.

This is deliberately a second, naive implementation (fold each character, scan every window
for every term, walk the tree): it keeps exact offsets into the original text for the report,
and its plainness makes it the reference the fast `Matcher` is tested against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from syndicator.match.query import (
    DEFAULT_FIELDS,
    WORD_RE,
    And,
    Node,
    Not,
    Query,
    Term,
    fold,
    parse_query,
)

_CONTEXT = 30  # characters of context either side of a match
_SHOWN = 3  # occurrences shown per term


@dataclass(frozen=True)
class Word:
    """A folded word and the span of the original text it came from."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Occurrence:
    field: str
    start: int
    end: int


def words_with_spans(text: str) -> list[Word]:
    """Words as `words()` finds them, mapped back to offsets in `text`.

    Folding is per character, so folding each character and remembering where every folded
    character came from gives the same words as folding the whole text.
    """
    folded: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        f = fold(ch)
        folded.append(f)
        origin.extend([i] * len(f))
    joined = "".join(folded)
    return [
        Word(m.group(), origin[m.start()], origin[m.end() - 1] + 1)
        for m in WORD_RE.finditer(joined)
    ]


def find_term(term: Term, fields: Mapping[str, list[Word]]) -> list[Occurrence]:
    """Every place `term` occurs, scanning each window of each of its fields."""
    found: list[Occurrence] = []
    n = len(term.words)
    for field in sorted(term.fields):
        ws = fields.get(field, [])
        for i in range(len(ws) - n + 1):
            window = ws[i : i + n]
            if all(w.text == t for w, t in zip(window[:-1], term.words[:-1], strict=True)):
                last, want = window[-1].text, term.words[-1]
                if last == want or (term.prefix and last.startswith(want)):
                    found.append(Occurrence(field, window[0].start, window[-1].end))
    return found


def _truth(node: Node, present: Mapping[Term, bool]) -> bool:
    if isinstance(node, Term):
        return present[node]
    if isinstance(node, Not):
        return not _truth(node.operand, present)
    results = [_truth(op, present) for op in node.operands]
    return all(results) if isinstance(node, And) else any(results)


def _fields(title: str, text: str, source: str) -> dict[str, list[Word]]:
    return {
        "title": words_with_spans(title),
        "content": words_with_spans(text),
        "source": words_with_spans(source),
    }


def evaluate(query: Query, title: str, text: str, source: str = "") -> bool:
    """Reference semantics: does `query` match this entry?"""
    fields = _fields(title, text, source)
    present = {t: bool(find_term(t, fields)) for t in query.terms}
    return _truth(query.root, present)


def _negated(query: Query) -> set[int]:
    """Positions of terms under an odd number of NOTs."""
    out: set[int] = set()

    def walk(node: Node, neg: bool) -> None:
        if isinstance(node, Term):
            if neg:
                out.add(node.position)
        elif isinstance(node, Not):
            walk(node.operand, not neg)
        else:
            for op in node.operands:
                walk(op, neg)

    walk(query.root, False)
    return out


def _snippet(text: str, start: int, end: int) -> str:
    lo, hi = max(0, start - _CONTEXT), min(len(text), end + _CONTEXT)
    before = re.sub(r"\s+", " ", text[lo:start])
    after = re.sub(r"\s+", " ", text[end:hi])
    word = re.sub(r"\s+", " ", text[start:end])
    return f"{'…' if lo else ''}{before}[{word}]{after}{'…' if hi < len(text) else ''}"


def explain_match(query: str, text: str, title: str = "", source: str = "") -> str:
    """A report for humans: the verdict, then each term, whether and where it was found."""
    parsed = parse_query(query)
    raw = {"title": title, "content": text, "source": source}
    fields = _fields(title, text, source)
    found = {t: find_term(t, fields) for t in parsed.terms}
    verdict = _truth(parsed.root, {t: bool(o) for t, o in found.items()})
    negated = _negated(parsed)
    lines = [f"{'MATCH' if verdict else 'NO MATCH'}: {query}"]
    for term, occurrences in found.items():
        where = "" if term.fields == DEFAULT_FIELDS else "|".join(sorted(term.fields)) + ":"
        name = f"{where}{term.label}" + (" (under NOT)" if term.position in negated else "")
        if not occurrences:
            lines.append(f"  - {name}: not found")
            continue
        counts: dict[str, int] = {}
        forms: dict[str, None] = {}
        for occ in occurrences:
            counts[occ.field] = counts.get(occ.field, 0) + 1
            forms[re.sub(r"\s+", " ", raw[occ.field][occ.start : occ.end])] = None
        per_field = ", ".join(f"{n} in {f}" for f, n in counts.items())
        lines.append(f"  + {name}: matched {per_field}; words: {', '.join(forms)}")
        for occ in occurrences[:_SHOWN]:
            lines.append(f"      {occ.field}: {_snippet(raw[occ.field], occ.start, occ.end)}")
        if len(occurrences) > _SHOWN:
            lines.append(f"      … and {len(occurrences) - _SHOWN} more")
    return "\n".join(lines)
