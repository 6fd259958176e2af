"""A channel's secret read from its file at send time, not at load: the file may be rotated
while the daemon runs, and a file that cannot be read is that channel's failed attempt (retried),
never the cycle's. The message names the key, never the content."""

from __future__ import annotations

from pathlib import Path

from syndicator.errors import DeliveryError


def read_secret_file(path: Path, key: str) -> str:
    """The file's text, stripped; DeliveryError naming `key` when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise DeliveryError(f"cannot read {key}: {why}") from None
