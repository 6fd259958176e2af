"""The `[[alerts]]` channels: console, email, webhook and Apprise settings, and how each is read.

Split from config.py: a channel's keys, defaults and checks (an address that the header would
refuse, a webhook without a secret, an Apprise URL Apprise cannot read) are a subject of
their own, and the senders in alert/ need only these dataclasses. Errors name the key
(`alerts[1].to[0]: …`), as everywhere in the config.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from syndicator.config_values import (
    _NAME,
    DIGEST,
    RETRY,
    TIMEOUT,
    _address,
    _get,
    _known,
    _no_controls,
    _path,
    _require,
    _strings,
    _unique,
    http_url,
    parse_duration,
)
from syndicator.errors import ConfigError
from syndicator.redact import redact_url, remember_secrets, url_secrets

ALERT_TYPES = ("console", "email", "webhook", "apprise")
WEBHOOK_SECRET_ENV = "SYNDICATOR_WEBHOOK_SECRET"
SECURITY = ("none", "starttls", "tls")


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
