"""Alerts printed to standard output: one line per story, for a terminal or a log collector."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from syndicator.model import Notice, PendingAlert
from syndicator.redact import one_line, redact_text


class ConsoleSender:
    digest: float | None = None  # a terminal wants each story as it comes

    def __init__(self, name: str, stream: TextIO | None = None, retry: float = 60.0) -> None:
        self.name = name
        self.retry = retry
        self._stream = stream

    def send(self, alert: PendingAlert) -> None:
        topics = ",".join(alert.topics)
        title = " ".join(alert.entry.title.split()) or "(untitled)"
        link = alert.entry.link or "-"
        # Output, not a log line: this is what the user asked to see.
        self._write(f"ALERT [{topics}] {title} — {link} ({alert.entry.source})")

    def send_digest(self, topic: str, alerts: Sequence[PendingAlert]) -> None:
        for alert in alerts:
            self.send(alert)

    def send_notice(self, notice: Notice) -> None:
        self._write(f"NOTICE {redact_text(notice.subject)}")

    def _write(self, line: str) -> None:
        """One line on a terminal: no control code from a feed or a server reaches it."""
        stream = self._stream or sys.stdout
        stream.write(one_line(line) + "\n")
        stream.flush()
