"""The apprise sender (syndicator/alert/apprise.py) for real, in process: Apprise's own json://
and form:// targets post to a loopback receiver. A refused notification is retried; digests
work as for email. The command-level run is in tests/system/test_apprise.py."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

from syndicator.alert import deliver, retry_delay
from syndicator.alert.apprise import AppriseSender
from syndicator.config import AppriseAlert, load_config
from syndicator.model import CleanEntry, NewEntry, ParsedEntry, SourceState, TopicHit
from syndicator.store import SQLiteStore, SQLStore
from tests.conftest import write_config
from tests.receiver import Answer, Receiver


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
