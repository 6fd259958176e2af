"""Response headers are the server's to choose: every value is parsed totally, what comes out is
bounded, and whatever one source's response does costs that source only, never the cycle."""

from __future__ import annotations

import asyncio
import math
import random
import sqlite3
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator import schedule
from syndicator.config import Source, load_config
from syndicator.errors import FetchError
from syndicator.fetch import (
    MAX_HINT,
    MAX_VALIDATOR,
    Limits,
    delta_seconds,
    fetch,
    header_max_age,
    http_date,
    make_client,
    named_endpoints,
    retry_after,
    validator,
)
from syndicator.model import Fetched, SourceState, Validators
from syndicator.pipeline import Pipeline
from syndicator.store import SQLiteStore
from tests.conftest import REAL, FeedServer, Route, run_cli, write_config

LIMITS = Limits(timeout=5, connect_timeout=2)
OVERFLOWING_DATE = "Wed, 01 Jan 2025 99999999999999999999:00:00 GMT"
# A Unicode digit: "²".isdigit() is true, int("²") and float("²") fail.
SUPERSCRIPT = "max-age=²"


NO_VALIDATORS = Validators()


def get(url: str, validators: Validators = NO_VALIDATORS) -> Fetched:
    async def go() -> Fetched:
        async with make_client(LIMITS, allow=named_endpoints([url])) as client:
            return await fetch(client, url, validators, LIMITS)

    return asyncio.run(go())


def failure(url: str) -> FetchError:
    with pytest.raises(FetchError) as info:
        get(url)
    return info.value


# -- the parsers, over arbitrary text ----------------------------------------------------------

# Text shaped like the values servers send, with arbitrary numbers where the digits go.
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["²", "٣", "1e400", "nan", "inf", "-0", "0x10", " 5", "9" * 5000, ""]),
)
DATES = st.builds(
    "{}, {} {} {} {}:{}:{} {}".format,
    st.sampled_from(["Wed", "Xyz", ""]),
    NUMBERS,
    st.sampled_from(["Jan", "Feb", "Foo", ""]),
    NUMBERS,
    NUMBERS,
    NUMBERS,
    NUMBERS,
    st.sampled_from(["GMT", "+9999", "-9999", "+0000", "UT", "", "EST"]),
)
VALUES = st.one_of(st.text(), DATES, NUMBERS, st.builds("max-age={}".format, NUMBERS))
NOW = st.floats(min_value=0, max_value=4e9)


@settings(max_examples=500)
@given(VALUES)
def test_validators_are_visible_ascii_and_bounded_or_dropped(value: str) -> None:
    kept = validator(value)
    if kept is not None:
        assert 0 < len(kept) <= MAX_VALIDATOR and kept.isascii() and kept.isprintable()
        request = httpx.Request("GET", "http://x/", headers={"If-None-Match": kept})
        assert request.headers.raw[-1] == (b"If-None-Match", kept.encode())


@settings(max_examples=500)
@given(VALUES, NOW)
def test_cache_hints_and_retry_after_are_bounded_or_none(value: str, now: float) -> None:
    for hint in (
        delta_seconds(value),
        retry_after(value, now),
        header_max_age({"Cache-Control": value}, now),
        header_max_age({"cache-control": f"public, {value}", "Expires": value}, now),
        header_max_age({"Expires": value}, now),
    ):
        assert hint is None or 0 <= hint <= MAX_HINT
    seconds = http_date(value, now)
    assert seconds is None or math.isfinite(seconds)


def test_the_values_the_probe_found() -> None:
    assert header_max_age({"Cache-Control": SUPERSCRIPT}, 0) is None
    assert header_max_age({"Expires": OVERFLOWING_DATE}, 0) is None
    assert retry_after("²", 0) is None and retry_after(OVERFLOWING_DATE, 0) is None
    assert retry_after("9" * 5000, 0) == MAX_HINT
    assert header_max_age({"Cache-Control": "max-age=900"}, 0) == 900
    assert header_max_age({"Cache-Control": 'max-age="60"'}, 0) == 60
    assert validator('"caf\xe9"') is None and validator('W/"x\x00"') is None
    assert validator('"' + "a" * 5000 + '"') is None and validator(' W/"ok" ') == 'W/"ok"'


HINTS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


@given(HINTS, HINTS, NOW, st.floats(min_value=1, max_value=10 * 86400))
def test_no_hint_makes_the_next_poll_infinite_negative_or_far(
    max_age: float | None, retry: float | None, now: float, interval: float
) -> None:
    source = Source("s", "http://x/", interval)
    rng = random.Random(0)
    longest = max(interval * 2**schedule.MAX_BACKOFF_STEPS, schedule.MAX_DELAY)
    states = [
        schedule.after_success(SourceState("s"), source, now, rng, 200, max_age),
        schedule.after_failure(SourceState("s", failures=3), source, now, rng, "x", 503, retry),
    ]
    for state in states:
        assert math.isfinite(state.next_poll)
        assert now < state.next_poll <= now + min(longest, max(interval, schedule.MAX_DELAY)) * 1.1


