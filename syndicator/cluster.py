"""Past one machine: the same pipeline, its polls spread over Celery workers, its state in
PostgreSQL, any number of schedulers.

- `syndicator worker` runs a Celery worker. Each task polls one source with the pipeline's own
  code (fetch → analyse → store, one transaction), polite across the whole cluster: the per-host
  slots and spacing are taken in the shared store, not in one process.
- `syndicator run` on any node schedules: it claims the due sources with leases in the store (so
  two schedulers never poll one source in one interval) and enqueues them; it publishes its own
  output_dir from the shared state, delivers alerts claimed one at a time (exactly once across
  nodes) and serves. `run --once` waits until the workers stored every source it enqueued.
- Tasks are acknowledged late and rejected when their worker dies, so the broker hands them to
  another worker; a task lost on the way is claimed and enqueued again once its lease expires.

Nothing here decides what a poll does: that stays pipeline.py's, so a cluster and a single
machine publish the same feeds and send the same alerts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syndicator import schedule
from syndicator.alert import deliver
from syndicator.config import ClusterSettings, Config, load_config
from syndicator.errors import ConfigError
from syndicator.fetch import Politeness, host_of
from syndicator.model import SourceState
from syndicator.pipeline import CycleReport, Pipeline
from syndicator.redact import SafeFormatter, redact_url
from syndicator.store import open_store
from syndicator.workers import Workers

if TYPE_CHECKING:
    from celery import Celery

    from syndicator.store.api import ClusterStore

log = logging.getLogger(__name__)

TASK = "syndicator.poll"
WAIT_STEP = 0.2  # seconds between two looks at the store while `run --once` waits
SLOT_RETRY = 0.05  # seconds before asking again for a host slot another worker holds
RETRY_UNREACHABLE = 5.0  # seconds before a scheduler tries a broker it could not reach again


def node_id() -> str:
    """This process on this machine: who holds a lease, a claim or a host slot."""
    return f"{socket.gethostname()}:{os.getpid()}"


def require_cluster(config: Config) -> ClusterSettings:
    """The [cluster] settings, and a state the nodes can share; a ConfigError naming the key."""
    if config.cluster is None:
        raise ConfigError("cluster", "needs a [cluster] table with broker = 'redis://…'")
    if not config.state_url:
        raise ConfigError(
            "syndicator.state",
            "a cluster shares its state: set it to a postgresql:// URL (syndicator migrate "
            "--to URL copies this one)",
        )
    return config.cluster


def make_app(settings: ClusterSettings) -> Celery:
    """The Celery app of one config: its broker, its queue, late acknowledgement."""
    from celery import Celery

    app = Celery("syndicator", broker=settings.broker, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.queue,
        task_acks_late=True,  # a task is done when its poll is stored, not when it is taken
        task_reject_on_worker_lost=True,  # a worker killed mid-task gives its task back
        task_ignore_result=True,  # the store says what was polled
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,  # a busy worker holds no tasks another could run
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker restart: reconnect, for good
        # Redis hands an unacknowledged task out again after this long (its worker vanished).
        broker_transport_options={"visibility_timeout": settings.lease},
    )
    return app


# -- the worker side -----------------------------------------------------------------------


class _HostGate:
    """One host's slot for one request: first this process's own (so its polls of one host
    queue up here, not in the database), then one of the cluster's, in the shared store."""

    def __init__(self, gates: ClusterGates, host: str) -> None:
        self._gates = gates
        self._host = host
        self._holder = f"{node_id()}:{uuid.uuid4().hex[:8]}"
        self._local = gates.local.gate(f"http://{host}/", False)

    async def __aenter__(self) -> None:
        await self._local.__aenter__()
        try:
            await self._shared()
        except BaseException:
            await self._local.__aexit__(None, None, None)
            raise

    async def _shared(self) -> None:
        g = self._gates
        loop = asyncio.get_running_loop()
        while True:
            now = time.time()
            start = await loop.run_in_executor(
                None, g.store.acquire_host, self._host, self._holder, g.per_host, g.spacing, now,
                g.ttl,
            )
            if start is not None:
                break
            await asyncio.sleep(SLOT_RETRY * (1 + random.random()))  # another worker holds it
        if start > now:
            await asyncio.sleep(start - now)

    async def __aexit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                None, self._gates.store.release_host, self._host, self._holder
            )
        finally:
            await self._local.__aexit__(None, None, None)


@asynccontextmanager
async def _ungated() -> AsyncIterator[None]:
    yield


