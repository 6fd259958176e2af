"""The webhook sender (syndicator/alert/webhook.py) against a real loopback receiver, in
process: the receiver verifies each signature over the exact body; 500s and timeouts are
retried with back-off until accepted, and sent once; 408 and 429 are retried; any other 4xx is
refused for good and never retried; digests; notices; the README's verifying snippet. The
command-level runs are in tests/system/test_webhook.py."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.alert import deliver, retry_delay
from syndicator.alert.webhook import WebhookSender, alert_body, encode, sign, verify
from syndicator.config import WebhookAlert, load_config
from syndicator.model import (
    CleanEntry,
    NewEntry,
    ParsedEntry,
    PendingAlert,
    SourceState,
    StoredEntry,
    TopicHit,
)
from syndicator.redact import origin_only
from syndicator.store import SQLiteStore, SQLStore
from tests.conftest import ROOT
from tests.receiver import Answer, Receiver
from tests.unit.test_config_alerts import _hook_config

SECRET = "webhook-secret-Zq81xP0w"


def channel(
    url: str, secret_file: Path, timeout: float = 30.0, digest: float | None = None
) -> WebhookAlert:
    return WebhookAlert(
        name="hook", topics=None, url=url, secret_file=secret_file, timeout=timeout, digest=digest
    )


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "webhook.secret"
    path.write_text(SECRET + "\n", encoding="utf-8")  # a trailing newline is not the secret's
    return path


def receiver_verifies(body: bytes, header: str, secret: str = SECRET) -> bool:
    """What a receiver does, written here independently of syndicator's code."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def queue(store: SQLStore, *stories: tuple[str, str, tuple[TopicHit, ...]], now: float = 0) -> None:
    """Store entries (key, title, hits) of one poll with an alert each on channel `hook`."""
    entries, alerts = [], []
    for i, (key, title, hits) in enumerate(stories):
        link = f"https://example.org/{key}"
        parsed = ParsedEntry(key, title, link, "<p>x</p>")
        text = f"{title}. Die NATO berät in Vilnius über die Lage."
        entries.append(
            NewEntry("dw", parsed, key, CleanEntry(title, link, f"<p>{text}</p>", text), hits)
        )
        alerts.append(("hook", i, tuple(h.topic for h in hits)))
    store.save_poll(SourceState("dw"), entries, alerts, now)


NATO = (TopicHit("nato", ("NATO",)),)
TOKEN = "T0SECRETPATHTOKEN42xyz"


def test_the_receiver_verifies_the_signature_and_reads_the_story(
    tmp_path: Path, receiver: Receiver, secret_file: Path
) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    hits = (TopicHit("nato", ("NATO", "Vilnius")), TopicHit("world", ("Gipfel",)))
    queue(store, ("k1", "NATO-Gipfel in Vilnius", hits))
    assert deliver(store, [WebhookSender(channel(f"{receiver.base}/hook", secret_file))], 5) == (
        1,
        0,
    )
    (got,) = receiver.received
    assert got.path == "/hook"
    assert got.headers["content-type"].startswith("application/json")
    assert receiver_verifies(got.body, got.headers["x-syndicator-signature"])
    assert not receiver_verifies(got.body + b" ", got.headers["x-syndicator-signature"])
    body = json.loads(got.body)
    assert body["type"] == "alert" and body["channel"] == "hook"
    assert body["topics"] == ["nato", "world"]
    (story,) = body["stories"]
    assert story["title"] == "NATO-Gipfel in Vilnius"
    assert story["link"] == "https://example.org/k1" and story["source"] == "dw"
    assert story["excerpt"].startswith("NATO-Gipfel in Vilnius. Die NATO berät")
    assert story["matched"] == {"nato": ["NATO", "Vilnius"], "world": ["Gipfel"]}
    assert story["id"].startswith("urn:uuid:") and story["updated"].endswith("Z")
    assert "published" in story
    assert store.channel_counts()["hook"].sent == 1


