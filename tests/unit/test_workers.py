"""The worker pool (syndicator/workers.py) as the pipeline uses it: worker processes and
in-process analysis publish the same, the workers start with the cycle only when whole bodies are
sure to come, and a worker that died between cycles is replaced."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from syndicator.config import load_config
from syndicator.pipeline import POOL_THRESHOLD, Pipeline
from syndicator.store import SQLiteStore
from tests.conftest import REAL, FeedServer, Route, write_config
from tests.unit.test_publish import A

# Each test starts a pool of worker processes (seconds each): `slow`, like the scenarios in
# tests/system/, so that `pytest -m "not slow"` stays quick.
pytestmark = pytest.mark.slow


def test_worker_processes_and_in_process_analysis_publish_the_same(tmp_path: Path) -> None:
    sources = "".join(
        f'[[sources]]\nname = "f{i}"\nurl = "{path}"\n'
        for i, path in enumerate(sorted(REAL.iterdir()))
    )
    results = []
    for workers in (1, 2):
        directory = tmp_path / f"w{workers}"
        directory.mkdir()
        config = replace(
            load_config(write_config(directory, sources)), workers=workers, max_entries=1000
        )
        store = SQLiteStore(config.state)
        pipeline = Pipeline(config, store, senders=[])
        pipeline.run_cycle(once=True)
        assert (pipeline.workers.process_pool is not None) == (workers == 2)
        pipeline.close()
        store.close()
        root = etree.parse(str(directory / "feeds" / "all.atom")).getroot()
        results.append(
            {(e.findtext(f"{A}id"), e.findtext(f"{A}content")) for e in root.findall(f"{A}entry")}
        )
    assert results[0] == results[1] and len(results[0]) > 400


def test_workers_start_with_the_cycle_only_when_whole_bodies_are_sure_to_come(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Sources that cannot be asked conditionally start the workers with the cycle, beside the
    fetches; a cycle whose sources all can answer 304 (and do) starts none."""
    sources = "".join(
        f'[[sources]]\nname = "s{i}"\nurl = "{feed_server.base}/f{i}.rss"\n'
        for i in range(POOL_THRESHOLD)
    )

    def cycle(directory: Path) -> int:
        directory.mkdir(exist_ok=True)
        body = sources + '[fetch]\nper_host_interval = "0s"\n'
        config = replace(load_config(write_config(directory, body)), workers=2)
        store = SQLiteStore(config.state)
        pipeline = Pipeline(config, store, senders=[])
        pipeline.run_cycle(once=True)
        pool = pipeline.workers.process_pool
        started = len(pool._processes) if pool is not None else 0  # type: ignore[attr-defined]
        pipeline.close()
        store.close()
        return started

    # Never fetched: the workers start up front, even when (here, every URL is a 404) no body
    # ever comes.
    assert not feed_server.routes
    assert cycle(tmp_path / "a") == 2
    for i in range(POOL_THRESHOLD):
        feed_server.serve_file(f"/f{i}.rss", REAL / "rss-parser-guardian.rss")
    assert cycle(tmp_path / "b") == 2
    assert cycle(tmp_path / "b") == 0  # the same state again: every source answered 304
    assert [r.status for r in feed_server.log[-POOL_THRESHOLD:]] == [304] * POOL_THRESHOLD


def test_a_worker_that_died_between_cycles_is_replaced(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A worker killed while the daemon sleeps (the OOM killer, say) breaks the pool; the next
    cycle starts new workers instead of failing."""
    for i in range(POOL_THRESHOLD):  # no ETag or Last-Modified: every cycle fetches whole bodies
        feed_server.routes[f"/f{i}.rss"] = Route(
            (REAL / "rss-parser-guardian.rss").read_bytes(),
            headers={"ETag": "", "Last-Modified": ""},
            stream=True,
        )
    sources = "".join(
        f'[[sources]]\nname = "s{i}"\nurl = "{feed_server.base}/f{i}.rss"\n'
        for i in range(POOL_THRESHOLD)
    )
    body = sources + '[fetch]\nper_host_interval = "0s"\n'
    config = replace(load_config(write_config(tmp_path, body)), workers=2)
    store = SQLiteStore(config.state)
    pipeline = Pipeline(config, store, senders=[])
    try:
        assert pipeline.run_cycle(once=True).polled == POOL_THRESHOLD
        pool = pipeline.workers.process_pool
        assert pool is not None
        os.kill(next(iter(pool._processes)), signal.SIGKILL)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        while not pool._broken and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.05)  # waiting for the pool to notice, not for a timing
        assert pool._broken  # type: ignore[attr-defined]
        report = pipeline.run_cycle(once=True)
        assert report.polled == POOL_THRESHOLD and not report.failed
        assert pipeline.workers.process_pool not in (None, pool)
    finally:
        pipeline.close()
        store.close()
