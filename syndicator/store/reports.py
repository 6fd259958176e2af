"""Read-only views of the state that `list`, `status` and the status page show.

Plain queries over the store's tables, kept out of the write path (sqlite.py) and out of the
views that render them (overview.py): the views ask the store, they do not know its tables.
A store opened read-only (`store.open_reader`) answers them beside a running daemon, as
another user, without creating or migrating anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from syndicator.model import (
    Carrier,
    ChannelCounts,
    MatchedStory,
    OutboxTotals,
    PageReport,
    SourceState,
    Validators,
)

if TYPE_CHECKING:
    from syndicator.store.sql import Connection


DAY = 86400
PAGE_TEXT = 20_000  # characters of a story's cleaned text read for its snippet
CARRIERS = 8  # other sources named per story (the rest are counted)


class Reports:
    """Mixed into a store whose `_db` is a connection taking `?` placeholders (sql.py), in SQL
    that SQLite and PostgreSQL both read."""

    _db: Connection

    def source_states(self) -> dict[str, SourceState]:
        """Every source's stored state, with its number of stored entries."""
        return self._states("")

    def source_state(self, name: str) -> SourceState | None:
        """One source's stored state (a worker about to poll it), None before its first."""
        return self._states(" WHERE s.name = ?", name).get(name)

    def _states(self, where: str, *params: object) -> dict[str, SourceState]:
        rows = self._db.execute(
            "SELECT s.name, etag, last_modified, last_status, last_error, last_attempt, "
            "last_success, next_poll, failures, "
            "(SELECT count(*) FROM entries e WHERE e.source = s.name), unhealthy FROM sources s"
            + where,
            params,
        )
        return {
            r[0]: SourceState(
                name=r[0],
                validators=Validators(etag=r[1], last_modified=r[2]),
                last_status=r[3],
                last_error=r[4],
                last_attempt=r[5],
                last_success=r[6],
                next_poll=r[7],
                failures=r[8],
                entries=r[9],
                unhealthy=bool(r[10]),
            )
            for r in rows
        }

    def entry_counts(self) -> dict[str, int]:
        """Stored entries per source name, including sources no longer in the config."""
        return dict(self._db.execute("SELECT source, count(*) FROM entries GROUP BY source"))

    def fulltext_counts(self) -> dict[str, tuple[int, int]]:
        """Article pages fetched per source for its teasers: (fetched, failed)."""
        return {
            str(source): (int(ok), int(failed))
            for source, ok, failed in self._db.execute(
                "SELECT source, count(*) FILTER (WHERE ok <> 0), count(*) FILTER (WHERE ok = 0) "
                "FROM fulltext GROUP BY source"
            )
        }

    def topic_counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT topic, count(*) FROM hits GROUP BY topic"))

    def channel_counts(self) -> dict[str, ChannelCounts]:
        """Each channel's outbox: pending, sent, retrying, failed for good (a receiver refused
        them: never retried) and the last error of an unsent one."""
        counts = {}
        for channel, pending, sent, retrying, failed in self._db.execute(
            "SELECT channel, count(*) FILTER (WHERE sent IS NULL AND given_up IS NULL), "
            "count(*) FILTER (WHERE sent IS NOT NULL), "
            "count(*) FILTER (WHERE sent IS NULL AND given_up IS NULL AND attempts > 0), "
            "count(*) FILTER (WHERE given_up IS NOT NULL) FROM outbox GROUP BY channel"
        ).fetchall():
            row = self._db.execute(
                "SELECT last_error FROM outbox WHERE channel=? AND sent IS NULL "
                "AND last_error IS NOT NULL ORDER BY coalesce(given_up, 0) DESC, id DESC LIMIT 1",
                (channel,),
            ).fetchone()
            counts[channel] = ChannelCounts(
                pending, sent, retrying, row[0] if row else None, failed=failed
            )
        return counts

    def outbox_counts(self) -> OutboxTotals:
        """Alerts and notices pending and sent, over every channel (the status page); those
        given up are in channel_counts."""
        row = self._db.execute(
            "SELECT count(*) FILTER (WHERE sent IS NULL AND given_up IS NULL), "
            "count(*) FILTER (WHERE sent IS NOT NULL) FROM outbox"
        ).fetchone()
        return OutboxTotals(int(row[0]), int(row[1]))

    def page_report(
        self, topics: Sequence[str], per_topic: int, days: int, now: float
    ) -> PageReport:
        """What the status page shows, in queries bounded by what it shows, not by the size
        of the store: per topic the newest `per_topic` stories (hits by topic and entry,
        newest first: an index walk that stops at the limit), each with the other sources
        that carried it (entries_dup); per source its entries first seen on each of the
        last `days` UTC days (an index range over first_seen, covering the source)."""
        stories: dict[str, tuple[MatchedStory, ...]] = {}
        for topic in topics:
            rows = self._db.execute(
                "SELECT e.id, e.source, e.title, e.link, substr(e.text, 1, ?), "
                "coalesce(e.published, e.first_seen), h.terms "
                "FROM hits h JOIN entries e ON e.id = h.entry_id "
                "WHERE h.topic = ? AND e.dup_of IS NULL ORDER BY h.entry_id DESC LIMIT ?",
                (PAGE_TEXT, topic, per_topic),
            ).fetchall()
            stories[topic] = tuple(
                MatchedStory(
                    id=int(r[0]),
                    source=str(r[1]),
                    title=str(r[2]),
                    link=str(r[3]),
                    text=str(r[4]),
                    stamp=float(r[5]),
                    terms=tuple(str(t) for t in json.loads(r[6])),
                )
                for r in rows
            )
        carriers = self._carriers({s.id for shown in stories.values() for s in shown})
        stories = {
            topic: tuple(
                replace(
                    s,
                    carriers=carriers.get(s.id, ((), 0))[0],
                    copies=carriers.get(s.id, ((), 0))[1],
                )
                for s in shown
            )
            for topic, shown in stories.items()
        }
        first_day = (int(now) // DAY - (days - 1)) * DAY
        daily: dict[str, list[int]] = {}
        for source, day, count in self._db.execute(
            "SELECT source, day, count(*) FROM (SELECT source, "
            "(CAST(first_seen AS BIGINT) - ?) / 86400 AS day FROM entries WHERE first_seen >= ?) "
            "AS d GROUP BY day, source",  # (day first: SQLite then reads the covering index)
            (first_day, first_day),
        ):
            if 0 <= int(day) < days:
                daily.setdefault(str(source), [0] * days)[int(day)] += int(count)
        return PageReport(
            stories=stories,
            daily={name: tuple(counts) for name, counts in daily.items()},
            channels=self.channel_counts(),
        )

    def _carriers(self, ids: set[int]) -> dict[int, tuple[tuple[Carrier, ...], int]]:
        """The copies of these entries' stories: the first CARRIERS of each (source and link,
        oldest first) and how many there are; two index lookups per story (entries_dup), however
        many copies it has."""
        found: dict[int, tuple[tuple[Carrier, ...], int]] = {}
        for entry_id in sorted(ids):
            rows = self._db.execute(
                "SELECT source, link FROM entries WHERE dup_of = ? ORDER BY id LIMIT ?",
                (entry_id, CARRIERS),
            ).fetchall()
            if not rows:
                continue
            copies = len(rows)
            if copies == CARRIERS:
                (copies,) = self._db.execute(
                    "SELECT count(*) FROM entries WHERE dup_of = ?", (entry_id,)
                ).fetchone()
            found[entry_id] = (tuple(Carrier(str(a), str(b)) for a, b in rows), int(copies))
        return found
