"""Benchmark: `syndicator run --once` against rss2email, reader and bare feedparser.

    .venv/bin/python bench/perf.py [--feeds 200] [--entries 30] [--repeat 3] [--skip-rss2email]
                                   [--skip-reader] [--scale 10000] [--profile] [--user-install]
    as users install it (what README's figures use): .venv/bin/python bench/perf.py --user-install
    quick run (~1 min):  .venv/bin/python bench/perf.py --feeds 50 --skip-rss2email --scale 0

Generates N feeds x M entries deterministically (bench/_feeds.py: multilingual news HTML of about
2.6 KB per entry with share bars, [Anzeige_2], "The post … appeared first on …", utm links, ad
scripts and tracking pixels; RSS 2.0 and Atom mixed) and serves them from a separate process on
loopback addresses, `--per-host` feeds per address (127.0.0.1, 127.0.0.2, …: each a host to a
client's per-host limits; ETag, Last-Modified, 304, gzip). syndicator runs with its default
fetch settings (concurrency 16, per_host 2, per_host_interval 0.25 s), and once more with
per_host_interval = 0: neither rss2email nor reader spaces requests to a host, so that run is
the one the targets compare. Then, `--repeat` times:

* syndicator: `syndicator run --once` cold (fresh state: everything new) and warm (same state:
  every source answers 304), each as a whole process. The config has the 10 topics of
  _feeds.TOPICS and one console alert channel, whose output goes to /dev/null.
* rss2email (Debian package; `--install` apt-installs it): maildir delivery to a temp maildir,
  feeds added with `r2e opmlimport` (one process instead of N `r2e add`), `r2e run` cold, warm.
* reader 3.x in its own venv (created on first use): update_feeds(workers=4, scheduled=False)
  cold and warm, through bench/perf_reader.py.
* feedparser.parse over the same (uncompressed) bytes, in this process: default (sanitizer on)
  and sanitize_html=False.

Wall time is the child's, from spawn to exit. Memory is the peak, sampled every 0.1 s, of the
summed PSS of the child and all its descendants (syndicator's worker processes included; PSS
splits pages that forked processes share), or the child's own ru_maxrss when that is higher.
Only ratios within one run mean anything; medians are reported. `--scale N` then times a warm
`syndicator run --once` over N small sources that all answer 304 (after an untimed-for-target
cold warm-up), and `--profile` runs one cold syndicator run (and one scale warm run) under
cProfile (all threads; see bench/perf_profile.py) and prints the top functions by cumulative
and own time.
"""

from __future__ import annotations

import argparse
import configparser
import functools
import json
import multiprocessing
import os
import pstats
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

try:
    import _feeds
except ImportError:  # imported as bench.perf from the repository root
    from bench import _feeds  # type: ignore[no-redef,import-not-found]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
READER_VENV = Path("/tmp/bench-venv-reader")
RSS_LIMIT_MB = 200.0
# The compared run spaces no requests to one host, as neither rss2email nor reader does; the
# default-settings run (0.25 s between request starts to one host) is shown beside it.
SPACING = "0s"
SCALE_LIMIT_S = 15.0
CHILD_TIMEOUT_S = 1800.0
SUMMARY = re.compile(
    r"polled (\d+) sources: (\d+) ok \((\d+) not modified\), (\d+) failed, (\d+) held back; "
    r"(\d+) new or changed entries; (\d+) alerts sent"
)


# ------------------------------------------------------------------ measuring a child


@dataclass(frozen=True)
class Run:
    seconds: float
    rss_mb: float  # the child's own peak RSS
    code: int
    log: Path
    tree_mb: float = 0.0  # peak of the summed PSS of the child and all its descendants


def _tree(pid: int) -> list[int]:
    """pid and every live process below it (syndicator's workers are grandchildren)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as fh:
                    parents[int(entry.name)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [pid], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found.extend(frontier)
    return found


def _pss_mb(pid: int) -> float:
    """Proportional set size: shared pages split between the processes sharing them, so the
    sum over a tree of forked processes is the memory the tree really uses."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


