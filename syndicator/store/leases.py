"""Sources and hosts shared by several nodes, in SQL: source states saved, sources leased to
one scheduler, and request slots on each host held cluster-wide.

Kept apart from sql.py because these rows coordinate nodes rather than hold content: every
lease and slot carries the node that holds it and expires when that node dies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from syndicator.model import SourceState
from syndicator.store.sqlbase import CHUNK, _SQLBase


class Leases(_SQLBase):
    """SQLStore's source states, scheduler leases and host slots."""

    def _put_states(self, states: Sequence[SourceState]) -> None:
        """Upsert sources' states; a stored poll or state ends the source's lease."""
        self._db.executemany(
            "INSERT INTO sources (name, etag, last_modified, last_status, last_error, "
            "last_attempt, last_success, next_poll, failures, unhealthy) "
            "VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(name) DO UPDATE SET etag=excluded.etag, "
            "last_modified=excluded.last_modified, last_status=excluded.last_status, "
            "last_error=excluded.last_error, last_attempt=excluded.last_attempt, "
            "last_success=excluded.last_success, next_poll=excluded.next_poll, "
            "failures=excluded.failures, unhealthy=excluded.unhealthy, "
            "leased_by=NULL, leased_until=NULL",
            [
                (
                    s.name,
                    s.validators.etag,
                    s.validators.last_modified,
                    s.last_status,
                    s.last_error,
                    s.last_attempt,
                    s.last_success,
                    float(s.next_poll),
                    s.failures,
                    int(s.unhealthy),
                )
                for s in states
            ],
        )

    # -- scheduler leases (several schedulers on one database) -----------------------------

    def sync_sources(self, names: Iterable[str]) -> None:
        """A row for every configured source (a new one is due at once), so that leases can
        be taken on sources never polled yet."""
        rows = [(name,) for name in sorted(set(names))]
        if rows:
            with self._transaction():
                self._db.executemany(
                    "INSERT INTO sources (name, next_poll) VALUES (?, 0) "
                    "ON CONFLICT (name) DO NOTHING",
                    rows,
                )

    def claim_sources(
        self, wanted: Sequence[tuple[str, float]], now: float, lease: float
    ) -> list[str]:
        """Lease each wanted source to this node until now+lease, if its next poll is still
        the one the caller read and no other node holds an unexpired lease on it; returns the
        names leased, in the order asked. Atomic: of two schedulers that read the same due
        source, one gets it, so no source is polled twice in one interval."""
        got: set[str] = set()
        with self._transaction():
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                values = ",".join("(?, ?)" for _ in chunk)
                params = [v for name, poll in chunk for v in (name, float(poll))]
                rows = self._db.execute(
                    f"WITH wanted (name, next_poll) AS (VALUES {values}) "
                    "UPDATE sources SET leased_by=?, leased_until=? WHERE name IN ("
                    "SELECT name FROM sources WHERE (name, next_poll) IN "
                    "(SELECT name, next_poll FROM wanted) "
                    "AND (leased_until IS NULL OR leased_until <= ?)"
                    f"{self._FOR_UPDATE}{self._SKIP_LOCKED}) RETURNING name",
                    [*params, self.node, now + lease, now],
                ).fetchall()
                got.update(str(r[0]) for r in rows)
        return [name for name, _ in wanted if name in got]

    def release_sources(self, names: Iterable[str]) -> None:
        """Give back this node's leases on sources it could not enqueue (the broker is down),
        so any scheduler may claim them at once instead of after the lease."""
        rows = [(self.node, name) for name in names]
        if rows:
            with self._transaction():
                self._db.executemany(
                    "UPDATE sources SET leased_by=NULL, leased_until=NULL "
                    "WHERE leased_by=? AND name=?",
                    rows,
                )

    def leased(self, names: Iterable[str], now: float | None = None) -> set[str]:
        """Which of these sources are leased and not yet stored since; with `now`, only those
        whose lease has not expired (an expired one's poll was lost: claim it again)."""
        found: set[str] = set()
        listed = list(names)
        alive = "" if now is None else " AND leased_until > ?"
        for start in range(0, len(listed), CHUNK):
            chunk = listed[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                str(r[0])
                for r in self._db.execute(
                    f"SELECT name FROM sources WHERE leased_by IS NOT NULL{alive} "
                    f"AND name IN ({marks})",
                    [*([] if now is None else [now]), *chunk],
                )
            )
        return found

    # -- politeness across nodes -------------------------------------------------------------

    def acquire_host(
        self, host: str, holder: str, per_host: int, spacing: float, now: float, ttl: float
    ) -> float | None:
        """A request slot on `host` for `holder` (one request), held until now+ttl or its
        release: the time the request may start — at least `spacing` after the previous
        start on that host, cluster-wide — or None while `per_host` live slots are taken.
        Serialized per host by a lock on the host's row; a crashed holder's slot expires."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO host_starts (host) VALUES (?) ON CONFLICT (host) DO NOTHING", (host,)
            )
            (last,) = self._db.execute(
                f"SELECT last_start FROM host_starts WHERE host=?{self._FOR_UPDATE}", (host,)
            ).fetchone()
            self._db.execute(
                "DELETE FROM host_slots WHERE host=? AND (until <= ? OR holder=?)",
                (host, now, holder),
            )
            (held,) = self._db.execute(
                "SELECT count(*) FROM host_slots WHERE host=?", (host,)
            ).fetchone()
            if int(held) >= per_host:
                return None
            start = now if last is None else max(now, float(last) + spacing)
            self._db.execute(
                "INSERT INTO host_slots (host, holder, until) VALUES (?, ?, ?)",
                (host, holder, now + ttl),
            )
            self._db.execute("UPDATE host_starts SET last_start=? WHERE host=?", (start, host))
        return start

    def release_host(self, host: str, holder: str) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM host_slots WHERE host=? AND holder=?", (host, holder))
