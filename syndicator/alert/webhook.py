"""Alerts as a signed JSON POST to a URL of the user's: one request per story (or per topic
digest) per channel, for their own automations.

The body carries each story (title, link, source, published, a cleaned text excerpt), its
topics and the words that matched each topic. It is signed with HMAC-SHA256 over the exact
bytes sent, in `X-Syndicator-Signature: sha256=<hex>`, so a receiver can tell it came from
this daemon. A 2xx is delivered; 408, 429, 5xx and a network failure are retried with
back-off; any other 4xx means the receiver will never take this request (a wrong path, a
rejected signature, a payload it cannot read), so the alert is marked undeliverable instead of
being retried for ever. The connection goes through the same guard as the sources
(fetch.AddressGuard): only the URL's own host and port may be on loopback or a private network.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from syndicator import __version__
from syndicator.alert.secret import read_secret_file
from syndicator.config import WEBHOOK_SECRET_ENV, WebhookAlert
from syndicator.errors import DeliveryError
from syndicator.fetch import AddressGuard, endpoint, guarded_transport, retry_after
from syndicator.model import Notice, PendingAlert, StoredEntry
from syndicator.redact import (
    one_line,
    origin_only,
    redact_text,
    remember_secrets,
    shown,
    text_block,
)

log = logging.getLogger(__name__)

EXCERPT = 600
SIGNATURE_HEADER = "X-Syndicator-Signature"
RETRIED = frozenset({408, 429})  # 4xx that mean "not now" rather than "never"


# -- the body: pure ---------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def story(entry: StoredEntry, topics: Sequence[str]) -> dict[str, Any]:
    """One story as receivers read it; `matched` holds the words that made each topic match."""
    text = text_block(entry.text)
    excerpt = text[:EXCERPT].rstrip() + ("…" if len(text) > EXCERPT else "")
    return {
        "id": entry.uid,
        "title": one_line(" ".join(entry.title.split())),
        "link": entry.link,
        "source": entry.source,
        "published": _iso(entry.published),
        "updated": _iso(entry.updated),
        "excerpt": excerpt,
        "topics": list(topics),
        "matched": {h.topic: list(h.terms) for h in entry.hits if h.topic in topics},
    }


def alert_body(alert: PendingAlert, channel: str) -> dict[str, Any]:
    return {
        "type": "alert",
        "channel": channel,
        "topics": list(alert.topics),
        "stories": [story(alert.entry, alert.topics)],
    }


def digest_body(topic: str, alerts: Sequence[PendingAlert], channel: str) -> dict[str, Any]:
    return {
        "type": "digest",
        "channel": channel,
        "topics": [topic],
        "stories": [story(a.entry, a.topics) for a in alerts],
    }


def notice_body(notice: Notice, channel: str) -> dict[str, Any]:
    return {
        "type": "notice",
        "channel": channel,
        "subject": one_line(redact_text(notice.subject)),
        "body": text_block(redact_text(notice.body)),
    }


def encode(body: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact UTF-8 JSON."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: bytes, data: bytes) -> str:
    """The header value a receiver recomputes over the raw body it got."""
    return "sha256=" + hmac.new(secret, data, hashlib.sha256).hexdigest()


def verify(secret: bytes, data: bytes, header: str) -> bool:
    """What a receiver does (README shows the same in a few lines): constant-time compare."""
    return hmac.compare_digest(sign(secret, data), header.strip())


# -- delivery ---------------------------------------------------------------------------------


class WebhookSender:
    def __init__(self, channel: WebhookAlert) -> None:
        self.name = channel.name
        self.retry = channel.retry
        self.digest = channel.digest
        self._channel = channel

    def send(self, alert: PendingAlert) -> None:
        self._post(alert_body(alert, self.name), "alert")

    def send_digest(self, topic: str, alerts: Sequence[PendingAlert]) -> None:
        self._post(digest_body(topic, alerts, self.name), "digest")

    def send_notice(self, notice: Notice) -> None:
        self._post(notice_body(notice, self.name), "notice")

    def _secret(self) -> bytes:
        c = self._channel
        if c.secret_file is not None:
            secret = read_secret_file(c.secret_file, "secret_file")
        else:
            secret = os.environ.get(WEBHOOK_SECRET_ENV, "").strip()
        if not secret:
            where = "secret_file is empty" if c.secret_file else f"${WEBHOOK_SECRET_ENV} is empty"
            raise DeliveryError(f"no webhook secret: {where}")
        remember_secrets(secret)  # masked in any log line, whoever writes it
        return secret.encode("utf-8")

    def _post(self, body: dict[str, Any], kind: str) -> None:
        data = encode(body)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"Syndicator/{__version__} (webhook)",
            "X-Syndicator-Event": kind,
            SIGNATURE_HEADER: sign(self._secret(), data),
        }
        status, retry_after, answer = asyncio.run(self._request(data, headers))
        where = origin_only(self._channel.url)
        if 200 <= status < 300:
            log.debug("webhook %s accepted the %s: %d", where, kind, status)
            return
        reason = shown(f"webhook {where} answered {status}{': ' if answer else ''}{answer}")
        if 400 <= status < 500 and status not in RETRIED:
            raise DeliveryError(reason, permanent=True)
        if 300 <= status < 400:
            reason += " (redirects are not followed)"
        raise DeliveryError(reason, retry_after=retry_after)

    async def _request(self, data: bytes, headers: dict[str, str]) -> tuple[int, float | None, str]:
        """POST once through the address guard; (status, Retry-After, the answer's start)."""
        c = self._channel
        named = endpoint(c.url)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=0)
        transport = guarded_transport(limits, AddressGuard([named] if named else []))
        where = origin_only(c.url)
        try:
            async with (
                asyncio.timeout(c.timeout),
                httpx.AsyncClient(
                    transport=transport, timeout=c.timeout, trust_env=False
                ) as client,
            ):
                response = await client.post(c.url, content=data, headers=headers)
                answer = response.content[:200].decode("utf-8", "replace")
                wait = retry_after(response.headers.get("Retry-After"), time.time())
                return response.status_code, wait, " ".join(answer.split())
        except (TimeoutError, httpx.TimeoutException):
            raise DeliveryError(f"webhook {where}: timed out after {c.timeout:g}s") from None
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
            said = f"{type(exc).__name__}: {exc}".replace(c.url, where)  # the path may be a token
            raise DeliveryError(shown(f"webhook {where}: {said}")) from None
