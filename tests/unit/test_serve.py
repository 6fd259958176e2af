"""The daemon's feed server over real loopback HTTP."""

from __future__ import annotations

import dataclasses
import email.utils
import gzip
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.model import SourceState
from syndicator.serve import ANSWERING_THREADS, FeedServer, SourceStatus, Status, _not_modified
from tests.unit.test_page import _hostile_status

FEED = b"<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'/>"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    (tmp_path / "all.atom").write_bytes(FEED)
    (tmp_path / "secret.txt").write_text("no")
    server = FeedServer(tmp_path, "127.0.0.1", 0)
    server.start()
    host, port = server.address
    yield f"http://{host}:{port}", tmp_path
    server.stop()


def test_feed_has_type_and_validators_and_answers_304(served: tuple[str, Path]) -> None:
    base, _ = served
    first = httpx.get(f"{base}/all.atom")
    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith("application/atom+xml")
    assert first.content == FEED
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = httpx.get(f"{base}/all.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    since = httpx.get(f"{base}/all.atom", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    stale = httpx.get(f"{base}/all.atom", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200


def test_changed_feed_gets_a_new_etag(served: tuple[str, Path]) -> None:
    base, directory = served
    etag = httpx.get(f"{base}/all.atom").headers["ETag"]
    (directory / "all.atom").write_bytes(FEED.replace(b"/>", b"><title>x</title></feed>"))
    after = httpx.get(f"{base}/all.atom", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag


def test_gzip_when_accepted(served: tuple[str, Path]) -> None:
    base, _ = served
    with httpx.Client() as client:
        raw = client.get(f"{base}/all.atom", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["Content-Encoding"] == "gzip"
    assert raw.content == FEED  # httpx decoded it
    with httpx.stream("GET", f"{base}/all.atom", headers={"Accept-Encoding": "gzip"}) as r:
        assert gzip.decompress(b"".join(r.iter_raw())) == FEED


def test_only_feeds_are_served(served: tuple[str, Path]) -> None:
    base, _ = served
    assert httpx.get(f"{base}/secret.txt").status_code == 404
    for path in ("/../all.atom", "/%2e%2e/all.atom", "/sub/../all.atom", "//etc/passwd"):
        assert raw_status(base, path) == 404, path
    assert httpx.get(f"{base}/missing.atom").status_code == 404


def raw_status(base: str, path: str) -> int:
    """Send the path exactly as written (a client library would normalise it)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        return int(sock.recv(100).split(b" ")[1])


def test_health_and_status_page(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    assert httpx.get(f"{base}/healthz").text == "ok\n"
    page = httpx.get(f"{base}/")
    assert page.status_code == 200 and 'href="/all.atom"' in page.text


def test_status_page_lists_sources_with_errors(tmp_path: Path) -> None:
    server = FeedServer(tmp_path, "127.0.0.1", 0)
    server.status = Status(
        topics=(("nato", "NATO OR OTAN"),),
        sources=(
            SourceStatus("good", "https://a/", SourceState("good", last_success=1.0)),
            SourceStatus(
                "bad", "https://b/", SourceState("bad", failures=2, last_error="HTTP 410 Gone")
            ),
        ),
    )
    server.start()
    try:
        host, port = server.address
        page = httpx.get(f"http://{host}:{port}/").text
    finally:
        server.stop()
    assert "NATO OR OTAN" in page
    assert "HTTP 410 Gone" in page and "failing" in page


# -- hostile clients -------------------------------------------------------------------------


def _partial_head(host: str, port: int) -> socket.socket:
    """A client that starts a request and never finishes its head."""
    sock = socket.create_connection((host, port))
    sock.sendall(b"GET /all.atom HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    return sock


def _closed(sock: socket.socket, within: float) -> bool:
    """Whether the server closes the connection within `within` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_trickling_connections_hold_no_thread_and_health_still_answers(tmp_path: Path) -> None:
    (tmp_path / "all.atom").write_bytes(FEED)
    server = FeedServer(tmp_path, "127.0.0.1", 0)
    server.start()
    host, port = server.address
    threads = threading.active_count()
    socks: list[socket.socket] = []
    try:
        socks = [_partial_head(host, port) for _ in range(300)]
        for sock in socks:
            sock.sendall(b"a")  # a trickle: one more byte each
        began = time.monotonic()
        assert httpx.get(f"http://{host}:{port}/healthz", timeout=5).text == "ok\n"
        assert time.monotonic() - began < 2
        assert threading.active_count() <= threads + ANSWERING_THREADS  # was one per connection
    finally:
        for sock in socks:
            sock.close()
        server.stop()


def test_a_head_that_never_ends_is_cut_and_a_flood_evicts_the_oldest(tmp_path: Path) -> None:
    (tmp_path / "all.atom").write_bytes(FEED)
    server = FeedServer(tmp_path, "127.0.0.1", 0, head_timeout=0.5)
    server.start()
    host, port = server.address
    try:
        slow = _partial_head(host, port)
        assert _closed(slow, within=5)  # after head_timeout, not never
        slow.close()
    finally:
        server.stop()
    server = FeedServer(tmp_path, "127.0.0.1", 0, head_timeout=60, max_connections=20)
    server.start()
    host, port = server.address
    socks: list[socket.socket] = []
    try:
        socks = [_partial_head(host, port) for _ in range(30)]
        assert httpx.get(f"http://{host}:{port}/healthz", timeout=5).text == "ok\n"
        assert _closed(socks[0], within=5)  # the oldest made room
        assert not _closed(socks[-1], within=0.2)  # the newest still waits for its head
    finally:
        for sock in socks:
            sock.close()
        server.stop()


def test_an_if_modified_since_that_overflows_is_ignored(served: tuple[str, Path]) -> None:
    base, _ = served
    for value in (
        "Wed, 01 Jan 2025 99999999999999999999:00:00 GMT",
        "Wed, 01 Jan 2025 00:99999999999999999999:00 GMT",
        "Wed, 99999999999999999999 Jan 2025 00:00:00 GMT",
    ):
        got = httpx.get(f"{base}/all.atom", headers={"If-Modified-Since": value})
        assert got.status_code == 200 and got.content == FEED, value


HEADER_TEXT = (  # what a client can send: visible ASCII, inner spaces
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
    .map(str.strip)
    .filter(bool)
)
DATE_LIKE = st.builds(
    "{}, {} Jan {} {}:{}:{} {}".format,
    st.sampled_from(["Wed", "Sun"]),
    *[st.integers(min_value=-(10**25), max_value=10**25) for _ in range(5)],
    st.sampled_from(["GMT", "+2359", "-2359", "+9999", ""]),
)


@given(st.one_of(st.text(), DATE_LIKE), st.floats(min_value=0, max_value=4e9))
def test_a_malformed_if_modified_since_is_no_validator(value: str, mtime: float) -> None:
    answer = _not_modified(None, value, '"etag"', mtime)
    if email.utils.parsedate_tz(value) is None:
        assert answer is False


def test_arbitrary_validators_over_http_get_200_or_304(served: tuple[str, Path]) -> None:
    base, _ = served
    with httpx.Client() as client:

        @settings(max_examples=60, deadline=None)
        @given(st.one_of(HEADER_TEXT, DATE_LIKE.map(str.strip)), HEADER_TEXT)
        def check(since: str, match: str) -> None:
            for headers in ({"If-Modified-Since": since}, {"If-None-Match": match}):
                got = client.get(f"{base}/all.atom", headers=headers)
                assert got.status_code in (200, 304)
            got = client.get(f"{base}/all.atom", headers={"If-Modified-Since": since})
            if email.utils.parsedate_tz(since) is None:
                assert got.status_code == 200

        check()


def test_symlinks_out_of_the_output_directory_are_not_followed(tmp_path: Path) -> None:
    feeds, outside = tmp_path / "feeds", tmp_path / "outside"
    feeds.mkdir()
    outside.mkdir()
    (feeds / "all.atom").write_bytes(FEED)
    (outside / "secret.atom").write_bytes(b"<secret/>")
    (feeds / "leak.atom").symlink_to(outside / "secret.atom")
    (feeds / "passwd.atom").symlink_to("/etc/passwd")
    (feeds / "alias.atom").symlink_to(feeds / "all.atom")  # inside: fine
    (tmp_path / "published").symlink_to(feeds)  # output_dir itself may be a symlink
    server = FeedServer(tmp_path / "published", "127.0.0.1", 0)
    server.start()
    host, port = server.address
    base = f"http://{host}:{port}"
    try:
        assert httpx.get(f"{base}/leak.atom").status_code == 404
        assert httpx.get(f"{base}/passwd.atom").status_code == 404
        assert httpx.get(f"{base}/alias.atom").content == FEED
        assert httpx.get(f"{base}/all.atom").content == FEED
        page = httpx.get(f"{base}/").text
    finally:
        server.stop()
    assert "alias.atom" in page and "leak.atom" not in page and "passwd.atom" not in page


def test_the_server_renders_the_page_once_per_snapshot_and_list_of_feeds(tmp_path: Path) -> None:
    from syndicator.serve import FeedServer as Server

    server = Server(tmp_path, "127.0.0.1", 0)
    server.start()
    try:
        server.status = _hostile_status()
        first = server.page(["all.atom"])
        assert server.page(["all.atom"]) is first  # a reload costs no rendering
        assert b"nato.atom" in server.page(["all.atom", "nato.atom"])
        server.status = dataclasses.replace(server.status, updated=200.0)  # the next cycle's
        assert server.page(["all.atom"]) != first
    finally:
        server.stop()
