"""The pipeline's decisions about entries, as pure functions: what is new, and whom to alert.

Deciding from the entry key and a digest of the raw entry *before* cleaning means an unchanged
entry costs a dictionary lookup, not a parse of its HTML.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from syndicator.config import AlertChannel
from syndicator.model import OwedAlert, ParsedEntry, Regrouped, SourceState, TopicHit


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


REGROUPED_ALERT_AGE = 7 * 86400.0


def owed_alerts(
    regrouped: Sequence[Regrouped], channels: Sequence[AlertChannel], now: float
) -> list[OwedAlert]:
    """The alerts owed to the entries that a new story rule set apart from the
    story they were merged into (so they were never alerted), first seen within
    REGROUPED_ALERT_AGE: a lost alert of this week is still news; an older one is only
    published again."""
    owed = []
    for entry, alone, first_seen in regrouped:
        if not alone or now - first_seen > REGROUPED_ALERT_AGE:
            continue
        for channel in channels:
            topics = alert_topics(entry.hits, channel)
            if topics:
                owed.append(OwedAlert(channel.name, entry.id, topics))
    return owed


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
