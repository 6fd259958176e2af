"""The order of things: one poll of one source, and one cycle over every source that is due.

This is the only module that knows the stages' order. Fetching is concurrent (asyncio, a global
and a per-host limit); parse, clean and match (pure CPU work) run in worker processes, or in the
store's thread when there are only a few sources; one thread writes the store, so it sees one
writer and the event loop keeps fetching meanwhile.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import random
import select
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from syndicator import decide, schedule, stories
from syndicator.alert import Sender, deliver, make_sender
from syndicator.config import Config, Source
from syndicator.errors import ConfigError, FetchError, ParseError
from syndicator.fetch import (
    Limits,
    fetch,
    fetch_file,
    header_max_age,
    make_client,
    named_endpoints,
)
from syndicator.match import Matcher, compile_topics
from syndicator.model import Fetched, NewEntry, SourceState, StoredEntry
from syndicator.publish import ALL, ping_hub, render_feed, utcnow, write_atomic
from syndicator.redact import redact_url, shown
from syndicator.store import Store, entry_uid

if TYPE_CHECKING:
    from syndicator.clean import RuleSet

log = logging.getLogger(__name__)
# syndicator.clean (lxml, cssselect, nh3) and syndicator.parse (feedparser) are imported where
# they are used: a run in which every source answers 304 never needs them, and its start-up
# is most of its time. The worker processes preload them (_worker_context).


@dataclass
class CycleReport:
    polled: int = 0
    not_modified: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    held: int = 0
    new_entries: int = 0
    alerts_sent: int = 0
    alerts_failed: int = 0
    feeds_written: list[str] = field(default_factory=list)
    feeds_failed: dict[str, str] = field(default_factory=dict)  # feed → why it was not written


POOL_THRESHOLD = 8  # fewer sources than this are analysed in-process: a pool costs a start-up


@dataclass(frozen=True)
class Analysis:
    """What one fetched body yields; an error instead of an exception, to cross processes."""

    entries: tuple[NewEntry, ...] = ()
    alerts: tuple[tuple[str, int, tuple[str, ...]], ...] = ()  # (channel, entry index, topics)
    total: int = 0
    warning: str | None = None
    error: str | None = None


class Analyser:
    """parse → what is new → clean → match, for one fetched body. Pure CPU work with no store or
    network, so it runs in worker processes as well as in the pipeline's own thread."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.matcher: Matcher = compile_topics(config.topics)  # QueryError names the topic
        self._sources = {source.name: source for source in config.sources}
        self._rules: dict[str, RuleSet] = {}
        # The user's rules are checked now; the rule set itself is built on first use, since
        # a process whose workers do the cleaning never needs it (a third of a warm run).
        custom = [(i, self._user_rules(s.name)) for i, s in enumerate(config.sources)]
        custom = [(i, rules) for i, rules in custom if rules[0] or rules[1]]
        if custom:
            from syndicator.clean import check_user_rules

            for i, (drop, selectors) in custom:
                try:
                    check_user_rules(drop, selectors)
                except ValueError as exc:
                    raise ConfigError(
                        f"sources[{i}] (or clean)", f"bad cleaning rule: {exc}"
                    ) from exc

    def _user_rules(self, source: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(drop, drop_selectors) for a source: the global ones, then its own."""
        src = self._sources.get(source)
        return (
            self.config.drop + (src.drop if src else ()),
            self.config.drop_selectors + (src.drop_selectors if src else ()),
        )

    def rules_for(self, source: str) -> RuleSet:
        """A source's rules; the global ones for a source no longer in the config."""
        found = self._rules.get(source)
        if found is None:
            from syndicator.clean import load_rules

            drop, selectors = self._user_rules(source)
            found = self._rules[source] = load_rules(drop=drop, drop_selectors=selectors)
        return found

    def analyse(
        self,
        source: str,
        body: bytes,
        url: str,
        headers: dict[str, str],
        known: dict[str, str],
    ) -> Analysis:
        try:
            return self._analyse(source, body, url, headers, known)
        except Exception as exc:  # a bug must cost this source, not the whole cycle
            log.exception("source=%s could not be analysed", source)
            return Analysis(error=f"internal error: {type(exc).__name__}: {exc}")

    def _analyse(
        self,
        source: str,
        body: bytes,
        url: str,
        headers: dict[str, str],
        known: dict[str, str],
    ) -> Analysis:
        from syndicator.clean import clean_entry
        from syndicator.parse import parse_feed

        try:
            feed = parse_feed(body, url, headers)
        except ParseError as exc:
            return Analysis(error=exc.reason)
        rules = self.rules_for(source)
        entries: list[NewEntry] = []
        alerts: list[tuple[str, int, tuple[str, ...]]] = []
        for parsed, digest, _is_new in decide.new_or_changed(feed.entries, known):
            clean = clean_entry(parsed, rules, explain=False)
            hits = self.matcher.match(clean.title, clean.text, source)
            for channel in self.config.alerts:
                topics = decide.alert_topics(hits, channel)
                if topics:
                    alerts.append((channel.name, len(entries), topics))
            entries.append(
                NewEntry(source, parsed, digest, clean, hits, stories.sketch(clean.text))
            )
        return Analysis(tuple(entries), tuple(alerts), len(feed.entries), feed.warning)


def preview(
    body: bytes,
    url: str,
    headers: Mapping[str, str] | None,
    rules: RuleSet,
    matcher: Matcher,
    topic: str | None = None,
) -> bytes:
    """parse → clean → match → render for one document, with no store: the Atom a feed would
    publish. For checking rules and for fuzzing the whole path. Raises ParseError."""
    from syndicator.clean import clean_entry
    from syndicator.parse import parse_feed

    feed = parse_feed(body, url, headers)
    now = utcnow()
    stored = []
    for i, parsed in enumerate(feed.entries):
        clean = clean_entry(parsed, rules, explain=False)
        stored.append(
            StoredEntry(
                id=i,
                uid=entry_uid("preview", parsed.key),
                source="preview",
                title=clean.title,
                link=clean.link,
                html=clean.html,
                text=clean.text,
                author=parsed.author,
                published=parsed.published,
                updated=parsed.updated or parsed.published or now,
                hits=matcher.match(clean.title, clean.text, "preview"),
            )
        )
    return render_feed(topic or ALL, feed.title, stored, "http://127.0.0.1/", now, topic=topic)


_WORKER: Analyser | None = None


def _init_worker(config: Config, parent: int) -> None:
    global _WORKER
    _exit_with(parent)
    _WORKER = Analyser(config)
    _WORKER.rules_for("")  # the common rule set, built before the first job waits on it
    # Everything alive now lives as long as the worker: keep the collector off it, and let it
    # run less often (each cleaned entry leaves a few hundred objects of tree cycles behind).
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


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


def _worker_context() -> multiprocessing.context.BaseContext:
    """forkserver: workers fork from a clean single-threaded server that imported the
    pipeline once (a fork of the daemon itself would copy its scheduler and server threads,
    and spawn would import everything again in every worker)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["syndicator.pipeline", "syndicator.clean", "syndicator.parse"])
    return ctx


def _ready() -> None:
    """A no-op job: submitting it starts a worker process."""


def _has_validators(state: SourceState | None) -> bool:
    return state is not None and bool(state.validators.etag or state.validators.last_modified)


def _analyse_in_worker(job: tuple[str, bytes, str, dict[str, str], dict[str, str]]) -> Analysis:
    assert _WORKER is not None, "worker process not initialised"
    return _WORKER.analyse(*job)


def _days(seconds: float) -> str:
    return f"{seconds / 86400:g} days" if seconds >= 86400 else f"{seconds:g} s"


class _HostGate:
    """At most `concurrent` requests to one host at a time, and starts at least `spacing`
    seconds apart: the politeness a site expects from a feed poller."""

    def __init__(self, concurrent: int, spacing: float) -> None:
        self._slots = asyncio.Semaphore(concurrent)
        self._spacing = spacing
        self._next_start = 0.0

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        if self._spacing > 0:
            now = asyncio.get_running_loop().time()
            start = max(now, self._next_start)
            self._next_start = start + self._spacing
            if start > now:
                await asyncio.sleep(start - now)

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


class Pipeline:
    """Holds what a cycle needs and is rebuilt on config reload; the store outlives it."""

    def __init__(
        self,
        config: Config,
        store: Store,
        senders: list[Sender] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.rng = rng or random.Random()
        self.progress = progress  # called with (sources done, sources to poll) as polls finish
        self._to_poll = 0
        self.analyser = Analyser(config)  # raises ConfigError/QueryError for bad rules, queries
        self.senders = senders if senders is not None else [make_sender(a) for a in config.alerts]
        self.workers = config.workers
        self._process_pool: ProcessPoolExecutor | None = None
        # Where a connection may reach an internal address: what the user named (fetch.py).
        self._named = named_endpoints((s.url for s in config.sources), config.fetch.allow_private)

    # -- one cycle -------------------------------------------------------------------------

    def run_cycle(self, once: bool = False) -> CycleReport:
        """Poll what is due (or everything, once), publish what changed, deliver alerts."""
        report = CycleReport()
        now = self.clock()
        states = self.store.source_states()
        to_poll, held = schedule.due(self.config.sources, states, now, once)
        for source, until in held:
            log.info(
                "source=%s skipped: in back-off or asked to wait until %s",
                source.name,
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(until)),
            )
        report.held = len(held)
        self.settle_regrouped()
        self._to_poll = len(to_poll)
        if to_poll:
            asyncio.run(self._poll_all(to_poll, states, report))
        self.forget_old()
        self.publish(report)
        report.alerts_sent, report.alerts_failed = deliver(self.store, self.senders, self.clock())
        return report

    def settle_regrouped(self) -> int:
        """After every story was decided again (an upgrade of the rule, a reclean): queue the
        alerts owed to entries that now stand alone, and republish every feed. Returns how
        many entries changed story."""
        regrouped = self.store.regrouped()
        if not regrouped:
            return 0
        owed = decide.owed_alerts(regrouped, self.config.alerts, self.clock())
        feeds = [ALL, *(t.name for t in self.config.topics)]
        queued = self.store.settle_regrouped(owed, self.clock(), dirty=feeds)
        log.warning(
            "%d entries changed story under the current rule; %d alerts queued for those that "
            "now stand alone and were never alerted (first seen within %s); every feed is "
            "written again",
            len(regrouped),
            queued,
            _days(decide.REGROUPED_ALERT_AGE),
        )
        return len(regrouped)

    def forget_old(self) -> int:
        """Apply `retain`: entries first seen longer ago go (their keys stay known, so they
        are not new again), and every feed is rewritten without them."""
        if self.config.retain <= 0:
            return 0
        gone = self.store.forget(self.clock() - self.config.retain)
        if gone:
            log.info("forgot %d entries first seen over %s ago", gone, _days(self.config.retain))
            self.store.mark_dirty([ALL, *(t.name for t in self.config.topics)])
        return gone

    def next_wake(self) -> float:
        """The next source poll, or sooner if an alert waits for a retry."""
        wake = schedule.next_wake(self.store.source_states(), self.config.sources, self.clock())
        retry = self.store.next_retry()
        return min(wake, max(retry, self.clock())) if retry is not None else wake

    async def _poll_all(
        self, sources: list[Source], states: dict[str, SourceState], report: CycleReport
    ) -> None:
        f = self.config.fetch
        limit = asyncio.Semaphore(f.concurrency)  # requests in flight
        backlog = asyncio.Semaphore(2 * f.concurrency)  # bodies fetched, not yet processed
        hosts: dict[str, _HostGate] = {}
        loop = asyncio.get_running_loop()
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        pool = self._pool() if len(sources) >= POOL_THRESHOLD else None
        if pool is not None:
            # Workers start on first use, after the first fetch. Sources that cannot be asked
            # conditionally (never fetched, or no ETag/Last-Modified) will send whole bodies:
            # when enough are due, start the workers before fetching (the first start waits for
            # the forkserver's imports, as it did before at the first body). A run in which
            # every source can answer 304 does not start them before it needs them.
            unconditional = sum(1 for s in sources if not _has_validators(states.get(s.name)))
            if unconditional >= POOL_THRESHOLD:
                try:
                    self._start_workers(pool)
                except BrokenProcessPool:  # a worker died since the last cycle (OOM, kill)
                    log.warning("worker processes died since the last cycle; starting new ones")
                    self._discard_pool()
                    pool = self._pool()
                    if pool is not None:
                        self._start_workers(pool)
        client = make_client(self._limits(None), f.user_agent, f.concurrency, self._named)
        settled: list[tuple[SourceState, list[tuple[str, str, str]]]] = []
        pool_broken: list[bool] = []

        async def one(source: Source) -> None:
            state = states.get(source.name) or SourceState(name=source.name)
            host = urlsplit(source.url).netloc.lower()
            # Politeness is for servers; local files are read at once.
            spacing = 0.0 if source.is_file else f.per_host_interval
            gate = hosts.setdefault(host, _HostGate(f.per_host, spacing))
            async with gate:  # wait for the host first, so a busy host holds no global slot
                await backlog.acquire()
                try:
                    async with limit:
                        result = await self._fetch(client, source, state)
                except BaseException:
                    backlog.release()
                    raise
            try:
                now = self.clock()
                if isinstance(result, FetchError):
                    settled.append(
                        self._failed(
                            source,
                            state,
                            now,
                            result.reason,
                            result.status,
                            result.retry_after,
                            report,
                        )
                    )
                elif result.not_modified:
                    # Nothing to parse: settled in one transaction with the others at the end.
                    settled.append(self._not_modified(source, state, result, now, report))
                else:
                    known = await loop.run_in_executor(writer, self.store.all_digests, source.name)
                    job = (source.name, result.body, result.url, result.headers, known)
                    analysis = None
                    if pool is not None and not pool_broken:
                        try:
                            analysis = await loop.run_in_executor(pool, _analyse_in_worker, job)
                        except BrokenProcessPool:
                            # A worker died (killed, out of memory): finish the cycle in-process.
                            log.error("worker process died; analysing in-process from now on")
                            pool_broken.append(True)
                            self._discard_pool()
                    if analysis is None:
                        analysis = await loop.run_in_executor(writer, self.analyser.analyse, *job)
                    await loop.run_in_executor(
                        writer, self._save, source, state, result, analysis, report
                    )
            finally:
                backlog.release()
                report.polled += 1
                if self.progress is not None:
                    self.progress(report.polled, self._to_poll)

        async def guarded(source: Source) -> None:
            """Whatever one source's response does costs that source, never the cycle."""
            try:
                await one(source)
            except Exception as exc:
                log.exception("source=%s unexpected error handling its response", source.name)
                reason = " ".join(f"internal error: {type(exc).__name__}: {exc}".split())[:300]
                state = states.get(source.name) or SourceState(name=source.name)
                now = self.clock()
                settled.append(self._failed(source, state, now, reason, None, None, report))

        try:
            # Sources of one host side by side, so its kept-alive connections are reused.
            ordered = sorted(sources, key=lambda s: urlsplit(s.url).netloc.lower())
            await asyncio.gather(*(guarded(s) for s in ordered))
        finally:
            await client.aclose()
            await loop.run_in_executor(writer, self.store.save_states, settled, self.clock())
            writer.shutdown(wait=True)

    def _pool(self) -> ProcessPoolExecutor | None:
        """Worker processes for parse/clean/match, started once and kept for later cycles."""
        if self.workers <= 1:
            return None
        if self._process_pool is None:
            self._process_pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_worker_context(),
                initializer=_init_worker,
                initargs=(self.config, os.getpid()),
            )
        return self._process_pool

    def _start_workers(self, pool: ProcessPoolExecutor) -> None:
        for _ in range(self.workers):
            pool.submit(_ready)

    def close(self) -> None:
        if self._process_pool is not None:
            self._process_pool.shutdown(wait=True, cancel_futures=True)
            self._process_pool = None

    def _discard_pool(self) -> None:
        if self._process_pool is not None:
            self._process_pool.shutdown(wait=False, cancel_futures=True)
            self._process_pool = None

    def _limits(self, source: Source | None) -> Limits:
        f = self.config.fetch
        return Limits(
            timeout=(source.timeout if source and source.timeout else f.timeout),
            connect_timeout=f.connect_timeout,
            max_bytes=(source.max_bytes if source and source.max_bytes else f.max_bytes),
            max_redirects=f.max_redirects,
        )

    async def _fetch(
        self, client: httpx.AsyncClient, source: Source, state: SourceState
    ) -> Fetched | FetchError:
        limits = self._limits(source)
        try:
            if source.is_file:
                return fetch_file(source.url, state.validators, limits)
            return await fetch(client, source.url, state.validators, limits)
        except FetchError as exc:
            return exc
        except Exception as exc:  # a bug here must cost one source, never the whole cycle
            log.exception("source=%s unexpected error while fetching", source.name)
            return FetchError(source.url, f"unexpected error: {type(exc).__name__}: {exc}")

    # -- after the fetch ---------------------------------------------------------------------

    def _not_modified(
        self,
        source: Source,
        state: SourceState,
        result: Fetched,
        now: float,
        report: CycleReport,
    ) -> tuple[SourceState, list[tuple[str, str, str]]]:
        report.not_modified += 1
        max_age = header_max_age(result.headers, now)
        new_state = schedule.after_success(state, source, now, self.rng, 304, max_age)
        log.info("source=%s not modified (304)", source.name)
        return self._health(source, state, new_state)

    def _save(
        self,
        source: Source,
        state: SourceState,
        result: Fetched,
        analysis: Analysis,
        report: CycleReport,
    ) -> None:
        """Store one analysed feed (store thread): entries, alerts and state together."""
        now = self.clock()
        if analysis.error is not None:
            new_state, notices = self._failed(
                source, state, now, analysis.error, result.status, None, report
            )
            self.store.save_state(new_state, notices, now)
            return
        if analysis.warning:
            log.warning("source=%s feed is malformed but usable: %s", source.name, analysis.warning)
        new_state = schedule.after_success(
            replace(state, validators=result.validators),
            source,
            now,
            self.rng,
            result.status,
            header_max_age(result.headers, now),
        )
        new_state, notices = self._health(source, state, new_state)
        entries = analysis.entries
        # The feeds these entries change are marked in the same transaction (with those of
        # entries they displace), so a failed write is redone even after a restart.
        dirty = [ALL, *{h.topic for e in entries for h in e.hits}] if entries else []
        self.store.save_poll(new_state, entries, analysis.alerts, now, notices, dirty=dirty)
        report.new_entries += len(entries)
        log.info(
            "source=%s status=%d entries=%d new_or_changed=%d alerts=%d",
            source.name,
            result.status,
            analysis.total,
            len(entries),
            len(analysis.alerts),
        )

    def _failed(
        self,
        source: Source,
        state: SourceState,
        now: float,
        reason: str,
        status: int | None,
        retry_after: float | None,
        report: CycleReport,
    ) -> tuple[SourceState, list[tuple[str, str, str]]]:
        # Stored, shown on the status page and sent in notices: a reason may quote a URL (with
        # its credentials) or a server's or document's text (with control codes).
        reason = shown(reason)
        new_state = schedule.after_failure(
            state, source, now, self.rng, reason, status, retry_after
        )
        report.failed[source.name] = reason
        log.error("source=%s url=%s failed: %s", source.name, redact_url(source.url), reason)
        return self._health(source, state, new_state)

    def _health(
        self, source: Source, old: SourceState, new: SourceState
    ) -> tuple[SourceState, list[tuple[str, str, str]]]:
        """Tell every channel once when a source turns unhealthy, and once when it recovers."""
        change = decide.health_change(old, new, self.config.unhealthy_after)
        if change is None:
            return new, []
        new = replace(new, unhealthy=change == "unhealthy")
        if change == "unhealthy":
            subject = f"source {source.name} is failing: {new.last_error}"
            body = (
                f"Syndicator cannot poll the source {source.name!r} ({redact_url(source.url)}).\n"
                f"Last error: {new.last_error}\nFailures in a row: {new.failures}\n"
                "It keeps retrying with back-off; you will hear once more when it recovers."
            )
            log.error(
                "source=%s is unhealthy after %d failures: %s",
                source.name,
                new.failures,
                new.last_error,
            )
        else:
            subject = f"source {source.name} works again"
            body = (
                f"The source {source.name!r} ({redact_url(source.url)}) was polled successfully "
                "again."
            )
            log.info("source=%s recovered", source.name)
        return new, [(channel.name, subject, body) for channel in self.config.alerts]

    # -- reclean ---------------------------------------------------------------------------

    def reclean(self, report: CycleReport | None = None) -> int:
        """Re-apply the current rules and topics to every stored entry, then republish all
        feeds: output follows rule changes without waiting for sources to change. `report`
        receives what publishing wrote and could not write."""
        from syndicator.clean import clean_entry

        # Marked before the change, so a crash before the feeds are written leaves them marked.
        self.store.mark_dirty([ALL, *(t.name for t in self.config.topics)])
        updates = []
        matcher = self.analyser.matcher
        for entry_id, source, parsed in self.store.raw_entries():
            clean = clean_entry(parsed, self.analyser.rules_for(source), explain=False)
            hits = matcher.match(clean.title, clean.text, source)
            updates.append((entry_id, clean, hits))
        self.store.update_cleaned(updates)
        self.settle_regrouped()
        self.publish(report)
        return len(updates)

    # -- publish ---------------------------------------------------------------------------

    def publish(self, report: CycleReport | None = None) -> list[str]:
        """Write each feed that changed (or is missing) once per cycle. A feed that cannot be
        written (disk full, a file in the way) stays marked and is tried again next cycle."""
        out = self.config.output_dir
        names = [ALL, *(t.name for t in self.config.topics)]
        dirty = self.store.dirty_feeds()
        todo = [n for n in names if n in dirty or not (out / f"{n}.atom").exists()]
        written = []
        done = dirty - set(names)  # feeds of topics no longer configured: nothing to write
        failed: dict[str, str] = {}
        now = utcnow()
        queries = {t.name: t.query for t in self.config.topics}
        server = self.config.server
        hub = server.websub_hub if server else None
        for name in todo:
            topic = None if name == ALL else name
            entries = self.store.feed_entries(topic, self.config.max_entries)
            if topic is None:
                title, subtitle = "Syndicator: all entries", "Every cleaned entry of every source"
            else:
                title, subtitle = f"Syndicator: {name}", f"Entries matching {queries[name]}"
            data = render_feed(
                name, title, entries, self.config.base_url, now, subtitle, topic, hub
            )
            try:
                changed = write_atomic(out / f"{name}.atom", data)
            except OSError as exc:
                failed[name] = exc.strerror or str(exc)
                log.error(
                    "cannot write %s: %s; it is written again next cycle",
                    out / f"{name}.atom",
                    failed[name],
                )
                continue
            done.add(name)
            if changed:
                written.append(name)
                log.info("published %s.atom (%d entries)", name, len(entries))
        if done:
            self.store.clear_dirty(done)
        if hub and written:
            ping_hub(hub, [f"{self.config.base_url}{name}.atom" for name in written])
        if report is not None:
            report.feeds_written = written
            report.feeds_failed = failed
        return written
