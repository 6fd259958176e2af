"""`syndicator match`: why a query does or does not match a text.

This is deliberately a second, naive implementation (fold each character, scan every window
for every term, walk the tree): it keeps exact offsets into the original text for the report,
and its plainness makes it the reference the fast `Matcher` is tested against.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from syndicator.errors import QueryError
from syndicator.match.acronyms import HEADS
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
    character came from gives the same words as folding the whole text. ASCII folds to its
    lower case, one character each, so its offsets need no map.
    """
    if text.isascii():
        return [Word(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text.lower())]
    folded: list[str] = []
    origin: list[int] = []
    seen: dict[str, str] = {}
    for i, ch in enumerate(text):
        f = seen.get(ch)
        if f is None:
            f = seen[ch] = fold(ch)
        folded.append(f)
        origin.extend([i] * len(f))
    joined = "".join(folded)
    return [
        Word(m.group(), origin[m.start()], origin[m.end() - 1] + 1)
        for m in WORD_RE.finditer(joined)
    ]


def find_term(term: Term, fields: Mapping[str, list[Word]]) -> list[Occurrence]:
    """Every place `term` occurs: from each word of each field, the words after it are put
    together while they spell the start of the term's letters.

    A run of whole words matches when its letters are the term's letters (a prefix term: when
    they start with them, the last word reaching past its end), and wherever two digits meet
    the text breaks between them exactly where the query does. An acronym also matches one
    word that is the acronym followed by a known noun (`acronyms.HEADS`).
    """
    target = term.letters
    query_breaks: set[int] = set()
    at = 0
    for part in term.words[:-1]:
        at += len(part)
        query_breaks.add(at)
    found: list[Occurrence] = []
    for field in sorted(term.fields):
        ws = fields.get(field, [])
        for i in range(len(ws)):
            spelt = ""
            text_breaks: set[int] = set()
            for j in range(i, len(ws)):
                if spelt:
                    text_breaks.add(len(spelt))
                spelt += ws[j].text
                if term.prefix:
                    done = len(spelt) >= len(target)
                    hit = done and spelt.startswith(target)
                else:
                    done = len(spelt) >= len(target)
                    hit = spelt == target or (
                        term.acronym
                        and j == i
                        and spelt.startswith(target)
                        and spelt[len(target) :] in HEADS
                    )
                if hit and _digits_agree(target, query_breaks, text_breaks):
                    found.append(Occurrence(field, ws[i].start, ws[j].end))
                if done or not target.startswith(spelt):
                    break
    return found


def _digits_agree(letters: str, query_breaks: set[int], text_breaks: set[int]) -> bool:
    """Between two digits the text breaks where the query does: "2:1" is not "21"."""
    return all(
        (k in query_breaks) == (k in text_breaks)
        for k in range(1, len(letters))
        if letters[k - 1].isdigit() and letters[k].isdigit()
    )


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


@functools.lru_cache(maxsize=4096)
def _label_terms(label: str) -> tuple[Term, ...]:
    try:
        return parse_query(label).terms
    except QueryError:  # a label from an older query language: nothing to mark
        return ()


def term_spans(labels: Iterable[str], text: str) -> list[tuple[int, int]]:
    """Where the terms a topic matched occur in `text`, as sorted, non-overlapping spans.

    `labels` are the terms as the hits table keeps them (as written, field prefix dropped);
    each is parsed back and found as the matcher finds it (compounds, phrases, prefixes and
    acronym heads, in any case), in any field: the spans are what the status page marks."""
    words = words_with_spans(text)
    spans: list[tuple[int, int]] = []
    for label in labels:
        for term in _label_terms(label):
            spans += [(o.start, o.end) for o in find_term(term, {"content": words})]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(set(spans)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
