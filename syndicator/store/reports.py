"""Read-only views of the state that `list`, `status` and the status page show.

Plain queries over the store's tables, kept out of the write path (sqlite.py) and out of the
views that render them (overview.py): the views ask the store, they do not know its tables.
A store opened read-only (`store.open_reader`) answers them beside a running daemon, as
another user, without creating or migrating anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syndicator.model import ChannelCounts, OutboxTotals, SourceState, Validators

if TYPE_CHECKING:
    from syndicator.store.sql import Connection


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
        """Each channel's outbox: pending, sent, retrying and the last error."""
        counts = {}
        for channel, pending, sent, retrying in self._db.execute(
            "SELECT channel, count(*) FILTER (WHERE sent IS NULL), "
            "count(*) FILTER (WHERE sent IS NOT NULL), "
            "count(*) FILTER (WHERE sent IS NULL AND attempts > 0) FROM outbox GROUP BY channel"
        ).fetchall():
            row = self._db.execute(
                "SELECT last_error FROM outbox WHERE channel=? AND sent IS NULL "
                "AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
                (channel,),
            ).fetchone()
            counts[channel] = ChannelCounts(pending, sent, retrying, row[0] if row else None)
        return counts

    def outbox_counts(self) -> OutboxTotals:
        """Alerts and notices pending and sent, over every channel (the status page)."""
        row = self._db.execute(
            "SELECT count(*) FILTER (WHERE sent IS NULL), count(*) FILTER (WHERE sent IS NOT NULL) "
            "FROM outbox"
        ).fetchone()
        return OutboxTotals(int(row[0]), int(row[1]))
