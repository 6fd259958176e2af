"""The pipeline's decisions about entries, as pure functions: what is new, and whom to alert.

Deciding from the entry key and a digest of the raw entry *before* cleaning means an unchanged
entry costs a dictionary lookup, not a parse of its HTML.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from syndicator.config import AlertChannel
from syndicator.model import ParsedEntry, TopicHit


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
