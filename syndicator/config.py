"""config.toml → frozen, typed settings, parsed once at start-up.

Every error names the key that is wrong (`sources[2].interval: …`), because the user's only
tool for fixing it is their editor. Relative paths are relative to the config file, so the
daemon behaves the same whatever directory systemd or cron starts it from.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from syndicator.errors import ConfigError, QueryError
from syndicator.model import Topic
from syndicator.redact import redact_url, remember_secrets, url_secrets

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

ALERT_TYPES = ("console", "email", "webhook", "apprise")
WEBHOOK_SECRET_ENV = "SYNDICATOR_WEBHOOK_SECRET"
SECURITY = ("none", "starttls", "tls")


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 30.0  # total deadline for one fetch, body included
    connect_timeout: float = 10.0
    max_bytes: int = 10 * 2**20
    max_redirects: int = 5
    concurrency: int = 16
    per_host: int = 2
    per_host_interval: float = 0.25  # seconds between request starts to one host
    user_agent: str = ""  # empty: the built-in one naming the project
    # "host:port" endpoints that may be on a loopback or private address although no source
    # URL names them (a redirect to a local RSS bridge, say); see fetch.AddressGuard.
    allow_private: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    name: str
    url: str  # http(s) URL, or an absolute local path for a bundled file source
    interval: float
    drop: tuple[str, ...] = ()
    drop_selectors: tuple[str, ...] = ()
    max_bytes: int | None = None
    timeout: float | None = None
    category: str = ""  # "News/Germany": the folder in OPML import and export
    learn: bool = True  # learn the source's own template from its recent entries
    # Fetch the article page of a teaser entry: "off" (the default: it costs the site a
    # request per entry), "auto" (teasers only, decide.needs_fulltext) or "on" (every entry).
    fulltext: str = "off"

    @property
    def is_file(self) -> bool:
        return http_url(self.url) is None


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


@dataclass(frozen=True)
class ConsoleAlert:
    name: str
    topics: tuple[str, ...] | None  # None: every topic
    retry: float = 60.0  # first retry delay after a failed delivery; doubles up to an hour


@dataclass(frozen=True)
class EmailAlert:
    name: str
    topics: tuple[str, ...] | None
    host: str
    port: int
    security: str
    sender: str
    to: tuple[str, ...]
    username: str | None = None
    password_env: str = "SYNDICATOR_SMTP_PASSWORD"
    password_file: Path | None = None
    timeout: float = 30.0
    retry: float = 60.0
    digest: float | None = None  # group a topic's stories into one message per this period
    ca_file: Path | None = None  # trust this CA (a private mail relay) besides the system's


@dataclass(frozen=True)
class WebhookAlert:
    """A signed JSON POST per alert or digest to a URL of the user's (alert/webhook.py)."""

    name: str
    topics: tuple[str, ...] | None
    url: str  # http(s); its host:port may be on loopback or a private network: the user named it
    secret_file: Path | None = None  # None: the secret is in $SYNDICATOR_WEBHOOK_SECRET
    timeout: float = 30.0
    retry: float = 60.0
    digest: float | None = None


@dataclass(frozen=True)
class AppriseAlert:
    """Notifications through Apprise's URLs (Matrix, Telegram, ntfy, …; alert/apprise.py)."""

    name: str
    topics: tuple[str, ...] | None
    urls: tuple[str, ...]  # hold tokens: shown only as `shown_urls`
    shown_urls: tuple[str, ...] = ()  # the same, as Apprise's privacy mode writes them
    retry: float = 60.0
    digest: float | None = None


AlertChannel = ConsoleAlert | EmailAlert | WebhookAlert | AppriseAlert


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    base_url: str  # how readers reach the server; used for the feeds' self links
    websub_hub: str | None = None  # pinged when a feed changes, advertised in each feed


@dataclass(frozen=True)
class ClusterSettings:
    """Past one machine (cluster.py): polls go to Celery workers through this broker."""

    broker: str  # redis://… or amqp://…
    queue: str = "syndicator"
    lease: float = 600.0  # a claimed source is another scheduler's again after this long
    wait: float = 3600.0  # `run --once` gives up waiting for the workers after this long
    batch: int = 20  # sources per task: a worker polls them concurrently, as one cycle


