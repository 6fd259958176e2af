"""The outbox in SQL: alerts and notices queued, claimed by one node, released, and marked
sent, failed or undeliverable.

Kept apart from sql.py because delivery has its own life: the senders read and mark these rows
long after the poll that queued them, on any node sharing the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

from syndicator.model import NewNotice, Notice, PendingAlert
from syndicator.store.sqlbase import _ENTRY_COLUMNS, CHUNK, T, _SQLBase


class Outbox(_SQLBase):
    """SQLStore's outbox rows: one per channel and entry (an alert) or per notice."""

    def _put_notices(self, notices: Sequence[NewNotice], now: float) -> None:
        if notices:
            self._db.executemany(
                "INSERT INTO outbox (channel, entry_id, topics, subject, body, created) "
                "VALUES (?, NULL, '[]', ?, ?, ?)",
                [(channel, subject, body, now) for channel, subject, body in notices],
            )

    def _put_alert(self, channel: str, entry_id: int, topics: tuple[str, ...], now: float) -> bool:
        """One outbox row, for the topics not yet alerted for this story on this channel;
        False when there is none to add (all alerted, or this entry was alerted already)."""
        done = self._alerted_topics(channel, entry_id)
        topics = tuple(t for t in topics if t not in done)
        if not topics:
            return False
        added = self._db.execute(
            "INSERT INTO outbox (channel, entry_id, topics, created) VALUES (?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            (channel, entry_id, json.dumps(list(topics)), now),
        ).rowcount
        return bool(added)

    def _alerted_topics(self, channel: str, entry_id: int) -> set[str]:
        """The topics alerted on a channel for the other entries of this entry's story, as the
        story stands now (its standing entry and every copy)."""
        head = "(SELECT coalesce(dup_of, id) FROM entries WHERE id=?)"
        done: set[str] = set()
        for (topics,) in self._db.execute(
            "SELECT topics FROM outbox WHERE channel=? AND entry_id IN ("
            f"SELECT id FROM entries WHERE id = {head} AND id<>? "
            f"UNION ALL SELECT id FROM entries WHERE dup_of = {head} AND id<>?)",
            (channel, entry_id, entry_id, entry_id, entry_id),
        ):
            done.update(json.loads(topics))
        return done

    # -- outbox ----------------------------------------------------------------------------

    def pending_alerts(self, channel: str, now: float, limit: int = 100) -> list[PendingAlert]:
        """Unsent alerts due on a channel, claimed or not (what a single sender would send)."""
        return self._alerts(
            "o.channel=? AND o.sent IS NULL AND o.given_up IS NULL AND o.next_try <= ? "
            "ORDER BY o.id LIMIT ?",
            (channel, now, limit),
        )

    def _alerts(self, where: str, params: Sequence[object]) -> list[PendingAlert]:
        rows = self._db.execute(
            f"SELECT o.id, o.channel, o.topics, o.attempts, o.created, {_ENTRY_COLUMNS} "
            f"FROM outbox o JOIN entries e ON e.id = o.entry_id WHERE {where}",
            params,
        ).fetchall()
        entries = self._entries(r[5:] for r in rows)
        return [
            PendingAlert(
                id=int(r[0]),
                channel=str(r[1]),
                entry=entry,
                topics=tuple(json.loads(r[2])),
                attempts=int(r[3]),
                created=float(r[4]),
            )
            for r, entry in zip(rows, entries, strict=True)
        ]

    def pending_notices(self, channel: str, now: float) -> list[Notice]:
        return self._notices(
            "channel=? AND entry_id IS NULL AND sent IS NULL AND given_up IS NULL "
            "AND next_try <= ? ORDER BY id",
            (channel, now),
        )

    def _notices(self, where: str, params: Sequence[object]) -> list[Notice]:
        rows = self._db.execute(
            f"SELECT id, channel, subject, body, attempts FROM outbox WHERE {where}", params
        ).fetchall()
        return [Notice(int(r[0]), str(r[1]), r[2] or "", r[3] or "", int(r[4])) for r in rows]

    def _claim(self, channel: str, alerts: bool, now: float, limit: int, ttl: float) -> list[int]:
        """Mark up to `limit` unsent, due outbox rows that no live claim holds as this node's
        until now+ttl; the ids claimed, oldest first. Two nodes claiming at once get disjoint
        rows (PostgreSQL: the rows another transaction is claiming are skipped)."""
        kind = "entry_id IS NOT NULL" if alerts else "entry_id IS NULL"
        with self._transaction():
            rows = self._db.execute(
                "UPDATE outbox SET claimed_by=?, claimed_until=? WHERE id IN ("
                f"SELECT id FROM outbox WHERE channel=? AND {kind} AND sent IS NULL "
                "AND given_up IS NULL AND next_try <= ? "
                "AND (claimed_until IS NULL OR claimed_until <= ?) "
                f"ORDER BY id LIMIT ?{self._FOR_UPDATE}{self._SKIP_LOCKED}) RETURNING id",
                (self.node, now + ttl, channel, now, now, limit),
            ).fetchall()
        return sorted(int(r[0]) for r in rows)

    def claim_alerts(
        self, channel: str, now: float, limit: int, ttl: float
    ) -> list[PendingAlert]:
        """Claim due alerts for delivery by this node (see _claim): nobody else sends them
        until they are marked sent or failed, released, or the claim expires (a node that died
        mid-send: the one alert in flight is sent again, once)."""
        ids = self._claim(channel, True, now, limit, ttl)
        return self._by_ids(ids, lambda where, chunk: self._alerts(f"o.id IN ({where})", chunk))

    def claim_notices(self, channel: str, now: float, limit: int, ttl: float) -> list[Notice]:
        """As claim_alerts, for notices (outbox rows about Syndicator itself)."""
        ids = self._claim(channel, False, now, limit, ttl)
        return self._by_ids(ids, lambda where, chunk: self._notices(f"id IN ({where})", chunk))

    @staticmethod
    def _by_ids(ids: list[int], read: Callable[[str, list[int]], list[T]]) -> list[T]:
        found: list[T] = []
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            found += read(",".join("?" * len(chunk)), chunk)
        return found

    def release(self, ids: Iterable[int]) -> None:
        """Give back this node's claims on these unsent rows, for any node to send."""
        rows = [(self.node, int(i)) for i in ids]
        if rows:
            with self._transaction():
                self._db.executemany(
                    "UPDATE outbox SET claimed_by=NULL, claimed_until=NULL "
                    "WHERE claimed_by=? AND id=? AND sent IS NULL",
                    rows,
                )

    def next_retry(self) -> float | None:
        """When the earliest unsent outbox row may be tried again (the daemon wakes for it)."""
        row = self._db.execute(
            "SELECT min(next_try) FROM outbox WHERE sent IS NULL AND given_up IS NULL"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def mark_sent(self, alert_id: int, now: float) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET sent=?, claimed_by=NULL, claimed_until=NULL WHERE id=?",
                (now, alert_id),
            )

    def mark_failed(self, alert_id: int, error: str, next_try: float) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=?, next_try=?, "
                "claimed_by=NULL, claimed_until=NULL WHERE id=?",
                (error, next_try, alert_id),
            )

    def mark_undeliverable(self, alert_id: int, error: str, now: float) -> None:
        """The receiver refused this row for good (a webhook's 404, say): it is kept with its
        error, counted as failed, and never tried again."""
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=?, given_up=?, "
                "claimed_by=NULL, claimed_until=NULL WHERE id=?",
                (error, now, alert_id),
            )
