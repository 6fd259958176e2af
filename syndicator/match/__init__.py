"""Topic matching: which topics an entry is about, and which words made it so.

Built for hundreds of topics over every polled entry, and for queries written by people:

* Word- and compound-aware, not substring: the text is folded (case, accents, ß→ss, NFKD) and
  split into words at every non-letter, so `NATO` finds "NATO-Gipfel" and "NATO's" but never
  "Anatolien" or "Senator", and a hyphenated or quoted query is a phrase of adjacent words.
  Apostrophes separate words like hyphens do ("l'OTAN" holds the word "otan").
* One pass for all topics (`compile_topics`): each entry is folded and tokenized once, and set
  and dict lookups replace per-topic scans, so 1000 topics cost little more than 10.
* A second, naive evaluator (`explain`) reports offsets for the CLI and is the reference the
  fast path is tested against.

Query language: words, "quoted phrases", trailing-wildcard `word*`, `AND`/`OR`/`NOT`
(uppercase only; NOT binds tightest, then AND, then OR), adjacency means AND, parentheses,
`-word` for NOT word, and `title:`/`content:`/`source:` before a word, phrase or group (default:
title and content). Any `letters:` prefix is a field, so an unknown one is an error; quote it
(`"foo:bar"`) to search for the words.
"""

from syndicator.match.compile import Matcher, compile_topics
from syndicator.match.explain import explain_match
from syndicator.match.query import Query, fold, parse_query, words

__all__ = [
    "Matcher",
    "Query",
    "compile_topics",
    "explain_match",
    "fold",
    "parse_query",
    "words",
]
