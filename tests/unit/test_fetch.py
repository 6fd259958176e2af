"""Fetching against a real loopback server: validators, encodings, limits, failures."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from pathlib import Path

import pytest

from syndicator.errors import FetchError
from syndicator.fetch import (
    Limits,
    fetch,
    fetch_file,
    header_max_age,
    make_client,
    named_endpoints,
    retry_after,
)
from syndicator.model import Fetched, Validators
from tests.conftest import REAL, FeedServer, Route

NO_VALIDATORS = Validators()
LIMITS = Limits(timeout=5, connect_timeout=2, max_bytes=1_000_000, max_redirects=3)


def get(url: str, validators: Validators = NO_VALIDATORS, limits: Limits = LIMITS) -> Fetched:
    async def go() -> Fetched:
        async with make_client(limits, allow=named_endpoints([url])) as client:
            return await fetch(client, url, validators, limits)

    return asyncio.run(go())


def failure(url: str, limits: Limits = LIMITS) -> FetchError:
    with pytest.raises(FetchError) as info:
        get(url, limits=limits)
    return info.value


def test_validators_are_stored_and_sent_back(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/f.atom", REAL / "rss-parser-heise.atom")
    first = get(url)
    assert first.status == 200 and first.body == (REAL / "rss-parser-heise.atom").read_bytes()
    assert first.validators.etag and first.validators.last_modified
    second = get(url, first.validators)
    assert second.status == 304 and second.body == b""
    sent = feed_server.log[-1].headers
    assert sent["If-None-Match"] == first.validators.etag
    assert sent["If-Modified-Since"] == first.validators.last_modified
    assert sent["User-Agent"].startswith("Syndicator/")


def test_gzip_body_is_decoded(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/g.xml", REAL / "rss-parser-guardian.rss", gzip=True)
    assert get(url).body == (REAL / "rss-parser-guardian.rss").read_bytes()


def test_body_over_the_cap_is_refused(feed_server: FeedServer) -> None:
    feed_server.routes["/big"] = Route(b"x" * 2_000_000)
    assert "too large" in failure(feed_server.base + "/big").reason


def test_gzip_bomb_is_capped_on_decompressed_size(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB on the wire
    feed_server.routes["/bomb"] = Route(bomb, headers={"Content-Encoding": "gzip"})
    assert len(bomb) < 100_000
    assert "too large" in failure(feed_server.base + "/bomb").reason


def test_deflate_is_decoded(feed_server: FeedServer) -> None:
    feed_server.routes["/d"] = Route(
        zlib.compress(b"<rss/>"), headers={"Content-Encoding": "deflate"}
    )
    assert get(feed_server.base + "/d").body == b"<rss/>"


def test_stalled_body_hits_the_total_deadline(feed_server: FeedServer) -> None:
    feed_server.routes["/slow"] = Route(b"<rss>" * 100, stall=True)
    limits = Limits(timeout=0.5, connect_timeout=1, max_bytes=10_000, max_redirects=3)
    assert "timed out" in failure(feed_server.base + "/slow", limits).reason


@pytest.mark.parametrize(
    ("status", "words"), [(404, "HTTP 404"), (410, "HTTP 410"), (500, "HTTP 500")]
)
def test_http_errors_have_a_one_line_reason(
    feed_server: FeedServer, status: int, words: str
) -> None:
    feed_server.routes["/e"] = Route(b"no", status=status)
    err = failure(feed_server.base + "/e")
    assert err.status == status and err.reason.startswith(words) and "\n" not in err.reason


def test_retry_after_is_reported(feed_server: FeedServer) -> None:
    feed_server.routes["/busy"] = Route(b"", status=503, headers={"Retry-After": "120"})
    err = failure(feed_server.base + "/busy")
    assert err.status == 503 and err.retry_after == 120


def test_redirects_are_followed_and_loops_stopped(feed_server: FeedServer) -> None:
    feed_server.serve_file("/target", REAL / "rss-parser-heraldsun.rss")
    feed_server.routes["/moved"] = Route(b"", status=301, headers={"Location": "/target"})
    assert get(feed_server.base + "/moved").url.endswith("/target")
    feed_server.routes["/loop"] = Route(b"", status=302, headers={"Location": "/loop"})
    assert "redirects" in failure(feed_server.base + "/loop").reason


def test_connection_refused() -> None:
    assert failure("http://127.0.0.1:9/feed").reason == "connection refused"


def test_file_source_uses_validators(tmp_path: Path) -> None:
    path = tmp_path / "f.xml"
    path.write_bytes(b"<rss/>")
    first = fetch_file(str(path), Validators(), LIMITS)
    assert first.status == 200 and first.body == b"<rss/>"
    assert fetch_file(str(path), first.validators, LIMITS).status == 304
    with pytest.raises(FetchError, match="not found"):
        fetch_file(str(tmp_path / "missing.xml"), Validators(), LIMITS)


def test_header_hints() -> None:
    assert retry_after("30", 0) == 30
    assert retry_after("Thu, 01 Jan 1970 00:02:00 GMT", 60) == 60
    assert retry_after("soon", 0) is None
    assert header_max_age({"Cache-Control": "public, max-age=900"}, 0) == 900
    assert header_max_age({}, 0) is None
