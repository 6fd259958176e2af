"""Getting a source's bytes, politely and within limits.

Everything a hostile or broken server can do to us is bounded here: a total deadline (not only a
per-read timeout, which a trickling server never trips), a cap on the *decompressed* body size
(so a gzip bomb stops at the cap), a redirect limit, and one short reason per failure.
Conditional GET uses the validators stored from the last success.

Every header value is the server's to choose, so each one read here is parsed totally: a value
that makes no sense is ignored (a validator is dropped, a cache hint or Retry-After is no hint),
never an exception, and every number that comes out is finite and bounded.

The daemon must not become a proxy into the network it runs in: a connection to a loopback,
private, link-local, multicast, reserved or unspecified address is refused at connect time,
after the name is resolved (so DNS rebinding gains nothing), unless the user named that host
and port (a source URL, or `[fetch] allow_private`). See `AddressGuard`.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import ipaddress
import itertools
import logging
import math
import os
import re
import socket
import ssl
import time
import typing
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from stat import S_ISDIR, S_ISREG
from urllib.parse import urlsplit

import httpcore
import httpx

from syndicator import __version__
from syndicator.errors import FetchError
from syndicator.model import Fetched, Validators

log = logging.getLogger(__name__)

USER_AGENT = f"Syndicator/{__version__} (+https://github.com/syndicator; feed poller)"
_CHUNK = 64 * 1024
# What an article page (fulltext) is asked for as: a web page, not a feed.
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True)
class Limits:
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_bytes: int = 10 * 2**20
    max_redirects: int = 5


def make_client(
    limits: Limits,
    user_agent: str = "",
    connections: int = 100,
    allow: Iterable[tuple[str, int]] = (),
) -> httpx.AsyncClient:
    """One client per cycle, so connections to the same host are reused across sources.

    `allow` is the (host, port) pairs the user named (see `named_endpoints`): only those may
    be on a loopback, private or otherwise internal address."""
    pool = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        transport=guarded_transport(pool, AddressGuard(allow)),
        follow_redirects=True,
        max_redirects=limits.max_redirects,
        timeout=httpx.Timeout(limits.timeout, connect=limits.connect_timeout),
        headers={
            "User-Agent": user_agent or USER_AGENT,
            "Accept": "application/atom+xml, application/rss+xml, application/rdf+xml, "
            "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
            # Only encodings we decode ourselves, under the size cap.
            "Accept-Encoding": "gzip, deflate",
        },
        trust_env=False,
    )


# -- where a connection may go -----------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}
# NAT64 (RFC 6052): an IPv6-only network reaches IPv4 hosts through these addresses; the IPv4
# address inside decides.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


def endpoint(url: str) -> tuple[str, int] | None:
    """(host, port) of an http(s) URL as a connection sees them: the host in lower case and
    IDNA-encoded, IPv6 without brackets, the scheme's port when none is given. None for
    anything else (a local path, a malformed URL)."""
    try:
        parsed = httpx.URL(url)
        scheme = parsed.scheme
        host = parsed.raw_host.decode("ascii").lower()
        port = _DEFAULT_PORTS.get(scheme, 0) if parsed.port is None else parsed.port
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return None
    if scheme not in _DEFAULT_PORTS or not host or not port:
        return None
    return host, port


def parse_host_port(text: str) -> tuple[str, int] | None:
    """An `allow_private` entry ("host:port", "[v6]:port") as `endpoint` spells it; None
    for anything else."""
    text = text.strip()
    host, sep, port = text.rpartition(":")
    if not sep or not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
        return None
    if not host or any(c in host for c in "/@?#\\ ") or not host.isprintable():
        return None
    if ":" in host and not host.startswith("["):
        return None  # a bare IPv6 address: "::1:8080" is ambiguous
    return endpoint(f"http://{host}:{port}/")


def named_endpoints(urls: Iterable[str], extra: Iterable[str] = ()) -> frozenset[tuple[str, int]]:
    """The endpoints the user named: those of the given URLs (local paths are skipped) and the
    "host:port" entries of `extra`."""
    named = {e for e in map(endpoint, urls) if e is not None}
    named |= {e for e in map(parse_host_port, extra) if e is not None}
    return frozenset(named)


def address_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a connection to this address is refused ("a loopback address", ...); None for a
    public address. IPv4 addresses inside IPv6 ones (mapped, 6to4, NAT64) count as themselves."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_kind(embedded)
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip in _METADATA:
        return "the cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private-network address"
    if not ip.is_global:
        return "a non-public address"
    return None


class AddressRefused(httpcore.ConnectError):
    """A connection the guard refused; its message is the reason a user reads."""


class AddressGuard(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, checking every address it connects to.

    A named endpoint connects as usual (the user chose it, wherever it resolves). Any other
    host is resolved here, each address is checked, and the connection goes to a checked
    address itself, never to the name again: what was checked is what is connected to.
    """

    def __init__(self, allow: Iterable[tuple[str, int]] = ()) -> None:
        self.allow = frozenset(allow)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if (host.lower(), port) in self.allow:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = await _resolve(host, port, timeout)
        refused: list[str] = []
        failure: httpcore.ConnectError | None = None
        for ip in addresses:
            kind = address_kind(ip)
            if kind is not None:
                refused.append(f"{ip}, {kind}")
                continue
            try:
                return await self._inner.connect_tcp(
                    str(ip), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # the next address, as a resolver's list means
                failure = exc
        if failure is not None or not refused:
            raise failure or httpcore.ConnectError(f"{host} has no address")
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        what = f"resolves to {'; '.join(refused[:3])}"
        if len(addresses) == 1 and _is_ip(host):
            what = f"is {refused[0].split(', ', 1)[1]}"
        raise AddressRefused(
            f'refused: {shown} {what} (to allow it: [fetch] allow_private = ["{shown}"])'
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("refused: Unix sockets are never connected to")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve(
    host: str, port: int, timeout: float | None
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address of host (an IP literal is its own), in the resolver's order."""
    if _is_ip(host):
        return [ipaddress.ip_address(host)]
    try:
        async with asyncio.timeout(timeout):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"DNS lookup of {host} timed out") from None
    except OSError as exc:  # socket.gaierror, as the default backend would report it
        raise httpcore.ConnectError(str(exc)) from exc
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        try:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        except ValueError:
            continue
        if ip not in found:
            found.append(ip)
    return found


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@functools.cache
def _tls() -> ssl.SSLContext:
    """The TLS context every client of this process shares: building one loads the whole CA
    bundle (40 ms), which a cluster worker would otherwise pay for every source it polls.
    Certificates are verified as always."""
    return httpx.create_ssl_context(trust_env=False)


def guarded_transport(limits: httpx.Limits, guard: AddressGuard) -> httpx.AsyncHTTPTransport:
    """httpx's own transport with the guard as httpcore's network backend.

    httpx has no public parameter for the backend, so it is set on the pool httpx built; if a
    future httpx builds it differently, this fails loudly rather than fetch unguarded."""
    transport = httpx.AsyncHTTPTransport(verify=_tls(), limits=limits, trust_env=False)
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("this httpx version cannot take the address guard (fetch.py)")
    pool._network_backend = guard
    return transport


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    validators: Validators,
    limits: Limits,
    accept: str | None = None,
) -> Fetched:
    """GET url; 304 when the validators still hold. Raises FetchError with a one-line reason,
    and nothing else: one hostile server must not end the cycle for every other source.
    `accept` replaces the client's Accept header (a feed's)."""
    headers: dict[str, str] = {"Accept": accept} if accept else {}
    # Checked again on the way out: a state database written before values were checked on
    # the way in may hold one that httpx refuses to send, which would fail the source forever.
    if etag := validator(validators.etag):
        headers["If-None-Match"] = etag
    if last_modified := validator(validators.last_modified):
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(limits.timeout):
            return await _get(client, url, headers, validators, limits)
    except FetchError as exc:
        raise FetchError(url, _one_line(exc.reason), exc.status, exc.retry_after) from None
    except TimeoutError:
        raise FetchError(url, f"timed out after {limits.timeout:g}s (total deadline)") from None
    except httpx.TimeoutException as exc:
        raise FetchError(url, f"timed out ({type(exc).__name__})") from None
    except httpx.ConnectError as exc:
        raise FetchError(url, _one_line(_connect_reason(exc))) from None
    except httpx.UnsupportedProtocol as exc:
        raise FetchError(url, _one_line(f"unsupported URL: {exc}")) from None
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, ValueError, OSError) as exc:
        # InvalidURL and IDNA's ValueError come from URLs a server sent; none is an HTTPError.
        raise FetchError(url, _one_line(f"{type(exc).__name__}: {exc}")) from None
    except Exception as exc:  # a bug here must cost this source, not the whole cycle
        log.exception("unexpected error fetching %s", url)
        raise FetchError(url, _one_line(f"unexpected {type(exc).__name__}: {exc}")) from None


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