@dataclass(frozen=True)
class Config:
    path: Path
    state: Path  # the SQLite file (where it would be, when state_url is set)
    output_dir: Path
    interval: float
    max_entries: int
    unhealthy_after: int
    workers: int
    fetch: FetchSettings
    server: ServerSettings | None
    drop: tuple[str, ...]
    drop_selectors: tuple[str, ...]
    sources: tuple[Source, ...]
    topics: tuple[Topic, ...]
    alerts: tuple[AlertChannel, ...] = field(default=())
    retain: float = 90 * 86400.0  # seconds an entry is kept after it was first seen; 0: forever
    story_window: float = 3 * 86400.0  # copies of a story are looked for this far apart
    cluster: ClusterSettings | None = None  # None: one machine, one process tree
    state_url: str | None = None  # a PostgreSQL database instead of the SQLite file

    @property
    def state_location(self) -> Path | str:
        """Where the state lives: the SQLite file, or the PostgreSQL URL (show it redacted)."""
        return self.state if self.state_url is None else self.state_url

    @property
    def base_url(self) -> str:
        if self.server is not None:
            return self.server.base_url
        return self.output_dir.resolve().as_uri() + "/"


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


def load_config(path: str | Path) -> Config:
    """Read and validate the config file: every key, bound, query and cleaning rule. Raises
    ConfigError naming the offending key. Every command and the daemon load it this way."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("", f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"{path} is not UTF-8: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{path} is not valid TOML: {exc}") from exc
    config = parse_config(raw, path.resolve())
    # A library that logs a source's URL (httpx at DEBUG) has its secrets masked too.
    remember_secrets(*(secret for s in config.sources for secret in url_secrets(s.url)))
    if config.state_url is not None:  # a database password: masked in whatever is logged
        remember_secrets(*state_secrets(config.state_url))
    return config


def parse_config(raw: Mapping[str, Any], path: Path) -> Config:
    base = path.parent
    _known(
        raw,
        "",
        {"syndicator", "server", "fetch", "clean", "sources", "topics", "alerts", "cluster"},
    )
    main = _table(raw, "syndicator")
    _known(
        main,
        "syndicator",
        {
            "state",
            "output_dir",
            "interval",
            "max_entries",
            "base_url",
            "unhealthy_after",
            "workers",
            "retain",
            "story_window",
        },
    )
    interval = parse_duration(main.get("interval", "15m"), "syndicator.interval", INTERVAL)
    max_entries = _count(main, "syndicator.max_entries", "max_entries", 100)
    workers = _count(main, "syndicator.workers", "workers", min(os.cpu_count() or 1, 4))
    unhealthy_after = _count(main, "syndicator.unhealthy_after", "unhealthy_after", 5)
    retain = _duration_or_none(main.get("retain", "90d"), "syndicator.retain", RETAIN, "forever")
    story_window = parse_duration(
        main.get("story_window", "3d"), "syndicator.story_window", STORY_WINDOW
    )

    fetch = _fetch(_table(raw, "fetch"))
    server = _server(raw, main)
    clean = _table(raw, "clean")
    _known(clean, "clean", {"drop", "drop_selectors"})

    sources = tuple(
        _source(item, f"sources[{i}]", base, interval)
        for i, item in enumerate(_array(raw, "sources"))
    )
    _unique((s.name for s in sources), "sources", "source")
    topics = tuple(_topic(item, f"topics[{i}]") for i, item in enumerate(_array(raw, "topics")))
    _unique((t.name for t in topics), "topics", "topic")
    topic_names = {t.name for t in topics}
    alerts = _alerts(_array(raw, "alerts"), topic_names, base)
    clean_drop = _strings(clean, "clean.drop", "drop")
    clean_selectors = _strings(clean, "clean.drop_selectors", "drop_selectors")
    _check_rules(clean_drop, clean_selectors, sources)

    state = main.get("state", DEFAULT_STATE)
    state_url = _state_url(state)
    return Config(
        path=path,
        state=_path(DEFAULT_STATE if state_url else state, "syndicator.state", base),
        state_url=state_url,
        output_dir=_path(main.get("output_dir", "feeds"), "syndicator.output_dir", base),
        interval=interval,
        max_entries=max_entries,
        unhealthy_after=unhealthy_after,
        workers=workers,
        retain=retain,
        story_window=story_window,
        fetch=fetch,
        server=server,
        cluster=_cluster(raw),
        drop=clean_drop,
        drop_selectors=clean_selectors,
        sources=sources,
        topics=topics,
        alerts=alerts,
    )


def _fetch(table: Mapping[str, Any]) -> FetchSettings:
    _known(
        table,
        "fetch",
        {
            "timeout",
            "connect_timeout",
            "max_bytes",
            "max_redirects",
            "concurrency",
            "per_host",
            "per_host_interval",
            "user_agent",
            "allow_private",
        },
    )
    d = FetchSettings()
    user_agent = _get(table, "fetch.user_agent", "user_agent", str, d.user_agent)
    if not (user_agent.isascii() and user_agent.isprintable()):
        # Sent on every request: a value httpx cannot send would fail every source.
        raise ConfigError("fetch.user_agent", "must be printable ASCII")
    return FetchSettings(
        timeout=parse_duration(table.get("timeout", d.timeout), "fetch.timeout", TIMEOUT),
        connect_timeout=parse_duration(
            table.get("connect_timeout", d.connect_timeout), "fetch.connect_timeout", TIMEOUT
        ),
        max_bytes=parse_size(table.get("max_bytes", d.max_bytes), "fetch.max_bytes", SIZE),
        max_redirects=_count(table, "fetch.max_redirects", "max_redirects", d.max_redirects),
        concurrency=_count(table, "fetch.concurrency", "concurrency", d.concurrency),
        per_host=_count(table, "fetch.per_host", "per_host", d.per_host),
        per_host_interval=_duration_or_none(
            table.get("per_host_interval", d.per_host_interval), "fetch.per_host_interval", SPACING
        ),
        user_agent=user_agent,
        allow_private=_host_ports(table, "fetch.allow_private", "allow_private"),
    )


def _host_ports(table: Mapping[str, Any], full: str, name: str) -> tuple[str, ...]:
    """A list of "host:port" ("[::1]:8081" for IPv6); a port is always given, since allowing
    a whole host would allow every service on it."""
    from syndicator.fetch import parse_host_port  # the guard's own reading of an entry

    values = _strings(table, full, name)
    for i, value in enumerate(values):
        if parse_host_port(value) is None:
            raise ConfigError(
                f"{full}[{i}]",
                f"expected 'host:port' like 'localhost:8081' or '[::1]:8081', got {value!r}",
            )
    return tuple(v.strip() for v in values)


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


def _server(raw: Mapping[str, Any], main: Mapping[str, Any]) -> ServerSettings | None:
    if "server" not in raw:
        return None
    table = _table(raw, "server")
    _known(table, "server", {"listen", "base_url", "enabled", "websub_hub"})
    if not _get(table, "server.enabled", "enabled", bool, True):
        return None
    listen = _get(table, "server.listen", "listen", str, "127.0.0.1:8080")
    host, sep, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError("server.listen", f"expected 'host:port', got {listen!r}")
    port = int(port_text)
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    base_url = table.get("base_url", main.get("base_url", f"http://{shown}:{port}/"))
    if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ("http", "https"):
        raise ConfigError("server.base_url", f"expected an http(s) URL, got {base_url!r}")
    hub = table.get("websub_hub")
    if hub is not None and (
        not isinstance(hub, str) or urlsplit(hub).scheme not in ("http", "https")
    ):
        raise ConfigError("server.websub_hub", f"expected an http(s) URL, got {hub!r}")
    return ServerSettings(host=host, port=port, base_url=base_url.rstrip("/") + "/", websub_hub=hub)


def _cluster(raw: Mapping[str, Any]) -> ClusterSettings | None:
    if "cluster" not in raw:
        return None
    table = _table(raw, "cluster")
    _known(table, "cluster", {"broker", "queue", "lease", "wait", "batch"})
    broker = _require(table, "cluster", "broker", str).strip()
    scheme = urlsplit(broker).scheme.lower()
    if scheme not in ("redis", "rediss", "amqp", "amqps", "pyamqp"):
        raise ConfigError(
            "cluster.broker", f"expected a redis:// or amqp:// URL, got {redact_url(broker)!r}"
        )
    _no_controls(broker, "cluster.broker")
    remember_secrets(*url_secrets(broker))
    queue = _get(table, "cluster.queue", "queue", str, "syndicator")
    if not _NAME.match(queue):
        raise ConfigError("cluster.queue", f"letters, digits, '.-_' only, got {queue!r}")
    d = ClusterSettings(broker)
    return ClusterSettings(
        broker=broker,
        queue=queue,
        lease=parse_duration(table.get("lease", d.lease), "cluster.lease", LEASE),
        wait=parse_duration(table.get("wait", d.wait), "cluster.wait", LEASE),
        batch=_count(table, "cluster.batch", "batch", d.batch),
    )


def _source(item: Any, key: str, base: Path, default_interval: float) -> Source:
    if not isinstance(item, Mapping):
        raise ConfigError(key, "expected a table ([[sources]])")
    _known(
        item,
        key,
        {
            "name", "url", "interval", "drop", "drop_selectors", "max_bytes", "timeout",
            "category", "learn", "fulltext",
        },
    )  # fmt: skip
    name = _name(item, key)
    url = _require(item, key, "url", str).strip()
    if _CONTROL.search(url):
        raise ConfigError(f"{key}.url", f"contains a control character: {url!r}")
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        normal = http_url(url)
        if normal is None or not urlsplit(url).netloc:
            raise ConfigError(f"{key}.url", f"URL has no host: {url!r}")
        url = normal
    elif scheme == "file" or not scheme:
        # A bundled or local feed file; `file:relative/path` and bare paths are config-relative.
        local = urlsplit(url).path if url.startswith("file://") else url.removeprefix("file:")
        url = str((base / local).resolve())
    else:
        raise ConfigError(
            f"{key}.url", f"unsupported URL scheme {scheme!r} (use http, https or a file path)"
        )
    interval = (
        parse_duration(item["interval"], f"{key}.interval", INTERVAL)
        if "interval" in item
        else default_interval
    )
    return Source(
        name=name,
        url=url,
        interval=interval,
        drop=_strings(item, f"{key}.drop", "drop"),
        drop_selectors=_strings(item, f"{key}.drop_selectors", "drop_selectors"),
        max_bytes=parse_size(item["max_bytes"], f"{key}.max_bytes", SIZE)
        if "max_bytes" in item
        else None,
        timeout=parse_duration(item["timeout"], f"{key}.timeout", TIMEOUT)
        if "timeout" in item
        else None,
        category=_get(item, f"{key}.category", "category", str, "").strip().strip("/"),
        learn=_get(item, f"{key}.learn", "learn", bool, True),
        fulltext=_fulltext(item.get("fulltext", False), f"{key}.fulltext"),
    )


def _fulltext(value: object, key: str) -> str:
    """`fulltext = "auto" | true | false` as "auto", "on" or "off"."""
    if value is True:
        return "on"
    if value is False:
        return "off"
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    raise ConfigError(key, f'expected "auto", true or false, got {value!r}')


def _topic(item: Any, key: str) -> Topic:
    from syndicator.match.query import parse_query  # the query language's own parser

    if not isinstance(item, Mapping):
        raise ConfigError(key, "expected a table ([[topics]])")
    _known(item, key, {"name", "query"})
    name = _name(item, key)
    query = _require(item, key, "query", str)
    if not query.strip():
        raise ConfigError(f"{key}.query", "must not be empty")
    try:
        parse_query(query)
    except QueryError as exc:  # names the position
        raise ConfigError(f"{key}.query", f"topic '{name}': {exc}") from exc
    return Topic(name=name, query=query)


def _check_rules(
    drop: tuple[str, ...], selectors: tuple[str, ...], sources: tuple[Source, ...]
) -> None:
    """Compile every cleaning rule the daemon would, so a bad regex or selector is reported
    at load and by key, not at the first poll. The cleaner is imported only when there are
    rules of the user's to check: a run that never cleans does not load it."""
    candidates = [("clean.drop", drop, ()), ("clean.drop_selectors", (), selectors)]
    for i, s in enumerate(sources):
        candidates.append((f"sources[{i}].drop", s.drop, ()))
        candidates.append((f"sources[{i}].drop_selectors", (), s.drop_selectors))
    for key, patterns, css in candidates:
        if not patterns and not css:
            continue
        from syndicator.clean import check_user_rules

        try:
            check_user_rules(patterns, css)
        except ValueError as exc:
            first = (str(exc).splitlines() or [""])[0]  # keep one line of a parser message
            raise ConfigError(key, f"bad cleaning rule: {first}") from exc


