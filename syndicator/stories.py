"""Are two entries one story? Pure decisions on the evidence of their words.

Merging two different stories loses an alert silently, the worst thing a keyword-alert daemon
can do; failing to merge two copies costs one extra alert. So the rule errs towards "different":

- A cheap index finds *candidates* only: a bottom-k sketch of each text's word 3-shingles (two
  texts that share most shingles share some of their smallest shingle hashes) and the article
  link. The store looks them up within a window of publication time, so the lookup does not
  grow with the store.
- The *decision* aligns the candidates' actual words (difflib) and measures how much of the two
  texts is the same sequence. Copies of one story differ by a prefix, a credit line, a word or
  two; stories cast from one template differ in exactly the words that matter — a number, a
  name — so an edit that swaps a number or a name means two stories, however similar the rest.

`compare` is the whole rule; README's "Alerts: once per story" states it in words.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from urllib.parse import urlsplit

MIN_WORDS = 25  # shorter texts share too many words by chance to count as evidence
TEXT_SIMILARITY = 0.80  # share of both texts' words aligned, copies from different sources
SAME_SOURCE_SIMILARITY = 0.90  # within one source only a (nearly) unchanged text counts
TITLE_SIMILARITY = 0.60  # for "same link": the titles must mostly agree as well
MAX_REPLACED = 0.05  # of the shorter text's words: a word changed here and there, no more
NAME_SPELLING = 0.70  # two capitalized words this alike are one name spelt two ways
SKETCH_SIZE = 8  # smallest shingle hashes kept per text
MAX_ALIGNED_WORDS = 5000  # longer texts are compared on their first words

_WORD = re.compile(r"\w+")
# What ends a sentence or opens a line: a capitalized word after one is no evidence of a name.
_SENTENCE_END = frozenset(
    ".!?:;\"'«»()[]|-\n\u201e\u201c\u201d\u201a\u2018\u2019\u2013\u2014\u2022"
)
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class StoryText:
    """What the decision looks at: an entry's source, cleaned title, text and link."""

    source: str
    title: str
    text: str
    link: str


@dataclass(frozen=True)
class Verdict:
    """The decision and its evidence, logged with every merge and kept with the copy."""

    same: bool
    rule: str  # "same text", "same link", "identical entry", or "" when not the same
    score: float  # the similarity measured: aligned share of the texts (or titles)
    why: str  # one line a user can read


class _Words:
    """A text's words, casefolded for alignment; what a word is (a number, a name) is worked
    out only for the few words an alignment finds replaced."""

    def __init__(self, text: str, limit: int) -> None:
        self.text = text
        self.words = _WORD.findall(text, 0)[:limit]
        self.norm = [w.casefold() for w in self.words]
        self._starts: list[int] | None = None

    def number(self, k: int) -> bool:
        return any(ch.isdigit() for ch in self.words[k])

    def name(self, k: int) -> bool:
        """Capitalized inside a sentence, or an acronym."""
        word = self.words[k]
        if len(word) > 1 and word.isupper():
            return True
        if not word[0].isupper():
            return False
        if self._starts is None:
            self._starts = [m.start() for m in _WORD.finditer(self.text)]
        before = self._starts[k] - 1
        while before >= 0 and self.text[before].isspace():
            before -= 1
        return before >= 0 and self.text[before] not in _SENTENCE_END


@lru_cache(maxsize=64)  # a story's standing entry is compared with each copy that comes
def _words(text: str, limit: int = MAX_ALIGNED_WORDS) -> _Words:
    return _Words(text, limit)


def word_count(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text))


# -- candidates ------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 15)  # a language's common words recur in every text: ~6 MB at most
def _word_hashes(word: str) -> tuple[int, int, int]:
    """The word's 64-bit hash, and that hash rotated for the second and third place of a
    shingle: a shingle's hash is then three XORs, with no per-shingle hashing."""
    h = int.from_bytes(
        hashlib.blake2b(word.casefold().encode("utf-8", "surrogatepass"), digest_size=8).digest()
    )
    return h, (h << 21 | h >> 43) & _MASK, (h << 42 | h >> 22) & _MASK


def sketch(text: str) -> tuple[int, ...]:
    """The SKETCH_SIZE smallest hashes of the text's word 3-shingles (signed, for SQLite); empty
    for a text too short to be evidence. Two texts that share most shingles share most of these,
    so an index on them finds a copy without comparing every pair."""
    hashes = list(map(_word_hashes, _WORD.findall(text)))
    if len(hashes) < MIN_WORDS:
        return ()
    first = [h[0] for h in hashes]
    second = [h[1] for h in hashes[1:]]
    third = [h[2] for h in hashes[2:]]
    shingles = {a ^ b ^ c for a, b, c in zip(first, second, third, strict=False)}
    smallest = heapq.nsmallest(SKETCH_SIZE, shingles)
    return tuple(h - (1 << 64) if h >= 1 << 63 else h for h in smallest)


