"""Fuzz what a source can send: bodies through parse → clean → match → publish, and response
headers through the real fetch and pipeline against a loopback server.

    .venv/bin/python bench/fuzz.py --inputs 20000 --seed 1 [--jobs 2] [--crashes DIR]
    .venv/bin/python bench/fuzz.py --mode headers --inputs 50000 --seed 1 [--jobs 2]

Bodies (the default): each input is built deterministically from (seed, index) with
random.Random: the head of a real or hostile feed (tests/data/real, tests/data/hostile), a few
entries spliced in from any of them, its tail, then one to four mutations (byte flips,
truncation, deleted or repeated slices, hostile snippets — markup, entities, DOCTYPEs, CDATA
ends, control characters — inserted anywhere, or re-encoding). It then goes through parse_feed,
clean_entry, Matcher.match and render_feed as the pipeline does them, and the rendered feed must
parse as XML with every entry's content free of executable markup. A ParseError is an allowed
answer (not a feed, or refused); any other exception, invalid XML or unsafe content is a
failure, saved under --crashes with its traceback.

Headers: each input is one source of a real Pipeline (a SQLite store on disk, the real httpx
client and address guard) polled twice by `run_cycle(once=True)`, against a raw loopback
server that answers every request with bytes built from (seed, index, path, request number): a
status (200, 304, redirects, errors), a small feed, and one to six header values from seeds
and mutations (Unicode digits, overflowing dates, control and non-ASCII bytes, huge numbers,
repeated headers, lying lengths and encodings, Locations into the loopback, private and
metadata networks or to other schemes) for ETag, Last-Modified, Cache-Control, Expires,
Retry-After, Content-Type, Content-Encoding, Location, Content-Length and a few more. An input
fails when the cycle raises, anything logs an exception, a reason is not one line, a stored
validator could not be sent back, a next poll is not finite or further than the scheduler
allows, a source that worked is not asked again in the second cycle (its stored validators
could not be sent), or the published feed is not XML.

Prints inputs run, failures, inputs/s and the slowest input (or chunk, for headers).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import logging
import math
import multiprocessing
import random
import re
import sys
import tempfile
import threading
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402
from lxml import etree  # noqa: E402

from syndicator import schedule  # noqa: E402
from syndicator.analyse import preview  # noqa: E402
from syndicator.clean import load_rules  # noqa: E402
from syndicator.config import parse_config  # noqa: E402
from syndicator.errors import ParseError  # noqa: E402
from syndicator.fetch import validator  # noqa: E402
from syndicator.match import compile_topics  # noqa: E402
from syndicator.model import Topic  # noqa: E402
from syndicator.pipeline import Pipeline  # noqa: E402
from syndicator.store import SQLiteStore  # noqa: E402

ATOM = "{http://www.w3.org/2005/Atom}"
CORPUS_DIRS = [ROOT / "tests" / "data" / "real", ROOT / "tests" / "data" / "hostile"]
ITEM = re.compile(rb"<(item|entry)[\s>].*?</\1\s*>", re.DOTALL)
SNIPPETS = [
    b"<script>alert(1)</script>", b'<img src=x onerror="alert(1)">', b"&lt;script&gt;x&lt;/",
    b'<a href="javascript:alert(1)">j</a>', b'&lt;a href="java&amp;#09;script:alert(1)"&gt;',
    b'<base href="https://evil.example/">', b'<meta http-equiv="refresh" content="0;url=x">',
    b'<p style="x:expression(alert(1))">', b'<a href="data:text/html;base64,PHM+">d</a>',
    b"<svg onload=alert(1)>", b"<math><mi xlink:href='javascript:1'>", b"<iframe src=x>",
    b'<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>', b"&x;", b"&nbsp;", b"&#0;",
    b"&#x110000;", b"&amp;", b"&", b"<", b">", b"]]>", b"<![CDATA[", b"<!--", b"-->", b"\x00",
    b"\x0b", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3", b"\xed\xa0\x80", b"\xef\xbf\xbe",
    b"<title>", b"</title>", b"<item>", b"</item>", b"<entry>", b"</channel>",
    b'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><script>x</script>',
    b"<guid></guid>", b"<link>javascript:alert(1)</link>", b"<pubDate>Fri, 01 Jan 9999</pubDate>",
    b'<?xml version="1.0" encoding="utf-16"?>', b'<?xml version="1.0" encoding="bogus"?>',
    b"<noscript><p title='</noscript><img src=x onerror=alert(1)>'>", b"<x:y xmlns:x='u'>",
]  # fmt: skip
# What a reader must never get: executable or re-basing elements, handlers, script URLs.
DANGEROUS_TAGS = frozenset(
    {"script", "style", "iframe", "object", "embed", "base", "meta", "link", "form", "input",
     "button", "svg", "math", "frame", "frameset", "applet", "textarea", "template", "noscript"}
)  # fmt: skip
URL_ATTRIBUTES = frozenset({"href", "src", "cite", "longdesc", "background", "poster", "action"})


def scheme(url: str) -> str:
    """The scheme a browser sees: tabs and newlines removed, C0 and spaces stripped; "" when
    relative (a "scheme" with other characters, like "ht=ps:", makes a relative path)."""
    url = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(33))))
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    return match.group(1).lower() if match else ""


def unsafe(html: str) -> str | None:
    """What in this HTML a browser would execute or follow somewhere it should not, if any."""
    if not html.strip():
        return None
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag in DANGEROUS_TAGS:
            return f"<{el.tag}>"
        for name, value in el.attrib.items():
            if name.startswith("on") or name == "style":
                return f"{name}= on <{el.tag}>"
            if name in URL_ATTRIBUTES and scheme(value) not in ("", "http", "https", "mailto"):
                return f"{name}={value[:60]!r}"
    return None


_corpus: list[tuple[bytes, list[bytes], bytes]] = []
_items: list[bytes] = []


def load_corpus() -> None:
    """Each feed as (head, entries, tail), and a pool of every entry for splicing."""
    _corpus.clear()
    _items.clear()
    for directory in CORPUS_DIRS:
        for path in sorted(directory.iterdir()):
            data = path.read_bytes()
            found = list(ITEM.finditer(data))
            if found:
                head, tail = data[: found[0].start()], data[found[-1].end() :]
                entries = [m.group(0) for m in found]
            else:
                head, tail, entries = data, b"", []
            _corpus.append((head, entries, tail))
            _items.extend(entries)


def make_input(seed: int, index: int) -> tuple[bytes, str]:
    """The bytes of input number `index`, and what was done to them."""
    rng = random.Random(f"{seed}/{index}")
    head, entries, tail = rng.choice(_corpus)
    picked = [rng.choice(entries) for _ in range(rng.randint(0, 3))] if entries else []
    picked += [rng.choice(_items) for _ in range(rng.randint(0, 2))]
    data = head + b"".join(picked) + tail
    done = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(
            ["flip", "truncate", "delete", "repeat", "snippet", "snippet", "encode", "none"]
        )
        done.append(kind)
        n = len(data)
        if kind == "flip" and n:
            buf = bytearray(data)
            for _ in range(rng.randint(1, 10)):
                buf[rng.randrange(n)] = rng.randrange(256)
            data = bytes(buf)
        elif kind == "truncate" and n:
            data = data[: rng.randrange(n)]
        elif kind == "delete" and n:
            a = rng.randrange(n)
            data = data[:a] + data[a + rng.randint(1, 200) :]
        elif kind == "repeat" and n:
            a = rng.randrange(n)
            data = data[:a] + data[a : a + rng.randint(1, 300)] * rng.randint(2, 20) + data[a:]
        elif kind == "snippet":
            a = rng.randrange(n + 1)
            data = data[:a] + rng.choice(SNIPPETS) + data[a:]
        elif kind == "encode":
            codec = rng.choice(["utf-16", "utf-16-le", "cp1252", "latin-1", "utf-32"])
            data = data.decode("utf-8", "replace").encode(codec, "replace")
    return data, "+".join(done)


_HEADERS = [
    {"Content-Type": "application/rss+xml; charset=utf-8"},
    {"Content-Type": "application/xml"},
    {"Content-Type": "text/xml"},
    {"Content-Type": "text/html; charset=iso-8859-1"},
    {},
]


def run_one(body: bytes, headers: dict[str, str]) -> str | None:
    """None when the input was handled properly, else what went wrong."""
    try:
        data = preview(body, "https://fuzz.example/feed", headers, _RULES, _MATCHER, topic="t")
    except ParseError as exc:
        return None if exc.reason and "\n" not in exc.reason else f"bad reason {exc.reason!r}"
    root = etree.fromstring(data)  # raises on invalid XML
    for entry in root.iter(f"{ATOM}entry"):
        html = entry.findtext(f"{ATOM}content") or ""
        found = unsafe(html)
        if found:
            return f"unsafe content ({found}): {html[:300]!r}"
    if b"root:x:0:0" in data and not _mentions(body, "root:x:0:0"):
        return "local file content in the output"
    return None


def _mentions(body: bytes, text: str) -> bool:
    """The input itself carries the text (a real feed may quote /etc/passwd)."""
    return text.encode() in body.replace(b"\0", b"")  # UTF-8, or ASCII in UTF-16/32


_RULES = load_rules()
_MATCHER = compile_topics([Topic("t", "NATO OR news OR the OR harbour OR Größe")])


Result = tuple[int, int, float, int, list[str], dict[str, int]]


def work(args: tuple[int, int, int]) -> Result:
    """Inputs [start, stop): (run, failures, slowest seconds, slowest index, reports)."""
    seed, start, stop = args
    failures, slowest, slowest_at = 0, 0.0, start
    reports: list[str] = []
    for index in range(start, stop):
        body, how = make_input(seed, index)
        headers = _HEADERS[index % len(_HEADERS)]
        began = time.perf_counter()
        try:
            problem = run_one(body, headers)
        except Exception:
            problem = traceback.format_exc()
        took = time.perf_counter() - began
        if took > slowest:
            slowest, slowest_at = took, index
        if problem is not None:
            failures += 1
            reports.append(f"input {index} ({how}, headers {headers}):\n{problem}")
    return stop - start, failures, slowest, slowest_at, reports, {}


# -- headers -----------------------------------------------------------------------------------

DATES = [
    "Wed, 01 Jan 2025 00:00:00 GMT",
    "Wed, 01 Jan 2025 25:00:00 GMT",
    "Wed, 01 Jan 2025 99999999999999999999:00:00 GMT",
    "Wed, 01 Jan 2025 00:99999999999999999999:00 GMT",
    "Wed, 99999999999999999999 Jan 2025 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "Sat, 01 Jan 0001 00:00:00 +2359",
    "Mon, 01 Jan 0001 00:00:00 GMT",
    "Wed, 01 Jan 2025 00:00:00 +9999",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
    "2025-01-01T00:00:00Z",
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "yesterday",
    "0",
    "-1",
    "\xa0Wed, 01 Jan 2025 00:00:00 GMT",
    "Wed, 01 Jan 2025 00:00:00 GMT\xa0",
]
NUMBERS = [
    "120",
    "0",
    "-5",
    "\u00b2",
    "\u0663",
    "\u0661\u0662",
    "9" * 5000,
    "9" * 25,
    "1e9",
    "1e400",
    "nan",
    "inf",
    "3600.5",
    " 60 ",
    "0x10",
    "+5",
    "00000000000000000000000000042",
    "\uff15",
]
SEEDS: dict[str, list[str]] = {
    "ETag": [
        '"abc"',
        'W/"abc"',
        '"',
        '""',
        "W/",
        "*",
        "abc",
        '"caf\xe9"',
        '"\u00e9"',
        '"a\x01b"',
        '"a\tb"',
        '"' + "a" * 2000 + '"',
        '"a"b"',
        ' "x" ',
        '"\x7f"',
        '"\u202e"',
        'W/"x", W/"y"',
    ],
    "Last-Modified": DATES,
    "Cache-Control": [
        *(f"max-age={n}" for n in NUMBERS),
        'max-age="60"',
        "max-age",
        "max-age=",
        "no-cache, max-age=0",
        "public, max-age=900, s-maxage=1",
        "MAX-AGE=10",
        "max-age=10, max-age=\u00b2",
        ",,,",
        "max-age = 60",
        "no-store",
    ],
    "Expires": [*DATES, *NUMBERS],
    "Retry-After": [*NUMBERS, *DATES],
    "Content-Type": [
        "application/rss+xml; charset=utf-8",
        "application/atom+xml",
        "text/html",
        "text/xml; charset=iso-8859-1",
        "application/json",
        "text/plain; charset=hex",
        *(
            f"application/xml; charset={c}"
            for c in [
                "rot13",
                "utf-16",
                "utf-32",
                "zlib",
                '"utf-8',
                "'",
                "",
                "x" * 3000,
                "\xe9",
                "utf-7",
                "cp037",
                "unicode_escape",
                "idna",
                "punycode",
                "uu",
                "base64",
                "bz2",
                "utf-8\u00b2",
                "mbcs",
                "hz",
                "iso-2022-jp",
                "utf_8_sig",
                "\u00b2",
            ]
        ),
        ";;;",
        "multipart/x-mixed-replace; boundary=x",
        "",
        "application/xml; charset=utf-8; charset=latin-1",
    ],
    "Content-Encoding": [
        "gzip",
        "deflate",
        "identity",
        "br",
        "compress",
        "gzip, gzip",
        "GZIP",
        " x-gzip ",
        "zstd",
        "deflate, identity",
        "",
        "gzip, identity",
        "\u00e9",
    ],
    "Location": [
        "/{i}/next",
        "next",
        "?q=1",
        "#frag",
        "//127.0.0.1:{port}/{i}/next",
        "http://127.0.0.1:{port}/{i}/next",
        "HTTP://127.0.0.1:{port}/{i}/next",
        "http://127.0.0.1:{other}/",
        "http://localhost:{port}/{i}/next",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://169.254.169.254/latest/",
        "http://[fd00:ec2::254]/",
        "http://2130706433:{port}/",
        "http://0x7f.1:{port}/",
        "http://10.0.0.1/",
        "http://192.168.0.1:8080/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ftp://x.invalid/",
        "data:text/plain,x",
        "http://evil.invalid/",
        "http://xn--.invalid/",
        "http://[::1",
        "http://a b/",
        "http://%00/",
        "http://127.0.0.1:99999/",
        "http://user:pass@127.0.0.1:{port}/{i}/next",
        "/{i}",
        "\\\\evil\\x",
        "http:/\\127.0.0.1/",
        "https://127.0.0.1:{port}/{i}/next",
        "http://[::]:{port}/",
        "/{i}/next\u00e9",
        "/{i}/next/" + "a" * 5000,
    ],
    "Content-Length": [
        "0",
        "1",
        "-1",
        "\u00b2",
        "9" * 30,
        "9" * 5000,
        "1e3",
        " 10 ",
        "10, 10",
        "0x10",
        "abc",
    ],
    "Transfer-Encoding": ["chunked", "gzip", "identity", "chunked, chunked", "x"],
    "Age": NUMBERS,
    "Date": DATES,
    "Vary": ["*", "Accept-Encoding", ""],
}
HEADER_WEIGHTS = {
    "ETag": 4,
    "Last-Modified": 4,
    "Cache-Control": 4,
    "Expires": 4,
    "Retry-After": 3,
    "Content-Type": 3,
    "Content-Encoding": 2,
    "Location": 3,
    "Content-Length": 1,
    "Transfer-Encoding": 1,
    "Age": 1,
    "Date": 1,
    "Vary": 1,
}
STATUSES = (
    [200] * 8 + [304] * 3 + [301, 302, 303, 307, 308] * 2 + [404, 410, 429, 503, 500, 204, 206, 418]
)
INSERTS = [
    b"\x00",
    b"\x01",
    b"\x1b[2J",
    b"\x7f",
    b"\xff",
    b"\xc3\xa9",
    b"\xe2\x80\xae",
    b"\xb2",
    "\u00b2".encode(),
    b"\t",
    b" ",
    b",",
    b";",
    b"=",
    b'"',
    b"\r",
    b"\n",
    b"\r\n",
    b"\x85",
    b"\xc2\x85",
    b"%00",
    b"\\",
]


def _mutate(rng: random.Random, value: bytes, start: int = 0) -> bytes:
    """One mutation at or after `start` (a Location keeps its authority, so no mutation turns a
    loopback address into a public one this run would really connect to)."""
    kind = rng.choice(["none", "none", "insert", "insert", "repeat", "truncate", "digits", "case"])
    if len(value) <= start:
        kind = "insert"
        start = len(value)
    at = rng.randrange(start, len(value) + 1)
    if kind == "insert":
        piece = rng.choice(INSERTS) if rng.random() < 0.8 else bytes([rng.randrange(256)])
        return value[:at] + piece * rng.randint(1, 3) + value[at:]
    if kind == "repeat":
        end = min(len(value), at + rng.randint(1, 20))
        return value[:at] + value[at:end] * rng.randint(2, 400) + value[end:]
    if kind == "truncate" and at > start:
        return value[:at]
    if kind == "digits":
        return re.sub(
            rb"[0-9]", lambda _m: rng.choice(["\u00b2", "\u0663", "9" * 30, "-1"]).encode(), value
        )
    if kind == "case":
        return value.swapcase() if start == 0 else value[:start] + value[start:].swapcase()
    return value


def _header_value(rng: random.Random, name: str, i: int, port: int) -> bytes:
    text = rng.choice(SEEDS[name]).format(i=i, port=port, other=port + 1 if port < 65535 else 1)
    value = text.encode("utf-8") if rng.random() < 0.7 else text.encode("latin-1", "replace")
    start = 0
    if name == "Location":
        m = re.match(rb"[A-Za-z]+:/*[^/?#]*", value)
        start = m.end() if m else 0
    for _ in range(rng.randint(0, 2)):
        value = _mutate(rng, value, start)
    return value


def _feed(i: int, n: int, path: str) -> bytes:
    items = "".join(
        f"<item><title>fuzz story {i} {n} {k}</title><guid>fuzz-{i}-{path}-{n}-{k}</guid>"
        f"<link>https://fuzz.example/{i}/{n}/{k}</link><description>story {k} of {i}</description>"
        "</item>"
        for k in range(2)
    )
    return f"<rss version='2.0'><channel><title>fuzz {i}</title>{items}</channel></rss>".encode()


def build_response(seed: int, i: int, path: str, n: int, port: int) -> bytes:
    """The raw bytes of the answer to request number `n` for `path` of input `i`."""
    rng = random.Random(f"{seed}/{i}/{path}/{n}")
    status = rng.choice(STATUSES)
    body = _feed(i, n, path) if status not in (204, 304) else b""
    names = rng.choices(
        list(HEADER_WEIGHTS), weights=list(HEADER_WEIGHTS.values()), k=rng.randint(1, 6)
    )
    if 300 <= status < 400 and status != 304 and rng.random() < 0.8:
        names.append("Location")
    headers: list[tuple[bytes, bytes]] = []
    for name in names:
        value = _header_value(rng, name, i, port)
        headers.append((name.encode(), value))
        if name == "Content-Encoding" and body:
            word = value.strip().lower()
            if word in (b"gzip", b"x-gzip") and rng.random() < 0.7:
                body = gzip.compress(body)
            elif word == b"deflate" and rng.random() < 0.7:
                body = zlib.compress(body) if rng.random() < 0.5 else zlib.compress(body)[2:-4]
    given = {name.lower() for name, _ in headers}
    if b"content-type" not in given:
        headers.append((b"Content-Type", b"application/rss+xml; charset=utf-8"))
    if b"content-length" not in given and rng.random() < 0.8:
        headers.append((b"Content-Length", str(len(body)).encode()))
    if rng.random() < 0.1 and headers:  # a header twice, the second value different
        name, _value = rng.choice(headers)
        headers.append((name, _header_value(rng, name.decode(), i, port)))
    rng.shuffle(headers)
    head = b"HTTP/1.1 %d Fuzz\r\n" % status
    if rng.random() < 0.03:
        head = b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + head
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return head + lines + b"Connection: close\r\n\r\n" + body


class RawServer:
    """A loopback server answering each request with `build_response` bytes, in a thread."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.counts: dict[str, int] = {}
        self.port = 0
        self._ready = threading.Event()
        threading.Thread(target=self._run, name="fuzz-server", daemon=True).start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        server = await asyncio.start_server(self._answer, "127.0.0.1", 0, limit=2**20)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await server.serve_forever()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode("latin-1")
            i = int(path.lstrip("/").split("/", 1)[0].split("?", 1)[0] or "0")
            n = self.counts.get(path, 0)
            self.counts[path] = n + 1
            writer.write(build_response(self.seed, i, path, n, self.port))
            async with asyncio.timeout(10):
                await writer.drain()
        except Exception:  # a client that gave up: what fuzzing makes clients do
            pass
        finally:
            writer.close()


