"""The values that travel between pipeline stages.

Every stage takes and returns these frozen dataclasses, so no stage needs to import another and
each one can be tested with plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple


@dataclass(frozen=True)
class Validators:
    """What the server gave us to make the next request conditional."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    """A completed HTTP exchange: 200 with a body, or 304 with none."""

    url: str
    status: int
    body: bytes
    headers: dict[str, str]
    validators: Validators

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class ParsedEntry:
    """One feed item as the publisher wrote it, before any cleaning.

    `key` is stable across polls: the guid, or a hash of link and title when there is none.
    `html` is the richest body the feed offers (content, else summary), unsanitized.
    """

    key: str
    title: str
    link: str
    html: str
    author: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    orig_link: str = ""  # FeedBurner's feedburner:origLink: the real article behind `link`
    # What relative URLs in `html` are relative to (xml:base, else the feed's own URL); the
    # cleaner resolves them, so feedparser does not have to reserialize every body to do so.
    base: str = ""


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str
    entries: tuple[ParsedEntry, ...]
    warning: str | None = None  # feedparser's bozo reason when it still yielded entries


@dataclass(frozen=True)
class Removal:
    """One piece the cleaner took out, and the rule that took it, for `clean --explain`."""

    rule: str
    text: str


@dataclass(frozen=True)
class CleanEntry:
    """An entry fit to publish: safe HTML, its plain text, and what was removed."""

    title: str
    link: str
    html: str
    text: str
    removals: tuple[Removal, ...] = ()
    # The short blocks the rules left, normalised (template.block_key): what the source's
    # template memory counts. Taken before the template itself removed any.
    blocks: tuple[str, ...] = ()


@dataclass(frozen=True)
class TopicHit:
    """A topic an entry matched, with the terms that made it match (shown to the reader)."""

    topic: str
    terms: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Topic:
    """A named query; the match stage compiles all topics together."""

    name: str
    query: str


@dataclass(frozen=True)
class SourceState:
    """What the store remembers about a source between polls (and across restarts)."""

    name: str
    validators: Validators = Validators()
    last_status: int | None = None
    last_error: str | None = None
    last_attempt: float | None = None
    last_success: float | None = None
    next_poll: float = 0.0
    failures: int = 0
    entries: int = 0
    unhealthy: bool = False  # reported once when it turned unhealthy; cleared on success


@dataclass(frozen=True)
class NewEntry:
    """A parsed entry the store has not seen in this form, cleaned and matched, ready to save."""

    source: str
    parsed: ParsedEntry
    digest: str
    clean: CleanEntry
    hits: tuple[TopicHit, ...]
    sketch: tuple[int, ...] = ()  # stories.sketch of the clean text: candidates for its story


@dataclass(frozen=True)
class StoredEntry:
    """An entry as publishing and alerting read it back."""

    id: int
    uid: str  # a stable IRI (urn:uuid:…) for the Atom entry id
    source: str
    title: str
    link: str
    html: str
    text: str
    author: str
    published: datetime | None
    updated: datetime
    hits: tuple[TopicHit, ...]


@dataclass(frozen=True)
class Copy:
    """Another entry that tells a published entry's story, and the evidence that it does."""

    source: str
    title: str
    link: str
    why: str  # the rule and the similarity measured, e.g. "same text: text 0.97 aligned"


@dataclass(frozen=True)
class Story:
    """A published entry and the copies it stands for (`syndicator copies`)."""

    entry: StoredEntry
    copies: tuple[Copy, ...]


@dataclass(frozen=True)
class PendingAlert:
    """One outbox row: tell `channel` about `entry` for these topics."""

    id: int
    channel: str
    entry: StoredEntry
    topics: tuple[str, ...]
    attempts: int = 0
    created: float = 0.0


@dataclass(frozen=True)
class Notice:
    """An outbox row about Syndicator itself, e.g. a source that became unhealthy."""

    id: int
    channel: str
    subject: str
    body: str
    attempts: int = 0


@dataclass(frozen=True)
class FullTextPage:
    """An article page fetched for a teaser entry (or the reason it could not be): the store
    remembers one per link, so a page is fetched once, and a failing one is not retried."""

    link: str
    source: str
    ok: bool
    html: str = ""  # the main text, extracted (trafilatura's HTML)
    reason: str = ""  # why not, when not ok (shown: redacted)


# -- what crosses the store's API besides entries ---------------------------------------------
# Tuple-shaped records: named for readers, and still unpacked like the tuples they replace.


class NewAlert(NamedTuple):
    """An alert to queue with a poll: `entry` is the index of the entry in that poll."""

    channel: str
    entry: int
    topics: tuple[str, ...]


class NewNotice(NamedTuple):
    """A notice to queue, about Syndicator itself (a source failing or recovering)."""

    channel: str
    subject: str
    body: str


class SourceUpdate(NamedTuple):
    """A source's new state and the notices it causes, saved together."""

    state: SourceState
    notices: tuple[NewNotice, ...] = ()


class RawEntry(NamedTuple):
    """A stored entry as it was fetched, for cleaning it again."""

    id: int
    source: str
    parsed: ParsedEntry


class Recleaned(NamedTuple):
    """A stored entry cleaned and matched again."""

    id: int
    clean: CleanEntry
    hits: tuple[TopicHit, ...]


class Regrouped(NamedTuple):
    """An entry whose story changed when every story was decided again: `alone` when it was
    hidden as a copy and now stands for itself (so it was never alerted)."""

    entry: StoredEntry
    alone: bool
    first_seen: float


class OwedAlert(NamedTuple):
    """An alert a regrouped entry is owed: like NewAlert, but for a stored entry's id."""

    channel: str
    entry_id: int
    topics: tuple[str, ...]


class OutboxTotals(NamedTuple):
    pending: int
    sent: int


@dataclass(frozen=True)
class ChannelCounts:
    """One channel's outbox, for `syndicator status`."""

    pending: int
    sent: int
    retrying: int  # pending alerts that failed at least once
    last_error: str | None
    failed: int = 0  # refused for good by the receiver (a webhook's 4xx): never retried


# -- what the status page shows (store/reports.py reads it, page.py renders it) ---------------


@dataclass(frozen=True)
class Carrier:
    """Another source that carried a matched story: an entry whose dup_of points at it."""

    source: str
    link: str


@dataclass(frozen=True)
class MatchedStory:
    """A story that matched a topic, as the page shows it: `text` is the start of the cleaned
    text (enough to find the matched words in), `terms` the labels the matcher recorded."""

    id: int
    source: str
    title: str
    link: str
    text: str
    stamp: float  # published, else first seen
    terms: tuple[str, ...]
    carriers: tuple[Carrier, ...] = ()  # the first few
    copies: int = 0  # how many other entries carried it, `carriers` included


@dataclass(frozen=True)
class PageReport:
    """What the page reads from the store once per cycle, in bounded queries: the latest
    matched stories per topic, each source's entries per day (oldest day first, ending with
    the day of `now`), and each channel's outbox."""

    stories: dict[str, tuple[MatchedStory, ...]]
    daily: dict[str, tuple[int, ...]]
    channels: dict[str, ChannelCounts]