class ClusterGates:
    """fetch.Politeness across every worker of the cluster: at most `per_host` requests to one
    host at a time and starts `spacing` apart, counted in the shared store (after this
    process's own gate, which keeps its waiting off the database). A crashed holder's slot
    expires after `ttl`."""

    def __init__(self, store: ClusterStore, per_host: int, spacing: float, ttl: float) -> None:
        self.store = store
        self.per_host = per_host
        self.spacing = spacing
        self.ttl = ttl
        self.local = Politeness(per_host, 0.0)

    def gate(self, url: str, is_file: bool) -> AbstractAsyncContextManager[None]:
        return _ungated() if is_file else _HostGate(self, host_of(url))


class WorkerPipeline(Pipeline):
    """A worker process's pipeline: polls one source per task, never publishes or alerts."""

    store: ClusterStore

    def __init__(self, config: Config, store: ClusterStore) -> None:
        super().__init__(config, store, senders=[])
        self._sources = {s.name: s for s in config.sources}
        # Celery's processes are the workers: no pool of processes inside each of them.
        self.workers = Workers(replace(config, workers=1), self.analyser)

    def _politeness(self) -> Any:
        f = self.config.fetch
        return ClusterGates(self.store, f.per_host, f.per_host_interval, f.timeout + 60.0)

    def poll_sources(self, names: Sequence[str]) -> CycleReport:
        """One task's sources, polled concurrently as one cycle polls them (each stored in
        its own transaction)."""
        report = CycleReport()
        sources = []
        for name in names:
            source = self._sources.get(name)
            if source is None:
                log.error("source=%s is not in the worker's config; skipped", name)
            else:
                sources.append(source)
        states = {}
        for source in sources:
            state = self.store.source_state(source.name)
            if state is not None:
                states[source.name] = state
        self.poll(sources, states, report)
        return report


_CONFIG_PATH: Path | None = None  # set by run_worker before Celery forks its pool
_WORKER: WorkerPipeline | None = None  # one per worker process, made at its first task


def _worker() -> WorkerPipeline:
    global _WORKER
    if _WORKER is None:
        assert _CONFIG_PATH is not None, "worker started without a config"
        config = load_config(_CONFIG_PATH)
        _WORKER = WorkerPipeline(config, open_store(config))
    return _WORKER


def poll_task(sources: str | list[str]) -> None:
    """The task: poll a batch of sources (one source, as a name, from older schedulers). An
    exception fails the task (logged); the leases expire and a scheduler enqueues them again."""
    _worker().poll_sources([sources] if isinstance(sources, str) else sources)


def register(app: Celery) -> None:
    app.task(name=TASK, acks_late=True, reject_on_worker_lost=True)(poll_task)


def run_worker(config_path: Path, concurrency: int, level: int) -> int:
    """`syndicator worker`: a Celery worker of `concurrency` processes on the config's queue,
    until SIGTERM (Celery's warm shutdown: tasks in flight finish)."""
    global _CONFIG_PATH
    config = load_config(config_path)
    settings = require_cluster(config)
    _CONFIG_PATH = config_path.resolve()
    app = make_app(settings)
    register(app)
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    log.info(
        "worker for queue %s on %s, %d processes",
        settings.queue,
        redact_url(settings.broker),
        concurrency,
    )
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={settings.queue}",
            f"--hostname=syndicator-{os.getpid()}@{socket.gethostname()}",
            f"--loglevel={logging.getLevelName(level)}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
    return 0


# -- the scheduler side ----------------------------------------------------------------------


