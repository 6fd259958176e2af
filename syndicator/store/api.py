"""What the rest of Syndicator may ask of storage: the Store protocol, and the records that
cross it.

This is the seam a second implementation plugs into. The pipeline, the alert senders, the
service and the reports see only this protocol, so a store is a class that keeps its promises:
- one transaction per polled source (`save_poll`): entries, topic hits, outbox rows, the
  source's validators and the feeds made stale land together or not at all;
- an outbox row is unique per channel and entry, and an alert is marked sent only after it was
  delivered: a kill at any moment loses nothing and repeats at most the one alert in flight;
- the story decision (stories.py) is asked for every new or changed entry, inside that same
  transaction, among the entries published within the store's story window;
- an outbox row claimed by one node (`claim_alerts`) is sent by that node only, until it is
  marked, released or its claim expires: with several nodes, each alert is sent once.

ClusterStore adds what only several nodes on one database need (leases on sources, request
slots per host); both implementations provide it, so one test suite runs against both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from syndicator.model import (
    ChannelCounts,
    FullTextPage,
    NewAlert,
    NewEntry,
    NewNotice,
    Notice,
    OutboxTotals,
    OwedAlert,
    PageReport,
    PendingAlert,
    RawEntry,
    Recleaned,
    Regrouped,
    SourceState,
    SourceUpdate,
    StoredEntry,
    Story,
)


def entry_uid(source: str, key: str) -> str:
    """An Atom id that is a valid IRI and stable for the entry, whatever its guid looks like."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"syndicator:{source}\n{key}").urn


class Store(Protocol):
    """Durable state: sources, entries and their stories, topic hits, the alert outbox and the
    feeds to republish. SQLiteStore is the embedded implementation, PostgresStore the shared
    one; `node` names this store among the nodes sharing its database."""

    node: str

    # -- sources
    def source_states(self) -> dict[str, SourceState]: ...
    def source_state(self, name: str) -> SourceState | None: ...
    def save_state(
        self, state: SourceState, notices: Sequence[NewNotice] = (), now: float = 0.0
    ) -> None: ...
    def save_states(self, updates: Sequence[SourceUpdate], now: float) -> None: ...

    # -- entries and stories
    def all_digests(self, source: str) -> dict[str, str]: ...
    def save_poll(
        self,
        state: SourceState,
        entries: Sequence[NewEntry],
        alerts: Sequence[NewAlert],
        now: float,
        notices: Sequence[NewNotice] = (),
        dirty: Sequence[str] = (),
        pages: Sequence[FullTextPage] = (),
    ) -> set[str]: ...
    def forget(self, before: float) -> int: ...
    def feed_entries(self, topic: str | None, limit: int) -> list[StoredEntry]: ...
    def raw_entries(self) -> Iterator[RawEntry]: ...
    def update_cleaned(self, updates: Sequence[Recleaned]) -> int: ...
    def regrouped(self) -> list[Regrouped]: ...
    def settle_regrouped(
        self, alerts: Sequence[OwedAlert], now: float, dirty: Sequence[str] = ()
    ) -> int: ...
    def stories(self, search: str | None = None, limit: int = 50) -> list[Story]: ...

    # -- each source's template memory (template.py), article pages (fulltext)
    def template_history(self, source: str) -> list[tuple[str, tuple[str, ...]]]: ...
    def save_template_history(
        self, source: str, entries: Sequence[tuple[str, tuple[str, ...]]], now: float
    ) -> None: ...
    def fulltext_pages(self, links: Iterable[str]) -> dict[str, FullTextPage]: ...

    # -- feeds to republish
    def mark_dirty(self, feeds: Iterable[str]) -> None: ...
    def dirty_feeds(self) -> set[str]: ...
    def clear_dirty(self, feeds: Iterable[str]) -> None: ...

    # -- the outbox
    def pending_alerts(self, channel: str, now: float, limit: int = 100) -> list[PendingAlert]: ...
    def pending_notices(self, channel: str, now: float) -> list[Notice]: ...
    def next_retry(self) -> float | None: ...
    def mark_sent(self, alert_id: int, now: float) -> None: ...
    def mark_failed(self, alert_id: int, error: str, next_try: float) -> None: ...
    # Refused for good (never retried, counted as failed): a webhook's 404, say.
    def mark_undeliverable(self, alert_id: int, error: str, now: float) -> None: ...
    # Claimed rows are this node's to send until marked sent or failed, released, or now+ttl.
    def claim_alerts(
        self, channel: str, now: float, limit: int, ttl: float
    ) -> list[PendingAlert]: ...
    def claim_notices(self, channel: str, now: float, limit: int, ttl: float) -> list[Notice]: ...
    def release(self, ids: Iterable[int]) -> None: ...
    def outbox_counts(self) -> OutboxTotals: ...

    # -- reports (read-only; `list`, `status`, the status page)
    def entry_counts(self) -> dict[str, int]: ...
    def topic_counts(self) -> dict[str, int]: ...
    def fulltext_counts(self) -> dict[str, tuple[int, int]]: ...
    def channel_counts(self) -> dict[str, ChannelCounts]: ...
    def page_report(
        self, topics: Sequence[str], per_topic: int, days: int, now: float
    ) -> PageReport: ...

    def close(self) -> None: ...


class ClusterStore(Store, Protocol):
    """What several schedulers and workers on one database need besides the Store. A
    PostgresStore may be used by several threads at once (a connection each); a SQLiteStore
    by one thread at a time."""

    # -- scheduler leases: a source is polled by one node per interval
    def sync_sources(self, names: Iterable[str]) -> None: ...
    def claim_sources(
        self, wanted: Sequence[tuple[str, float]], now: float, lease: float
    ) -> list[str]: ...
    def release_sources(self, names: Iterable[str]) -> None: ...
    def leased(self, names: Iterable[str], now: float | None = None) -> set[str]: ...

    # -- politeness across nodes: request slots and spacing per host
    def acquire_host(
        self, host: str, holder: str, per_host: int, spacing: float, now: float, ttl: float
    ) -> float | None: ...
    def release_host(self, host: str, holder: str) -> None: ...
