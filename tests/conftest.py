"""Real parts for the tests: a loopback HTTP server serving real feed files, a loopback SMTP
server (aiosmtpd), a helper that runs the installed `syndicator` command, and the store on each
database it runs on: SQLite on disk, and PostgreSQL (a schema of its own per test)."""

from __future__ import annotations

import gzip
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from syndicator.store import SQLiteStore, SQLStore
from tests.receiver import Receiver

DATA = Path(__file__).parent / "data"
REAL = DATA / "real"
ROOT = Path(__file__).parent.parent


@dataclass
class Route:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True  # answer 304 to a matching If-None-Match / If-Modified-Since
    gzip: bool = False
    stall: bool = False  # send headers and a few bytes, then hang until the server closes
    # stream: no Content-Length (the close ends the body), headers with an empty value left out,
    # the body written `repeat` times, `trickle` seconds apart; `sent` counts the bytes written.
    stream: bool = False
    repeat: int = 1
    trickle: float = 0.0
    sent: int = 0
    finished: threading.Event = field(default_factory=threading.Event)  # set when it stops
    reason: str = ""  # the status line's reason phrase; "" for the standard one


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    status: int
    at: float = field(default_factory=time.monotonic)  # when the request arrived
    body: bytes = b""


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gives up mid-body (size cap, deadline) is expected here, not news."""


class FeedServer:
    """A loopback HTTP server whose routes tests can change between runs, with a request log."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.closing = threading.Event()
        self.log: list[Request] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = owner.routes.get(self.path)
                headers = {k: v for k, v in self.headers.items()}
                if route is None:
                    self._reply(404, b"not found", {"Content-Type": "text/plain"})
                    return
                etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
                last_modified = "Wed, 01 Jan 2025 00:00:00 GMT"
                extra = {"ETag": etag, "Last-Modified": last_modified, **route.headers}
                if (
                    route.status == 200
                    and route.conditional
                    and (self.headers.get("If-None-Match") == etag)
                ):
                    owner.log.append(Request(self.path, headers, 304))
                    self._reply(304, b"", extra)
                    return
                body = route.body
                if route.gzip:
                    body = gzip.compress(body)
                    extra["Content-Encoding"] = "gzip"
                owner.log.append(Request(self.path, headers, route.status))
                if route.stall:
                    self.send_response(200)
                    self.send_header("Content-Type", route.content_type)
                    self.end_headers()
                    self.wfile.write(body[:10])
                    self.wfile.flush()
                    owner.closing.wait(60)
                    return
                if route.stream:
                    self._stream(route, body, {"Content-Type": route.content_type, **extra})
                    return
                self._reply(
                    route.status, body, {"Content-Type": route.content_type, **extra}, route.reason
                )

            def _stream(self, route: Route, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(route.status)
                for k, v in headers.items():
                    if v:
                        self.send_header(k, v)
                self.end_headers()
                try:
                    for _ in range(route.repeat):
                        if route.trickle and owner.closing.wait(route.trickle):
                            return
                        self.wfile.write(body)
                        self.wfile.flush()
                        route.sent += len(body)
                except OSError:  # the client stopped reading: what the test wants to see
                    return
                finally:
                    route.finished.set()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                owner.log.append(Request(self.path, dict(self.headers.items()), 204, body=body))
                self._reply(204, b"", {})

            def _reply(
                self, status: int, body: bytes, headers: dict[str, str], reason: str = ""
            ) -> None:
                self.send_response(status, reason or None)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # serve_forever checks for shutdown() every poll_interval: 0.5 s by default, which
        # every test using the server paid at teardown (20 s of the in-process tests' minute).
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve_file(self, path: str, file: Path, **kw: Any) -> str:
        self.routes[path] = Route(file.read_bytes(), **kw)
        return self.base + path

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]

    def close(self) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback receiver of the alert channels' POSTs (webhook, Apprise's json:// and form://)."""
    found = Receiver()
    yield found
    found.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """Messages received by the loopback SMTP server, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def syndicator_command() -> list[str]:
    """The installed console script when there is one (as a user runs it), else the module."""
    exe = shutil.which("syndicator", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "syndicator"]


@contextmanager
def running(*args: str, cwd: Path | None = None) -> Iterator[subprocess.Popen[str]]:
    """`syndicator ARGS` as a child with its output piped as text; a test that ends (or fails)
    while it still runs leaves no process behind: it is killed."""
    with subprocess.Popen(
        [*syndicator_command(), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def run_cli(
    *args: str,
    cwd: Path | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*syndicator_command(), *args],
        input=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def write_config(directory: Path, body: str) -> Path:
    path = directory / "config.toml"
    path.write_text(
        '[syndicator]\nstate = "state/s.sqlite"\noutput_dir = "feeds"\ninterval = "15m"\n' + body,
        encoding="utf-8",
    )
    return path


def wait_until(check: Callable[[], bool], proc: subprocess.Popen[str], limit: float = 60) -> None:
    """Poll a condition until it holds (bounded; fails at once if the process died)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if check():
            return
        time.sleep(0.1)
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError(f"condition never became true; the process said:\n{out}\n{err}")


