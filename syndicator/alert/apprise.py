"""Alerts through Apprise: Matrix, Telegram, Slack, Discord, ntfy, Gotify and the many other
services whose URLs Apprise understands, one notification per story (or per topic digest).

Apprise is an optional extra (`pip install 'syndicator[apprise]'`); config_alerts.py refuses an
apprise channel without it, naming the key. Apprise URLs hold tokens, so they are shown only
as Apprise's own privacy mode writes them, and every token is masked in the log. A refused
notification is retried with back-off like any other; Apprise does not tell "never" from
"not now", so nothing here is given up for good.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from syndicator.config import AppriseAlert
from syndicator.errors import DeliveryError
from syndicator.model import Notice, PendingAlert, StoredEntry
from syndicator.redact import one_line, redact_text, shown, text_block

log = logging.getLogger(__name__)

EXCERPT = 600


def _title(entry: StoredEntry) -> str:
    return one_line(" ".join(entry.title.split())) or "(untitled)"


def story_text(entry: StoredEntry, topics: Sequence[str]) -> str:
    """One story as plain text: link, source and topics, the matched words, an excerpt."""
    text = text_block(entry.text)
    excerpt = text[:EXCERPT].rstrip() + ("…" if len(text) > EXCERPT else "")
    lines = [one_line(entry.link)] if entry.link else []
    lines.append(f"Source: {one_line(entry.source)} · Topics: {', '.join(topics)}")
    for hit in entry.hits:
        if hit.topic in topics and hit.terms:
            lines.append(f"Matched {hit.topic}: {one_line(', '.join(hit.terms))}")
    return "\n".join(lines) + (f"\n\n{excerpt}" if excerpt else "")


def alert_message(alert: PendingAlert) -> tuple[str, str]:
    """(title, body) of one story's notification."""
    return f"[{', '.join(alert.topics)}] {_title(alert.entry)}", story_text(
        alert.entry, alert.topics
    )


def digest_message(topic: str, alerts: Sequence[PendingAlert]) -> tuple[str, str]:
    count = len(alerts)
    title = f"[{topic}] {count} new stor{'y' if count == 1 else 'ies'}"
    parts = [f"{_title(a.entry)}\n{story_text(a.entry, a.topics)}" for a in alerts]
    return title, "\n\n---\n\n".join(parts)


class AppriseSender:
    def __init__(self, channel: AppriseAlert) -> None:
        self.name = channel.name
        self.retry = channel.retry
        self.digest = channel.digest
        self._channel = channel

    def send(self, alert: PendingAlert) -> None:
        self._notify(*alert_message(alert))

    def send_digest(self, topic: str, alerts: Sequence[PendingAlert]) -> None:
        self._notify(*digest_message(topic, alerts))

    def send_notice(self, notice: Notice) -> None:
        self._notify(
            f"[syndicator] {one_line(redact_text(notice.subject))}",
            text_block(redact_text(notice.body)),
        )

    def _notify(self, title: str, body: str) -> None:
        import apprise  # config_alerts.py made sure it is installed

        notifier = apprise.Apprise()
        for url in self._channel.urls:
            notifier.add(url)
        said = _Said()
        apprise_log = logging.getLogger("apprise")
        apprise_log.addHandler(said)
        try:
            ok = notifier.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        finally:
            apprise_log.removeHandler(said)
        if not ok:
            # Apprise's own words, tokens masked (config_alerts.py remembered them), one line.
            reason = "; ".join(dict.fromkeys(said.lines)) or "notification failed"
            targets = ", ".join(self._channel.shown_urls)
            raise DeliveryError(shown(f"apprise {targets}: {reason}"))


class _Said(logging.Handler):
    """What Apprise warned of while it sent: the reason a notification failed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(" ".join(record.getMessage().split()))
