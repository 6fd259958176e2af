"""The daemon's HTTP server: published feeds with validators, a status page, a health check.

Feed readers poll often, so every feed answers conditional requests with 304 and a gzip body for
those that accept it. The server never touches the database: the pipeline hands it an immutable
status snapshot after each cycle, so a slow reader can never block a poll.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import html
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from syndicator import __version__
from syndicator.model import SourceState
from syndicator.redact import public_url, redact_url, shown

log = logging.getLogger(__name__)

_FEED_NAME = re.compile(r"^/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\.atom$")


@dataclass(frozen=True)
class SourceStatus:
    name: str
    url: str
    state: SourceState | None


@dataclass(frozen=True)
class Status:
    topics: tuple[tuple[str, str], ...] = ()  # (name, query)
    sources: tuple[SourceStatus, ...] = ()
    alerts_pending: int = 0
    alerts_sent: int = 0
    updated: float = field(default_factory=time.time)


class FeedServer:
    """Serves `directory` on host:port in a background thread."""

    def __init__(self, directory: Path, host: str, port: int) -> None:
        self.directory = directory
        self.status = Status()
        self._cache: dict[Path, tuple[int, int, bytes, bytes, str]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(_Handler):
            owner = server

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="serve", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        log.info("serving %s on http://%s:%d/", self.directory, *self.address)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def feed(self, path: Path) -> tuple[bytes, bytes, str, float] | None:
        """(body, gzipped body, etag, mtime) for a feed file, cached until the file changes."""
        try:
            st = path.stat()
        except OSError:
            return None
        with self._lock:
            cached = self._cache.get(path)
            if cached and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
                return cached[2], cached[3], cached[4], st.st_mtime
        try:
            body = path.read_bytes()
        except OSError:
            return None
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        with self._lock:
            self._cache[path] = (st.st_mtime_ns, st.st_size, body, packed, etag)
        return body, packed, etag, st.st_mtime


class _Handler(BaseHTTPRequestHandler):
    owner: FeedServer
    server_version = f"Syndicator/{__version__}"

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def do_GET(self) -> None:
        self._respond(head=False)

    def _respond(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send(200, b"ok\n", "text/plain; charset=utf-8", head)
        elif path in ("/", "/index.html"):
            page = status_page(self.owner.status, self._feeds()).encode()
            self._send(200, page, "text/html; charset=utf-8", head)
        elif m := _FEED_NAME.match(path):
            self._feed(self.owner.directory / f"{m.group(1)}.atom", head)
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8", head)

    def _feeds(self) -> list[str]:
        return sorted(p.name for p in self.owner.directory.glob("*.atom"))

    def _feed(self, path: Path, head: bool) -> None:
        found = self.owner.feed(path)
        if found is None:
            self._send(404, b"no such feed\n", "text/plain; charset=utf-8", head)
            return
        body, packed, etag, mtime = found
        last_modified = email.utils.formatdate(mtime, usegmt=True)
        if _not_modified(
            self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since"), etag, mtime
        ):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            self.end_headers()
            return
        use_gzip = "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
        extra = {
            "ETag": etag,
            "Last-Modified": last_modified,
            "Vary": "Accept-Encoding",
            "Cache-Control": "no-cache",
        }
        if use_gzip:
            extra["Content-Encoding"] = "gzip"
        self._send(
            200, packed if use_gzip else body, "application/atom+xml; charset=utf-8", head, extra
        )

    def _send(
        self, code: int, body: bytes, kind: str, head: bool, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s %s", self.address_string(), format % args)


def _not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, mtime: float
) -> bool:
    if if_none_match is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if if_modified_since:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return int(mtime) <= since.timestamp()
    return False


def status_page(status: Status, feeds: list[str]) -> str:
    """The page is served without login: every source URL is shown redacted and linked
    without its credentials, and no text carries control codes."""

    def e(text: str) -> str:
        return html.escape(shown(text))

    def when(stamp: float | None) -> str:
        if not stamp:
            return "—"
        return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    rows = []
    for s in status.sources:
        st = s.state
        health = "never polled" if st is None else ("failing" if st.failures else "ok")
        rows.append(
            f'<tr class="{e(health.replace(" ", "-"))}"><td>{e(s.name)}</td>'
            f'<td><a href="{e(public_url(s.url))}">{e(redact_url(s.url))}</a></td>'
            f"<td>{e(health)}</td>"
            f"<td>{when(st.last_success if st else None)}</td>"
            f"<td>{e(st.last_error or '') if st else ''}</td>"
            f"<td>{when(st.next_poll if st else None)}</td>"
            f"<td>{st.entries if st else 0}</td></tr>"
        )
    feed_items = "".join(f'<li><a href="/{e(f)}">{e(f)}</a></li>' for f in feeds)
    topic_items = "".join(f"<li><b>{e(n)}</b>: <code>{e(q)}</code></li>" for n, q in status.topics)
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Syndicator</title>'
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .6em;text-align:left}"
        "tr.failing{background:#fdd}</style></head><body><h1>Syndicator</h1>"
        f"<h2>Feeds</h2><ul>{feed_items}</ul><h2>Topics</h2><ul>{topic_items}</ul>"
        f"<h2>Alerts</h2><p>{status.alerts_pending} pending, {status.alerts_sent} sent</p>"
        "<h2>Sources</h2><table><tr><th>name</th><th>url</th><th>health</th>"
        "<th>last success</th><th>last error</th><th>next poll</th><th>entries</th></tr>"
        f"{''.join(rows)}</table><p><small>as of {when(status.updated)}</small></p>"
        "</body></html>"
    )
