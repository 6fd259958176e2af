"""The apprise channel for real: Apprise's own json:// and form:// targets post to a loopback
receiver. A refused notification is retried; digests and the topics filter work as for email;
the tokens in Apprise URLs are never shown or logged; without the extra, the config names the
key and says what to install."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from syndicator.alert import deliver, retry_delay
from syndicator.alert.apprise import AppriseSender
from syndicator.config import AppriseAlert, load_config
from syndicator.errors import ConfigError
from syndicator.model import CleanEntry, NewEntry, ParsedEntry, SourceState, TopicHit
from syndicator.store import SQLiteStore, SQLStore
from tests.conftest import FeedServer, Route, run_cli, write_config
from tests.receiver import Answer, Receiver
from tests.test_webhook import RSS

PASSWORD = "apprise-Pa55word-q7"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def _config(tmp_path: Path, urls: list[str], extra: str = "") -> Path:
    listed = ", ".join(json.dumps(u) for u in urls)
    return write_config(
        tmp_path,
        '[[topics]]\nname = "nato"\nquery = "NATO"\n[[topics]]\nname = "sport"\n'
        f'query = "Olympia"\n[[alerts]]\ntype = "apprise"\nname = "push"\nurls = [{listed}]\n'
        + extra,
    )


def channel(tmp_path: Path, urls: list[str], extra: str = "") -> AppriseAlert:
    (found,) = load_config(_config(tmp_path, urls, extra)).alerts
    assert isinstance(found, AppriseAlert)
    return found


def queue(store: SQLStore, *stories: tuple[str, str, str], now: float = 0) -> None:
    """Entries (key, title, topic) of one poll, with an alert each on channel `push`."""
    entries, alerts = [], []
    for i, (key, title, topic) in enumerate(stories):
        link = f"https://example.org/{key}"
        text = f"{title}. Die NATO berät in Vilnius über die Lage."
        clean = CleanEntry(title, link, f"<p>{text}</p>", text)
        hits = (TopicHit(topic, ("NATO" if topic == "nato" else "Olympia",)),)
        entries.append(NewEntry("dw", ParsedEntry(key, title, link, "<p>x</p>"), key, clean, hits))
        alerts.append(("push", i, (topic,)))
    store.save_poll(SourceState("dw"), entries, alerts, now)


def test_json_target_gets_the_story(tmp_path: Path, receiver: Receiver) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    queue(store, ("k1", "NATO-Gipfel in Vilnius", "nato"))
    port = receiver.base.rsplit(":", 1)[1]
    sender = AppriseSender(channel(tmp_path, [f"json://127.0.0.1:{port}/notify"]))
    assert deliver(store, [sender], now=1) == (1, 0)
    (got,) = receiver.received
    assert got.path == "/notify"
    body = json.loads(got.body)
    assert body["title"] == "[nato] NATO-Gipfel in Vilnius"
    message = body["message"]
    assert "https://example.org/k1" in message and "Source: dw" in message
    assert "Matched nato: NATO" in message and "Die NATO berät in Vilnius" in message
    assert store.channel_counts()["push"].sent == 1


def test_form_target_and_several_urls(tmp_path: Path, receiver: Receiver) -> None:
    port = receiver.base.rsplit(":", 1)[1]
    store = SQLiteStore(tmp_path / "s.sqlite")
    queue(store, ("k1", "NATO-Gipfel", "nato"))
    urls = [f"json://127.0.0.1:{port}/a", f"form://127.0.0.1:{port}/b"]
    assert deliver(store, [AppriseSender(channel(tmp_path, urls))], now=1) == (1, 0)
    by_path = {r.path: r for r in receiver.received}
    assert set(by_path) == {"/a", "/b"}
    form = parse_qs(by_path["/b"].body.decode())
    assert form["title"] == ["[nato] NATO-Gipfel"]


def test_a_refused_notification_is_retried_then_sent_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    port = receiver.base.rsplit(":", 1)[1]
    store = SQLiteStore(tmp_path / "s.sqlite")
    queue(store, ("k1", "NATO-Gipfel", "nato"))
    receiver.script = [Answer(500)]
    sender = AppriseSender(channel(tmp_path, [f"json://127.0.0.1:{port}/n"]))
    assert deliver(store, [sender], now=10) == (0, 1)
    counts = store.channel_counts()["push"]
    assert counts.retrying == 1 and counts.last_error
    assert "apprise json://127.0.0.1" in counts.last_error and "500" in counts.last_error
    assert deliver(store, [sender], now=11) == (0, 0)
    assert deliver(store, [sender], now=10 + retry_delay(0)) == (1, 0)
    assert deliver(store, [sender], now=10**6) == (0, 0)
    assert [r.answered for r in receiver.received] == [500, 204]


def test_a_digest_is_one_notification_per_topic(tmp_path: Path, receiver: Receiver) -> None:
    port = receiver.base.rsplit(":", 1)[1]
    store = SQLiteStore(tmp_path / "s.sqlite")
    queue(store, ("k1", "First NATO story", "nato"), ("k2", "Second NATO story", "nato"), now=0)
    sender = AppriseSender(channel(tmp_path, [f"json://127.0.0.1:{port}/n"], 'digest = "1h"\n'))
    assert sender.digest == 3600
    assert deliver(store, [sender], now=60) == (0, 0)
    assert deliver(store, [sender], now=3600) == (2, 0)
    (got,) = receiver.received
    body = json.loads(got.body)
    assert body["title"] == "[nato] 2 new stories"
    assert "First NATO story" in body["message"] and "Second NATO story" in body["message"]


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


def test_missing_extra_names_the_key_and_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # as if it were not installed
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, ["json://127.0.0.1:9/x"]))
    assert caught.value.key == "alerts[0].type"
    assert "pip install 'syndicator[apprise]'" in str(caught.value)


@pytest.mark.parametrize(
    ("urls", "key"),
    [
        ("[]", "alerts[0].urls"),
        ('["nosuchservice://x/y"]', "alerts[0].urls[0]"),
        ('["json://127.0.0.1:9/x", 3]', "alerts[0].urls"),
    ],
)
def test_bad_urls_name_the_key(tmp_path: Path, urls: str, key: str) -> None:
    path = write_config(
        tmp_path,
        f'[[topics]]\nname = "nato"\nquery = "NATO"\n[[alerts]]\ntype = "apprise"\nurls = {urls}\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key
