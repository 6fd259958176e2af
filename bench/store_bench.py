"""Benchmark: the store alone, SQLite against PostgreSQL, on the 200 x 30 corpus of bench/perf.py.

    .venv/bin/python bench/store_bench.py [--feeds 200] [--entries 30] [--repeat 3]
                                          [--postgres postgresql://postgres@127.0.0.1/test]

The corpus (bench/_feeds.py: multilingual news, ~2.6 KB of HTML per entry) is parsed, cleaned,
matched against _feeds.TOPICS and sketched once, untimed, as the pipeline's workers would. Then,
`--repeat` times, into a fresh SQLite file and a fresh PostgreSQL schema:

* cold: one save_poll per feed, every entry new (entries, hits, story keys and the story
  decision, one console alert per matching entry, the feeds marked), in one thread;
* 304 round: one save_states with every feed's new state, as a cycle where nothing changed;
* PostgreSQL only, `--writers` processes, each its own connection, saving disjoint feeds at
  once (what several workers do): wall time of the cold run, from the moment all are ready.

Medians are reported, in seconds and in milliseconds per entry. Only the store is timed: no
fetch, parse or clean.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

try:
    import _feeds
except ImportError:  # imported as bench.store_bench from the repository root
    from bench import _feeds  # type: ignore[no-redef]

from syndicator.analyse import Analyser, Analysis, Job  # noqa: E402
from syndicator.config import parse_config  # noqa: E402
from syndicator.model import SourceState, SourceUpdate  # noqa: E402
from syndicator.store import SQLiteStore, SQLStore  # noqa: E402

NOW = 1_715_700_000.0


def analyses(feeds: int, entries: int) -> list[tuple[str, Analysis]]:
    docs = _feeds.generate(feeds, entries)
    raw = {
        "sources": [
            {"name": f"f{i}", "url": f"https://news{i}.example{doc.path}"}
            for i, doc in enumerate(docs)
        ],
        "topics": [{"name": name, "query": query} for name, query in _feeds.TOPICS],
        "alerts": [{"type": "console"}],
    }
    analyser = Analyser(parse_config(raw, ROOT / "config.toml"))
    found = []
    for i, doc in enumerate(docs):
        url = f"https://news{i}.example{doc.path}"
        headers = {"content-type": doc.content_type}
        analysis = analyser.analyse(Job(f"f{i}", doc.body, url, headers, {}))
        assert analysis.error is None, analysis.error
        found.append((f"f{i}", analysis))
    return found


def save_all(store: SQLStore, polls: Sequence[tuple[str, Analysis]]) -> None:
    for name, analysis in polls:
        dirty = ["all", *{h.topic for e in analysis.entries for h in e.hits}]
        state = SourceState(name, last_attempt=NOW, last_success=NOW, next_poll=NOW + 900)
        store.save_poll(state, analysis.entries, analysis.alerts, NOW, dirty=dirty)


def settle_all(store: SQLStore, polls: Sequence[tuple[str, Analysis]]) -> None:
    later = NOW + 900
    states = [SourceState(name, last_attempt=later, next_poll=later + 900) for name, _ in polls]
    store.save_states([SourceUpdate(state) for state in states], later)


def timed(work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def writer(
    url: str, polls: Sequence[tuple[str, Analysis]], ready: Any, go: Any, done: Any
) -> None:
    """One worker process: its own connection, its share of the feeds, saved when told."""
    from syndicator.store.postgres import PostgresStore

    store = PostgresStore(url, node=multiprocessing.current_process().name)
    ready.wait()
    go.wait()
    save_all(store, polls)
    store.close()
    done.wait()


def concurrent_cold(url: str, polls: Sequence[tuple[str, Analysis]], writers: int) -> float:
    """Wall time of `writers` processes saving disjoint shares of the feeds at once."""
    context = multiprocessing.get_context("fork")
    ready, go, done = (context.Barrier(writers + 1) for _ in range(3))
    procs = [
        context.Process(target=writer, args=(url, polls[i::writers], ready, go, done))
        for i in range(writers)
    ]
    for proc in procs:
        proc.start()
    ready.wait()
    start = time.perf_counter()
    go.wait()
    done.wait()
    seconds = time.perf_counter() - start
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0
    return seconds


def postgres_schema(url: str) -> tuple[str, Callable[[], None]]:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {name} CASCADE")

    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    polls = analyses(args.feeds, args.entries)
    count = sum(len(a.entries) for _, a in polls)
    alerts = sum(len(a.alerts) for _, a in polls)
    print(f"{len(polls)} feeds, {count} entries, {alerts} alerts (analysed once, untimed)")

    results: dict[str, list[float]] = {}

    def record(key: str, seconds: float) -> None:
        results.setdefault(key, []).append(seconds)

    from syndicator.store.postgres import PostgresStore

    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            store = SQLiteStore(Path(tmp) / "s.sqlite")
            record("sqlite cold", timed(partial(save_all, store, polls)))
            record("sqlite 304 round", timed(partial(settle_all, store, polls)))
            store.close()
        url, drop = postgres_schema(args.postgres)
        try:
            pg = PostgresStore(url)
            record("postgres cold", timed(partial(save_all, pg, polls)))
            record("postgres 304 round", timed(partial(settle_all, pg, polls)))
            pg.close()
        finally:
            drop()
        for writers in (1, args.writers):
            url, drop = postgres_schema(args.postgres)
            try:
                PostgresStore(url).close()  # the tables, before the writers race to make them
                seconds = concurrent_cold(url, polls, writers)
                record(f"postgres cold, {writers} writer processes", seconds)
            finally:
                drop()

    print(f"{'':32} {'median s':>9} {'ms/entry':>9}   runs")
    for key, runs in results.items():
        median = statistics.median(runs)
        per = f"{1000 * median / count:9.3f}" if "304" not in key else f"{'':9}"
        print(f"{key:32} {median:9.3f} {per}   {' '.join(f'{r:.3f}' for r in runs)}")


if __name__ == "__main__":
    main()
