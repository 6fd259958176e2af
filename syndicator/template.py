"""A source's own template, learned from what its recent entries repeat.

Named rules catch the junk they name; a publisher's template ("[Anzeige_2]", "Quellenlink",
"Kommentar (0)", "Lue lisää uutisia osoitteesta …") is above all what recurs, in whatever
language. The cleaner hands over, for every entry, the short blocks that survived the rules,
normalised (`block_key`); the store keeps them for a source's recent entries; `learn` decides,
from those counts alone, which blocks are the source's template; the cleaner then removes
them as `source-template (seen in n of m entries)`.

Pure: no store, no I/O. The guards are constants here so that they can be read and tested:
- nothing is learned before MIN_HISTORY entries of a source are known (a few entries that
  share a line are a coincidence, not a template);
- only a short block (MAX_WORDS words, MAX_CHARS characters, one letter at least) is ever a
  candidate: a paragraph of article size is never template, however often it recurs;
- a block is template when it recurs in SHARE of the recent entries (and at least MIN_COUNT);
- the cleaner never empties an entry: when every block left is template, they all stay.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MIN_HISTORY = 8  # entries a source must have before anything is learned from it
WINDOW = 50  # recent entries per source remembered (and learned from)
SHARE = 0.6  # of those entries a block must recur in to be template
MIN_COUNT = 5  # … and in at least this many
MAX_WORDS = 40  # a longer block is article text, never template
MAX_CHARS = 300

RULE = "source-template"

# Dates, times and counters fold to one token: "Kommentar (0)" = "Kommentar (12)",
# "30.11.2026, 18:04" = "1.1.2027, 9:00", "2026-11-30" = "2027-01-01". Other numbers are
# information and stay: "Price: 28.00" and "Price: 25.00", "QEMU 10.1.0 … 2700+ commits" and
# "QEMU 9.2.0 … 1700+ commits" are different blocks (bench/template_eval.py found both).
_NUMBER = re.compile(
    r"\b\d{1,2}[./]\d{1,2}[./](?:\d{4}|\d{2})\b"  # 30.11.2026, 11/30/26
    r"|\b\d{4}-\d{2}-\d{2}\b"  # 2026-11-30
    r"|\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?\b"  # 18:04
    r"|(?:(?<=klo )|\b)(?:[01]?\d|2[0-3])\.[0-5]\d(?=\s*(?:uhr|h)\b|(?<=klo \d\.\d\d)"
    r"|(?<=klo \d\d\.\d\d))"  # 9.00 Uhr, klo 18.04 (a dotted time needs its word)
    r"|(?<=[(\[])\s*\d+(?=\s*[)\]])"  # a counter: (12), [3]
    r"|(?<=[(\[])\s*\d+(?=\s+\w+\s*[)\]])"  # (12 Kommentare), [3 comments]
)
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")


def block_key(text: str) -> str | None:
    """A block's text as the memory compares it (case, digits, dates, counters and spacing
    folded), or None when the block can never be template (too long, or no letter in it)."""
    if len(text) > MAX_CHARS or text.count(" ") >= MAX_WORDS:
        return None  # most of an article's blocks: decided before any folding
    folded = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).casefold()
    if _DIGIT.search(folded):
        folded = _NUMBER.sub("0", folded)
    words = folded.split()
    if not words or len(words) > MAX_WORDS or not _LETTER.search(folded):
        return None
    folded = " ".join(words)
    return folded if len(folded) <= MAX_CHARS else None


@dataclass(frozen=True)
class Learned:
    """One template block: its key, and in how many of how many recent entries it recurred."""

    key: str
    seen: int
    of: int

    @property
    def rule(self) -> str:
        return f"{RULE} (seen in {self.seen} of {self.of} entries)"


@dataclass(frozen=True)
class Template:
    """What was learned for one source: the blocks its cleaner removes (none: nothing)."""

    blocks: tuple[Learned, ...] = ()
    entries: int = 0  # how many recent entries it was learned from

    @functools.cached_property
    def by_key(self) -> Mapping[str, Learned]:
        return {b.key: b for b in self.blocks}

    def __bool__(self) -> bool:
        return bool(self.blocks)


NOTHING = Template()


def learn(history: Iterable[Iterable[str]]) -> Template:
    """The template of a source from the block keys of its recent entries (one iterable per
    entry, the most recent WINDOW counted). Pure: the same history gives the same template."""
    entries = [frozenset(keys) for keys in history][:WINDOW]
    m = len(entries)
    if m < MIN_HISTORY:
        return Template(entries=m)
    counts: Counter[str] = Counter(key for keys in entries for key in keys)
    need = max(MIN_COUNT, math.ceil(SHARE * m))
    found = tuple(
        Learned(key, n, m)
        for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if n >= need and block_key(key) == key  # a key from an older rule version: ignored
    )
    return Template(found, m)


def merge_history(
    stored: Iterable[tuple[str, tuple[str, ...]]], batch: Iterable[tuple[str, tuple[str, ...]]]
) -> list[tuple[str, ...]]:
    """The recent entries' blocks: this poll's entries (newest) first, then the stored ones
    not polled again; each entry (by key) once, at most WINDOW."""
    seen: set[str] = set()
    merged: list[tuple[str, ...]] = []
    for key, blocks in (*batch, *stored):
        if key in seen:
            continue
        seen.add(key)
        merged.append(blocks)
        if len(merged) >= WINDOW:
            break
    return merged
