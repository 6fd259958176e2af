"""Alert delivery from the outbox: each channel sends its pending rows and marks them sent.

A row is marked sent only after the channel accepted it, so a crash between the two resends at
most that one alert; a refused send is retried later with back-off, and nothing is dropped.
"""

from __future__ import annotations

import logging
from typing import Protocol

from syndicator.config import AlertChannel, ConsoleAlert, EmailAlert
from syndicator.errors import DeliveryError
from syndicator.model import Alert
from syndicator.store import Store

log = logging.getLogger(__name__)

RETRY_FIRST = 60.0
RETRY_MAX = 3600.0


class Sender(Protocol):
    name: str

    def send(self, alert: Alert) -> None:
        """Deliver one alert or raise DeliveryError."""


def make_sender(channel: AlertChannel) -> Sender:
    if isinstance(channel, ConsoleAlert):
        from syndicator.alert.console import ConsoleSender

        return ConsoleSender(channel.name)
    if isinstance(channel, EmailAlert):
        from syndicator.alert.email import EmailSender

        return EmailSender(channel)
    raise TypeError(f"unknown alert channel {channel!r}")


def retry_delay(attempts: int) -> float:
    """Exponential back-off for a channel that refused: 1 min, 2, 4, … capped at an hour."""
    return float(min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, attempts)))


def deliver(store: Store, senders: list[Sender], now: float) -> tuple[int, int]:
    """Send what is due on every channel; returns (sent, failed). One failure stops that channel
    for this round, since the next row would most likely fail the same way."""
    sent = failed = 0
    for sender in senders:
        while batch := store.pending_alerts(sender.name, now):
            stop = False
            for alert in batch:
                try:
                    sender.send(alert)
                except DeliveryError as exc:
                    delay = retry_delay(alert.attempts)
                    store.mark_failed(alert.id, str(exc), now + delay)
                    log.warning(
                        "alert channel=%s entry=%r failed: %s; retry in %ds",
                        sender.name,
                        alert.entry.title,
                        exc,
                        delay,
                    )
                    failed += 1
                    stop = True
                    break
                store.mark_sent(alert.id, now)
                sent += 1
            if stop:
                break
    return sent, failed
