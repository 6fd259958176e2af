"""The webhook channel through a real `syndicator run --once`: the per-channel topics filter,
the loopback receiver allowed as the endpoint the user named, a refused alert shown as failed
by `syndicator status` and the page, and no secret or URL token in the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syndicator.config import load_config
from syndicator.page import render
from syndicator.pipeline import Pipeline
from syndicator.redact import origin_only
from syndicator.service import snapshot
from syndicator.store import SQLiteStore
from tests.conftest import FeedServer, Route, run_cli, write_config
from tests.receiver import Answer, Receiver
from tests.unit.test_alert_webhook import SECRET, TOKEN, receiver_verifies

# -- a real run: the topics filter, the guard's named endpoint, status, the log -----------------


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title><link>https://example.org/</link>
<item><guid>a</guid><title>NATO-Gipfel in Vilnius</title><link>https://example.org/nato</link>
<description>Die NATO berät in Vilnius.</description></item>
<item><guid>b</guid><title>Olympia in Paris</title><link>https://example.org/olympia</link>
<description>Olympia beginnt in Paris.</description></item>
</channel></rss>""".encode()


def _news_config(tmp_path: Path, feed_server: FeedServer, alert: str) -> Path:
    """The news source (RSS: one NATO story, one Olympia story), topics nato and sport, and
    the one [[alerts]] table given."""
    return write_config(
        tmp_path,
        f"""
[[sources]]
name = "news"
url = "{feed_server.base}/feed.rss"

[[topics]]
name = "nato"
query = "NATO"

[[topics]]
name = "sport"
query = "Olympia"

[[alerts]]
{alert.strip()}
""",
    )


def test_a_run_posts_only_the_channels_topics_and_logs_no_secret(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    feed_server.routes["/feed.rss"] = Route(RSS)
    (tmp_path / "hook.key").write_text(SECRET, encoding="utf-8")
    config = _news_config(
        tmp_path,
        feed_server,
        f"""
type = "webhook"
name = "sport-hook"
url = "{receiver.base}/services/{TOKEN}"
secret_file = "hook.key"
topics = ["sport"]
""",
    )
    receiver.script = [Answer(503, body=f"echo {SECRET}".encode())]  # a receiver that leaks
    first = run_cli("--log-level", "DEBUG", "run", "--once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert [r.answered for r in receiver.received] == [503]
    status = run_cli("status", "--config", str(config))
    assert "sport-hook: 1 pending, 0 sent, 1 retrying" in status.stdout
    check = run_cli("check", "--config", str(config))
    assert f"sport-hook: webhook to {receiver.base}/***, sport" in check.stdout
    # The loopback receiver is allowed: its host:port is the one the user named.
    assert "refused" not in status.stdout
    for output in (first.stdout, first.stderr, status.stdout, status.stderr, check.stdout):
        assert SECRET not in output and TOKEN not in output
    assert origin_only(f"{receiver.base}/services/{TOKEN}") in first.stderr  # shown, redacted


def test_a_run_delivers_the_filtered_story_signed(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    feed_server.routes["/feed.rss"] = Route(RSS)
    config = _news_config(
        tmp_path,
        feed_server,
        f"""
type = "webhook"
url = "{receiver.base}/hook"
topics = ["sport"]
""",
    )
    result = run_cli(
        "run", "--once", "--config", str(config), env={"SYNDICATOR_WEBHOOK_SECRET": SECRET}
    )
    assert result.returncode == 0, result.stderr
    (got,) = receiver.received  # the NATO story is not this channel's
    assert receiver_verifies(got.body, got.headers["x-syndicator-signature"])
    (story,) = json.loads(got.body)["stories"]
    assert story["title"] == "Olympia in Paris" and story["topics"] == ["sport"]
    assert story["matched"] == {"sport": ["Olympia"]}


def test_status_shows_a_refused_alert_as_failed_with_its_error(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.routes["/feed.rss"] = Route(RSS)
    config = write_config(
        tmp_path,
        f"""
[[sources]]
name = "news"
url = "{feed_server.base}/feed.rss"

[[topics]]
name = "nato"
query = "NATO"

[[alerts]]
type = "webhook"
name = "hook"
url = "{receiver.base}/hook"
""",
    )
    receiver.default = Answer(404, body=b"unknown hook")
    env = {"SYNDICATOR_WEBHOOK_SECRET": SECRET}
    assert run_cli("run", "--once", "--config", str(config), env=env).returncode == 0
    assert run_cli("run", "--once", "--config", str(config), env=env).returncode == 0
    assert len(receiver.received) == 1  # refused for good: the second run did not try again
    status = run_cli("status", "--config", str(config), env=env)
    assert "Alerts: 0 pending, 0 sent, 1 failed" in status.stdout
    assert "hook: 0 pending, 0 sent, 1 failed (refused for good, not retried; last error: " in (
        status.stdout
    )
    assert "answered 404: unknown hook)" in status.stdout

    # The daemon's page shows it as failed too, with the error.
    with monkeypatch.context() as m:
        m.setenv("SYNDICATOR_WEBHOOK_SECRET", SECRET)
        loaded = load_config(config)
    store = SQLiteStore(loaded.state)
    try:
        page = render(snapshot(Pipeline(loaded, store, senders=[])), [])
    finally:
        store.close()
    assert "0 pending, 0 sent, " in page
    assert '<span class="state-failing">1 failed</span>' in page
    assert "answered 404: unknown hook" in page
