"""The daemon's feed server over real loopback HTTP."""

from __future__ import annotations

import gzip
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syndicator.model import SourceState
from syndicator.serve import FeedServer, SourceStatus, Status

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
