"""The pipeline's decisions about entries, as pure functions: what is new, and whom to alert.

Deciding from the entry key and a digest of the raw entry *before* cleaning means an unchanged
entry costs a dictionary lookup, not a parse of its HTML.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from syndicator.config import AlertChannel
from syndicator.model import ParsedEntry, SourceState, TopicHit


def digest(entry: ParsedEntry) -> str:
    """Changes when anything a reader would see changes; dates alone do not count."""
    h = hashlib.blake2b(digest_size=16)
    for part in (entry.title, entry.link, entry.html, entry.author):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def new_or_changed(
    entries: Sequence[ParsedEntry], known: Mapping[str, str]
) -> list[tuple[ParsedEntry, str, bool]]:
    """(entry, digest, is_new) for each entry that is new or whose content changed."""
    result = []
    for entry in entries:
        d = digest(entry)
        old = known.get(entry.key)
        if old != d:
            result.append((entry, d, old is None))
    return result


def alert_topics(hits: Sequence[TopicHit], channel: AlertChannel) -> tuple[str, ...]:
    """The matched topics this channel wants to hear about (all, unless it lists some)."""
    wanted = channel.topics
    return tuple(h.topic for h in hits if wanted is None or h.topic in wanted)


# -- one story from several sources ---------------------------------------------------------

SIMHASH_MIN_WORDS = 40  # shorter texts share too many words by chance to be compared
SIMHASH_MAX_DISTANCE = 3  # of 64 bits: near-identical text (a changed word or two)
_WORD = re.compile(r"\w+")


def story_link(link: str) -> str | None:
    """The link as the same story's link from another source would read (tracking parameters
    are already gone): no scheme, no `www.`, no fragment, no trailing slash."""
    parts = urlsplit(link.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


# Bit-sliced counting: each word's 64 hash bits are spread into 64 lanes of one big integer,
# so adding a word's weight to all 64 counters is one big-integer addition, not 64 steps.
_LANE = 24  # bits per counter; texts are far below 2**23 words
_LANE_MASK = (1 << _LANE) - 1
_SPREAD = [sum(1 << (_LANE * i) for i in range(8) if value >> i & 1) for value in range(256)]
# _SPREAD shifted into place for each byte of the (big-endian) 8-byte word hash.
_BYTE_LANES = tuple(
    tuple(_SPREAD[b] << (_LANE * 8 * (7 - index)) for b in range(256)) for index in range(8)
)


@lru_cache(maxsize=1 << 15)  # a language's common words recur in every text: ~8 MB at most
def _word_lanes(word: str) -> int:
    """The word's 64 hash bits, one per lane."""
    d = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    b0, b1, b2, b3, b4, b5, b6, b7 = _BYTE_LANES
    return b0[d[0]] | b1[d[1]] | b2[d[2]] | b3[d[3]] | b4[d[4]] | b5[d[5]] | b6[d[6]] | b7[d[7]]


def simhash(text: str) -> int | None:
    """A 64-bit fingerprint that changes by a few bits when a word or two of the text change
    (word counts, order ignored); None for texts too short to compare."""
    words = _WORD.findall(text.casefold())
    if len(words) < SIMHASH_MIN_WORDS:
        return None
    lanes = 0
    for word, count in Counter(words).items():
        lanes += count * _word_lanes(word)
    total = len(words)
    value = 0
    for bit in range(64):
        if (lanes >> (_LANE * bit) & _LANE_MASK) * 2 > total:  # set in more than half
            value |= 1 << bit
    return value - (1 << 64) if value >= 1 << 63 else value  # fits SQLite's signed INTEGER


def simhash_bands(value: int) -> tuple[int, int, int, int]:
    """Four 16-bit bands: two fingerprints within 3 bits share at least one band exactly, so
    candidates are found with an index lookup instead of a scan."""
    u = value & (1 << 64) - 1
    return (u & 0xFFFF, u >> 16 & 0xFFFF, u >> 32 & 0xFFFF, u >> 48 & 0xFFFF)


def near_identical(a: int, b: int) -> bool:
    return ((a ^ b) & (1 << 64) - 1).bit_count() <= SIMHASH_MAX_DISTANCE


def story_rank(text: str, source: str, key: str) -> tuple[int, str, str]:
    """Which version of a story represents it: the most complete (longest text); ties go the
    same way whatever order the sources were polled in."""
    return (len(text), source, key)


# -- source health ---------------------------------------------------------------------------

GONE = (403, 410)


def health_change(old: SourceState, new: SourceState, threshold: int) -> str | None:
    """ "unhealthy" when a source crosses the failure threshold (or answers 403/410), "recovered"
    when one that was reported works again, else None — so each is reported once."""
    failing = new.failures >= threshold or (new.failures > 0 and new.last_status in GONE)
    if failing and not old.unhealthy:
        return "unhealthy"
    if new.failures == 0 and old.unhealthy:
        return "recovered"
    return None
