"""The daemon's HTTP server: published feeds with validators, a status page, a health check.

Feed readers poll often, so every feed answers conditional requests with 304 and a gzip body for
those that accept it. The server never touches the database: the pipeline hands it an immutable
status snapshot after each cycle, so a slow reader can never block a poll.
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import hashlib
import io
import logging
import re
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from stat import S_ISREG

from syndicator import __version__, page
from syndicator.page import SourceStatus, Status

__all__ = ["FeedServer", "SourceStatus", "Status", "status_page"]

log = logging.getLogger(__name__)

_FEED_NAME = re.compile(r"^/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\.atom$")


HEAD_TIMEOUT = 10.0  # seconds a client has to send its whole request head
WRITE_TIMEOUT = 30.0  # seconds a client has to take the whole response
MAX_CONNECTIONS = 256  # open at once; a new one beyond closes the oldest still sending its head
MAX_HEAD = 16 * 1024  # bytes of request line and headers
ANSWERING_THREADS = 4  # threads that build answers to complete requests


class FeedServer:
    """Serves `directory` on host:port in a background thread.

    Connections are read on an event loop, not one thread each: a client that trickles its
    request (or never finishes it) costs a socket until HEAD_TIMEOUT, never a thread, and at
    most MAX_CONNECTIONS are open; beyond that the oldest one still sending its head is closed,
    so a flood of slow clients cannot keep a new one (a health check) out. Only complete
    requests reach the few answering threads.
    """

    def __init__(
        self,
        directory: Path,
        host: str,
        port: int,
        head_timeout: float = HEAD_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.directory = directory
        self.head_timeout = head_timeout
        self.max_connections = max_connections
        self.status = Status()
        self._page: tuple[Status, tuple[str, ...], bytes] | None = None  # the last one rendered
        self._cache: dict[Path, tuple[int, int, bytes, bytes, str]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(_Handler):
            owner = server

        self._handler = Handler
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family, backlog=128)
        self._loop = asyncio.new_event_loop()
        self._answering = ThreadPoolExecutor(ANSWERING_THREADS, thread_name_prefix="serve-answer")
        self._open: dict[asyncio.StreamWriter, bool] = {}  # oldest first; True: reading its head
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="serve", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        log.info("serving %s on http://%s:%d/", self.directory, *self.address)

    def stop(self) -> None:
        if self._thread.is_alive() and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(10)
        else:
            self._socket.close()
        self._answering.shutdown(wait=False, cancel_futures=True)

    def _serve(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._connection, sock=self._socket, limit=MAX_HEAD)
        self._ready.set()
        async with server:
            await self._stopping.wait()
            for writer in list(self._open):
                writer.transport.abort()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request and its answer (HTTP/1.0: the connection closes after it)."""
        if len(self._open) >= self.max_connections:
            oldest = next((w for w, reading in self._open.items() if reading), None)
            oldest = oldest or next(iter(self._open))
            del self._open[oldest]  # now, not when its task notices: a burst evicts one each
            oldest.transport.abort()
        self._open[writer] = True
        try:
            async with asyncio.timeout(self.head_timeout):
                head = await _read_head(reader)
            if head is None:
                return
            self._open[writer] = False
            peer = writer.get_extra_info("peername") or ("", 0)
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(self._answering, self._answer, head, peer)
            writer.write(answer)
            async with asyncio.timeout(WRITE_TIMEOUT):
                await writer.drain()
        except (TimeoutError, OSError, ValueError):  # ValueError: a head over MAX_HEAD
            writer.transport.abort()
        except Exception:  # a bug must cost this request, never the server
            log.exception("serving a request failed")
            writer.transport.abort()
        finally:
            self._open.pop(writer, None)
            writer.close()

    def _answer(self, head: bytes, peer: tuple[str, int]) -> bytes:
        """The whole response to a complete request head, built by the handler in a thread."""
        handler = self._handler(head, peer, self)  # type: ignore[arg-type]
        return handler.answer

    def page(self, feeds: list[str]) -> bytes:
        """The status page, rendered once per snapshot and list of feeds (a snapshot comes
        once per cycle; readers may reload the page far more often)."""
        status, listed = self.status, tuple(feeds)
        cached = self._page
        if cached is not None and cached[0] is status and cached[1] == listed:
            return cached[2]
        body = status_page(status, listed).encode()
        self._page = (status, listed, body)
        return body

    def feed(self, path: Path) -> tuple[bytes, bytes, str, float] | None:
        """(body, gzipped body, etag, mtime) for a feed file, cached until the file changes.
        None unless it is a regular file inside the directory, even through a symlink."""
        try:
            real = path.resolve(strict=True)
            if not real.is_relative_to(self.directory.resolve()):
                return None
            st = real.stat()
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop
            return None
        if not S_ISREG(st.st_mode):  # a FIFO would block the answering thread for good
            return None
        with self._lock:
            cached = self._cache.get(path)
            if cached and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
                return cached[2], cached[3], cached[4], st.st_mtime
        try:
            body = real.read_bytes()
        except OSError:
            return None
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        with self._lock:
            self._cache[path] = (st.st_mtime_ns, st.st_size, body, packed, etag)
        return body, packed, etag, st.st_mtime


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    """Request line and headers up to the blank line; None when the client hung up first."""
    lines: list[bytes] = []
    size = 0
    while True:
        line = await reader.readline()  # ValueError past the reader's limit
        size += len(line)
        if not line.endswith(b"\n") or size > MAX_HEAD:
            return None
        if line in (b"\r\n", b"\n"):
            if lines:
                return b"".join(lines) + line
            continue  # RFC 9112 2.2: an empty line before the request line is ignored
        lines.append(line)


class _Handler(BaseHTTPRequestHandler):
    """Answers one complete request head (bytes) into `answer`; the server does the I/O."""

    owner: FeedServer
    server_version = f"Syndicator/{__version__}"
    answer = b""

    def setup(self) -> None:
        self.rfile = io.BytesIO(self.request)
        self.wfile = io.BytesIO()

    def finish(self) -> None:
        assert isinstance(self.wfile, io.BytesIO)
        self.answer = self.wfile.getvalue()

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def do_GET(self) -> None:
        self._respond(head=False)

    def _respond(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send(200, b"ok\n", "text/plain; charset=utf-8", head)
        elif path in ("/", "/index.html"):
            self._send(
                200,
                self.owner.page(self._feeds()),
                "text/html; charset=utf-8",
                head,
                {"Cache-Control": "no-cache"},
            )
        elif m := _FEED_NAME.match(path):
            self._feed(self.owner.directory / f"{m.group(1)}.atom", head)
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8", head)

    def _feeds(self) -> list[str]:
        found = self.owner.directory.glob("*.atom")
        return sorted(p.name for p in found if _FEED_NAME.match(f"/{p.name}") and _inside(p))

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
        # A malformed date (hour 99, year 10**20, not a date) is no validator: the answer is 200.
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            return int(mtime) <= since.timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
    return False


def _inside(path: Path) -> bool:
    """A feed file that is really in its directory (a symlink out of it is not served)."""
    try:
        real = path.resolve(strict=True)
        return real.is_relative_to(path.parent.resolve()) and S_ISREG(real.stat().st_mode)
    except (OSError, RuntimeError):
        return False


def status_page(status: Status, feeds: Sequence[str]) -> str:
    """The status page (page.py renders it; this name stays for callers of old)."""
    return page.render(status, feeds)