class _Exceptions(logging.Handler):
    """Every log record that carries an exception: none may appear."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


_server: RawServer | None = None
_caught = _Exceptions()


def init_headers(seed: int) -> None:
    global _server
    _server = RawServer(seed)
    logging.getLogger().addHandler(logging.NullHandler())
    for name in ("syndicator", "asyncio"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.ERROR)
        logger.propagate = False
        logger.addHandler(_caught)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpx").propagate = False


def work_headers(args: tuple[int, int, int]) -> Result:
    """Inputs [start, stop) as one config of sources, polled twice; reports name the input."""
    _seed, start, stop = args
    assert _server is not None
    began = time.perf_counter()
    outcomes: Counter[str] = Counter()
    found = _headers_chunk(start, stop, outcomes)
    reports = [f"input {i} (headers):\n{problem}" for i, problem in found]
    return stop - start, len(reports), time.perf_counter() - began, start, reports, outcomes


def _headers_chunk(start: int, stop: int, outcomes: Counter[str]) -> list[tuple[int, str]]:
    assert _server is not None
    port = _server.port
    problems: list[tuple[int, str]] = []
    with tempfile.TemporaryDirectory(prefix="fuzz-headers-") as tmp:
        raw = {
            "syndicator": {
                "state": "state.sqlite",
                "output_dir": "feeds",
                "workers": 1,
                "max_entries": 50,
                "interval": "15m",
                "retain": 0,
            },
            "fetch": {
                "timeout": "5s",
                "connect_timeout": "2s",
                "concurrency": 64,
                "per_host": 64,
                "per_host_interval": 0,
                "max_bytes": "1MiB",
                "max_redirects": 3,
            },
            "sources": [
                {"name": f"h{i}", "url": f"http://127.0.0.1:{port}/{i}"} for i in range(start, stop)
            ],
            "topics": [{"name": "t", "query": "fuzz OR story"}],
        }
        config = parse_config(raw, Path(tmp) / "config.toml")
        store = SQLiteStore(config.state)
        try:
            pipeline = Pipeline(config, store, senders=[])
            worked: set[str] = set()
            for cycle in range(2):
                del _caught.records[:]
                now = time.time()
                try:
                    report = pipeline.run_cycle(once=True)
                except Exception:
                    problems.append((start, f"cycle {cycle} raised:\n{traceback.format_exc()}"))
                    return problems
                for record in _caught.records:
                    name = re.search(r"source=h(\d+)", record.getMessage())
                    text = logging.Formatter().format(record)
                    problems.append(
                        (int(name.group(1)) if name else start, f"cycle {cycle}: {text}")
                    )
                outcomes["polled"] += report.polled
                outcomes["not modified (304)"] += report.not_modified
                outcomes["stored (2xx)"] += report.polled - report.not_modified
                outcomes["stored (2xx)"] -= len(report.failed)
                for reason in report.failed.values():
                    kind = re.sub(r"\w+://\S*|\[[^\]]*\]:\d+|[\w.-]+:\d+|\d+", "#", reason)
                    outcomes["failed: " + kind.split(" (")[0][:50]] += 1
                for name, reason in report.failed.items():
                    internal = reason.startswith(("internal error", "unexpected "))
                    if "\n" in reason or len(reason) > 400 or internal:
                        problems.append((int(name[1:]), f"cycle {cycle}: bad reason {reason!r}"))
                problems += _check_states(store, now, cycle, worked)
                etree.parse(str(config.output_dir / "all.atom"))  # raises if not XML
            pipeline.close()
        finally:
            store.close()
    return problems


def _check_states(
    store: SQLiteStore, now: float, cycle: int, worked: set[str]
) -> list[tuple[int, str]]:
    """Stored validators sendable, next polls finite and within what the scheduler allows, and
    every source that worked in the first cycle asked again in the second."""
    assert _server is not None
    problems: list[tuple[int, str]] = []
    latest = now + max(15 * 60 * 2**schedule.MAX_BACKOFF_STEPS, schedule.MAX_DELAY) * 1.2 + 60
    for name, state in store.source_states().items():
        i = int(name[1:])
        for value in (state.validators.etag, state.validators.last_modified):
            if value is not None and validator(value) != value:
                problems.append((i, f"cycle {cycle}: stored validator {value[:80]!r}"))
        if not math.isfinite(state.next_poll) or not now - 60 <= state.next_poll <= latest:
            problems.append((i, f"cycle {cycle}: next poll {state.next_poll!r} (now {now})"))
        if cycle == 0 and state.failures == 0:
            worked.add(name)
        if cycle == 1 and name in worked and _server.counts.get(f"/{i}", 0) < 2:
            problems.append((i, f"worked, then not asked again: {state.last_error!r}"))
    return problems


def save(directory: Path | None, seed: int, report: str) -> None:
    """The failing input's bytes and its report, named by seed and index."""
    print(report.splitlines()[0], report.splitlines()[-1][:200], file=sys.stderr, flush=True)
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    index = int(report.split()[1])
    if "(headers)" in report.splitlines()[0]:
        port = 8080  # the port the Locations name, in the saved copy
        first = b"\n\n".join(build_response(seed, index, f"/{index}", n, port) for n in range(2))
        (directory / f"{seed}-{index}-headers.bin").write_bytes(first)
    else:
        body, _how = make_input(seed, index)
        (directory / f"{seed}-{index}.bin").write_bytes(body)
    (directory / f"{seed}-{index}.txt").write_text(report)