class TreeMemory:
    """Samples the summed PSS of a process tree every `interval` s; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.peak = 0.0
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, sum(_pss_mb(p) for p in _tree(self._pid)))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def measure(
    cmd: Sequence[str],
    log: Path,
    *,
    env: dict[str, str] | None = None,
    stdout_null: bool = False,
    timeout: float = CHILD_TIMEOUT_S,
) -> Run:
    """Run cmd as a child; its wall time, its own peak RSS and its process tree's peak."""
    with open(log, "ab") as err:
        err.write(f"$ {shlex.join(cmd)}\n".encode())
        err.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if stdout_null else err,
            stderr=err,
            env=env,
        )
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        memory = TreeMemory(proc.pid)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
            tree = memory.stop()
        elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    own = usage.ru_maxrss / 1024.0
    return Run(elapsed, own, proc.returncode, log, max(tree, own))


def check(cmd: Sequence[str], log: Path, env: dict[str, str] | None = None) -> str:
    """An untimed set-up step; its stdout, or SystemExit with the log's tail."""
    with open(log, "ab") as err:
        err.write(f"$ {shlex.join(cmd)}\n".encode())
        err.flush()
        result = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env, check=False
        )
    if result.returncode != 0:
        raise SystemExit(
            f"set-up step failed ({result.returncode}): {shlex.join(cmd)}\n{tail(log)}"
        )
    return result.stdout.decode(errors="replace")


def tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def child_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
        LC_ALL="C.UTF-8",
        NO_PROXY="*",
    )
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env.pop(key, None)
    return env


# ------------------------------------------------------------------ the loopback server


class FeedServer:
    """_feeds.serve in a forked process (its own GIL and core share), one port per host."""

    def __init__(self, docs: Sequence[_feeds.FeedDoc], hosts: int) -> None:
        ctx = multiprocessing.get_context("fork")
        receiver, sender = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_feeds.serve, args=(docs, hosts, sender), daemon=True)
        self._proc.start()
        sender.close()
        if not receiver.poll(300):
            self.close()
            raise SystemExit("the feed server did not start")
        self.addresses: list[tuple[str, int]] = receiver.recv()
        receiver.close()

    def url(self, doc: _feeds.FeedDoc) -> str:
        address, port = self.addresses[doc.host]
        return f"http://{address}:{port}{doc.path}"

    def _get(self, path: str) -> dict[str, int]:
        address, port = self.addresses[0]
        with urllib.request.urlopen(f"http://{address}:{port}{path}", timeout=30) as response:
            data: dict[str, int] = json.loads(response.read())
        return data

    def reset(self) -> None:
        self._get("/__reset")

    def stats(self) -> dict[str, int]:
        return self._get("/__stats")

    def close(self) -> None:
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join(10)


@contextmanager
def serving(docs: Sequence[_feeds.FeedDoc], hosts: int) -> Iterator[FeedServer]:
    server = FeedServer(docs, hosts)
    try:
        yield server
    finally:
        server.close()


# ------------------------------------------------------------------ results


@dataclass
class Tool:
    name: str
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)  # MB, every measured run
    notes: list[str] = field(default_factory=list)
    failed: bool = False

    @property
    def cold_s(self) -> float | None:
        return statistics.median(self.cold) if self.cold else None

    @property
    def warm_s(self) -> float | None:
        return statistics.median(self.warm) if self.warm else None

    @property
    def peak_mb(self) -> float | None:
        return max(self.rss) if self.rss else None

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


@dataclass
class Setup:
    work: Path
    server: FeedServer
    docs: Sequence[_feeds.FeedDoc]
    urls: list[str]
    expected: int
    env: dict[str, str]
    syndicator: list[str]
    reader_python: Path | None


