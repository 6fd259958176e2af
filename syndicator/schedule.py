"""When each source is polled next: pure decisions, then the APScheduler glue for the daemon.

The decisions take `now` and a random generator as arguments, so back-off, jitter and server
hints are tested with plain numbers. The next poll time is stored, so a restart continues the
rhythm instead of hitting every server at once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from syndicator.config import Source
from syndicator.model import SourceState

log = logging.getLogger(__name__)

JITTER = 0.1  # ± share of the interval, so sources with equal intervals drift apart
MAX_DELAY = 24 * 3600.0  # no server hint or back-off silences a source for more than a day
MAX_BACKOFF_STEPS = 8


def due(
    sources: Sequence[Source], states: dict[str, SourceState], now: float, once: bool
) -> tuple[list[Source], list[tuple[Source, float]]]:
    """(sources to poll now, sources held back with the time they are held until).

    A daemon polls what is due. `run --once` polls everything (cron sets the rhythm) except a
    source the server asked us to leave alone (Retry-After) or one in failure back-off.
    """
    poll: list[Source] = []
    held: list[tuple[Source, float]] = []
    for source in sources:
        state = states.get(source.name)
        if state is None or state.next_poll <= now or (once and state.failures == 0):
            poll.append(source)
        else:
            held.append((source, state.next_poll))
    return poll, held


def after_success(
    state: SourceState,
    source: Source,
    now: float,
    rng: random.Random,
    status: int,
    max_age: float | None = None,
) -> SourceState:
    """A poll that worked: failures reset; next poll after the interval or the server's max-age,
    whichever is later (capped)."""
    delay = max(source.interval, _hint(max_age))
    return replace(
        state,
        last_status=status,
        last_error=None,
        last_attempt=now,
        last_success=now,
        failures=0,
        next_poll=now + _jitter(delay, rng),
    )


def after_failure(
    state: SourceState,
    source: Source,
    now: float,
    rng: random.Random,
    reason: str,
    status: int | None = None,
    retry_after: float | None = None,
) -> SourceState:
    """Exponential back-off on consecutive failures; a Retry-After is honoured if it is later."""
    failures = state.failures + 1
    backoff = source.interval * 2 ** min(failures - 1, MAX_BACKOFF_STEPS)
    delay = min(max(backoff, _hint(retry_after)), MAX_DELAY)
    return replace(
        state,
        last_status=status,
        last_error=reason,
        last_attempt=now,
        failures=failures,
        next_poll=now + _jitter(delay, rng),
    )


def _hint(seconds: float | None) -> float:
    """A server's hint as a delay in [0, MAX_DELAY]: none, negative or not a number is 0."""
    if seconds is None or math.isnan(seconds) or seconds <= 0:
        return 0.0
    return min(seconds, MAX_DELAY)


def _jitter(delay: float, rng: random.Random) -> float:
    return delay * (1 + rng.uniform(-JITTER, JITTER))


def next_wake(states: dict[str, SourceState], sources: Sequence[Source], now: float) -> float:
    """When the daemon should run its next cycle: the earliest stored next poll."""
    times = [states[s.name].next_poll if s.name in states else now for s in sources]
    return max(now, min(times, default=now + 3600.0))


class Daemon:
    """Runs `cycle` whenever a source is due, on APScheduler, until stop() is called.

    `cycle` returns the time (epoch seconds) of its next wanted run, and a one-off job is added
    for that time, so the daemon sleeps exactly until the next source is due. Each job has its
    own id (a job rescheduling itself under its own id races with the scheduler removing it),
    and a lock keeps two cycles from ever overlapping.
    """

    def __init__(self, cycle: Callable[[], float]) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self._cycle = cycle
        self._stopped = threading.Event()
        self._again = threading.Event()  # a wake-up asked for while a cycle was running
        self._running = threading.Lock()
        self._pending: Any = None  # the one job waiting to run, if any
        self._scheduler = BackgroundScheduler(timezone=UTC)

    def _schedule(self, when: float) -> None:
        from apscheduler.jobstores.base import JobLookupError

        previous, self._pending = self._pending, None
        if previous is not None:
            with contextlib.suppress(JobLookupError):  # already running: the lock sorts it out
                previous.remove()
        self._pending = self._scheduler.add_job(
            self._run,
            "date",
            run_date=datetime.fromtimestamp(when, UTC),
            misfire_grace_time=None,
        )

    def _run(self) -> None:
        if not self._running.acquire(blocking=False):
            self._again.set()  # the running cycle goes again as soon as it ends
            return
        try:
            self._pending = None
            self._again.clear()
            try:
                wake = self._cycle()
            except Exception:
                log.exception("poll cycle failed; retrying in 60s")
                wake = datetime.now(UTC).timestamp() + 60
        finally:
            self._running.release()
        if self._stopped.is_set():
            return
        if self._again.is_set():
            wake = datetime.now(UTC).timestamp()
        self._schedule(wake)

    def run_until_stopped(self) -> None:
        self._scheduler.start()
        self._schedule(datetime.now(UTC).timestamp())
        self._stopped.wait()
        self._scheduler.shutdown(wait=False)

    def wake_now(self) -> None:
        """Run a cycle at once (after a config reload, say), or right after the running one."""
        self._again.set()
        self._schedule(datetime.now(UTC).timestamp())

    def stop(self) -> None:
        self._stopped.set()
