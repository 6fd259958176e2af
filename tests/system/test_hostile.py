"""Every hostile and broken source of tests/unit/test_parse.py and test_fetch_hostile.py in one
`syndicator run --once` through the installed command: the run ends in bounded time and memory,
each failing source is one line with its reason, the healthy ones are published in full, and
nothing from the hostile input reaches the output or the machine."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import time
from pathlib import Path

from syndicator.clean import clean_entry
from syndicator.parse import ENTITY_REASON, parse_feed
from tests.conftest import (
    REAL,
    FeedServer,
    Route,
    free_port,
    run_cli,
    syndicator_command,
    write_config,
)
from tests.unit.test_fetch_hostile import MiB
from tests.unit.test_parse import (
    ATOM,
    BAD_URL,
    ENCODING_CASES,
    PASSWD,
    RULES,
    assert_safe_html,
    atom_entries,
    hostile,
    odd_entries,
    quadratic_blowup,
    rss,
)

HEALTHY = {
    "heise": ("rss-parser-heise.atom", "application/atom+xml"),
    "guardian": ("rss-parser-guardian.rss", "application/rss+xml; charset=utf-8"),
    "rdf": ("miniflux-rdf_UTF8.xml", "application/rdf+xml"),
}


def _setup_everything(server: FeedServer) -> tuple[str, dict[str, str], set[str]]:
    """Routes for every hostile case; returns the config's sources, the failing sources'
    expected reasons (a prefix), and the sources whose entries must be published."""
    base = server.base
    R = server.routes
    for name, (file, kind) in HEALTHY.items():
        R[f"/{name}"] = Route((REAL / file).read_bytes(), kind)
    for name in ("xxe-file.rss", "xxe-oneline.rss", "xxe-parameter.rss", "billion-laughs.rss"):
        R[f"/{name}"] = Route(hostile(name))
    utf16 = hostile("xxe-file.rss").decode().replace('"utf-8"', '"utf-16"').encode("utf-16")
    R["/xxe-utf16"] = Route(utf16, "application/xml")
    R["/xxe-remote"] = Route(
        hostile("xxe-file.rss").replace(b"file:///etc/passwd", f"{base}/evil-entity".encode())
    )
    R["/evil-entity"] = Route(PASSWD.encode())
    R["/evil.dtd"] = Route(b'<!ENTITY remote SYSTEM "file:///etc/passwd">')
    R["/remote-dtd"] = Route(hostile("xxe-remote-dtd.rss").replace(b"@BASE@", base.encode()))
    R["/quadratic"] = Route(quadratic_blowup())
    R["/huge"] = Route(b"<rss>" + b"x" * (MiB - 5), stream=True, repeat=64)
    R["/bomb"] = Route(gzip.compress(b"\0" * (64 * MiB)), headers={"Content-Encoding": "gzip"})
    R["/stall"] = Route(b"<rss>" * 100, stall=True)
    R["/trickle"] = Route(b"<", stream=True, repeat=1_000_000, trickle=0.05)
    R["/404"] = Route(b"no", status=404)
    R["/410"] = Route(b"gone", status=410)
    R["/500"] = Route(b"oops", status=500)
    R["/503"] = Route(b"", status=503, headers={"Retry-After": "3600"})
    R["/loop-a"] = Route(b"", status=302, headers={"Location": "/loop-b"})
    R["/loop-b"] = Route(b"", status=302, headers={"Location": "/loop-a"})
    for i in range(8):
        R[f"/hop{i}"] = Route(b"", status=301, headers={"Location": f"/hop{i + 1}"})
    R["/to-js"] = Route(b"", status=302, headers={"Location": "javascript:alert(1)"})
    R["/blog/"] = Route(hostile("html-page.html"), "text/html; charset=utf-8")
    R["/parked"] = Route(hostile("html-page-no-feed.html"), "text/html")
    R["/bozo"] = Route(hostile("bozo-usable.rss"))
    R["/odd"] = Route(odd_entries())
    R["/escape"] = Route(hostile("content-escape.rss"))
    R["/escape-atom"] = Route(hostile("content-escape.atom"), "application/atom+xml")
    nest = "<x>" * 300 + "</x>" * 300
    R["/deep"] = Route(rss(nest.encode()))
    for i, (case, make, kind, _expected, _warned) in enumerate(ENCODING_CASES):
        # a different story per source, or the store would publish them as one
        words = " ".join(hashlib.sha1(f"{i}/{j}".encode()).hexdigest()[:7] for j in range(20))
        R[f"/enc-{case}"] = Route(make(f" story {i} about the {case} harbour ferry {words}"), kind)

    failing = {
        "xxe-file": ("/xxe-file.rss", ENTITY_REASON),
        "xxe-oneline": ("/xxe-oneline.rss", ENTITY_REASON),
        "xxe-parameter": ("/xxe-parameter.rss", ENTITY_REASON),
        "xxe-utf16": ("/xxe-utf16", ENTITY_REASON),
        "xxe-remote-entity": ("/xxe-remote", ENTITY_REASON),
        "billion-laughs": ("/billion-laughs.rss", ENTITY_REASON),
        "quadratic-blowup": ("/quadratic", ENTITY_REASON),
        "huge-64mib": ("/huge", f"body too large: more than {10 * MiB} bytes (cap)"),
        "gzip-bomb": ("/bomb", f"body too large: more than {10 * MiB} bytes (cap)"),
        "capped": ("/guardian", "body too large: 151464 bytes (cap 100000)"),
        "stall": ("/stall", "timed out after 2s (total deadline)"),
        "trickle": ("/trickle", "timed out after 2s (total deadline)"),
        "http-404": ("/404", "HTTP 404 Not Found"),
        "http-410": ("/410", "HTTP 410 Gone"),
        "http-500": ("/500", "HTTP 500 Internal Server Error"),
        "http-503": ("/503", "HTTP 503 Service Unavailable"),
        "redirect-loop": ("/loop-a", f"redirect loop: {base}/loop-b redirects back to"),
        "redirect-chain": ("/hop0", "too many redirects (more than 5)"),
        "redirect-js": ("/to-js", "redirect to an invalid URL: "),
        "html-page": ("/blog/", f"not a feed (the page advertises {base}/feed.xml, "),
        "html-parked": ("/parked", "not a feed (an HTML page that advertises no feed)"),
        "deep-nesting": ("/deep", "feed too complex: XML nested deeper than 256 levels"),
        "refused": (f"http://127.0.0.1:{free_port()}/feed", "connection refused"),
        "dns": ("http://feeds.syndicator-test.invalid/rss", "DNS lookup failed"),
        "tls": (base.replace("http://", "https://") + "/heise", "TLS error"),
    }
    published = {*HEALTHY, "remote-dtd", "bozo", "odd", "escape", "escape-atom"}
    published |= {f"enc-{case[0]}" for case in ENCODING_CASES}
    sources = []
    limits = {
        "stall": 'timeout = "2s"',
        "trickle": 'timeout = "2s"',
        "capped": "max_bytes = 100000",
    }
    for name, (path, _reason) in failing.items():
        url = path if "://" in path else base + path
        sources.append(f'[[sources]]\nname = "{name}"\nurl = "{url}"\n{limits.get(name, "")}')
    for name in sorted(published):
        path = {"remote-dtd": "/remote-dtd"}.get(name, f"/{name}")
        sources.append(f'[[sources]]\nname = "{name}"\nurl = "{base}{path}"')
    return "\n".join(sources), {n: r for n, (_p, r) in failing.items()}, published


def server_requests(server: FeedServer, *paths: str) -> list[str]:
    return [r.path for r in server.log if r.path in paths]


# A small parent between pytest and the command: Linux keeps a process's peak RSS across
# fork and exec, so a child of pytest itself would report pytest's own peak as its own.
_MEASURE = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_pid, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss * 1024))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run_measured(args: list[str], cwd: Path) -> tuple[int, float, int, str]:
    """Run the command; (exit code, wall seconds, peak RSS in bytes of that child, stderr)."""
    err_path = cwd / "stderr.log"
    rss_path = cwd / "peak-rss"
    started = time.monotonic()
    command = [sys.executable, "-c", _MEASURE, str(rss_path), *syndicator_command(), *args]
    with open(err_path, "wb") as err, open(cwd / "stdout.log", "wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err)
    try:
        code = proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    elapsed = time.monotonic() - started
    return code, elapsed, int(rss_path.read_text()), err_path.read_text()


def test_one_run_over_every_hostile_source(tmp_path: Path, feed_server: FeedServer) -> None:
    sources, failing, published = _setup_everything(feed_server)
    config = write_config(
        tmp_path,
        "max_entries = 5000\n"
        '[fetch]\ntimeout = "20s"\nconnect_timeout = "5s"\nper_host = 16\n'
        'per_host_interval = "0"\n'
        '[[topics]]\nname = "harbour"\nquery = "harbour OR ferry"\n' + sources,
    )
    code, elapsed, rss_bytes, log = _run_measured(
        ["run", "--once", "--config", str(config)], tmp_path
    )
    print(f"combined run: {elapsed:.1f}s, peak RSS {rss_bytes / MiB:.0f} MiB")
    assert code == 0, log[-3000:]
    assert elapsed < 60
    assert rss_bytes < 300 * 10**6

    for name, reason in failing.items():  # one line each, with its reason
        lines = [
            line for line in log.splitlines() if f"source={name} " in line and "failed:" in line
        ]
        assert len(lines) == 1, (name, lines)
        assert lines[0].split("failed: ", 1)[1].startswith(reason), (name, lines[0])
    for name in published:
        assert f"source={name} status=200" in log, name
    assert "source=bozo feed is malformed but usable" in log
    assert not server_requests(feed_server, "/evil-entity", "/evil.dtd")  # nothing resolved

    atom = {p.name: p.read_bytes() for p in (tmp_path / "feeds").glob("*.atom")}
    assert set(atom) == {"all.atom", "harbour.atom"}
    for data in atom.values():
        text = data.decode().lower()
        for needle in (PASSWD, "<script", " onerror=", "http-equiv", "expression("):
            assert needle not in text
        assert not BAD_URL.search(text)
        for entry in atom_entries(data):
            assert_safe_html(entry.findtext(f"{ATOM}content") or "")
    entries = atom_entries(atom["all.atom"])
    links = {link.get("href") for e in entries for link in e.findall(f"{ATOM}link")}
    sources_seen = {
        (e.findtext(f"{ATOM}summary") or "").split(" · ")[0].removeprefix("Source: ")
        for e in entries
    }
    assert published <= sources_seen
    for name, (file, _kind) in HEALTHY.items():  # every entry of every healthy source
        feed = parse_feed((REAL / file).read_bytes(), f"{feed_server.base}/{name}")
        wanted = {clean_entry(e, RULES).link for e in feed.entries}
        assert wanted and wanted <= links, (name, wanted - links)
    texts = " ".join(e.findtext(f"{ATOM}content") or "" for e in entries)
    for i, (case, _make, _kind, expected, _warned) in enumerate(ENCODING_CASES):
        assert f"{expected} story {i} about the {case} harbour ferry" in texts, case

    status = run_cli("status", "--config", str(config), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    rows = status.stdout.splitlines()
    for name, reason in failing.items():
        row = next((r for r in rows if r.split() and r.split()[0] == name), "")
        assert row and reason[:30] in row, (name, row)
