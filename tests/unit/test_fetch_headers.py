"""Response headers are the server's to choose (syndicator/fetch.py's parsers): every value is
parsed totally and what comes out is bounded. That whatever one source's response does costs that
source only, never the cycle: tests/unit/test_pipeline.py and tests/system/test_headers.py."""

from __future__ import annotations

import asyncio
import math
import random

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator import schedule
from syndicator.config import Source
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
from tests.conftest import REAL, FeedServer, Route

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


def _two_sources(feed_server: FeedServer, headers: dict[str, str]) -> str:
    hostile = feed_server.serve_file("/hostile", REAL / "rss-parser-heise.atom", headers=headers)
    other = feed_server.serve_file("/other", REAL / "rss-parser-guardian.rss")
    return (
        f'[[sources]]\nname = "hostile"\nurl = "{hostile}"\n'
        f'[[sources]]\nname = "other"\nurl = "{other}"\n'
    )