def hosts_for(feeds: int, per_host: int) -> int:
    return max(1, min(_feeds.MAX_HOSTS, -(-feeds // per_host)))


def entries_total(docs: Sequence[_feeds.FeedDoc]) -> int:
    return sum(d.entries for d in docs)


# ------------------------------------------------------------------ syndicator


USER_VENV = Path("/tmp/bench-venv-syndicator")
_user_command: list[str] | None = None


def syndicator_command() -> list[str]:
    """The command under test: Syndicator as README installs it for users (`pip install .`,
    no extras) when `--user-install` made that venv, else the project's .venv. The difference
    is not academic: the test extra brings selenium, whose trio httpcore imports on sight
    (about 0.1 s of every run)."""
    if _user_command is not None:
        return _user_command
    for exe in (
        ROOT / ".venv" / "bin" / "syndicator",
        Path(sys.executable).with_name("syndicator"),
    ):
        if exe.exists():
            return [str(exe)]
    return [sys.executable, "-m", "syndicator"]


def user_install(venv: Path) -> list[str]:
    """This tree installed into `venv` as a user installs it (made on first use; the package
    itself reinstalled every time, its dependencies only when missing)."""
    global _user_command
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"creating {venv}: pip install {ROOT}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", str(ROOT)], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(ROOT)],
        check=True,
    )
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(ROOT)], check=True)  # new deps
    _user_command = [str(venv / "bin" / "syndicator")]
    return _user_command


