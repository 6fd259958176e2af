"""Each output edge on its own, with what an older version may have stored: no secret and no
control code from a feed, a page or a server reaches a console line, a mail, a status view or
page, or a feed a `reclean` writes (syndicator/redact.py's promise, where each output is made).
The same end to end through the installed command: tests/system/test_leaks.py."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from syndicator.alert.console import ConsoleSender
from syndicator.alert.email import EmailSender
from syndicator.config import EmailAlert, parse_config
from syndicator.model import (
    ChannelCounts,
    CleanEntry,
    NewEntry,
    Notice,
    ParsedEntry,
    PendingAlert,
    SourceState,
    StoredEntry,
)
from syndicator.overview import Summary, render_check, render_list, render_status
from syndicator.pipeline import Pipeline
from syndicator.serve import SourceStatus, Status, status_page
from syndicator.store import SQLiteStore
from tests.conftest import Mailbox

PASSWORD = "Pw9xSecretPass"
API_KEY = "K3yValueSecret"
TOKEN = "T0kenValueSecret"
SECRETS = (PASSWORD, API_KEY, TOKEN)


def _mail_text(message: EmailMessage, raw: bool = True) -> str:
    """Every decoded text part, and (raw) the message as it came over the wire."""
    parts = [str(message)] if raw else []
    for part in message.walk():
        if not part.is_multipart():
            parts.append(str(part.get_content()).replace("\r\n", "\n"))  # SMTP's line ends
    return "\n".join(parts)


def _controls(text: str, allowed: str = "\n") -> list[str]:
    return sorted({c for c in text if (c < " " or "\x7f" <= c < "\xa0") and c not in allowed})


NASTY = "\x1b[2J\x1b]0;pwned\x07\x9b31m\rFORGED\n"
SECRET_URL = f"https://me:{PASSWORD}@feeds.example/f?apikey={API_KEY}"


def _hostile_state(name: str) -> SourceState:
    reason = f"HTTP 500 {NASTY} from {SECRET_URL}"
    return SourceState(name, last_error=reason, last_attempt=1.0, failures=3, next_poll=9.0)


def _hostile_entry() -> StoredEntry:
    return StoredEntry(
        id=1,
        uid="urn:uuid:1",
        source="src",
        title=f"NATO {NASTY} title",
        link=f"https://e.example/{NASTY}",
        html="<p>x</p>",
        text=f"NATO body {NASTY} text",
        author="",
        published=None,
        updated=datetime(2024, 1, 1, tzinfo=UTC),
        hits=(),
    )


def _clean(text: str, allowed: str) -> None:
    assert _controls(text, allowed) == [], text
    assert not any(secret in text for secret in SECRETS), text


def test_console_lines_are_one_line_each() -> None:
    out = io.StringIO()
    console = ConsoleSender("console", stream=out)
    console.send(PendingAlert(1, "console", _hostile_entry(), ("nato",)))
    console.send_notice(Notice(2, "console", f"source x is failing: {NASTY} {SECRET_URL}", ""))
    assert out.getvalue().count("\n") == 2
    _clean(out.getvalue(), "\n")


def test_mail_subject_headers_and_body(smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    channel = EmailAlert(
        name="mail",
        topics=None,
        host="127.0.0.1",
        port=port,
        security="none",
        sender="s@example.org",
        to=("a@example.org",),
    )
    sender = EmailSender(channel)
    sender.send(PendingAlert(1, "mail", _hostile_entry(), ("nato",)))
    sender.send_notice(Notice(2, "mail", f"failing: {NASTY}{SECRET_URL}", f"{NASTY}{SECRET_URL}"))
    assert len(box.messages) == 2
    for message in box.messages:
        for value in message.values():
            _clean(str(value), "")
        _clean(_mail_text(message, raw=False), "\n\t")


def test_status_views_and_page(tmp_path: Path) -> None:
    config = parse_config(
        {"sources": [{"name": "src", "url": SECRET_URL}], "topics": [{"name": "t", "query": "x"}]},
        tmp_path / "config.toml",
    )
    states = {"src": _hostile_state("src")}
    snap = Summary(states, {"src": 1, "gone": 2}, {}, {"mail": ChannelCounts(1, 0, 1, NASTY)}, [])
    _clean(render_status(config, snap, 10.0), "\n")
    _clean(render_list(config.sources, states, 10.0), "\n")
    _clean(render_check(config), "\n")
    status = Status(
        topics=(("t", f"q{NASTY}"),),
        sources=(SourceStatus("src", SECRET_URL, states["src"]),),
    )
    page = status_page(status, ["all.atom"])
    _clean(page, "")
    assert 'href="https://feeds.example/f"' in page  # linked without the credentials


def test_reclean_of_entries_stored_with_a_secret_base_publishes_no_secret(tmp_path: Path) -> None:
    """Before this version an entry's base was the feed URL as configured, credentials and
    all; `reclean` resolves the stored body's relative links again."""
    config = parse_config(
        {
            "syndicator": {"workers": 1},
            "sources": [{"name": "src", "url": SECRET_URL}],
            "topics": [{"name": "nato", "query": "NATO"}],
        },
        tmp_path / "config.toml",
    )
    store = SQLiteStore(config.state)
    body = '<p>NATO meets today. <a href="#more">more</a> <img src="i.jpg" width="9" height="9">'
    parsed = ParsedEntry("k", "NATO", "https://feeds.example/a", body, base=SECRET_URL)
    clean = CleanEntry("NATO", "https://feeds.example/a", body, "NATO meets today.")
    store.save_poll(SourceState("src"), [NewEntry("src", parsed, "d", clean, ())], [], 0.0)
    assert Pipeline(config, store, senders=[]).reclean() == 1
    published = (config.output_dir / "all.atom").read_text(encoding="utf-8")
    store.close()
    assert "https://feeds.example/f#more" in published
    assert "https://feeds.example/i.jpg" in published
    _clean(published, "\n")
