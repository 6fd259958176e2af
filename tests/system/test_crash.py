"""kill -9 in the middle of a poll, then a new run: every entry published exactly once, no alert
lost, at most one duplicate."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from lxml import etree

from tests.conftest import (
    REAL,
    FeedServer,
    Mailbox,
    Route,
    run_cli,
    running,
    write_config,
)

A = "{http://www.w3.org/2005/Atom}"
FEEDS = [
    "rss-parser-heise.atom",
    "rss-parser-guardian.rss",
    "miniflux-small_atom.xml",
    "rss-parser-reddit.rss",
    "miniflux-large_rss.xml",
    "rss-parser-feedburner.atom",
]


def _real_sources_and_a_stalling_one(feed_server: FeedServer, names: list[str]) -> str:
    """[[sources]] for the named real feeds; /stall answers with headers and never finishes."""
    feed_server.routes["/stall"] = Route(b"<rss>" * 100, stall=True)
    return "".join(
        f'[[sources]]\nname = "f{i}"\nurl = "{feed_server.serve_file(f"/{i}", REAL / name)}"\n'
        for i, name in enumerate(names)
    )


def test_kill_9_mid_poll_loses_nothing(
    tmp_path: Path, feed_server: FeedServer, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    sources = _real_sources_and_a_stalling_one(feed_server, FEEDS)
    config = write_config(
        tmp_path,
        f"""
[fetch]
timeout = "60s"
[[sources]]
name = "stalling"
url = "{feed_server.base}/stall"
{sources}
[[topics]]
name = "any"
query = "the OR die OR und OR a"
[[alerts]]
type = "email"
host = "127.0.0.1"
port = {port}
security = "none"
from = "s@example.org"
to = ["a@example.org"]
""",
    )
    saved = 0
    with running("run", "--once", "--config", str(config)) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait until some sources are stored, while one still hangs
            if "status=200" in line:
                saved += 1
                if saved == 3:
                    break
        proc.kill()
    assert saved == 3
    assert box.messages == []  # killed before the alert round

    feed_server.routes["/stall"] = Route(b"not a feed at all", content_type="text/plain")
    result = run_cli("run", "--once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    root = etree.parse(str(tmp_path / "feeds" / "all.atom")).getroot()
    ids = [e.findtext(f"{A}id") for e in root.findall(f"{A}entry")]
    assert len(ids) == len(set(ids))
    topic = etree.parse(str(tmp_path / "feeds" / "any.atom")).getroot()
    flagged = {e.findtext(f"{A}id") for e in topic.findall(f"{A}entry")}
    alerted = Counter(str(m["X-Syndicator-Entry"]) for m in box.messages)
    assert flagged and set(alerted) >= flagged  # no alert lost (feeds hold the newest 100)
    assert sum(n - 1 for n in alerted.values()) <= 1  # at most one duplicate
    again = run_cli("run", "--once", "--config", str(config))
    assert again.returncode == 0
    assert sum(alerted.values()) == len(box.messages)  # nothing more on a quiet run


def _descendants(pid: int) -> set[int]:
    """Every live process below pid, from /proc (workers may be grandchildren)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_worker_processes_end_when_the_daemon_is_killed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A kill -9 leaves no worker behind waiting for jobs that will never come."""
    names = sorted(p.name for p in REAL.iterdir())[:10]
    sources = _real_sources_and_a_stalling_one(feed_server, names)
    config = write_config(
        tmp_path,
        f'workers = 2\n[fetch]\ntimeout = "60s"\n'
        f'[[sources]]\nname = "stalling"\nurl = "{feed_server.base}/stall"\n{sources}',
    )
    with running("run", "--once", "--config", str(config)) as proc:
        assert proc.stderr is not None
        log = []
        for line in proc.stderr:  # the pool has analysed a source: its workers run
            log.append(line)
            if "status=200" in line:
                break
        assert proc.poll() is None, "".join(log)
        workers = _descendants(proc.pid)
        proc.kill()
    assert len(workers) >= 2, workers  # at least the forkserver and one worker
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)]