async def _get(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    validators: Validators,
    limits: Limits,
) -> Fetched:
    """Follow redirects here rather than in httpx, to tell a loop from a long chain and to
    refuse a Location that is not an http(s) URL."""
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise FetchError(url, f"invalid URL: {exc}") from None
    seen = {url}
    current = url
    for hops in itertools.count():
        try:
            async with client.stream(
                "GET", current, headers=headers, follow_redirects=False
            ) as response:
                target = _redirect_target(response, url)
                if target is None:
                    return await _response(response, url, validators, limits)
        except (httpx.InvalidURL, UnicodeError) as exc:
            # httpx builds the next request from a Location even when not following it; the
            # request URL itself was checked above, so this is the server's Location.
            raise FetchError(url, f"redirect to an invalid URL: {exc}") from None
        except httpx.RemoteProtocolError as exc:
            if "location" in str(exc).lower():
                raise FetchError(url, f"redirect to an invalid URL: {exc}") from None
            raise
        except httpx.ConnectError as exc:
            refused = _refusal(exc)
            if refused is None:
                raise
            raise FetchError(url, f"redirect to {current} {refused}" if hops else refused) from None
        if target in seen:
            raise FetchError(url, f"redirect loop: {current} redirects back to {target}")
        if hops >= limits.max_redirects:
            raise FetchError(url, f"too many redirects (more than {limits.max_redirects})")
        seen.add(target)
        current = target
    raise AssertionError("unreachable")