def test_500_then_a_timeout_are_retried_with_back_off_and_sent_once(
    tmp_path: Path, receiver: Receiver, secret_file: Path
) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    queue(store, ("k1", "NATO-Gipfel", NATO))
    receiver.script = [Answer(500, body=b"database down"), Answer(stall=True)]
    sender = WebhookSender(channel(f"{receiver.base}/hook", secret_file, timeout=1.0))
    assert deliver(store, [sender], now=10) == (0, 1)
    counts = store.channel_counts()["hook"]
    assert counts.retrying == 1 and "answered 500: database down" in (counts.last_error or "")
    assert deliver(store, [sender], now=11) == (0, 0)  # not due yet: back-off
    second = 10 + retry_delay(0)
    assert deliver(store, [sender], now=second) == (0, 1)  # the receiver stalls: timed out
    assert "timed out" in (store.channel_counts()["hook"].last_error or "")
    assert deliver(store, [sender], now=second + retry_delay(0)) == (0, 0)  # back-off doubled
    assert deliver(store, [sender], now=second + retry_delay(1)) == (1, 0)
    assert deliver(store, [sender], now=100_000) == (0, 0)
    assert [r.answered for r in receiver.received] == [500, 0, 204]
    # Every attempt carried the same signed body: a receiver may dedupe on the story's id.
    assert len({r.body for r in receiver.received}) == 1
    assert all(
        receiver_verifies(r.body, r.headers["x-syndicator-signature"]) for r in receiver.received
    )
    counts = store.channel_counts()["hook"]
    assert (counts.sent, counts.pending, counts.failed) == (1, 0, 0)


@pytest.mark.parametrize("status", [408, 429])
def test_408_and_429_are_retried(
    tmp_path: Path, receiver: Receiver, secret_file: Path, status: int
) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    queue(store, ("k1", "NATO-Gipfel", NATO))
    receiver.script = [Answer(status)]
    sender = WebhookSender(channel(f"{receiver.base}/hook", secret_file))
    assert deliver(store, [sender], now=10) == (0, 1)
    assert store.channel_counts()["hook"].failed == 0
    assert deliver(store, [sender], now=10 + retry_delay(0)) == (1, 0)
    assert [r.answered for r in receiver.received] == [status, 204]


def test_retry_after_is_honoured(tmp_path: Path, receiver: Receiver, secret_file: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    queue(store, ("k1", "NATO-Gipfel", NATO))
    receiver.script = [Answer(429, headers={"Retry-After": "900"})]
    sender = WebhookSender(channel(f"{receiver.base}/hook", secret_file))
    assert deliver(store, [sender], now=10) == (0, 1)
    assert store.next_retry() == pytest.approx(910)  # not the first back-off step (60 s)
    assert deliver(store, [sender], now=10 + retry_delay(0)) == (0, 0)
    assert deliver(store, [sender], now=911) == (1, 0)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 413])
def test_a_permanent_4xx_is_not_retried_and_the_next_alert_still_goes(
    store: SQLStore, receiver: Receiver, secret_file: Path, status: int
) -> None:
    """On SQLite and on PostgreSQL (conftest's `store`)."""
    queue(store, ("k1", "Refused story", NATO), ("k2", "Accepted story", NATO))
    receiver.script = [Answer(status, body=b"no such hook")]
    sender = WebhookSender(channel(f"{receiver.base}/hook", secret_file))
    assert deliver(store, [sender], now=10) == (1, 1)
    assert [r.answered for r in receiver.received] == [status, 204]
    assert json.loads(receiver.received[1].body)["stories"][0]["title"] == "Accepted story"
    counts = store.channel_counts()["hook"]
    assert (counts.pending, counts.sent, counts.failed, counts.retrying) == (0, 1, 1, 0)
    assert f"answered {status}: no such hook" in (counts.last_error or "")
    assert store.next_retry() is None  # nothing to wake up for
    for later in (10 + retry_delay(0), 10 + retry_delay(5), 10**7):
        assert deliver(store, [sender], now=later) == (0, 0)
    assert len(receiver.received) == 2
    assert store.outbox_counts() == (0, 1)


def test_a_digest_is_one_signed_post_per_topic_after_the_period(
    tmp_path: Path, receiver: Receiver, secret_file: Path
) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    queue(store, ("k1", "First NATO story", NATO), ("k2", "Second NATO story", NATO), now=100)
    queue(store, ("k3", "Sport story", (TopicHit("sport", ("Olympia",)),)), now=200)
    sender = WebhookSender(channel(f"{receiver.base}/hook", secret_file, digest=3600.0))
    assert deliver(store, [sender], now=3000) == (0, 0)  # the period has not passed
    assert receiver.received == []
    assert deliver(store, [sender], now=3700) == (2, 0)  # nato's period is over; sport's not
    (got,) = receiver.received
    assert receiver_verifies(got.body, got.headers["x-syndicator-signature"])
    assert got.headers["x-syndicator-event"] == "digest"
    body = json.loads(got.body)
    assert body["type"] == "digest" and body["topics"] == ["nato"]
    assert [s["title"] for s in body["stories"]] == ["First NATO story", "Second NATO story"]
    assert all(s["matched"] == {"nato": ["NATO"]} for s in body["stories"])
    assert deliver(store, [sender], now=3900) == (1, 0)
    assert json.loads(receiver.received[1].body)["topics"] == ["sport"]