# -- fetch ---------------------------------------------------------------------------------------


def test_a_retry_after_that_means_nothing_is_no_hint_and_the_reason_stays(
    feed_server: FeedServer,
) -> None:
    for value, hint in (("²", None), (OVERFLOWING_DATE, None), ("9" * 400, MAX_HINT)):
        feed_server.routes["/busy"] = Route(b"", status=503, headers={"Retry-After": value})
        err = failure(feed_server.base + "/busy")
        assert (err.reason, err.retry_after) == ("HTTP 503 Service Unavailable", hint)


def test_validators_a_request_cannot_carry_are_dropped_not_stored(
    feed_server: FeedServer,
) -> None:
    for etag in ('"caf\xe9"', '"' + "e" * 3000 + '"'):  # é arrives as a Latin-1 byte
        feed_server.routes["/v"] = Route(
            (REAL / "rss-parser-heise.atom").read_bytes(),
            headers={"ETag": etag, "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT\xa0"},
        )
        got = get(feed_server.base + "/v")
        assert got.status == 200 and got.validators == Validators()


def test_a_stored_validator_that_cannot_be_sent_is_left_out(feed_server: FeedServer) -> None:
    """A state database written before validators were checked may hold such a value."""
    url = feed_server.serve_file("/f", REAL / "rss-parser-heise.atom")
    got = get(url, Validators(etag='"caf\xe9"', last_modified="Wed\n, 01 Jan 2025"))
    assert got.status == 200
    sent = feed_server.log[-1].headers
    assert "If-None-Match" not in sent and "If-Modified-Since" not in sent


# -- the cycle ----------------------------------------------------------------------------------


def _two_sources(feed_server: FeedServer, headers: dict[str, str]) -> str:
    hostile = feed_server.serve_file("/hostile", REAL / "rss-parser-heise.atom", headers=headers)
    other = feed_server.serve_file("/other", REAL / "rss-parser-guardian.rss")
    return (
        f'[[sources]]\nname = "hostile"\nurl = "{hostile}"\n'
        f'[[sources]]\nname = "other"\nurl = "{other}"\n'
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Cache-Control": SUPERSCRIPT},
        {"Expires": OVERFLOWING_DATE},
        {"ETag": '"caf\xe9"'},
        {"Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT\xa0"},
    ],
    ids=["superscript-max-age", "overflowing-expires", "latin1-etag", "latin1-last-modified"],
)
def test_odd_cache_headers_on_a_200_and_a_304_cost_nothing(
    tmp_path: Path, feed_server: FeedServer, headers: dict[str, str]
) -> None:
    config = write_config(tmp_path, _two_sources(feed_server, headers))
    for run in range(2):  # a 200, then a 304 (or a 200 again where the ETag was dropped)
        done = run_cli("run", "--once", "--config", str(config), cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr and " ERROR " not in done.stderr, done.stderr
        assert "2 ok" in done.stderr, done.stderr
        assert len(feed_server.requests_to("/hostile")) == run + 1
    all_atom = (tmp_path / "feeds" / "all.atom").read_text()
    assert "Source: hostile" in all_atom and "Source: other" in all_atom
    with sqlite3.connect(tmp_path / "state" / "s.sqlite") as db:
        polls = dict(db.execute("SELECT name, next_poll FROM sources").fetchall())
    assert set(polls) == {"hostile", "other"}
    assert all(math.isfinite(t) for t in polls.values())


def test_an_unexpected_error_handling_one_response_costs_that_source_only(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The safety net under the parsers: the clock (an argument, for tests) fails once, while
    the first response is handled; that source fails with a one-line reason, the other one is
    stored and published, and the cycle ends normally."""
    config = load_config(write_config(tmp_path, _two_sources(feed_server, {})))
    calls = 0

    def clock() -> float:
        nonlocal calls
        calls += 1
        if calls == 2:  # the first call is the cycle's; the second, the first source's
            raise RuntimeError("clock failed\nsecond line")
        return 1_700_000_000.0

    store = SQLiteStore(config.state)
    try:
        report = Pipeline(config, store, senders=[], clock=clock).run_cycle(once=True)
        states = store.source_states()
    finally:
        store.close()
    reasons = list(report.failed.values())
    assert reasons == ["internal error: RuntimeError: clock failed second line"]
    failed = next(iter(report.failed))
    worked = ({"hostile", "other"} - {failed}).pop()
    assert states[failed].failures == 1 and states[worked].failures == 0
    assert f"Source: {worked}" in (tmp_path / "feeds" / "all.atom").read_text()


@pytest.mark.parametrize("agent", ["Syndicatör/1.0", "Syndicator\\n1.0"])
def test_a_user_agent_no_request_can_carry_is_refused_at_load(tmp_path: Path, agent: str) -> None:
    config = write_config(tmp_path, f'[fetch]\nuser_agent = "{agent}"\n')
    done = run_cli("check", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2
    assert "invalid config: fetch.user_agent: must be printable ASCII" in done.stderr
