"""Alerts printed to standard output: one line per story, for a terminal or a log collector."""

from __future__ import annotations

import sys
from typing import TextIO

from syndicator.model import Alert


class ConsoleSender:
    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        self.name = name
        self._stream = stream

    def send(self, alert: Alert) -> None:
        stream = self._stream or sys.stdout
        topics = ",".join(alert.topics)
        title = " ".join(alert.entry.title.split()) or "(untitled)"
        link = alert.entry.link or "-"
        # Output, not a log line: this is what the user asked to see.
        stream.write(f"ALERT [{topics}] {title} — {link} ({alert.entry.source})\n")
        stream.flush()
