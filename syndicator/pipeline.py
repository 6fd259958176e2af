"""The order of things: one poll of one source, and one cycle over every source that is due.

This is the only module that knows the stages' order. Fetching is concurrent (asyncio, a global
and a per-host limit); everything after the fetch — parse, clean, match, store — runs in one
worker thread, so the store sees one writer and the event loop keeps fetching meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import httpx

from syndicator import decide, schedule
from syndicator.alert import Sender, deliver, make_sender
from syndicator.clean import RuleSet, clean_entry, load_rules
from syndicator.config import Config, Source
from syndicator.errors import ConfigError, FetchError, ParseError
from syndicator.fetch import Limits, fetch, fetch_file, header_max_age, make_client
from syndicator.match import Matcher, compile_topics
from syndicator.model import Fetched, NewEntry, SourceState
from syndicator.parse import parse_feed
from syndicator.publish import ALL, ping_hub, render_feed, utcnow, write_atomic
from syndicator.store import Store

log = logging.getLogger(__name__)


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
        self.matcher: Matcher = compile_topics(config.topics)  # QueryError names the topic
        self.senders = senders if senders is not None else [make_sender(a) for a in config.alerts]
        self._rules: dict[str, RuleSet] = {}
        for i, source in enumerate(config.sources):
            try:
                self._rules[source.name] = load_rules(
                    drop=config.drop + source.drop,
                    drop_selectors=config.drop_selectors + source.drop_selectors,
                )
            except ValueError as exc:
                raise ConfigError(f"sources[{i}] (or clean)", f"bad cleaning rule: {exc}") from exc
        self._dirty: set[str] = set()

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
        self._to_poll = len(to_poll)
        if to_poll:
            asyncio.run(self._poll_all(to_poll, states, report))
        self.publish(report)
        report.alerts_sent, report.alerts_failed = deliver(self.store, self.senders, self.clock())
        return report

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
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="process")
        loop = asyncio.get_running_loop()
        client = make_client(self._limits(None), f.user_agent, connections=f.concurrency)

        async def one(source: Source) -> None:
            state = states.get(source.name) or SourceState(name=source.name)
            host = urlsplit(source.url).netloc.lower()
            gate = hosts.setdefault(host, _HostGate(f.per_host, f.per_host_interval))
            async with gate:  # wait for the host first, so a busy host holds no global slot
                await backlog.acquire()
                try:
                    async with limit:
                        result = await self._fetch(client, source, state)
                except BaseException:
                    backlog.release()
                    raise
            try:
                await loop.run_in_executor(worker, self._process, source, state, result, report)
            finally:
                backlog.release()

        try:
            await asyncio.gather(*(one(s) for s in sources))
        finally:
            await client.aclose()
            worker.shutdown(wait=True)

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

    # -- after the fetch: parse, decide, clean, match, store (worker thread) ----------------

    def _process(
        self, source: Source, state: SourceState, result: Fetched | FetchError, report: CycleReport
    ) -> None:
        now = self.clock()
        report.polled += 1
        if self.progress is not None:
            self.progress(report.polled, self._to_poll)
        if isinstance(result, FetchError):
            self._failed(
                source, state, now, result.reason, result.status, result.retry_after, report
            )
            return
        max_age = header_max_age(result.headers, now)
        if result.not_modified:
            report.not_modified += 1
            new_state = schedule.after_success(state, source, now, self.rng, 304, max_age)
            new_state, notices = self._health(source, state, new_state)
            self.store.save_state(new_state, notices, now)
            log.info("source=%s not modified (304)", source.name)
            return
        try:
            feed = parse_feed(result.body, result.url, result.headers)
        except ParseError as exc:
            self._failed(source, state, now, exc.reason, result.status, None, report)
            return
        if feed.warning:
            log.warning("source=%s feed is malformed but usable: %s", source.name, feed.warning)
        known = self.store.known_digests(source.name, [e.key for e in feed.entries])
        rules = self._rules[source.name]
        entries: list[NewEntry] = []
        alerts: list[tuple[str, int, tuple[str, ...]]] = []
        for parsed, digest, _is_new in decide.new_or_changed(feed.entries, known):
            clean = clean_entry(parsed, rules)
            hits = self.matcher.match(clean.title, clean.text, source.name)
            for channel in self.config.alerts:
                topics = decide.alert_topics(hits, channel)
                if topics:
                    alerts.append((channel.name, len(entries), topics))
            entries.append(NewEntry(source.name, parsed, digest, clean, hits))
        new_state = schedule.after_success(
            replace(state, validators=result.validators),
            source,
            now,
            self.rng,
            result.status,
            max_age,
        )
        new_state, notices = self._health(source, state, new_state)
        touched = self.store.save_poll(new_state, entries, alerts, now, notices)
        if entries:
            self._dirty.add(ALL)
            self._dirty.update(h.topic for e in entries for h in e.hits)
            self._dirty.update(touched)
        report.new_entries += len(entries)
        log.info(
            "source=%s status=%d entries=%d new_or_changed=%d alerts=%d",
            source.name,
            result.status,
            len(feed.entries),
            len(entries),
            len(alerts),
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
    ) -> None:
        new_state = schedule.after_failure(
            state, source, now, self.rng, reason, status, retry_after
        )
        new_state, notices = self._health(source, state, new_state)
        self.store.save_state(new_state, notices, now)
        report.failed[source.name] = reason
        log.error("source=%s url=%s failed: %s", source.name, source.url, reason)

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
                f"Syndicator cannot poll the source {source.name!r} ({source.url}).\n"
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
            body = f"The source {source.name!r} ({source.url}) was polled successfully again."
            log.info("source=%s recovered", source.name)
        return new, [(channel.name, subject, body) for channel in self.config.alerts]

    # -- reclean ---------------------------------------------------------------------------

    def reclean(self) -> int:
        """Re-apply the current rules and topics to every stored entry, then republish all
        feeds: output follows rule changes without waiting for sources to change."""
        updates = []
        for entry_id, source, parsed in self.store.raw_entries():
            rules = self._rules.get(source) or self._default_rules()
            clean = clean_entry(parsed, rules)
            updates.append((entry_id, clean, self.matcher.match(clean.title, clean.text, source)))
        self.store.update_cleaned(updates)
        self._dirty.update([ALL, *(t.name for t in self.config.topics)])
        self.publish()
        return len(updates)

    def _default_rules(self) -> RuleSet:
        """For entries of a source no longer in the config: the global rules only."""
        return load_rules(drop=self.config.drop, drop_selectors=self.config.drop_selectors)

    # -- publish ---------------------------------------------------------------------------

    def publish(self, report: CycleReport | None = None) -> list[str]:
        """Write each feed that changed (or is missing) once per cycle."""
        out = self.config.output_dir
        names = [ALL, *(t.name for t in self.config.topics)]
        todo = [n for n in names if n in self._dirty or not (out / f"{n}.atom").exists()]
        written = []
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
            if write_atomic(out / f"{name}.atom", data):
                written.append(name)
                log.info("published %s.atom (%d entries)", name, len(entries))
        self._dirty.clear()
        if hub and written:
            ping_hub(hub, [f"{self.config.base_url}{name}.atom" for name in written])
        if report is not None:
            report.feeds_written = written
        return written
