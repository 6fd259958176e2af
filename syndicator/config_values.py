"""How one config value is read and bounded, naming its key: durations, sizes, counts, names,
paths, addresses, and the table helpers every section reader uses.

Split from config.py so that the section readers (config.py) and the alert channels
(config_alerts.py) share one set of rules for a value, and every refusal names the key the
same way. Nothing here knows what a section means.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from syndicator.errors import ConfigError

T = TypeVar("T")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 10**6,
    "mib": 2**20,
    "gb": 10**9,
    "gib": 2**30,
}
# Names become file names and URL paths (`/<topic>.atom`), so they stay in a safe alphabet.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_RESERVED = {"all", "index", "healthz", "status"}

_DAY = 86400.0
# (least, most) for each kind of value; anything outside is refused, naming the key. README's
# configuration reference lists them. The lower bounds keep a typo ("0.0000001s", "1B") from
# turning the daemon into a busy loop or failing every fetch; the upper ones keep every
# deadline and next poll inside what datetimes and the scheduler can hold.
INTERVAL = (10.0, 30 * _DAY)  # a source's poll interval
TIMEOUT = (1.0, 3600.0)  # fetch and SMTP deadlines
SPACING = (0.01, 600.0)  # per_host_interval, when not 0
RETRY = (1.0, 3600.0)  # an alert's first retry (back-off stops at an hour anyway)
DIGEST = (60.0, 30 * _DAY)
STORY_WINDOW = (3600.0, 30 * _DAY)  # copies of a story appear within hours or days
LEASE = (1.0, 6 * 3600.0)  # cluster leases and waits
RETAIN = (3600.0, 36500 * _DAY)  # when not 0/"forever"
ANY_DURATION = (0.001, 36500 * _DAY)
SIZE = (1024, 2**30)  # max_bytes: a body is held in memory whole
ANY_SIZE = (1, 2**40)
COUNTS = {
    "syndicator.max_entries": (1, 10_000),
    "syndicator.workers": (1, 64),
    "syndicator.unhealthy_after": (1, 1000),
    "fetch.max_redirects": (0, 20),
    "fetch.concurrency": (1, 1000),
    "fetch.per_host": (1, 100),
    "cluster.batch": (1, 1000),
}
# C0 and C1 controls and DEL: never part of a header, an address or a host name.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def http_url(text: str) -> str | None:
    """`text` as an http(s) URL with its scheme in lower case, or None when it is not one.

    The one place that tells a URL from a local path. Schemes are case-insensitive (RFC 3986),
    so `HTTP://host/feed` is a URL, never a file named so; a "URL" with a control character
    in it (a newline from an OPML attribute, say) is none.
    """
    text = text.strip()
    scheme, sep, rest = text.partition(":")
    if not sep or scheme.lower() not in ("http", "https") or not rest.startswith("//"):
        return None
    if _CONTROL.search(text):
        return None
    return scheme.lower() + sep + rest


def parse_duration(value: object, key: str, bounds: tuple[float, float] = ANY_DURATION) -> float:
    """ "90s", "15m", "2h", "1d" or a number of seconds, finite and within `bounds`."""
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a duration like '15m', got {value!r}")
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str) and (m := _DURATION.match(value)):
            seconds = float(m.group(1)) * _UNITS[m.group(2)]
        else:
            raise ConfigError(key, f"expected a duration like '90s', '15m' or '2h', got {value!r}")
    except OverflowError:
        seconds = math.inf
    if math.isnan(seconds):
        raise ConfigError(key, f"expected a duration like '90s', got {value!r}")
    if seconds <= 0:
        raise ConfigError(key, f"must be positive, got {value!r}")
    _within(seconds, bounds, key, value, _seconds)
    return seconds


def parse_size(value: object, key: str, bounds: tuple[int, int] = ANY_SIZE) -> int:
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a size like '10MiB', got {value!r}")
    if isinstance(value, int):
        size: float = value
    elif isinstance(value, str) and (m := _SIZE.match(value)):
        size = float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()]
    else:
        raise ConfigError(key, f"expected a size like '10MiB' or a number of bytes, got {value!r}")
    if size <= 0:
        raise ConfigError(key, f"must be positive, got {value!r}")
    _within(size, bounds, key, value, _bytes)
    return int(size)


def _within(number: float, bounds: tuple[float, float], key: str, value: object, unit: Any) -> None:
    low, high = bounds
    if not low <= number <= high:
        raise ConfigError(key, f"must be between {unit(low)} and {unit(high)}, got {value!r}")


def _seconds(seconds: float) -> str:
    for name, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{name}"
    return f"{seconds:g}s"


def _bytes(size: float) -> str:
    for name, unit in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 1024)):
        if size >= unit and size % unit == 0:
            return f"{size / unit:g}{name}"
    return f"{size:g} bytes"


def _count(item: Mapping[str, Any], full: str, name: str, default: int) -> int:
    value = _get(item, full, name, int, default)
    low, high = COUNTS[full]
    if not low <= value <= high:
        raise ConfigError(full, f"must be between {low} and {high}, got {value!r}")
    return value


def _duration_or_none(value: object, key: str, bounds: tuple[float, float], *words: str) -> float:
    """Like a duration, but zero ("0", 0, "0s", or one of `words`) is allowed: 0.0 for none."""
    if isinstance(value, bool):
        return parse_duration(value, key)  # the error that names the key
    if (isinstance(value, int | float) and value == 0) or value == "0" or value in words:
        return 0.0
    if isinstance(value, str) and (m := _DURATION.match(value)) and float(m.group(1)) == 0:
        return 0.0
    return parse_duration(value, key, bounds)


def _no_controls(value: str, key: str) -> None:
    """A CR/LF in a header value or an address would end the header (or crash the sender)."""
    if found := _CONTROL.search(value):
        raise ConfigError(key, f"contains a control character ({found.group()!r}), got {value!r}")


def _address(value: str, key: str) -> str:
    """A mail address as the message header will carry it; refused now rather than at the
    first alert, where it would fail every delivery."""
    _no_controls(value, key)
    if not value.strip():
        raise ConfigError(key, "expected a mail address, got an empty string")
    try:
        EmailMessage()["To"] = value
    except Exception as exc:  # the email package's header parser has more than one failure
        raise ConfigError(key, f"not a mail address: {value!r} ({exc})") from None
    return value


def _name(item: Mapping[str, Any], key: str) -> str:
    name = _require(item, key, "name", str)
    if not _NAME.match(name):
        raise ConfigError(
            f"{key}.name",
            f"{name!r} must start with a letter or digit and use only letters, digits, "
            "'.', '-', '_' (it becomes a file name)",
        )
    if name.lower() in _RESERVED:
        raise ConfigError(f"{key}.name", f"{name!r} is reserved")
    return name


def _table(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(key, "expected a table")
    return value


def _array(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(key, f"expected an array of tables ([[{key}]])")
    return value


def _require(item: Mapping[str, Any], key: str, name: str, kind: type[T]) -> T:
    if name not in item:
        raise ConfigError(f"{key}.{name}", "is required")
    return _get(item, f"{key}.{name}", name, kind, None)


def _get(item: Mapping[str, Any], full: str, name: str, kind: type[T], default: T | None) -> T:
    value = item.get(name, default)
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ConfigError(full, f"expected {kind.__name__}, got {value!r}")
    return value


def _strings(item: Mapping[str, Any], full: str, name: str) -> tuple[str, ...]:
    value = item.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(full, f"expected a list of strings, got {value!r}")
    return tuple(value)


def _path(value: object, key: str, base: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(key, f"expected a path, got {value!r}")
    return (base / Path(value).expanduser()).resolve()


def _known(item: Mapping[str, Any], key: str, allowed: set[str]) -> None:
    """Unknown keys are usually typos; silently ignoring them hides the user's intent."""
    for name in item:
        if name not in allowed:
            where = f"{key}.{name}" if key else name
            raise ConfigError(where, f"unknown key (expected one of: {', '.join(sorted(allowed))})")


def _unique(names: Any, key: str, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(key, f"two {what}s are named {name!r}")
        seen.add(name)
