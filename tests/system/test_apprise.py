"""The apprise channel through a real `syndicator run --once`: only the channel's topics are
sent, and the tokens in Apprise URLs are never shown or logged."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import FeedServer, Route, run_cli
from tests.receiver import Answer, Receiver
from tests.system.test_webhook import RSS
from tests.unit.test_alert_apprise import _config

PASSWORD = "apprise-Pa55word-q7"


def test_a_run_sends_only_the_channels_topics_and_shows_no_token(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    port = receiver.base.rsplit(":", 1)[1]
    feed_server.routes["/feed.rss"] = Route(RSS)
    url = f"json://user:{PASSWORD}@127.0.0.1:{port}/hook?token={PASSWORD}x"
    config = _config(
        tmp_path,
        [url],
        f'topics = ["sport"]\n[[sources]]\nname = "news"\nurl = "{feed_server.base}/feed.rss"\n',
    )
    receiver.script = [Answer(503)]
    first = run_cli("--log-level", "DEBUG", "run", "--once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    second = run_cli("run", "--once", "--config", str(config))  # not due yet: nothing sent
    check = run_cli("check", "--config", str(config))
    status = run_cli("status", "--config", str(config))
    assert f"push: apprise to json://***@127.0.0.1:{port}/hook, sport" in check.stdout
    assert "push: 1 pending, 0 sent, 1 retrying" in status.stdout
    for result in (first, second, check, status):
        assert PASSWORD not in result.stdout + result.stderr
    assert "apprise: Loaded JSON URL: json://***@127.0.0.1" in first.stderr  # Apprise's log, masked
    (got,) = receiver.received  # the NATO story is not this channel's
    assert json.loads(got.body)["title"] == "[sport] Olympia in Paris"
    assert got.headers["authorization"].startswith("Basic ")  # the password was used, unshown