class ClusterPipeline(Pipeline):
    """A scheduler's pipeline: claims and enqueues what is due instead of polling it, then
    publishes this node's feeds and delivers alerts as the single-machine pipeline does."""

    store: ClusterStore

    def __init__(self, config: Config, store: ClusterStore, **kwargs: Any) -> None:
        super().__init__(config, store, **kwargs)
        self.settings = require_cluster(config)
        self.app = make_app(self.settings)
        # Enqueued and not yet stored: name → the source's last attempt when it was claimed.
        self._outstanding: dict[str, float | None] = {}
        self.problems: dict[str, str] = {}  # what is unreachable, for the status page
        self._synced = False

    def run_cycle(self, once: bool = False) -> CycleReport:
        report = CycleReport()
        now = self.clock()
        if not self._synced:  # once per config: a source gets a row to be leased by
            self.store.sync_sources([s.name for s in self.config.sources])
            self._synced = True
        states = self.store.source_states()
        to_poll, held = schedule.due(self.config.sources, states, now, once)
        report.held = len(held)
        self.settle_regrouped()
        self._settle_outstanding(states)
        self._dispatch([s.name for s in to_poll], states, now)
        if once:
            self._wait(report)
        self.forget_old()
        self.publish(report)
        report.alerts_sent, report.alerts_failed = deliver(self.store, self.senders, self.clock())
        return report

    def next_wake(self) -> float:
        """As soon as enqueued polls may be stored (to publish and alert them promptly), or
        the broker may be back."""
        wake = super().next_wake()
        if self.problems:
            return min(wake, self.clock() + RETRY_UNREACHABLE)
        return min(wake, self.clock() + 1.0) if self._outstanding else wake

    def _dispatch(self, names: list[str], states: dict[str, SourceState], now: float) -> None:
        wanted = [
            (n, states[n].next_poll if n in states else 0.0)
            for n in names
            if n not in self._outstanding
        ]
        claimed = self.store.claim_sources(wanted, now, self.settings.lease)
        hosts = {s.name: host_of(s.url) for s in self.config.sources}
        # Batches of one host's sources side by side: a worker reuses its connections.
        ordered = sorted(claimed, key=lambda name: (hosts.get(name, ""), name))
        size = self.settings.batch
        for start in range(0, len(ordered), size):
            batch = ordered[start : start + size]
            try:
                self.app.send_task(
                    TASK,
                    args=[batch],
                    queue=self.settings.queue,
                    retry=True,
                    retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
                )
            except Exception as exc:  # the broker is down: give the rest back, try again soon
                self._problem("broker", f"cannot enqueue polls: {type(exc).__name__}: {exc}")
                self.store.release_sources(ordered[start:])
                return
            for name in batch:
                state = states.get(name)
                self._outstanding[name] = state.last_attempt if state else None
        if "broker" in self.problems and claimed:
            log.info("broker reachable again")
            del self.problems["broker"]
        if claimed:
            log.info("enqueued %d sources on queue %s", len(claimed), self.settings.queue)

    def _settle_outstanding(self, states: dict[str, SourceState]) -> int:
        """Forget what was stored since (or lost, its lease expired: claimed again when due)."""
        leased = self.store.leased(list(self._outstanding), self.clock())
        done = [
            name
            for name, before in self._outstanding.items()
            if (states[name].last_attempt if name in states else None) != before
            or name not in leased
        ]
        for name in done:
            del self._outstanding[name]
        return len(done)

    def _wait(self, report: CycleReport) -> None:
        """`run --once`: until every enqueued source is stored (tasks handed to another worker
        and sources enqueued again after their lease expired included), or `wait` passes."""
        deadline = self.clock() + self.settings.wait
        started = dict(self._outstanding)
        while self._outstanding and self.clock() < deadline:
            time.sleep(WAIT_STEP)  # polling the store for the workers' results
            states = self.store.source_states()
            stored = [
                n for n, before in self._outstanding.items()
                if (states[n].last_attempt if n in states else None) != before
            ]
            for name in stored:
                del self._outstanding[name]
            lost = set(self._outstanding) - self.store.leased(list(self._outstanding), self.clock())
            if lost:  # a task vanished with its worker or broker: claim and enqueue again
                log.warning("%d enqueued polls were lost; enqueuing them again", len(lost))
                for name in lost:
                    del self._outstanding[name]
                self._dispatch(sorted(lost), states, self.clock())
        states = self.store.source_states()
        for name in started:
            state = states.get(name)
            if name in self._outstanding:
                report.failed[name] = f"not polled within {self.settings.wait:g}s (cluster.wait)"
                continue
            report.polled += 1
            if state is not None and state.failures and state.last_error:
                report.failed[name] = state.last_error
            elif state is not None and state.last_status == 304:
                report.not_modified += 1

    def _problem(self, what: str, why: str) -> None:
        if what not in self.problems:
            log.error("%s unreachable: %s", what, why)
            self.problems[what] = f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {why}"


def make_pipeline(config: Config, store: Any, **kwargs: Any) -> Pipeline:
    """The pipeline a config asks for: one machine, or a scheduler of a cluster."""
    if config.cluster is not None:
        return ClusterPipeline(config, store, **kwargs)
    return Pipeline(config, store, **kwargs)


__all__ = [
    "TASK",
    "ClusterGates",
    "ClusterPipeline",
    "WorkerPipeline",
    "make_app",
    "make_pipeline",
    "node_id",
    "register",
    "run_worker",
]