def _redirect_target(response: httpx.Response, url: str) -> str | None:
    """The absolute URL a redirect points to; None for a response that is not a redirect."""
    status = response.status_code
    if status not in _REDIRECTS:
        return None
    location = response.headers.get("Location", "").strip()
    if not location:
        raise FetchError(url, f"HTTP {status} redirect without a Location", status=status)
    try:
        target = response.url.join(location)
    except (httpx.InvalidURL, ValueError):
        raise FetchError(url, f"HTTP {status} redirect to an invalid URL: {location}") from None
    if target.scheme not in ("http", "https"):
        raise FetchError(url, f"HTTP {status} redirect to a non-HTTP URL: {location}")
    return str(target)


async def _response(
    response: httpx.Response, url: str, validators: Validators, limits: Limits
) -> Fetched:
    final_url = str(response.url)
    status = response.status_code
    if status == 304:
        return Fetched(final_url, 304, b"", dict(response.headers), validators)
    if not 200 <= status < 300:
        phrase = "".join(c for c in response.reason_phrase if " " <= c <= "~")[:60]
        raise FetchError(
            url,
            f"HTTP {status} {phrase}".strip(),
            status=status,
            retry_after=retry_after(response.headers.get("Retry-After"), time.time()),
        )
    body = await _read_capped(response, url, limits.max_bytes)
    return Fetched(
        url=final_url,
        status=status,
        body=body,
        headers=dict(response.headers),
        validators=Validators(
            etag=validator(response.headers.get("ETag")),
            last_modified=validator(response.headers.get("Last-Modified")),
        ),
    )