def resemblance(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """The share of shingles two texts have in common, estimated from their sketches (the
    smallest hashes of the union that both hold); cheap, to skip hopeless alignments."""
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    union = heapq.nsmallest(SKETCH_SIZE, sa | sb)
    return sum(1 for h in union if h in sa and h in sb) / len(union)


def link_key(link: str) -> str | None:
    """The link as another copy of the same article would read it (tracking parameters are
    already gone): no scheme, no `www.`, no trailing slash. The fragment stays: posts that are
    anchors on one page (`…/2017/06/21.html#a101117`) are different posts."""
    parts = urlsplit(link.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{host}{path}{query}{fragment}"


# -- the decision ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Alignment:
    similarity: float  # 2 x aligned words / all words
    replaced: int  # words replaced (the longer side of each replacement)
    conflict: str | None  # a number or a name that one text has where the other has another


def _similar_spelling(a: str, b: str) -> bool:
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= NAME_SPELLING


def _conflict(a: _Words, b: _Words, i1: int, i2: int, j1: int, j2: int, names: bool) -> str | None:
    """Why replacing a[i1:i2] by b[j1:j2] changes the facts, or None for an editorial change."""
    edit = f"{' '.join(a.norm[i1:i2])!r} / {' '.join(b.norm[j1:j2])!r}"
    if any(map(a.number, range(i1, i2))) or any(map(b.number, range(j1, j2))):
        return f"a number differs ({edit})"
    if not names:
        return None
    left = [a.norm[k] for k in range(i1, i2) if a.name(k)]
    right = [b.norm[k] for k in range(j1, j2) if b.name(k)]
    for mine, theirs in ((left, b.norm[j1:j2]), (right, a.norm[i1:i2])):
        for word in mine:
            if not any(_similar_spelling(word, other) for other in theirs):
                return f"a name differs ({edit})"
    return None


def _upper_bound(a: _Words, b: _Words) -> float:
    """What the alignment's similarity can be at most: the words the texts have in common,
    counted without order (difflib's quick_ratio)."""
    common = Counter(a.norm) & Counter(b.norm)
    return 2 * sum(common.values()) / (len(a.norm) + len(b.norm))


def _align(a: _Words, b: _Words, names: bool = True) -> _Alignment:
    if not a.norm and not b.norm:
        return _Alignment(1.0, 0, None)
    matcher = SequenceMatcher(None, a.norm, b.norm, autojunk=False)
    aligned = 0
    replaced = 0
    conflict = None
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            aligned += i2 - i1
        elif tag == "replace":
            replaced += max(i2 - i1, j2 - j1)
            conflict = conflict or _conflict(a, b, i1, i2, j1, j2, names)
    return _Alignment(2 * aligned / (len(a.norm) + len(b.norm)), replaced, conflict)


def compare(a: StoryText, b: StoryText) -> Verdict:
    """Whether two entries (already within the window of publication time) are one story.

    One story when, and only when:
    - *same text*: both texts have MIN_WORDS words or more; their word sequences align for
      TEXT_SIMILARITY of their words (SAME_SOURCE_SIMILARITY within one source); the words
      replaced are at most MAX_REPLACED of the shorter text; no replacement swaps a number, or a
      name for a differently spelt one; and the titles swap no number;
    - *same link* (different sources only): the same article link, fragment included, with
      titles that align for TITLE_SIMILARITY and swap no number;
    - *identical entry*: two short texts, identical, under identical titles and the same link
      (a story republished under a new guid).
    """
    same_source = a.source == b.source
    title_a, title_b = _words(a.title, 200), _words(b.title, 200)
    titles = _align(title_a, title_b, names=False)
    if titles.conflict:
        return Verdict(False, "", titles.similarity, f"titles: {titles.conflict}")
    link_a, link_b = link_key(a.link), link_key(b.link)
    same_link = link_a is not None and link_a == link_b
    text_a, text_b = _words(a.text), _words(b.text)
    short = min(len(text_a.norm), len(text_b.norm)) < MIN_WORDS
    needed = SAME_SOURCE_SIMILARITY if same_source else TEXT_SIMILARITY
    if not short and not same_link and _upper_bound(text_a, text_b) < needed:
        return Verdict(False, "", 0.0, f"texts share fewer than {needed:.2f} of their words")
    if not short:
        text = _align(text_a, text_b)
        limit = max(1, int(MAX_REPLACED * min(len(text_a.norm), len(text_b.norm))))
        if text.conflict:
            why = f"text {text.similarity:.2f} aligned, but {text.conflict}"
        elif text.similarity < needed:
            why = f"text {text.similarity:.2f} aligned, below {needed:.2f}"
        elif text.replaced > limit:
            why = f"text {text.similarity:.2f} aligned, but {text.replaced} words replaced"
        else:
            return Verdict(
                True, "same text", text.similarity, f"text {text.similarity:.2f} aligned"
            )
        if same_source or not same_link:
            return Verdict(False, "", text.similarity, why)
    if same_link and not same_source:
        if titles.similarity >= TITLE_SIMILARITY:
            return Verdict(
                True, "same link", titles.similarity, f"same link, titles {titles.similarity:.2f}"
            )
        return Verdict(False, "", titles.similarity, f"same link, titles {titles.similarity:.2f}")
    if short and same_link and text_a.norm == text_b.norm and title_a.norm == title_b.norm:
        return Verdict(True, "identical entry", 1.0, "identical title, text and link")
    return Verdict(False, "", 0.0, "texts too short to compare")


def rank(text: str, source: str, key: str) -> tuple[int, str, str]:
    """Which version of a story represents it: the most complete (longest text); ties go the
    same way whatever order the sources were polled in."""
    return (len(text), source, key)


@dataclass(frozen=True)
class Candidate:
    """A story that a new entry may tell, as its standing entry."""

    id: int
    text: StoryText
    rank: tuple[int, str, str]


@dataclass(frozen=True)
class Join:
    """The new entry tells the story of `head`; `stands`: it is the more complete version, and
    stands for the story from now on."""

    head: int
    verdict: Verdict
    stands: bool


def choose(
    text: StoryText, new_rank: tuple[int, str, str], candidates: Iterable[Candidate]
) -> Join | None:
    """The first candidate story (the likeliest first) that the entry tells, or None: a story of
    its own. Candidates are read lazily, so the first match ends the lookup."""
    for candidate in candidates:
        verdict = compare(text, candidate.text)
        if verdict.same:
            return Join(candidate.id, verdict, new_rank > candidate.rank)
    return None
