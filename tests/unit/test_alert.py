"""Alert delivery through a real SMTP server (aiosmtpd) and the console, from the outbox."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.alert import CLAIM_TTL, deliver, retry_delay
from syndicator.alert.console import ConsoleSender
from syndicator.alert.email import EmailSender
from syndicator.config import EmailAlert
from syndicator.model import (
    CleanEntry,
    NewEntry,
    ParsedEntry,
    PendingAlert,
    SourceState,
    StoredEntry,
)
from syndicator.store import SQLiteStore, SQLStore
from tests.conftest import Backend, Mailbox


def channel(port: int) -> EmailAlert:
    return EmailAlert(
        name="mail",
        topics=None,
        host="127.0.0.1",
        port=port,
        security="none",
        sender="syndicator@example.org",
        to=("a@example.org", "b@example.org"),
        timeout=5,
    )


def stored(title: str = "NATO-Gipfel in Vilnius") -> StoredEntry:
    return StoredEntry(
        id=1,
        uid="urn:uuid:1",
        source="dw",
        title=title,
        link="https://example.org/nato",
        html="<p>x</p>",
        text="Die NATO berät in Vilnius. " * 40,
        author="",
        published=None,
        updated=datetime(2024, 1, 1, tzinfo=UTC),
        hits=(),
    )


def test_email_names_topic_and_title_and_has_text_and_html(smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    EmailSender(channel(port)).send(PendingAlert(1, "mail", stored(), ("nato",)))
    (msg,) = box.messages
    assert msg["Subject"] == "[nato] NATO-Gipfel in Vilnius"
    assert msg["To"] == "a@example.org, b@example.org"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "https://example.org/nato" in text and "Source: dw" in text
    assert "Die NATO berät in Vilnius." in text and len(text) < 1000  # the start, not all
    assert 'href="https://example.org/nato"' in html


def test_console_prints_one_line_per_alert() -> None:
    out = io.StringIO()
    ConsoleSender("console", out).send(PendingAlert(1, "console", stored(), ("nato", "summit")))
    assert out.getvalue() == (
        "ALERT [nato,summit] NATO-Gipfel in Vilnius — https://example.org/nato (dw)\n"
    )


def test_refused_mail_is_retried_later_and_sent_once(
    tmp_path: Path, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    store = SQLiteStore(tmp_path / "s.sqlite")
    parsed = ParsedEntry("k", "Title", "https://e/k", "<p>x</p>")
    store.save_poll(
        SourceState("src"),
        [NewEntry("src", parsed, "d", CleanEntry("Title", "https://e/k", "", "x"), ())],
        [("mail", 0, ("nato",))],
        0,
    )
    senders = [EmailSender(channel(port))]
    box.refuse = True
    assert deliver(store, senders, now=10) == (0, 1)
    assert box.messages == []
    box.refuse = False
    assert deliver(store, senders, now=11) == (0, 0)  # not due yet: back-off
    assert deliver(store, senders, now=10 + retry_delay(0)) == (1, 0)
    assert deliver(store, senders, now=10_000) == (0, 0)
    assert len(box.messages) == 1


def test_unreachable_smtp_is_a_delivery_failure_not_a_crash(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    parsed = ParsedEntry("k", "Title", "https://e/k", "<p>x</p>")
    store.save_poll(
        SourceState("src"),
        [NewEntry("src", parsed, "d", CleanEntry("Title", "https://e/k", "", "x"), ())],
        [("mail", 0, ("nato",))],
        0,
    )
    assert deliver(store, [EmailSender(channel(9))], now=1) == (0, 1)
    assert store.outbox_counts() == (1, 0)


def test_retry_delay_grows_and_is_capped() -> None:
    assert retry_delay(0) == 60 and retry_delay(1) == 120 and retry_delay(30) == 3600


def test_smtp_login_uses_the_password_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from tests.conftest import free_port

    seen: list[tuple[bytes, bytes]] = []

    def authenticate(
        server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        seen.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret")

    box = Mailbox()
    port = free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN"],
    )
    controller.start()
    try:
        mp = monkeypatch
        mp.setenv("SYNDICATOR_SMTP_PASSWORD", "s3cret")
        sender = EmailSender(replace(channel(port), username="me"))
        sender.send(PendingAlert(1, "mail", stored(), ("nato",)))
        mp.delenv("SYNDICATOR_SMTP_PASSWORD")
        from syndicator.errors import DeliveryError

        with pytest.raises(DeliveryError, match=r"no password in \$SYNDICATOR_SMTP_PASSWORD"):
            sender.send(PendingAlert(1, "mail", stored(), ("nato",)))
    finally:
        controller.stop()
    assert seen == [(b"me", b"s3cret")]
    assert len(box.messages) == 1


def test_digest_groups_a_topics_stories_into_one_message(
    tmp_path: Path, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    store = SQLiteStore(tmp_path / "s.sqlite")
    entries = [
        NewEntry(
            "src",
            ParsedEntry(f"k{i}", f"Story {i}", f"https://e/{i}", "<p>x</p>"),
            f"d{i}",
            CleanEntry(f"Story {i}", f"https://e/{i}", "", f"text {i}"),
            (),
        )
        for i in range(3)
    ]
    store.save_poll(SourceState("src"), entries, [("mail", i, ("nato",)) for i in range(3)], now=0)
    chan = replace(channel(port), digest=3600)
    sender = EmailSender(chan)
    assert deliver(store, [sender], now=10) == (0, 0)  # the digest period has not passed
    assert deliver(store, [sender], now=3600) == (3, 0)
    (msg,) = box.messages
    assert msg["Subject"] == "[nato] 3 new stories"
    text = msg.get_body(("plain",)).get_content()
    assert all(f"Story {i}" in text for i in range(3))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command line tool."""
    import subprocess

    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_mail_over_verified_tls(security: str, certificate: tuple[Path, Path]) -> None:
    import ssl

    from aiosmtpd.controller import Controller

    from syndicator.errors import DeliveryError
    from tests.conftest import free_port

    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(str(cert), str(key))
    box = Mailbox()
    port = free_port()
    options = (
        {"tls_context": server_context, "require_starttls": True}
        if security == "starttls"
        else {"ssl_context": server_context}
    )
    controller = Controller(box, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        untrusted = replace(channel(port), security=security)
        chan = replace(untrusted, ca_file=cert)
        EmailSender(chan).send(PendingAlert(1, "mail", stored(), ("nato",)))
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            EmailSender(untrusted).send(PendingAlert(1, "mail", stored(), ("nato",)))
    finally:
        controller.stop()
    assert [m["Subject"] for m in box.messages] == ["[nato] NATO-Gipfel in Vilnius"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_a_utf8_user_name_and_password_log_in(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, mechanism: str
) -> None:
    """smtplib's login() sends ASCII only (a UnicodeEncodeError quoting a character of the
    password); AUTH PLAIN and LOGIN carry the UTF-8 bytes the server checks."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from tests.conftest import free_port

    user, password = "jürgen", "pässwörd✓ 密码"
    seen: list[tuple[str, bytes, bytes]] = []

    def authenticate(
        server: object, session: object, envelope: object, method: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        seen.append((method, data.login, data.password))
        return AuthResult(success=data.password == password.encode(), handled=False)

    box = Mailbox()
    port = free_port()
    other = "LOGIN" if mechanism == "PLAIN" else "PLAIN"
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
        auth_exclude_mechanism=[other],
    )
    controller.start()
    try:
        monkeypatch.setenv("SYNDICATOR_SMTP_PASSWORD", password)
        sender = EmailSender(replace(channel(port), username=user))
        sender.send(PendingAlert(1, "m", stored(), ("n",)))
        monkeypatch.setenv("SYNDICATOR_SMTP_PASSWORD", "wrong-pässwörd")
        from syndicator.errors import DeliveryError

        with pytest.raises(DeliveryError, match="535") as refused:
            sender.send(PendingAlert(1, "m", stored(), ()))
    finally:
        controller.stop()
    assert seen[0] == (mechanism, user.encode(), password.encode())
    assert len(box.messages) == 1
    assert "ä" not in str(refused.value) and "ö" not in str(refused.value)


def test_an_exception_in_one_channel_is_its_failed_attempt(
    tmp_path: Path, smtp: tuple[Mailbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    """The console's stream is closed (ValueError, not a DeliveryError): that channel fails
    and retries with back-off; the mail channel is served; nothing is dropped or raised."""
    box, port = smtp
    store = SQLiteStore(tmp_path / "s.sqlite")
    parsed = ParsedEntry("k", "Title", "https://e/k", "<p>x</p>")
    store.save_poll(
        SourceState("src"),
        [NewEntry("src", parsed, "d", CleanEntry("Title", "https://e/k", "", "x"), ())],
        [("console", 0, ("nato",)), ("mail", 0, ("nato",))],
        0,
    )
    closed = io.StringIO()
    closed.close()
    console = ConsoleSender("console", closed)
    assert deliver(store, [console, EmailSender(channel(port))], now=10) == (1, 1)
    assert len(box.messages) == 1
    assert store.outbox_counts() == (1, 1)  # the console's alert waits, not dropped
    (record,) = [r for r in caplog.records if "channel=console" in r.getMessage()]
    assert record.exc_info is None and "unexpected ValueError" in record.getMessage()
    reopened = io.StringIO()
    console = ConsoleSender("console", reopened)
    assert deliver(store, [console], now=11) == (0, 0)  # back-off: not yet
    assert deliver(store, [console], now=10 + retry_delay(0)) == (1, 0)
    assert reopened.getvalue().startswith("ALERT [nato] Title")


# -- several nodes delivering from one database -----------------------------------------------


def _pending(store: SQLStore, count: int) -> None:
    entries = [
        NewEntry("src", ParsedEntry(f"k{i}", f"Story {i}", f"https://e/{i}", ""), f"d{i}",
                 CleanEntry(f"Story {i}", f"https://e/{i}", "", "x"), ())
        for i in range(count)
    ]
    store.save_poll(SourceState("src"), entries, [("console", i, ("t",)) for i in range(count)], 0)


def test_two_nodes_delivering_at_once_send_each_alert_once(backend: Backend) -> None:
    nodes = [backend.open(node="a"), backend.open(node="b")]
    _pending(nodes[0], 40)
    outputs = [io.StringIO(), io.StringIO()]
    start = threading.Barrier(2)

    def deliver_from(i: int) -> tuple[int, int]:
        start.wait()
        return deliver(nodes[i], [ConsoleSender("console", outputs[i])], now=10)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(deliver_from, range(2)))
    lines = [line for out in outputs for line in out.getvalue().splitlines()]
    assert sorted(lines) == sorted(f"ALERT [t] Story {i} — https://e/{i} (src)" for i in range(40))
    assert sum(sent for sent, _ in results) == 40 and nodes[1].outbox_counts() == (0, 40)


class _Killed(BaseException):
    """A node killed mid-send: nothing after the send runs, not even a mark_failed."""


class _DiesOnSecond(ConsoleSender):
    def send(self, alert: PendingAlert) -> None:
        if alert.entry.title == "Story 1":
            raise _Killed
        super().send(alert)


def test_a_node_killed_mid_send_leaves_only_the_alert_in_flight_to_its_claim(
    backend: Backend,
) -> None:
    dying, other = backend.open(node="a"), backend.open(node="b")
    _pending(dying, 5)
    first = io.StringIO()
    with pytest.raises(_Killed):
        deliver(dying, [_DiesOnSecond("console", first)], now=10)
    assert first.getvalue().splitlines() == ["ALERT [t] Story 0 — https://e/0 (src)"]
    rest = io.StringIO()
    assert deliver(other, [ConsoleSender("console", rest)], now=11) == (3, 0)  # not Story 1
    assert deliver(other, [ConsoleSender("console", rest)], now=10 + CLAIM_TTL) == (1, 0)
    assert [line.split(" — ")[0] for line in rest.getvalue().splitlines()] == [
        "ALERT [t] Story 2", "ALERT [t] Story 3", "ALERT [t] Story 4", "ALERT [t] Story 1"
    ]


def test_a_digest_not_due_is_left_for_any_node(backend: Backend, smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    a, b = backend.open(node="a"), backend.open(node="b")
    _pending(a, 3)
    sender = EmailSender(replace(channel(port), name="console", digest=60))
    assert deliver(a, [sender], now=10) == (0, 0)  # claimed, not due: released at once
    assert deliver(b, [sender], now=60) == (3, 0)  # long before a's claim would expire
    assert len(box.messages) == 1