def _alerts(items: list[Any], topic_names: set[str], base: Path) -> tuple[AlertChannel, ...]:
    channels: list[AlertChannel] = []
    for i, item in enumerate(items):
        key = f"alerts[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(key, "expected a table ([[alerts]])")
        kind = _require(item, key, "type", str)
        if kind not in ALERT_TYPES:
            raise ConfigError(
                f"{key}.type", f"expected one of {', '.join(ALERT_TYPES)}, got {kind!r}"
            )
        # The name keys the outbox, so a default must stay stable while the config is unchanged.
        name = item.get("name") or (
            kind if all(c.name != kind for c in channels) else f"{kind}-{i + 1}"
        )
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"{key}.name", f"expected letters, digits, '-', '_', got {name!r}")
        topics: tuple[str, ...] | None = None
        if "topics" in item:
            topics = _strings(item, f"{key}.topics", "topics")
            for t in topics:
                if t not in topic_names:
                    raise ConfigError(f"{key}.topics", f"no topic named {t!r}")
        retry = parse_duration(item.get("retry", 60), f"{key}.retry", RETRY)
        if kind == "console":
            _known(item, key, {"type", "name", "topics", "retry"})
            channels.append(ConsoleAlert(name=name, topics=topics, retry=retry))
            continue
        digest = (
            parse_duration(item["digest"], f"{key}.digest", DIGEST) if "digest" in item else None
        )
        if kind == "webhook":
            channels.append(_webhook(item, key, base, name, topics, retry, digest))
            continue
        if kind == "apprise":
            channels.append(_apprise(item, key, name, topics, retry, digest))
            continue
        _known(
            item,
            key,
            {
                "type",
                "name",
                "topics",
                "host",
                "port",
                "security",
                "username",
                "password_env",
                "password_file",
                "from",
                "to",
                "timeout",
                "retry",
                "digest",
                "ca_file",
            },
        )
        security = _get(item, f"{key}.security", "security", str, "starttls")
        if security not in SECURITY:
            raise ConfigError(
                f"{key}.security", f"expected one of {', '.join(SECURITY)}, got {security!r}"
            )
        default_port = {"none": 25, "starttls": 587, "tls": 465}[security]
        port = _get(item, f"{key}.port", "port", int, default_port)
        if not 0 < port < 65536:
            raise ConfigError(f"{key}.port", f"not a port number: {port}")
        to = item.get("to")
        recipients: tuple[str, ...]
        if isinstance(to, str):
            recipients = (_address(to, f"{key}.to"),)
        else:
            recipients = tuple(
                _address(address, f"{key}.to[{n}]")
                for n, address in enumerate(_strings(item, f"{key}.to", "to"))
            )
        if not recipients:
            raise ConfigError(f"{key}.to", "at least one recipient is needed")
        host = _require(item, key, "host", str)
        _no_controls(host, f"{key}.host")
        username = _get(item, f"{key}.username", "username", str, "")
        _no_controls(username, f"{key}.username")
        password_file = item.get("password_file")
        ca_file = item.get("ca_file")
        if ca_file is not None and not isinstance(ca_file, str):
            raise ConfigError(f"{key}.ca_file", f"expected a path, got {ca_file!r}")
        channels.append(
            EmailAlert(
                name=name,
                topics=topics,
                host=host,
                port=port,
                security=security,
                sender=_address(_require(item, key, "from", str), f"{key}.from"),
                to=recipients,
                username=username or None,
                password_env=_get(
                    item, f"{key}.password_env", "password_env", str, "SYNDICATOR_SMTP_PASSWORD"
                ),
                password_file=_path(password_file, f"{key}.password_file", base)
                if isinstance(password_file, str)
                else None,
                timeout=parse_duration(item.get("timeout", 30), f"{key}.timeout", TIMEOUT),
                retry=retry,
                ca_file=_path(ca_file, f"{key}.ca_file", base) if ca_file else None,
                digest=digest,
            )
        )
    _unique((c.name for c in channels), "alerts", "alert channel")
    return tuple(channels)


