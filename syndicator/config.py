"""config.toml → frozen, typed settings, parsed once at start-up.

Every error names the key that is wrong (`sources[2].interval: …`), because the user's only
tool for fixing it is their editor. Relative paths are relative to the config file, so the
daemon behaves the same whatever directory systemd or cron starts it from.

How one value is read and bounded lives in config_values.py, the alert channels in
config_alerts.py; their public names are exported from here too, so callers import the
config from one place.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from syndicator.config_alerts import (
    ALERT_TYPES,
    SECURITY,
    WEBHOOK_SECRET_ENV,
    AlertChannel,
    AppriseAlert,
    ConsoleAlert,
    EmailAlert,
    WebhookAlert,
    _alerts,
    webhook_path_secrets,
)
from syndicator.config_values import (
    _CONTROL,
    _NAME,
    ANY_DURATION,
    ANY_SIZE,
    COUNTS,
    DIGEST,
    INTERVAL,
    LEASE,
    RETAIN,
    RETRY,
    SIZE,
    SPACING,
    STORY_WINDOW,
    TIMEOUT,
    _array,
    _count,
    _duration_or_none,
    _get,
    _known,
    _name,
    _no_controls,
    _path,
    _require,
    _strings,
    _table,
    _unique,
    http_url,
    parse_duration,
    parse_size,
)
from syndicator.errors import ConfigError, QueryError
from syndicator.model import Topic
from syndicator.redact import redact_url, remember_secrets, url_secrets

__all__ = [
    "ALERT_TYPES",
    "ANY_DURATION",
    "ANY_SIZE",
    "COUNTS",
    "DEFAULT_STATE",
    "DIGEST",
    "INTERVAL",
    "LEASE",
    "RETAIN",
    "RETRY",
    "SECURITY",
    "SIZE",
    "SPACING",
    "STORY_WINDOW",
    "TIMEOUT",
    "WEBHOOK_SECRET_ENV",
    "AlertChannel",
    "AppriseAlert",
    "ClusterSettings",
    "Config",
    "ConsoleAlert",
    "EmailAlert",
    "FetchSettings",
    "ServerSettings",
    "Source",
    "WebhookAlert",
    "http_url",
    "is_postgres_url",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_size",
    "state_secrets",
    "webhook_path_secrets",
]


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