def write_config(
    directory: Path, urls: Sequence[str], alerts: bool = True, spacing: str | None = SPACING
) -> Path:
    """A syndicator config: every URL a source, the 10 benchmark topics, console alerts;
    `spacing` sets fetch.per_host_interval (None: syndicator's default)."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["# written by bench/perf.py"]
    if spacing is not None:
        lines += ["[fetch]", f"per_host_interval = {json.dumps(spacing)}", ""]
    lines += [
        "[syndicator]",
        'state = "state/syndicator.sqlite"',
        'output_dir = "out"',
        'interval = "15m"',
        "max_entries = 100",
        "",
    ]
    for i, url in enumerate(urls):
        lines += ["[[sources]]", f'name = "src{i:05d}"', f"url = {json.dumps(url)}", ""]
    for name, query in _feeds.TOPICS:
        lines += ["[[topics]]", f"name = {json.dumps(name)}", f"query = {json.dumps(query)}", ""]
    if alerts:
        lines += ["[[alerts]]", 'type = "console"', ""]
    path = directory / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def summary(log: Path) -> tuple[int, ...] | None:
    text = log.read_text(encoding="utf-8", errors="replace")
    found = SUMMARY.findall(text)
    return tuple(int(x) for x in found[-1]) if found else None


def run_syndicator(s: Setup, tool: Tool, rep: int, spacing: str | None = SPACING) -> None:
    d = s.work / (f"syndicator-{rep}" + ("" if spacing == SPACING else "-default"))
    config = write_config(d, s.urls, spacing=spacing)
    cmd = [*s.syndicator, "run", "--once", "--config", str(config)]
    for phase in ("cold", "warm"):
        s.server.reset()
        run = measure(cmd, d / f"{phase}.log", env=s.env, stdout_null=True)
        stats = s.server.stats()
        got = summary(run.log)
        if run.code != 0 or got is None:
            tool.failed = True
            tool.note(f"{phase} run failed (exit {run.code}); log {run.log}:\n{tail(run.log)}")
            return
        polled, _ok, not_modified, failed, _held, new, _alerts = got
        if phase == "cold" and (new != s.expected or failed):
            tool.note(f"cold: {new} new entries of {s.expected}, {failed} sources failed")
        if phase == "warm" and (not_modified != len(s.urls) or stats.get("304") != len(s.urls)):
            tool.note(f"warm: {not_modified} of {polled} not modified; server: {stats}")
        getattr(tool, phase).append(run.seconds)
        tool.rss.append(run.tree_mb)


# ------------------------------------------------------------------ rss2email


def rss2email_version() -> str | None:
    exe = shutil.which("r2e")
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).strip().split()[-1] if out.returncode == 0 else "?"


def install_rss2email() -> None:
    print("installing rss2email: apt-get install -y rss2email", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], check=False, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "rss2email"], check=True, env=env)


def run_rss2email(s: Setup, tool: Tool, rep: int) -> None:
    d = s.work / f"rss2email-{rep}"
    (d / "Maildir").mkdir(parents=True)
    base = ["r2e", "-c", str(d / "rss2email.cfg"), "-d", str(d / "rss2email.json")]
    setup_log = d / "setup.log"
    check([*base, "new", "bench@localhost"], setup_log, s.env)
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(d / "rss2email.cfg", encoding="utf-8")
    cfg["DEFAULT"]["email-protocol"] = "maildir"
    cfg["DEFAULT"]["maildir-path"] = str(d / "Maildir")
    cfg["DEFAULT"]["maildir-mailbox"] = "INBOX"
    with open(d / "rss2email.cfg", "w", encoding="utf-8") as f:
        cfg.write(f)
    outlines = "\n".join(
        f"<outline type='rss' text={quoteattr(f'feed{i:05d}')} xmlUrl={quoteattr(url)}/>"
        for i, url in enumerate(s.urls)
    )
    opml = d / "feeds.opml"
    opml.write_text(
        f'<?xml version="1.0"?>\n<opml version="1.0"><head><title>bench</title></head>'
        f"<body>\n{outlines}\n</body></opml>\n",
        encoding="utf-8",
    )
    check([*base, "opmlimport", str(opml)], setup_log, s.env)
    inbox = d / "Maildir" / "INBOX"
    for phase in ("cold", "warm"):
        s.server.reset()
        run = measure([*base, "run"], d / f"{phase}.log", env=s.env)
        stats = s.server.stats()
        if run.code != 0:
            tool.failed = True
            tool.note(f"{phase} run failed (exit {run.code}); log {run.log}:\n{tail(run.log)}")
            return
        mails = len(list((inbox / "new").iterdir())) if (inbox / "new").is_dir() else 0
        if phase == "cold" and mails != s.expected:
            tool.note(f"cold: {mails} mails delivered of {s.expected} entries")
        if phase == "warm" and stats.get("304") != len(s.urls):
            tool.note(f"warm: server answered {stats}")
        getattr(tool, phase).append(run.seconds)
        tool.rss.append(run.tree_mb)


# ------------------------------------------------------------------ reader


def reader_python(venv: Path, allow_install: bool) -> tuple[Path | None, str]:
    py = venv / "bin" / "python"
    if not py.exists() and allow_install:
        print(f"creating {venv} with reader (pip install reader sgmllib3k)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "reader", "sgmllib3k"], check=True)
    if not py.exists():
        return None, f"no reader venv at {venv}"
    probe = subprocess.run(
        [
            str(py),
            "-c",
            "import reader, feedparser; print(reader.__version__, feedparser.__version__)",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return None, f"reader not importable in {venv}: {probe.stderr.strip()[-200:]}"
    return py, probe.stdout.strip()


def run_reader(s: Setup, tool: Tool, rep: int) -> None:
    assert s.reader_python is not None
    d = s.work / f"reader-{rep}"
    d.mkdir(parents=True)
    db = str(d / "reader.sqlite")
    urls = d / "urls.txt"
    urls.write_text("\n".join(s.urls) + "\n", encoding="utf-8")
    driver = [str(s.reader_python), str(HERE / "perf_reader.py")]
    check([*driver, "setup", db, str(urls)], d / "setup.log", s.env)
    for phase in ("cold", "warm"):
        s.server.reset()
        run = measure([*driver, "update", db], d / f"{phase}.log", env=s.env)
        stats = s.server.stats()
        if run.code != 0:
            tool.failed = True
            tool.note(f"{phase} run failed (exit {run.code}); log {run.log}:\n{tail(run.log)}")
            return
        counts = json.loads(check([*driver, "count", db], d / "setup.log", s.env))
        if phase == "cold" and (counts["entries"] != s.expected or counts["broken"]):
            tool.note(
                f"cold: {counts['entries']} entries of {s.expected}, {counts['broken']} broken"
            )
        if phase == "warm" and stats.get("304") != len(s.urls):
            tool.note(f"warm: server answered {stats}")
        getattr(tool, phase).append(run.seconds)
        tool.rss.append(run.tree_mb)


# ------------------------------------------------------------------ feedparser alone


def run_feedparser(docs: Sequence[_feeds.FeedDoc], tool: Tool, sanitize: bool) -> None:
    import gc

    import feedparser

    bodies = [d.body for d in docs]
    gc.collect()
    start = time.perf_counter()
    n = sum(len(feedparser.parse(b, sanitize_html=sanitize).entries) for b in bodies)
    tool.cold.append(time.perf_counter() - start)
    if n != entries_total(docs):
        tool.note(f"parsed {n} entries of {entries_total(docs)}")


# ------------------------------------------------------------------ report


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("OK" if ok else "MISSED")


def print_table(tools: list[Tool], expected: int, repeat: int) -> None:
    syn = tools[0]
    print(f"\nMedians of {repeat} repeat(s); cold = all {expected} entries new, warm = all 304.")
    header = (
        f"{'tool':<34}{'cold s':>8}{'cold e/s':>10}{'warm s':>8}{'peak MB':>13}"
        f"{'syn cold speed-up':>19}{'syn warm speed-up':>19}"
    )
    print(header)
    print("-" * len(header))
    for t in tools:
        eps = expected / t.cold_s if t.cold_s else None
        cold_ratio = t.cold_s / syn.cold_s if (t is not syn and t.cold_s and syn.cold_s) else None
        warm_ratio = t.warm_s / syn.warm_s if (t is not syn and t.warm_s and syn.warm_s) else None
        print(
            f"{t.name:<34}{fmt(t.cold_s):>8}{fmt(eps, '.0f'):>10}{fmt(t.warm_s):>8}"
            f"{fmt(t.peak_mb, '.1f'):>13}"
            f"{(fmt(cold_ratio) + 'x') if cold_ratio else '-':>19}"
            f"{(fmt(warm_ratio) + 'x') if warm_ratio else '-':>19}"
        )
    for t in tools:
        if t.cold or t.warm:
            runs = ", ".join(
                f"{c:.2f}" + (f"/{t.warm[i]:.2f}" if i < len(t.warm) else "")
                for i, c in enumerate(t.cold)
            )
            print(f"  runs {t.name}: cold{'/warm' if t.warm else ''} s = {runs}")
        for n in t.notes:
            print(f"  NOTE {t.name}: {n}")


def targets_of(tools: list[Tool]) -> list[tuple[str, str, bool | None]]:
    syn = tools[0]

    def speedup(other: Tool) -> float | None:
        if syn.failed or other.failed or not syn.cold_s or not other.cold_s:
            return None
        return other.cold_s / syn.cold_s

    def warm_ok(other: Tool) -> bool | None:
        if syn.failed or other.failed or syn.warm_s is None or other.warm_s is None:
            return None
        return syn.warm_s <= other.warm_s

    by = {t.name.split()[0]: t for t in tools}
    targets: list[tuple[str, str, bool | None]] = []
    for key, factor, label in (
        ("rss2email", 3.0, "cold >= 3x rss2email entries/s"),
        ("reader", 1.5, "cold >= 1.5x reader entries/s"),
        ("feedparser", 1.0, "cold >= feedparser default parse"),
    ):
        other = by.get(key)
        r = speedup(other) if other else None
        targets.append((label, f"{r:.2f}x" if r else "-", None if r is None else r >= factor))
    for key in ("rss2email", "reader"):
        other = by.get(key)
        ok = warm_ok(other) if other and other.warm else None
        shown = f"{fmt(syn.warm_s)} s vs {fmt(other.warm_s if other else None)} s"
        targets.append((f"warm <= {key}", shown, ok))
    return targets


def print_targets(targets: list[tuple[str, str, bool | None]]) -> None:
    print("\nTargets (syndicator, ratios within this run):")
    for label, shown, ok in targets:
        print(f"  {label:<40}{shown:>24}   {verdict(ok)}")


# ------------------------------------------------------------------ profile


def print_profile(prof: Path, wall: float, top: int = 25) -> None:
    stats = pstats.Stats(str(prof))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    threads_file = Path(f"{prof}.threads.json")
    if threads_file.exists():
        threads = json.loads(threads_file.read_text(encoding="utf-8"))
        shown = ", ".join(
            f"{k} {v:.2f}s" for k, v in sorted(threads.items(), key=lambda kv: -kv[1])
        )
        print(f"profiled time per thread (sum of own times): {shown}")

    def name(key: tuple[str, int, str]) -> str:
        file, line, func = key
        if file == "~":
            return func
        parts = Path(file).parts
        for anchor in ("site-packages", "syndicator", "lib"):
            if anchor in parts:
                i = len(parts) - 1 - parts[::-1].index(anchor)
                short = "/".join(parts[i + (anchor != "syndicator") :])
                break
        else:
            short = "/".join(parts[-2:])
        return f"{short}:{line}({func})"

    for column, label in ((3, "cumulative"), (2, "own time (tottime)")):
        rows = sorted(raw.items(), key=lambda kv: -kv[1][column])[:top]
        print(f"\nTop {top} by {label}; % of the run's {wall:.2f} s wall time (threads overlap):")
        print(f"{'ncalls':>10}{'tottime':>9}{'cumtime':>9}{'%wall':>7}  function")
        for key, (_cc, nc, tt, ct, _callers) in rows:
            share = 100.0 * (ct if column == 3 else tt) / wall
            print(f"{nc:>10}{tt:>9.3f}{ct:>9.3f}{share:>6.1f}%  {name(key)}")


def run_profile(config: Path, out: Path, env: dict[str, str], label: str) -> None:
    """One `syndicator run --once` under cProfile (all threads), then its top functions."""
    python = ROOT / ".venv" / "bin" / "python"
    py = str(python) if python.exists() else sys.executable
    cmd = [py, str(HERE / "perf_profile.py"), str(out), "run", "--once", "--config", str(config)]
    print(f"\n== profile: {label} ({shlex.join(cmd)})", flush=True)
    run = measure(cmd, out.with_suffix(".log"), env=env, stdout_null=True)
    if run.code != 0 or not out.exists():
        print(f"profiled run failed (exit {run.code}):\n{tail(run.log)}")
        return
    print(f"profiled run: {run.seconds:.2f} s wall (profiling slows it), {out}")
    print_profile(out, run.seconds)


# ------------------------------------------------------------------ scale


def run_scale(
    args: argparse.Namespace, env: dict[str, str], work: Path
) -> tuple[float, float, float] | None:
    """(median warm s, peak RSS MB over all its runs, cold warm-up s), or None if it failed."""
    hosts = hosts_for(args.scale, args.per_host)
    print(
        f"\n== scale: {args.scale} sources x 2 small entries on {hosts} hosts, warm run = all 304",
        flush=True,
    )
    docs = _feeds.generate(args.scale, 2, seed=args.seed, html_size=600, hosts=hosts)
    d = work / "scale"
    cmd_base = syndicator_command()
    with serving(docs, hosts) as server:
        urls = [server.url(doc) for doc in docs]
        config = write_config(d, urls, spacing=None)  # syndicator's default settings
        cmd = [*cmd_base, "run", "--once", "--config", str(config)]
        server.reset()
        cold = measure(cmd, d / "cold.log", env=env, stdout_null=True)
        got = summary(cold.log)
        print(
            f"cold warm-up: {cold.seconds:.2f} s, peak {cold.tree_mb:.1f} MB, exit {cold.code},"
            f" summary {got}"
        )
        if cold.code != 0 or got is None:
            print(tail(cold.log))
            return None
        warm: list[float] = []
        rss = [cold.tree_mb]
        for rep in range(args.repeat):
            server.reset()
            run = measure(cmd, d / f"warm-{rep}.log", env=env, stdout_null=True)
            stats = server.stats()
            got = summary(run.log)
            print(
                f"warm {rep + 1}: {run.seconds:.2f} s, peak {run.tree_mb:.1f} MB,"
                f" server {stats}, summary {got}",
                flush=True,
            )
            if run.code != 0:
                print(tail(run.log))
                return None
            warm.append(run.seconds)
            rss.append(run.tree_mb)
        if args.profile:
            label = f"one warm (all-304) syndicator run over {args.scale} sources"
            run_profile(config, d / "warm.prof", env, label)
    median = statistics.median(warm)
    ok = median <= SCALE_LIMIT_S
    print(f"scale warm median {median:.2f} s (target <= {SCALE_LIMIT_S:.0f} s: {verdict(ok)})")
    return median, max(rss), cold.seconds


# ------------------------------------------------------------------ main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="quick run: .venv/bin/python bench/perf.py --feeds 50 --skip-rss2email --scale 0",
    )
    p.add_argument("--feeds", type=int, default=200, help="number of feeds (default 200)")
    p.add_argument("--entries", type=int, default=30, help="entries per feed (default 30)")
    p.add_argument("--repeat", type=int, default=3, help="repeats; medians reported (default 3)")
    p.add_argument("--skip-rss2email", action="store_true")
    p.add_argument("--skip-reader", action="store_true")
    p.add_argument("--skip-feedparser", action="store_true")
    p.add_argument("--scale", type=int, default=10000, help="sources in the scale run; 0 skips")
    p.add_argument("--profile", action="store_true", help="also profile one cold syndicator run")
    p.add_argument(
        "--per-host",
        type=int,
        default=4,
        help="feeds per loopback host (127.0.x.y); hosts = feeds / this (default 4)",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--install", action="store_true", help="apt-get install rss2email if missing")
    p.add_argument("--reader-venv", type=Path, default=READER_VENV)
    p.add_argument(
        "--user-install",
        action="store_true",
        help="measure this tree as `pip install .` puts it in --user-venv (no test extra)",
    )
    p.add_argument("--user-venv", type=Path, default=USER_VENV)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, state, maildir)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import feedparser  # noqa: F401
    except ImportError:
        venv_python = ROOT / ".venv" / "bin" / "python"
        if venv_python.exists() and Path(sys.executable) != venv_python:
            os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])
        raise SystemExit(
            "feedparser is not importable: run with the project's .venv/bin/python"
        ) from None
    if args.per_host < 1:
        raise SystemExit("--per-host must be at least 1")

    if args.user_install:
        user_install(args.user_venv)
    work = Path(tempfile.mkdtemp(prefix="syndicator-perf-"))
    env = child_env(work / "home")
    started = time.perf_counter()
    print(f"work dir {work}; python {sys.version.split()[0]}; {os.cpu_count()} CPUs", flush=True)
    try:
        return _main(args, work, env, started)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _main(args: argparse.Namespace, work: Path, env: dict[str, str], started: float) -> int:
    import feedparser

    t0 = time.perf_counter()
    hosts = hosts_for(args.feeds, args.per_host)
    docs = _feeds.generate(args.feeds, args.entries, seed=args.seed, hosts=hosts)
    expected = entries_total(docs)
    size = sum(len(d.body) for d in docs)
    atom = sum(d.content_type.endswith("atom+xml") for d in docs)
    print(
        f"generated {len(docs)} feeds ({atom} Atom, {len(docs) - atom} RSS) x {args.entries}"
        f" entries = {expected} entries, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )

    syn = Tool(f"syndicator (host spacing {SPACING})")
    polite = Tool("syndicator (defaults: 0.25s)")
    tools = [syn, polite]
    runners: list[tuple[Tool, Callable[[Setup, Tool, int], None]]] = [
        (syn, run_syndicator),
        (polite, functools.partial(run_syndicator, spacing=None)),
    ]
    if not args.skip_rss2email:
        version = rss2email_version()
        if version is None and args.install:
            install_rss2email()
            version = rss2email_version()
        r2e = Tool(f"rss2email {version or ''} (maildir)")
        tools.append(r2e)
        if version is None:
            r2e.failed = True
            r2e.note("r2e not found: apt-get install -y rss2email (or pass --install)")
        else:
            runners.append((r2e, run_rss2email))
    reader_py: Path | None = None
    if not args.skip_reader:
        reader_py, info = reader_python(args.reader_venv, allow_install=True)
        rdr = Tool(f"reader {info.split()[0] if reader_py else ''} (workers=4)")
        tools.append(rdr)
        if reader_py is None:
            rdr.failed = True
            rdr.note(info)
        else:
            runners.append((rdr, run_reader))
    fp_default = Tool(f"feedparser {feedparser.__version__} parse")
    fp_raw = Tool("feedparser, sanitize_html=False")
    if not args.skip_feedparser:
        tools += [fp_default, fp_raw]

    with serving(docs, hosts) as server:
        s = Setup(
            work=work,
            server=server,
            docs=docs,
            urls=[server.url(d) for d in docs],
            expected=expected,
            env=env,
            syndicator=syndicator_command(),
            reader_python=reader_py,
        )
        print(f"serving on {len(server.addresses)} loopback hosts; syndicator: {s.syndicator}")
        print(
            f"fetch settings: syndicator's defaults, and per_host_interval = {SPACING!r} for the"
            f" compared run; {args.per_host} feeds per host",
            flush=True,
        )
        for rep in range(args.repeat):
            order = runners[rep % len(runners) :] + runners[: rep % len(runners)]
            for tool, runner in order:
                if tool.failed:
                    continue
                t = time.perf_counter()
                runner(s, tool, rep)
                shown = (
                    f"cold {tool.cold[-1]:.2f} s, warm {tool.warm[-1]:.2f} s, "
                    f"RSS {max(tool.rss[-2:]):.1f} MB"
                    if not tool.failed and len(tool.warm) == rep + 1
                    else "FAILED"
                )
                print(
                    f"[{rep + 1}/{args.repeat}] {tool.name}: {shown}"
                    f" ({time.perf_counter() - t:.1f} s with set-up)",
                    flush=True,
                )
            if not args.skip_feedparser:
                run_feedparser(docs, fp_default, sanitize=True)
                run_feedparser(docs, fp_raw, sanitize=False)
                print(
                    f"[{rep + 1}/{args.repeat}] feedparser: default {fp_default.cold[-1]:.2f} s,"
                    f" sanitize_html=False {fp_raw.cold[-1]:.2f} s",
                    flush=True,
                )
        if args.profile and not syn.failed:
            d = work / "profile"
            config = write_config(d, s.urls)
            run_profile(config, d / "cold.prof", env, "one cold syndicator run")

    targets = targets_of(tools)
    scale_rss: float | None = None
    if args.scale > 0:
        result = run_scale(args, env, work)
        shown, scale_ok = "-", None
        if result is not None:
            median, rss, cold_s = result
            shown, scale_ok = f"{median:.2f} s (cold {cold_s:.0f} s)", median <= SCALE_LIMIT_S
            scale_rss = rss
        targets.append((f"{args.scale} sources all-304 <= {SCALE_LIMIT_S:.0f} s", shown, scale_ok))
    main_peak = max((p for p in (syn.peak_mb, polite.peak_mb) if p is not None), default=None)
    peaks = [p for p in (main_peak, scale_rss) if p is not None]
    peak = max(peaks) if peaks else None
    where = f" (main {fmt(main_peak, '.0f')}, scale {fmt(scale_rss, '.0f')})"
    targets.append(
        (
            f"peak memory <= {RSS_LIMIT_MB:.0f} MB, every run",
            f"max {fmt(peak, '.1f')} MB" + (where if scale_rss is not None else ""),
            None if peak is None else peak <= RSS_LIMIT_MB,
        )
    )
    print("\n" + "=" * 60)
    print_table(tools, expected, args.repeat)
    print_targets(targets)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")
    return 1 if syn.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