def test_the_secret_may_come_from_the_environment(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNDICATOR_WEBHOOK_SECRET", "from-the-environment-1")
    config = load_config(_hook_config(tmp_path, f'name = "hook"\nurl = "{receiver.base}/in"'))
    (hook,) = config.alerts
    assert isinstance(hook, WebhookAlert) and hook.secret_file is None
    store = SQLiteStore(tmp_path / "s.sqlite")
    queue(store, ("k1", "NATO-Gipfel", NATO))
    assert deliver(store, [WebhookSender(hook)], now=1) == (1, 0)
    (got,) = receiver.received
    assert receiver_verifies(
        got.body, got.headers["x-syndicator-signature"], "from-the-environment-1"
    )


# -- the signature over arbitrary text ------------------------------------------------------------


def entry(title: str, text: str, terms: tuple[str, ...]) -> StoredEntry:
    return StoredEntry(
        id=1,
        uid="urn:uuid:1",
        source="dw",
        title=title,
        link="https://example.org/x",
        html="",
        text=text,
        author="",
        published=None,
        updated=datetime(2024, 1, 1, tzinfo=UTC),
        hits=(TopicHit("nato", terms),),
    )


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text(), st.lists(st.text(max_size=20), max_size=4), st.text(min_size=1))
def test_the_signature_over_any_story_verifies_and_no_other_does(
    title: str, text: str, terms: list[str], secret: str
) -> None:
    alert = PendingAlert(1, "hook", entry(title, text, tuple(terms)), ("nato",))
    data = encode(alert_body(alert, "hook"))
    header = sign(secret.encode(), data)
    assert receiver_verifies(data, header, secret) and verify(secret.encode(), data, header)
    assert not receiver_verifies(data + b"\n", header, secret)
    story = json.loads(data)["stories"][0]  # valid JSON, whatever the text
    assert story["matched"] == {"nato": terms}
    assert "\x1b" not in story["title"] and "\n" not in story["title"]


def test_the_readmes_receiver_snippet_verifies_a_real_request(
    tmp_path: Path, receiver: Receiver, secret_file: Path
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- webhook-verify -->")[1].split("<!-- /webhook-verify -->")[0]
    code = block.strip().removeprefix("```python").removesuffix("```")
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    verified = scope["verified"]
    assert callable(verified)
    store = SQLiteStore(tmp_path / "s.sqlite")
    queue(store, ("k1", "NATO-Gipfel in Vilnius — «Tokio»", NATO))
    assert deliver(store, [WebhookSender(channel(f"{receiver.base}/hook", secret_file))], 1)[0] == 1
    (got,) = receiver.received
    signature = got.headers["x-syndicator-signature"]
    assert verified(SECRET.encode(), got.body, signature) is True
    assert verified(b"another secret", got.body, signature) is False
    assert verified(SECRET.encode(), got.body.replace(b"Tokio", b"Tokyo"), signature) is False


def test_a_notice_about_a_failing_source_is_posted_signed(
    tmp_path: Path, receiver: Receiver, secret_file: Path
) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    subject = "source dw is failing: HTTP 500 at https://u:pw-s3cret@dw.example/feed"
    store.save_state(SourceState("dw"), [("hook", subject, "Last error: HTTP 500")], now=0.0)
    sender = WebhookSender(channel(f"{receiver.base}/hook", secret_file))
    assert deliver(store, [sender], now=1) == (1, 0)
    (got,) = receiver.received
    assert receiver_verifies(got.body, got.headers["x-syndicator-signature"])
    assert got.headers["x-syndicator-event"] == "notice"
    body = json.loads(got.body)
    assert body["type"] == "notice" and body["body"] == "Last error: HTTP 500"
    assert body["subject"] == "source dw is failing: HTTP 500 at https://***@dw.example/feed"


def test_an_unreachable_receiver_is_retried_with_a_reason(
    tmp_path: Path, secret_file: Path
) -> None:
    from tests.conftest import free_port

    store = SQLiteStore(tmp_path / "s.sqlite")
    queue(store, ("k1", "NATO-Gipfel", NATO))
    url = f"http://127.0.0.1:{free_port()}/services/{TOKEN}"
    assert deliver(store, [WebhookSender(channel(url, secret_file))], now=1) == (0, 1)
    error = store.channel_counts()["hook"].last_error or ""
    assert error.startswith(f"webhook {origin_only(url)}: ConnectError") and TOKEN not in error
