"""When sources are due: pure decisions with plain numbers for time and a seeded rng."""

from __future__ import annotations

import itertools
import random

from syndicator.config import Source
from syndicator.model import SourceState
from syndicator.schedule import MAX_DELAY, after_failure, after_success, due, next_wake

SRC = Source(name="s", url="https://e/", interval=600.0)
OTHER = Source(name="o", url="https://o/", interval=600.0)


def rng() -> random.Random:
    return random.Random(7)


def test_never_polled_sources_are_due() -> None:
    assert due([SRC], {}, now=0, once=False) == ([SRC], [])


def test_daemon_waits_for_next_poll_but_once_polls_healthy_sources() -> None:
    states = {"s": SourceState("s", next_poll=1000), "o": SourceState("o", next_poll=10)}
    assert due([SRC, OTHER], states, now=100, once=False) == ([OTHER], [(SRC, 1000)])
    assert due([SRC, OTHER], states, now=100, once=True) == ([SRC, OTHER], [])


def test_once_skips_sources_in_back_off() -> None:
    states = {"s": SourceState("s", next_poll=1000, failures=2)}
    assert due([SRC], states, now=100, once=True) == ([], [(SRC, 1000)])


def test_success_resets_failures_and_waits_an_interval_with_jitter() -> None:
    state = after_success(SourceState("s", failures=3, last_error="x"), SRC, 1000, rng(), 200)
    assert state.failures == 0 and state.last_error is None and state.last_success == 1000
    assert 1000 + 540 <= state.next_poll <= 1000 + 660
    assert state.next_poll != 1600  # jittered


def test_server_max_age_later_than_interval_wins_but_is_capped() -> None:
    state = after_success(SourceState("s"), SRC, 0, rng(), 200, max_age=7200)
    assert 7200 * 0.9 <= state.next_poll <= 7200 * 1.1
    capped = after_success(SourceState("s"), SRC, 0, rng(), 200, max_age=10**9)
    assert capped.next_poll <= MAX_DELAY * 1.1


def test_failures_back_off_exponentially_and_honour_retry_after() -> None:
    delays = []
    state = SourceState("s")
    for _ in range(4):
        state = after_failure(state, SRC, 0, random.Random(0), "HTTP 500", 500)
        delays.append(state.next_poll)
    assert state.failures == 4 and state.last_error == "HTTP 500"
    assert all(b > a * 1.5 for a, b in itertools.pairwise(delays))
    held = after_failure(SourceState("s"), SRC, 0, rng(), "HTTP 503", 503, retry_after=5000)
    assert held.next_poll >= 5000 * 0.9


def test_next_wake_is_the_earliest_next_poll() -> None:
    states = {"s": SourceState("s", next_poll=500), "o": SourceState("o", next_poll=300)}
    assert next_wake(states, [SRC, OTHER], now=100) == 300
    assert next_wake(states, [SRC, OTHER], now=400) == 400
