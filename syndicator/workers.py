"""Where the CPU work of a cycle runs: worker processes, or the pipeline's own thread.

Parse, clean and match (analyse.py) are pure CPU work, so they run in a pool of processes
beside the event loop that keeps fetching. The pool costs a start-up, so a cycle of a few
sources, `workers = 1`, or a cycle in which a worker died analyses in the caller's thread
instead: the result is the same either way. Workers fork from a forkserver that imported the
analysis once, freeze their start-up objects out of the collector's way, and end with the
daemon however it ends.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import select
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from syndicator.analyse import Analyser, Analysis, Job
from syndicator.config import Config
from syndicator.redact import SafeFormatter

log = logging.getLogger(__name__)

POOL_THRESHOLD = 8  # fewer sources than this are analysed in-process: a pool costs a start-up
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Workers:
    """The pool of one config (a reload builds a new one), kept from cycle to cycle."""

    def __init__(self, config: Config, analyser: Analyser) -> None:
        self.config = config
        self.analyser = analyser  # the in-process fallback
        self.count = config.workers
        self.process_pool: ProcessPoolExecutor | None = None
        self._use_pool = False  # this cycle's choice

    def begin_cycle(self, sources: int, unconditional: int) -> None:
        """Decide for one cycle of `sources` polls. Workers start on first use, after the first
        fetch; when `unconditional` sources (never fetched, or without ETag/Last-Modified) are
        sure to send whole bodies, they start now, beside the fetches. A cycle in which every
        source can answer 304 does not start them before it needs them."""
        self._use_pool = self.count > 1 and sources >= POOL_THRESHOLD
        if not self._use_pool or unconditional < POOL_THRESHOLD:
            return
        try:
            self._start(self._pool())
        except BrokenProcessPool:  # a worker died since the last cycle (OOM, kill)
            log.warning("worker processes died since the last cycle; starting new ones")
            self._discard()
            self._start(self._pool())

    async def analyse(self, job: Job, local: Executor) -> Analysis:
        """The analysis of one body, in a worker process when this cycle uses them, else (or
        when a worker died: the rest of the cycle) on `local`."""
        loop = asyncio.get_running_loop()
        if self._use_pool:
            try:
                return await loop.run_in_executor(self._pool(), _analyse_in_worker, job)
            except BrokenProcessPool:
                # A worker died (killed, out of memory): finish the cycle in-process.
                log.error("worker process died; analysing in-process from now on")
                self._use_pool = False
                self._discard()
        return await loop.run_in_executor(local, self.analyser.analyse, job)

    def close(self) -> None:
        if self.process_pool is not None:
            self.process_pool.shutdown(wait=True, cancel_futures=True)
            self.process_pool = None

    def _pool(self) -> ProcessPoolExecutor:
        if self.process_pool is None:
            self.process_pool = ProcessPoolExecutor(
                max_workers=self.count,
                mp_context=_context(),
                initializer=_init_worker,
                initargs=(self.config, os.getpid(), logging.getLogger().level),
            )
        return self.process_pool

    def _start(self, pool: ProcessPoolExecutor) -> None:
        for _ in range(self.count):
            pool.submit(_ready)

    def _discard(self) -> None:
        if self.process_pool is not None:
            self.process_pool.shutdown(wait=False, cancel_futures=True)
            self.process_pool = None


# -- inside a worker process ---------------------------------------------------------------

_WORKER: Analyser | None = None


def _init_worker(config: Config, parent: int, level: int) -> None:
    global _WORKER
    _exit_with(parent)
    # The daemon's log format, so a worker's lines are redacted and escaped like its own.
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter(_LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    _WORKER = Analyser(config)
    _WORKER.rules_for("")  # the common rule set, built before the first job waits on it
    # Everything alive now lives as long as the worker: keep the collector off it, and let it
    # run less often (each cleaned entry leaves a few hundred objects of tree cycles behind).
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def _analyse_in_worker(job: Job) -> Analysis:
    assert _WORKER is not None, "worker process not initialised"
    return _WORKER.analyse(job)


def _ready() -> None:
    """A no-op job: submitting it starts a worker process."""


def _exit_with(parent: int) -> None:
    """End this worker when the daemon ends, however it ends: after a kill -9 nothing would
    ever close the worker's job queue, and it would wait on it for good."""

    def watch() -> None:
        try:
            pidfd = os.pidfd_open(parent)  # Linux: readable once the process has exited
        except (AttributeError, OSError):
            pidfd = -1
        if pidfd >= 0:
            select.select([pidfd], [], [])
        else:
            while True:
                time.sleep(1.0)
                try:
                    os.kill(parent, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    continue
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _context() -> multiprocessing.context.BaseContext:
    """forkserver: workers fork from a clean single-threaded server that imported the
    analysis once (a fork of the daemon itself would copy its scheduler and server threads,
    and spawn would import everything again in every worker)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["syndicator.workers", "syndicator.clean", "syndicator.parse"])
    return ctx
