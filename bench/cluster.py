"""Benchmark: the cluster (PostgreSQL + Celery workers) against itself and the embedded default.

    .venv/bin/python bench/cluster.py [--sources 10000] [--entries 2] [--workers 1,2,4]
        [--broker redis://127.0.0.1:6379/0] [--database postgresql://127.0.0.1/test]
        [--compare-feeds 200] [--compare-entries 30]
    quick run (~2 min):  .venv/bin/python bench/cluster.py --sources 1000 --workers 1,2

Serves `--sources` generated feeds (bench/_feeds.py) from a separate process on loopback hosts,
then for each worker count N: starts N `syndicator worker --concurrency 1` processes and times
`syndicator run --once` cold (fresh schema: every entry new) and warm (same schema: every source
answers 304), each as a whole process; it prints entries per second, the all-304 cycle and the
scaling efficiency against one worker (throughput(N) / (N x throughput(1))). Then the 200 x 30
cold run of bench/perf.py, embedded default (SQLite, `workers` processes) beside the cluster
with two workers, in the same run. Each run has its own PostgreSQL schema and queue, dropped
after. Two cores: a worker count above two shares them, so efficiency falls by construction.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import _feeds  # noqa: E402
import perf  # noqa: E402


@contextmanager
def schema(database: str) -> Iterator[str]:
    """A fresh PostgreSQL schema, as a state URL; dropped afterwards."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    sep = "&" if "?" in database else "?"
    try:
        yield f"{database}{sep}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def cluster_config(
    directory: Path, urls: Sequence[str], state: str, broker: str, queue: str
) -> Path:
    """perf.py's config (sources, the 10 topics, console alerts), state and broker swapped."""
    path = perf.write_config(directory, urls, spacing="0s")
    text = path.read_text(encoding="utf-8").replace(
        'state = "state/syndicator.sqlite"', f"state = {json.dumps(state)}"
    )
    text += f'\n[cluster]\nbroker = "{broker}"\nqueue = "{queue}"\nwait = "2h"\n'
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def workers(config: Path, count: int, log: Path) -> Iterator[None]:
    procs = []
    try:
        for n in range(count):
            out = (log.parent / f"{log.stem}-{n}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [*perf.syndicator_command(), "worker", "--config", str(config),
                     "--concurrency", "1"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 120
        for n in range(count):
            path = log.parent / f"{log.stem}-{n}.log"
            while b"ready." not in path.read_bytes():
                if time.monotonic() > deadline:
                    raise SystemExit(f"worker {n} did not start: {path.read_text()[-2000:]}")
                time.sleep(0.1)
        yield
    finally:
        for proc in procs:
            with_group = proc.pid
            try:
                os.killpg(with_group, signal.SIGTERM)
                proc.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(with_group, signal.SIGKILL)


def purge(broker: str, queue: str) -> None:
    from kombu import Connection

    with Connection(broker) as conn, suppress(Exception):
        conn.channel().queue_delete(queue)


def timed_once(config: Path, log: Path) -> perf.Run:
    cmd = [*perf.syndicator_command(), "run", "--once", "--config", str(config)]
    return perf.measure(cmd, log, stdout_null=True)


def run_cluster(
    docs: Sequence[_feeds.FeedDoc], server: perf.FeedServer, count: int, args: argparse.Namespace,
    work: Path,
) -> tuple[float, float]:
    """(cold s, warm s) of `run --once` with `count` workers."""
    urls = [server.url(doc) for doc in docs]
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    d = work / f"cluster-{count}-{len(docs)}"
    with schema(args.database) as state:
        config = cluster_config(d, urls, state, args.broker, queue)
        try:
            with workers(config, count, d / "worker.log"):
                server.reset()
                cold = timed_once(config, d / "cold.log")
                got = perf.summary(cold.log)
                if cold.code != 0:
                    raise SystemExit(perf.tail(cold.log))
                server.reset()
                warm = timed_once(config, d / "warm.log")
                stats = server.stats()
                if warm.code != 0:
                    raise SystemExit(perf.tail(warm.log))
        finally:
            purge(args.broker, queue)
    print(f"  {count} worker(s): cold {cold.seconds:.2f} s (summary {got}), warm "
          f"{warm.seconds:.2f} s (server {stats})", flush=True)
    return cold.seconds, warm.seconds


def run_embedded(urls: Sequence[str], server: perf.FeedServer, work: Path) -> float:
    d = work / "embedded"
    config = perf.write_config(d, urls, spacing="0s")
    server.reset()
    cold = timed_once(config, d / "cold.log")
    if cold.code != 0:
        raise SystemExit(perf.tail(cold.log))
    print(f"  embedded default (SQLite, one process tree): cold {cold.seconds:.2f} s", flush=True)
    return cold.seconds


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--sources", type=int, default=10_000)
    p.add_argument("--entries", type=int, default=2, help="entries per source")
    p.add_argument("--workers", default="1,2,4")
    p.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    p.add_argument("--database", default="postgresql://127.0.0.1:5432/test")
    p.add_argument("--per-host", type=int, default=40, help="sources per loopback host")
    p.add_argument("--compare-feeds", type=int, default=200)
    p.add_argument("--compare-entries", type=int, default=30)
    args = p.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    with tempfile.TemporaryDirectory(prefix="syndicator-cluster-") as tmp:
        work = Path(tmp)
        hosts = perf.hosts_for(args.sources, args.per_host)
        docs = _feeds.generate(args.sources, args.entries, html_size=600, hosts=hosts)
        total = perf.entries_total(docs)
        print(f"== {args.sources} sources x {args.entries} entries ({total} entries) on {hosts} "
              "loopback hosts", flush=True)
        results: dict[int, tuple[float, float]] = {}
        with perf.serving(docs, hosts) as server:
            for count in counts:
                results[count] = run_cluster(docs, server, count, args, work)
        print(f"\n{'workers':>8}{'cold s':>9}{'entries/s':>11}{'all-304 s':>11}{'efficiency':>12}")
        base = results[counts[0]][0] * counts[0] if counts else 1.0
        for count, (cold, warm) in results.items():
            efficiency = base / (cold * count) if counts[0] == 1 else float("nan")
            print(f"{count:>8}{cold:>9.2f}{total / cold:>11.0f}{warm:>11.2f}{efficiency:>12.2f}")
        if 1 in results and 2 in results:
            print(f"two workers give {results[1][0] / results[2][0]:.2f}x one worker's "
                  "throughput (aim: at least 1.7x on two cores)")

        if args.compare_feeds:
            feeds, entries = args.compare_feeds, args.compare_entries
            hosts = perf.hosts_for(feeds, 4)
            docs = _feeds.generate(feeds, entries, hosts=hosts)
            total = perf.entries_total(docs)
            print(f"\n== bench/perf.py's cold run: {feeds} x {entries} ({total} entries)",
                  flush=True)
            with perf.serving(docs, hosts) as server:
                embedded = run_embedded([server.url(d) for d in docs], server, work)
                cold, _warm = run_cluster(docs, server, 2, args, work)
            print(f"embedded {embedded:.2f} s ({total / embedded:.0f} entries/s); cluster with "
                  f"two workers {cold:.2f} s ({total / cold:.0f} entries/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
