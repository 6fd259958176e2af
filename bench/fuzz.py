"""Fuzz the parse → clean → match → publish path with mutated real feeds.

    .venv/bin/python bench/fuzz.py --inputs 20000 --seed 1 [--jobs 2] [--crashes DIR]

Each input is built deterministically from (seed, index) with random.Random: the head of a
real or hostile feed (tests/data/real, tests/data/hostile), a few entries spliced in from any
of them, its tail, then one to four mutations (byte flips, truncation, deleted or repeated
slices, hostile snippets — markup, entities, DOCTYPEs, CDATA ends, control characters —
inserted anywhere, or re-encoding). It then goes through parse_feed, clean_entry, Matcher.match
and render_feed as the pipeline does them, and the rendered feed must parse as XML with every
entry's content free of executable markup. A ParseError is an allowed answer (not a feed, or
refused); any other exception, invalid XML or unsafe content is a failure, saved under
--crashes with its traceback. Prints inputs run, failures, inputs/s and the slowest input.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import re
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402
from lxml import etree  # noqa: E402

from syndicator.clean import load_rules  # noqa: E402
from syndicator.errors import ParseError  # noqa: E402
from syndicator.match import compile_topics  # noqa: E402
from syndicator.model import Topic  # noqa: E402
from syndicator.pipeline import preview  # noqa: E402

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


def work(args: tuple[int, int, int]) -> tuple[int, int, float, int, list[str]]:
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
    return stop - start, failures, slowest, slowest_at, reports


def save(directory: Path | None, seed: int, report: str) -> None:
    """The failing input's bytes and its report, named by seed and index."""
    print(report.splitlines()[0], report.splitlines()[-1][:200], file=sys.stderr, flush=True)
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    index = int(report.split()[1])
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
    args = parser.parse_args()
    load_corpus()
    began = time.perf_counter()
    run = failures = 0
    slowest, slowest_at = 0.0, 0
    reports: list[str] = []
    with multiprocessing.Pool(args.jobs, initializer=load_corpus) as pool:
        for n, bad, slow, at, found in pool.imap_unordered(
            work, chunks(args.seed, args.inputs, 200)
        ):
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
    print(f"slowest input: #{slowest_at} took {slowest:.2f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
