"""`syndicator run` as a daemon: serves what it published, answers 304, stops on SIGTERM."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from tests.conftest import (
    DATA,
    FeedServer,
    Route,
    free_port,
    running,
    wait_until,
    write_config,
)


def test_daemon_serves_feeds_with_304_and_stops_on_sigterm(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve_file("/sample.rss", DATA / "sample-news.rss")
    port = free_port()
    config = write_config(
        tmp_path,
        f"""
[server]
listen = "127.0.0.1:{port}"
[[sources]]
name = "sample"
url = "{url}"
[[topics]]
name = "nato"
query = "NATO"
[[alerts]]
type = "console"
""",
    )
    with running("run", "--config", str(config)) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: (tmp_path / "feeds" / "nato.atom").exists(), proc)
        feed = httpx.get(f"{base}/nato.atom")
        assert feed.status_code == 200
        assert feed.headers["Content-Type"].startswith("application/atom+xml")
        assert "NATO und Japan planen" in feed.text
        again = httpx.get(f"{base}/nato.atom", headers={"If-None-Match": feed.headers["ETag"]})
        assert again.status_code == 304
        assert httpx.get(f"{base}/healthz").status_code == 200
        status = httpx.get(f"{base}/").text
        assert "sample" in status and "nato.atom" in status
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert time.monotonic() - started < 10
        assert out.count("ALERT [nato]") == 2


def test_sigterm_during_a_stalled_poll_exits_0_within_10s(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/stall"] = Route(b"<rss>" * 100, stall=True)
    config = write_config(
        tmp_path,
        f"""
[fetch]
timeout = "120s"
[[sources]]
name = "stalling"
url = "{feed_server.base}/stall"
""",
    )
    with running("run", "--config", str(config)) as proc:
        deadline = time.monotonic() + 60
        while not feed_server.requests_to("/stall"):  # the poll is now in flight
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert time.monotonic() - started < 10
        assert "abandoning the poll in flight" in err
