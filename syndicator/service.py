"""The daemon's life: start the feed server, poll on schedule, reload on SIGHUP, keep the status
page current, stop on SIGTERM within a grace period.

The pipeline does one cycle; schedule.Daemon decides when the next one runs; this module holds
them together for as long as the daemon lives, and is the only one that touches signals. A
reload builds a new Pipeline from the new config (the store outlives it) and re-cleans what is
stored when topics or cleaning rules changed, so feeds follow the config without waiting for
sources to change.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import FrameType, MappingProxyType
from typing import TYPE_CHECKING

from syndicator.cluster import make_pipeline
from syndicator.config import Config, load_config
from syndicator.errors import ConfigError, StoreError, SyndicatorError
from syndicator.model import ChannelCounts
from syndicator.pipeline import CycleReport, Pipeline
from syndicator.schedule import Daemon
from syndicator.store import Store, database_errors

if TYPE_CHECKING:
    from syndicator.serve import FeedServer, Status

log = logging.getLogger("syndicator")

SHUTDOWN_GRACE = 8.0  # seconds an in-flight poll may take to finish after SIGTERM
STORE_RETRY = 60  # seconds until a cycle the state database failed is tried again


def log_summary(config: Config, report: CycleReport) -> None:
    """One line per cycle, then one per failed source or feed."""
    ok = report.polled - len(report.failed)
    log.info(
        "polled %d sources: %d ok (%d not modified), %d failed, %d held back; "
        "%d new or changed entries; %d alerts sent; feeds in %s",
        report.polled,
        ok,
        report.not_modified,
        len(report.failed),
        report.held,
        report.new_entries,
        report.alerts_sent,
        config.output_dir,
    )
    for name, reason in sorted(report.failed.items()):
        log.warning("failed source %s: %s", name, reason)
    for name, reason in sorted(report.feeds_failed.items()):
        log.error("feed %s.atom not written: %s", name, reason)


def rules_changed(old: Config, new: Config) -> bool:
    """Whether stored entries must be cleaned and matched again after a reload."""

    def rules(c: Config) -> object:
        return (
            c.topics,
            c.drop,
            c.drop_selectors,
            sorted((s.name, s.drop, s.drop_selectors, s.learn) for s in c.sources),
        )

    return rules(old) != rules(new)


def snapshot(pipeline: Pipeline, problems: Mapping[str, str] = MappingProxyType({})) -> Status:
    """What the status page shows, read from the store now (bounded queries: see
    reports.page_report), with what cannot be reached."""
    from syndicator.page import DAYS, PER_TOPIC, ChannelStatus, SourceStatus, Status

    config = pipeline.config
    now = time.time()
    states = pipeline.store.source_states()
    pending, sent = pipeline.store.outbox_counts()
    pages = pipeline.store.fulltext_counts()
    report = pipeline.store.page_report([t.name for t in config.topics], PER_TOPIC, DAYS, now)
    channels = []
    for name in [a.name for a in config.alerts] + sorted(
        set(report.channels) - {a.name for a in config.alerts}
    ):
        c = report.channels.get(name, ChannelCounts(0, 0, 0, None))
        channels.append(
            ChannelStatus(name, c.pending, c.sent, c.retrying, c.failed, c.last_error)
        )
    return Status(
        topics=tuple((t.name, t.query) for t in config.topics),
        sources=tuple(
            SourceStatus(
                s.name,
                s.url,
                states.get(s.name),
                report.daily.get(s.name, (0,) * DAYS),
                None if s.fulltext == "off" else pages.get(s.name, (0, 0)),
            )
            for s in config.sources
        ),
        alerts_pending=pending,
        alerts_sent=sent,
        updated=now,
        problems=tuple(
            f"{what} unreachable since {since}"
            for what, since in {**problems, **getattr(pipeline, "problems", {})}.items()
        ),
        stories=tuple((t.name, report.stories.get(t.name, ())) for t in config.topics),
        channels=tuple(channels),
        base_url=config.base_url if config.server is not None else "",
    )


class Service:
    """One daemon: `run()` returns when it was told to stop."""

    def __init__(self, path: Path, config: Config, store: Store) -> None:
        self.path = path
        self.store = store
        self.pipeline = make_pipeline(config, store)
        self.server: FeedServer | None = None
        self._reload = threading.Event()
        self._idle = threading.Event()  # no cycle is running
        self._idle.set()
        self._daemon = Daemon(self._cycle)
        self._problems: dict[str, str] = {}  # what this daemon cannot reach, since when

    def run(self) -> int:
        self._start_server()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._hup)
        if self.server is not None:
            try:
                with database_errors(self.pipeline.config.state_location):
                    self.server.status = snapshot(self.pipeline)
            except StoreError as exc:  # the first cycle reports it, and retries
                log.debug("no status before the first cycle: %s", exc)
        self._daemon.run_until_stopped()
        if self.server is not None:
            self.server.stop()
        if not self._idle.wait(SHUTDOWN_GRACE):
            for child in multiprocessing.active_children():  # workers of the abandoned poll
                child.kill()
            # Each source's poll is one transaction: abandoning it loses nothing, it is redone.
            log.warning(
                "abandoning the poll in flight after %.0fs; it will be redone", SHUTDOWN_GRACE
            )
            logging.shutdown()
            os._exit(0)
        self.pipeline.close()
        log.info("stopped")
        return 0

    def _start_server(self) -> None:
        config = self.pipeline.config
        if config.server is None:
            return
        from syndicator.serve import FeedServer

        config.output_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.server = FeedServer(config.output_dir, config.server.host, config.server.port)
        except OSError as exc:
            raise ConfigError(
                "server.listen",
                f"cannot listen on {config.server.host}:{config.server.port}: {exc.strerror}",
            ) from exc
        self.server.start()

    def _cycle(self) -> float:
        """One cycle on the scheduler's thread; returns when the next one is wanted."""
        self._idle.clear()
        try:
            with database_errors(self.pipeline.config.state_location):
                return self._one_cycle()
        except StoreError as exc:
            # A full disk, a damaged file or a database that went away is the operator's to
            # fix: say so in one line, keep serving what is published (and say what is wrong
            # on the status page), and try again.
            log.error("%s; retrying in %ds", exc, STORE_RETRY)
            self._problems.setdefault(
                "state database", f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {exc}"
            )
            if self.server is not None:
                self.server.status = replace(
                    self.server.status,
                    problems=tuple(f"{w} unreachable since {s}" for w, s in self._problems.items()),
                )
            return time.time() + STORE_RETRY
        finally:
            self._idle.set()

    def _one_cycle(self) -> float:
        if self._reload.is_set():
            self._reload.clear()
            self._apply_reload()
        report = self.pipeline.run_cycle()
        self._problems.pop("state database", None)
        log_summary(self.pipeline.config, report)
        if self.server is not None:
            self.server.status = snapshot(self.pipeline, self._problems)
        return self.pipeline.next_wake()

    def _apply_reload(self) -> None:
        try:
            previous = self.pipeline
            self.pipeline = make_pipeline(load_config(self.path), self.store)
            previous.close()
            log.info("config reloaded from %s", self.path)
            if rules_changed(previous.config, self.pipeline.config):
                # New topics see stored stories too, and feeds follow new rules.
                log.info(
                    "topics or cleaning rules changed: re-cleaned %d entries",
                    self.pipeline.reclean(),
                )
        except SyndicatorError as exc:
            log.error("config reload failed, keeping the old one: %s", exc)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self._daemon.stop()

    def _hup(self, signum: int, frame: FrameType | None) -> None:
        self._reload.set()
        self._daemon.wake_now()