# -- the store on every database ------------------------------------------------------------

# The PostgreSQL every machine of this project runs (trust auth); a test never skips without it.
POSTGRES = os.environ.get("SYNDICATOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_admin() -> Any:
    """A connection to the test database, or the test fails saying PostgreSQL does not answer."""
    import psycopg

    try:
        return psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL does not answer at {POSTGRES} ({' '.join(str(exc).split())}); the store "
            "tests run against it: start it, or name another in $SYNDICATOR_TEST_POSTGRES",
            pytrace=False,
        )


def schema_url(schema: str) -> str:
    """The test database's URL with `schema` first on the search path."""
    return f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}options=-csearch_path%3D{schema}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema of its own in the test database (its URL), dropped afterwards."""
    name = f"syn_{secrets.token_hex(6)}"
    with postgres_admin() as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield schema_url(name)
    finally:
        with postgres_admin() as admin:
            admin.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


@dataclass
class Backend:
    """One state database for a test: `open()` it as many stores (nodes) as the test needs."""

    kind: str  # "sqlite" or "postgres"
    where: Path | str
    opened: list[SQLStore] = field(default_factory=list)

    def open(
        self, story_window: float | None = None, node: str = "node-a", read_only: bool = False
    ) -> SQLStore:
        window = {} if story_window is None else {"story_window": story_window}
        store: SQLStore
        if isinstance(self.where, Path):
            store = SQLiteStore(self.where, **window, node=node, read_only=read_only)
        else:
            from syndicator.store.postgres import PostgresStore

            store = PostgresStore(self.where, **window, node=node, read_only=read_only)
        self.opened.append(store)
        return store

    def close(self) -> None:
        for store in self.opened:
            store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The state on SQLite, then on PostgreSQL: the store's suite runs against both."""
    if request.param == "sqlite":
        found = Backend("sqlite", tmp_path / "s.sqlite")
        yield found
        found.close()
        return
    with postgres_schema() as url:
        found = Backend("postgres", url)
        try:
            yield found
        finally:
            found.close()


@pytest.fixture
def store(backend: Backend) -> SQLStore:
    return backend.open()


# -- an internal service (the private-network tests, unit and system) ------------------------

SECRET = "INTERNAL-ONLY-STORY"
PHRASE = "Internal-Secret-Phrase"


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    """The internal service: a feed with a secret story, and an error page with a telling
    reason phrase."""
    server = FeedServer()
    story = (
        f"<rss version='2.0'><channel><title>internal</title><item><title>{SECRET}</title>"
        f"<link>http://intranet.example/1</link><description>{SECRET} text</description>"
        "</item></channel></rss>"
    )
    server.routes["/internal"] = Route(story.encode())
    server.routes["/error"] = Route(b"no", status=500, reason=PHRASE)
    yield server
    server.close()
