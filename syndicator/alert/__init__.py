"""Alert delivery from the outbox: each channel sends its pending rows and marks them sent.

A row is marked sent only after the channel accepted it, so a crash between the two resends at
most that one alert; a refused send is retried later with back-off, and nothing is dropped.
Several nodes may deliver from one database: each claims a row before sending it (claim, send,
mark), one alert at a time (a digest: one topic's alerts at a time), so no two nodes send the
same alert, and a node killed mid-send holds only the alert in flight, which another node sends
once the claim expires.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Protocol

from syndicator.config import AlertChannel, AppriseAlert, ConsoleAlert, EmailAlert, WebhookAlert
from syndicator.errors import DeliveryError
from syndicator.model import Notice, PendingAlert
from syndicator.redact import shown
from syndicator.store import Store

log = logging.getLogger(__name__)

RETRY_MAX = 3600.0
CLAIM_TTL = 600.0  # a claimed alert not marked by then is taken to be lost with its node


class Sender(Protocol):
    name: str
    retry: float  # first retry delay after a refusal
    digest: float | None  # None: one message per story

    def send(self, alert: PendingAlert) -> None:
        """Deliver one story or raise DeliveryError."""

    def send_digest(self, topic: str, alerts: Sequence[PendingAlert]) -> None:
        """Deliver several stories of one topic together or raise DeliveryError."""

    def send_notice(self, notice: Notice) -> None:
        """Deliver a message about Syndicator itself (a source gone bad) or raise."""


def make_sender(channel: AlertChannel) -> Sender:
    if isinstance(channel, ConsoleAlert):
        from syndicator.alert.console import ConsoleSender

        return ConsoleSender(channel.name, retry=channel.retry)
    if isinstance(channel, EmailAlert):
        from syndicator.alert.email import EmailSender

        return EmailSender(channel)
    if isinstance(channel, WebhookAlert):
        from syndicator.alert.webhook import WebhookSender

        return WebhookSender(channel)
    if isinstance(channel, AppriseAlert):
        from syndicator.alert.apprise import AppriseSender

        return AppriseSender(channel)
    raise TypeError(f"unknown alert channel {channel!r}")


def retry_delay(attempts: int, first: float = 60.0) -> float:
    """Exponential back-off for a channel that refused: 1 min, 2, 4, … capped at an hour."""
    return float(min(RETRY_MAX, first * 2 ** max(0, attempts)))


def deliver(store: Store, senders: Sequence[Sender], now: float) -> tuple[int, int]:
    """Send what is due on every channel; returns (sent, failed). A failure to be retried ends
    that channel's round, since the next message would most likely fail the same way; one
    refused for good (a webhook's 4xx: that message) does not."""
    sent = failed = 0
    for sender in senders:
        s, f = _deliver_channel(store, sender, now)
        sent += s
        failed += f
    return sent, failed


def _deliver_channel(store: Store, sender: Sender, now: float) -> tuple[int, int]:
    sent = refused = 0
    while claimed := store.claim_notices(sender.name, now, 1, CLAIM_TTL):
        (notice,) = claimed
        send = partial(sender.send_notice, notice)
        outcome = _attempt(store, sender, [notice.id], notice.attempts, now, send, notice.subject)
        if outcome is RETRY:
            return sent, refused + 1
        sent += outcome is SENT
        refused += outcome is REFUSED
    if sender.digest is not None:
        digested, failed = _deliver_digests(store, sender, now)
        return sent + digested, refused + failed
    while claimed_alerts := store.claim_alerts(sender.name, now, 1, CLAIM_TTL):
        (alert,) = claimed_alerts
        send = partial(sender.send, alert)
        outcome = _attempt(store, sender, [alert.id], alert.attempts, now, send, alert.entry.title)
        if outcome is RETRY:
            return sent, refused + 1
        sent += outcome is SENT
        refused += outcome is REFUSED
    return sent, refused


def _deliver_digests(store: Store, sender: Sender, now: float) -> tuple[int, int]:
    """One message per topic once its oldest pending story has waited a digest period, one
    topic at a time: each round claims the pending alerts, keeps one due topic's and releases
    the rest, so a node that dies mid-send holds no more than that digest."""
    assert sender.digest is not None
    sent = refused = 0
    while claimed := store.claim_alerts(sender.name, now, 100, CLAIM_TTL):
        by_topic: dict[str, list[PendingAlert]] = {}
        for alert in claimed:
            by_topic.setdefault(alert.topics[0], []).append(alert)
        oldest = {topic: min(a.created for a in alerts) for topic, alerts in by_topic.items()}
        due = next((t for t, first in oldest.items() if first + sender.digest <= now), None)
        store.release(a.id for a in claimed if a.topics[0] != due)
        if due is None:
            break
        alerts = by_topic[due]
        ids = [a.id for a in alerts]
        attempts = max(a.attempts for a in alerts)
        send = partial(sender.send_digest, due, alerts)
        outcome = _attempt(store, sender, ids, attempts, now, send, f"digest {due}")
        if outcome is RETRY:
            return sent, refused + 1
        sent += len(alerts) if outcome is SENT else 0
        refused += outcome is REFUSED
    return sent, refused


class _Outcome(Enum):
    """What one attempt came to: sent; failed, to be retried; refused for good."""

    SENT = "sent"
    RETRY = "retry"
    REFUSED = "refused"


SENT, RETRY, REFUSED = _Outcome.SENT, _Outcome.RETRY, _Outcome.REFUSED


def _attempt(
    store: Store,
    sender: Sender,
    ids: list[int],
    attempts: int,
    now: float,
    send: Callable[[], None],
    what: str,
) -> _Outcome:
    try:
        send()
    except Exception as exc:  # whatever a channel raises is its failed attempt, never the cycle's
        reason = str(exc) if isinstance(exc, DeliveryError) else _unexpected(exc)
        if isinstance(exc, DeliveryError) and exc.permanent:
            for row in ids:
                store.mark_undeliverable(row, reason, now)
            log.error(
                "alert channel=%s item=%r refused for good: %s; not retried",
                sender.name,
                what,
                reason,
            )
            return REFUSED  # this message is settled; the next may well be accepted
        delay = retry_delay(attempts, sender.retry)
        if isinstance(exc, DeliveryError) and exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, RETRY_MAX))  # the receiver asked to wait
        for row in ids:
            store.mark_failed(row, reason, now + delay)
        log.warning(
            "alert channel=%s item=%r failed: %s; retry in %ds", sender.name, what, reason, delay
        )
        return RETRY
    for row in ids:
        store.mark_sent(row, now)
    return SENT


def _unexpected(exc: Exception) -> str:
    """One line for an exception no channel meant to raise: its type, its message (not a
    UnicodeError's, which quotes the offending character, maybe a password's) and where it
    came from, instead of a traceback."""
    text = exc.reason if isinstance(exc, UnicodeError) and hasattr(exc, "reason") else str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return shown(f"unexpected {type(exc).__name__}: {text}{where}")
