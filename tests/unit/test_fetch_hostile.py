"""Hostile and broken servers against fetch (syndicator/fetch.py), each on a real loopback
server: a body far over the cap, a gzip bomb, a trickle, a file that never ends, HTTP and network
failures; every case ends in bounded time with a one-line reason."""

from __future__ import annotations

import asyncio
import gzip
import time

import pytest

from syndicator.errors import FetchError
from syndicator.fetch import Limits, fetch, fetch_file, make_client, named_endpoints
from syndicator.model import Fetched, Validators
from tests.conftest import FeedServer, Route, free_port

MiB = 2**20
LIMITS = Limits(timeout=5, connect_timeout=2)


def get(url: str, limits: Limits = LIMITS) -> Fetched:
    async def go() -> Fetched:
        async with make_client(limits, allow=named_endpoints([url])) as client:
            return await fetch(client, url, Validators(), limits)

    return asyncio.run(go())


def fetch_failure(url: str, limits: Limits = LIMITS) -> FetchError:
    with pytest.raises(FetchError) as info:
        get(url, limits)
    assert "\n" not in info.value.reason
    return info.value


def test_body_far_over_the_cap_stops_reading_at_the_cap(feed_server: FeedServer) -> None:
    route = Route(b"<rss>" + b"x" * (MiB - 5), stream=True, repeat=64)  # 64 MiB, no length
    feed_server.routes["/huge"] = route
    err = fetch_failure(feed_server.base + "/huge", Limits())  # the default 10 MiB cap
    assert err.reason == f"body too large: more than {10 * MiB} bytes (cap)"
    assert route.finished.wait(10)
    assert route.sent < 40 * MiB  # the client hung up near the cap, the server could not go on


def test_gzip_bomb_is_capped_on_the_decompressed_size(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * (64 * MiB), compresslevel=9)
    assert len(bomb) < 100_000
    feed_server.routes["/bomb"] = Route(bomb, headers={"Content-Encoding": "gzip"})
    err = fetch_failure(feed_server.base + "/bomb", Limits())
    assert err.reason == f"body too large: more than {10 * MiB} bytes (cap)"


def test_trickling_body_ends_at_the_total_deadline(feed_server: FeedServer) -> None:
    """A byte every 50 ms never trips a per-read timeout; only the total deadline ends it."""
    route = Route(b"<", stream=True, repeat=100_000, trickle=0.05)
    feed_server.routes["/trickle"] = route
    started = time.monotonic()
    err = fetch_failure(feed_server.base + "/trickle", Limits(timeout=1, connect_timeout=1))
    assert err.reason == "timed out after 1s (total deadline)"
    assert time.monotonic() - started < 3
    assert route.sent > 5  # it was trickling, not stalled


def test_file_source_that_never_ends_is_refused() -> None:
    with pytest.raises(FetchError, match=r"^not a regular file$"):
        fetch_file("/dev/zero", Validators(), Limits())


@pytest.mark.parametrize(
    ("path", "route", "reason"),
    [
        ("/404", Route(b"no", status=404), "HTTP 404 Not Found"),
        ("/410", Route(b"gone", status=410), "HTTP 410 Gone"),
        ("/500", Route(b"oops", status=500), "HTTP 500 Internal Server Error"),
        ("/300", Route(b"<rss/>", status=300), "HTTP 300 Multiple Choices"),
        ("/302", Route(b"<rss/>", status=302), "HTTP 302 redirect without a Location"),
        (
            "/to-file",
            Route(b"", status=302, headers={"Location": "file:///etc/passwd"}),
            "HTTP 302 redirect to a non-HTTP URL: file:///etc/passwd",
        ),
        (
            "/to-js",
            Route(b"", status=301, headers={"Location": "javascript:alert(1)"}),
            "redirect to an invalid URL: ",
        ),
        (
            "/to-bad-idna",
            Route(b"", status=302, headers={"Location": "http://xn--.invalid/"}),
            "redirect to an invalid URL: ",
        ),
    ],
)
def test_http_failures_have_a_one_line_reason(
    feed_server: FeedServer, path: str, route: Route, reason: str
) -> None:
    feed_server.routes[path] = route
    assert fetch_failure(feed_server.base + path).reason.startswith(reason)


def test_503_reports_retry_after(feed_server: FeedServer) -> None:
    feed_server.routes["/busy"] = Route(b"", status=503, headers={"Retry-After": "120"})
    err = fetch_failure(feed_server.base + "/busy")
    assert err.reason == "HTTP 503 Service Unavailable" and err.retry_after == 120


def test_connection_refused_dns_failure_and_tls_error(feed_server: FeedServer) -> None:
    assert fetch_failure(f"http://127.0.0.1:{free_port()}/feed").reason == "connection refused"
    dns = fetch_failure("http://feeds.syndicator-test.invalid/rss").reason
    assert dns.startswith("DNS lookup failed")
    tls = fetch_failure(feed_server.base.replace("http://", "https://") + "/feed").reason
    assert tls.startswith("TLS error")


def test_redirect_loop_and_too_many_redirects(feed_server: FeedServer) -> None:
    feed_server.routes["/a"] = Route(b"", status=302, headers={"Location": "/b"})
    feed_server.routes["/b"] = Route(b"", status=307, headers={"Location": "/a"})
    err = fetch_failure(feed_server.base + "/a")
    assert (
        err.reason == f"redirect loop: {feed_server.base}/b redirects back to {feed_server.base}/a"
    )
    for i in range(10):
        feed_server.routes[f"/hop{i}"] = Route(
            b"", status=301, headers={"Location": f"/hop{i + 1}"}
        )
    assert fetch_failure(feed_server.base + "/hop0").reason == "too many redirects (more than 5)"
    assert len(feed_server.requests_to("/hop6")) == 0  # stopped after five