async def _read_capped(response: httpx.Response, url: str, cap: int) -> bytes:
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    declared = response.headers.get("Content-Length", "").strip()
    if not encoding and _DIGITS.fullmatch(declared):
        declared = declared.lstrip("0") or "0"
        if len(declared) > 18:  # int() of thousands of digits is slow, and refused
            raise FetchError(url, f"body too large: more than 10^18 bytes declared (cap {cap})")
        if int(declared) > cap:
            raise FetchError(url, f"body too large: {int(declared)} bytes (cap {cap})")
    decoder = _decoder(encoding, url)
    parts: list[bytes] = []
    size = 0
    try:
        async for raw in response.aiter_raw(_CHUNK):
            # Asking for one byte more than the room left means "over the cap" is exact, and a
            # bomb never inflates more than that in memory.
            data = raw if decoder is None else decoder.decompress(raw, cap - size + 1)
            size += len(data)
            if size > cap:
                raise FetchError(url, f"body too large: more than {cap} bytes (cap)")
            parts.append(data)
        if decoder is not None:
            parts.append(decoder.flush())
            if size + len(parts[-1]) > cap:
                raise FetchError(url, f"body too large: more than {cap} bytes (cap)")
    except zlib.error as exc:
        raise FetchError(url, f"corrupt {encoding} body: {exc}") from None
    return b"".join(parts)


def _decoder(encoding: str, url: str) -> zlib._Decompress | None:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or raw, auto-detected
    raise FetchError(url, f"unsupported Content-Encoding {encoding!r}")


# -- header values -------------------------------------------------------------------------

MAX_HINT = 366 * 86400.0  # the most any server hint (max-age, Expires, Retry-After) can ask for
MAX_VALIDATOR = 1024  # ETags are short hashes; a longer "validator" is not one
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: "²".isdigit() is true, and int("²") fails
_VALIDATOR = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


def validator(value: str | None) -> str | None:
    """An ETag or Last-Modified value fit to store and to send back as a request header; None
    for one that is not (empty, too long, or with a character outside visible ASCII, which
    httpx refuses to send)."""
    if value is None:
        return None
    value = value.strip(" \t")
    if len(value) > MAX_VALIDATOR or not _VALIDATOR.fullmatch(value):
        return None
    return value


def delta_seconds(value: str) -> float | None:
    """A delta-seconds value (RFC 9111 1.2.2: ASCII digits), at most MAX_HINT."""
    value = value.strip(" \t")
    if not _DIGITS.fullmatch(value):
        return None
    value = value.lstrip("0") or "0"
    return MAX_HINT if len(value) > 10 else min(float(int(value)), MAX_HINT)


def http_date(value: str, now: float) -> float | None:
    """Seconds from now until an HTTP date (negative when it is past); None for anything that
    is not a date a calendar has (hour 25, year 10**20, ...)."""
    if len(value) > 100:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return seconds if math.isfinite(seconds) else None


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds from now that a Retry-After header asks for (delta-seconds or an HTTP date),
    within [0, MAX_HINT]; None when there is no usable value."""
    if not value:
        return None
    value = value.strip(" \t")
    seconds = delta_seconds(value)
    if seconds is None:
        seconds = http_date(value, now)
    if seconds is None:
        return None
    return min(max(0.0, seconds), MAX_HINT)


def _one_line(text: str, limit: int = 300) -> str:
    """Reasons go to one log line and a status table, and may quote what a server sent."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain


def _refusal(exc: httpx.ConnectError) -> str | None:
    """The guard's reason, when it was the guard that refused the connection."""
    return next((str(c) for c in _chain(exc) if isinstance(c, AddressRefused)), None)


def _connect_reason(exc: httpx.ConnectError) -> str:
    """The root cause in words a user can act on; httpx wraps it two or three levels deep."""
    chain = _chain(exc)
    refused = _refusal(exc)
    if refused is not None:
        return refused
    if any(isinstance(c, ssl.SSLError) for c in chain):
        return f"TLS error: {chain[-1]}"
    if any(isinstance(c, socket.gaierror) for c in chain):
        return f"DNS lookup failed: {chain[-1]}"
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return "connection refused"
    return f"connection failed: {chain[-1]}"


class HostGate:
    """At most `concurrent` requests to one host at a time, and starts at least `spacing`
    seconds apart: the politeness a site expects from a feed poller."""

    def __init__(self, concurrent: int, spacing: float) -> None:
        self._slots = asyncio.Semaphore(concurrent)
        self._spacing = spacing
        self._next_start = 0.0

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        if self._spacing > 0:
            now = asyncio.get_running_loop().time()
            start = max(now, self._next_start)
            self._next_start = start + self._spacing
            if start > now:
                await asyncio.sleep(start - now)

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


class Politeness:
    """One HostGate per host, for one cycle (asyncio primitives belong to one event loop).
    Politeness is for servers: local files are read at once."""

    def __init__(self, per_host: int, spacing: float) -> None:
        self._per_host = per_host
        self._spacing = spacing
        self._gates: dict[str, HostGate] = {}

    def gate(self, url: str, is_file: bool) -> HostGate:
        host = host_of(url)
        spacing = 0.0 if is_file else self._spacing
        return self._gates.setdefault(host, HostGate(self._per_host, spacing))


def host_of(url: str) -> str:
    """What politeness counts as one host (and the order that keeps a host's polls together)."""
    return urlsplit(url).netloc.lower()


def fetch_file(path: str, validators: Validators, limits: Limits) -> Fetched:
    """A local feed file, with its size and mtime as validators so an unchanged file is a 304."""
    try:
        stat = os.stat(path)
        etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
        last_modified = email.utils.format_datetime(
            datetime.fromtimestamp(int(stat.st_mtime), UTC), usegmt=True
        )
        fresh = Validators(etag=etag, last_modified=last_modified)
        if validators.etag == etag:
            return Fetched(path, 304, b"", {}, fresh)
        if S_ISDIR(stat.st_mode):
            raise FetchError(path, "is a directory, not a feed file")
        if not S_ISREG(stat.st_mode):  # reading /dev/zero or a FIFO would never end
            raise FetchError(path, "not a regular file")
        if stat.st_size > limits.max_bytes:
            raise FetchError(path, f"file too large: {stat.st_size} bytes (cap {limits.max_bytes})")
        with open(path, "rb") as f:
            body = f.read(limits.max_bytes + 1)  # it may have grown since the stat
        if len(body) > limits.max_bytes:
            raise FetchError(path, f"file too large: more than {limits.max_bytes} bytes (cap)")
    except FileNotFoundError:
        raise FetchError(path, "file not found") from None
    except OSError as exc:
        raise FetchError(path, f"cannot read file: {exc.strerror}") from None
    # No charset given: the document's own XML declaration (or BOM) decides.
    return Fetched(path, 200, body, {"Content-Type": "application/xml"}, fresh)


def header_max_age(headers: Mapping[str, str], now: float) -> float | None:
    """How long the server says the response stays fresh (Cache-Control max-age, or Expires),
    within [0, MAX_HINT]; None when it says nothing usable."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for part in lowered.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "max-age":
            seconds = delta_seconds(value.strip(" \t").strip('"'))
            if seconds is not None:
                return seconds
    return retry_after(lowered.get("expires"), now)