def chunks(seed: int, total: int, size: int) -> Iterator[tuple[int, int, int]]:
    for start in range(0, total, size):
        yield seed, start, min(start + size, total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--crashes", type=Path, default=None, help="write failing inputs here")
    parser.add_argument(
        "--mode", choices=["bodies", "headers"], default="bodies", help="what to fuzz"
    )
    args = parser.parse_args()
    if args.mode == "bodies":
        load_corpus()
        initializer, initargs, task = load_corpus, (), work
    else:
        initializer, initargs, task = init_headers, (args.seed,), work_headers
    began = time.perf_counter()
    run = failures = 0
    slowest, slowest_at = 0.0, 0
    reports: list[str] = []
    with multiprocessing.Pool(args.jobs, initializer=initializer, initargs=initargs) as pool:
        outcomes: Counter[str] = Counter()
        for n, bad, slow, at, found, seen in pool.imap_unordered(
            task, chunks(args.seed, args.inputs, 200)
        ):
            outcomes.update(seen)
            run += n
            failures += bad
            reports.extend(found)
            for report in found:  # as they come, so a long run can be read while it goes
                save(args.crashes, args.seed, report)
            if slow > slowest:
                slowest, slowest_at = slow, at
            if run % 5000 < 200:
                rate = run / (time.perf_counter() - began)
                print(f"  {run} inputs, {failures} failures, {rate:.0f}/s", flush=True)
    elapsed = time.perf_counter() - began
    print(f"inputs run: {run}")
    print(f"failures: {failures}")
    print(f"inputs/s: {run / elapsed:.1f} ({args.jobs} processes, {elapsed:.0f} s)")
    what = "input" if args.mode == "bodies" else "chunk of 200 inputs, from"
    print(f"slowest {what}: #{slowest_at} took {slowest:.2f} s")
    if outcomes:
        print(f"source polls over both cycles: {outcomes.pop('polled')}")
        for kind, count in outcomes.most_common(25):
            print(f"  {count:7d}  {kind}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