def _webhook(
    item: Mapping[str, Any],
    key: str,
    base: Path,
    name: str,
    topics: tuple[str, ...] | None,
    retry: float,
    digest: float | None,
) -> WebhookAlert:
    _known(
        item, key, {"type", "name", "topics", "url", "secret_file", "timeout", "retry", "digest"}
    )
    raw = _require(item, key, "url", str).strip()
    url = http_url(raw)
    if url is None or not urlsplit(url).hostname:
        raise ConfigError(f"{key}.url", f"expected an http(s) URL, got {redact_url(raw)!r}")
    # The URL itself may be a capability (a token in its path): masked in whatever is logged.
    remember_secrets(*url_secrets(url), *webhook_path_secrets(url))
    secret_file = item.get("secret_file")
    if secret_file is None and not os.environ.get(WEBHOOK_SECRET_ENV):
        raise ConfigError(
            f"{key}.secret_file",
            f"a webhook is signed: set secret_file, or put the secret in ${WEBHOOK_SECRET_ENV}",
        )
    return WebhookAlert(
        name=name,
        topics=topics,
        url=url,
        secret_file=None if secret_file is None else _path(secret_file, f"{key}.secret_file", base),
        timeout=parse_duration(item.get("timeout", 30), f"{key}.timeout", TIMEOUT),
        retry=retry,
        digest=digest,
    )


