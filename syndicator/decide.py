"""The pipeline's decisions about entries, as pure functions: what is new, and whom to alert.

Deciding from the entry key and a digest of the raw entry *before* cleaning means an unchanged
entry costs a dictionary lookup, not a parse of its HTML.
"""

from __future__ import annotations

import hashlib
import html
import re
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


# -- full text for teasers -----------------------------------------------------------------

TEASER_WORDS = 80  # a cleaned body shorter than this is a teaser, not an article
# A body that ends by pointing to the page: an ellipsis, "[…]", or a read-more link's words.
_TEASER_END = re.compile(
    r"(?:…|\.\.\.|\[\s*(?:…|\.\.\.)\s*\]|"
    r"read more|continue reading|more\s*»|weiterlesen|mehr lesen|zum artikel|lire la suite|"
    r"leer más|seguir leyendo|continua a leggere|leggi tutto|lees verder|czytaj dalej|"
    r"читать далее|jatka lukemista|lue lisää|läs mer|les mer|læs mere)"
    r"[\s\W]*$",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"<[^>]*>")


def needs_fulltext(mode: str, raw_html: str, clean_text: str, link: str) -> bool:
    """Whether an entry's article page should be fetched: never with "off", always with "on",
    and with "auto" when its body is only a teaser: under TEASER_WORDS words once cleaned,
    or ending with an ellipsis or a "read more" (which the cleaner may have removed, hence
    the raw body's end is looked at too). Only an http(s) link has a page to fetch."""
    if mode == "off" or not link.lower().startswith(("http://", "https://")):
        return False
    if mode == "on":
        return True
    if len(clean_text.split()) < TEASER_WORDS:
        return True
    tail = html.unescape(_MARKUP.sub(" ", raw_html[-2000:]))
    return bool(_TEASER_END.search(tail) or _TEASER_END.search(clean_text[-200:]))