def webhook_path_secrets(url: str) -> list[str]:
    """The path segments of a webhook URL long enough to be a token (`/hooks/T0/B0/XXXX`):
    many services put the credential there. Shorter ones are words, not worth masking."""
    return [p for p in urlsplit(url).path.split("/") if len(p) >= 16]


def _apprise(
    item: Mapping[str, Any],
    key: str,
    name: str,
    topics: tuple[str, ...] | None,
    retry: float,
    digest: float | None,
) -> AppriseAlert:
    _known(item, key, {"type", "name", "topics", "urls", "retry", "digest"})
    urls = item.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if "urls" not in item:
        raise ConfigError(f"{key}.urls", "is required (a list of Apprise URLs)")
    found = _strings({"urls": urls}, f"{key}.urls", "urls")
    if not found:
        raise ConfigError(f"{key}.urls", "at least one Apprise URL is needed")
    try:
        import apprise
    except ImportError:
        raise ConfigError(
            f"{key}.type",
            "the apprise channel needs the Apprise package: pip install 'syndicator[apprise]'",
        ) from None
    shown_urls = []
    for n, url in enumerate(found):
        _no_controls(url, f"{key}.urls[{n}]")
        plugin = apprise.Apprise.instantiate(url.strip(), suppress_exceptions=True)
        scheme = url.partition("://")[0]
        if plugin is None or isinstance(plugin, bool):
            raise ConfigError(
                f"{key}.urls[{n}]", f"Apprise does not understand this {scheme}:// URL"
            )
        privacy_url: Callable[..., object] = plugin.url  # Apprise's own redaction
        private = str(privacy_url(privacy=True)).partition("?")[0]
        # Whatever Apprise's privacy mode hides is a token: masked wherever it is logged.
        words = set(re.split(r"[/:@?&=#]+", private))
        tokens = [w for w in re.split(r"[/:@?&=#]+", url) if w and w not in words]
        remember_secrets(*([url, *tokens] if tokens else []), *url_secrets(url))
        shown_urls.append(private)
    return AppriseAlert(
        name=name,
        topics=topics,
        urls=tuple(u.strip() for u in found),
        shown_urls=tuple(shown_urls),
        retry=retry,
        digest=digest,
    )


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


DEFAULT_STATE = "state/syndicator.sqlite"
_STATE_URL = re.compile(r"(?i)postgres(?:ql)?://")


def is_postgres_url(value: str) -> bool:
    return bool(_STATE_URL.match(value))


def _state_url(value: object) -> str | None:
    """`[syndicator] state` as a PostgreSQL URL, or None for a file path. Shown redacted in
    an error: the URL may carry the database's password."""
    if not isinstance(value, str) or "://" not in value:
        return None
    if not is_postgres_url(value):
        raise ConfigError(
            "syndicator.state",
            f"expected a file path or a postgresql:// URL, got {redact_url(value)!r}",
        )
    if _CONTROL.search(value) or any(ch.isspace() for ch in value):
        raise ConfigError(
            "syndicator.state",
            f"contains a control character or a space, got {redact_url(value)!r}",
        )
    return value


def state_secrets(url: str) -> list[str]:
    """The state URL's password and secret parameters, not a user name without a password:
    that is no secret, and masking it would mask it in every word (`postgres`, `postgresql`)."""
    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    return [s for s in url_secrets(url) if ":" in userinfo or s != userinfo]


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
