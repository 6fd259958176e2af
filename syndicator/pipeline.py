"""The data's way, for one source and for one cycle over every source that is due:

    fetch ─► (304? settled) ─► analyse (parse ─► new? ─► clean ─► match) ─► store ─► publish
                                                                             └─► outbox ─► alert

Around analyse: the source's template memory is read before it (and saved with the poll), and
a teaser's article page (a source's `fulltext`) is fetched after it, through the same host
gate, and the entry analysed again on the page's main text.

This is the only module that knows the stages' order; each stage is a module of its own, and
where the CPU work runs is workers.py's business. Fetching is concurrent (asyncio, a global
limit and fetch.Politeness per host); one thread writes the store, so it sees one writer and
the event loop keeps fetching meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import httpx

from syndicator import decide, schedule
from syndicator.alert import Sender, deliver, make_sender
from syndicator.analyse import Analyser, Analysis, History, Job, learn_from, with_template
from syndicator.config import Config, Source
from syndicator.errors import FetchError
from syndicator.fetch import (
    HTML_ACCEPT,
    Limits,
    Politeness,
    fetch,
    fetch_file,
    header_max_age,
    host_of,
    make_client,
    named_endpoints,
)
from syndicator.model import (
    Fetched,
    FullTextPage,
    NewNotice,
    RawEntry,
    Recleaned,
    SourceState,
    SourceUpdate,
    Validators,
)
from syndicator.publish import (
    ALL,
    FEED_FILES,
    ping_hub,
    render_feed,
    render_json_feed,
    utcnow,
    write_atomic,
)
from syndicator.redact import redact_url, shown
from syndicator.store import Store
from syndicator.template import NOTHING, WINDOW, Template
from syndicator.workers import POOL_THRESHOLD, Workers

__all__ = ["POOL_THRESHOLD", "CycleReport", "Pipeline"]

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
    feeds_failed: dict[str, str] = field(default_factory=dict)  # feed → why it was not written


@dataclass
class _Cycle:
    """What the polls of one cycle share."""

    client: httpx.AsyncClient
    hosts: Politeness
    in_flight: asyncio.Semaphore  # requests
    backlog: asyncio.Semaphore  # bodies fetched, not yet stored
    writer: ThreadPoolExecutor  # the store's one thread
    report: CycleReport
    settled: list[SourceUpdate] = field(default_factory=list)  # saved together at the end


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
        self.learned: dict[str, Template] = {}  # what the last reclean learned, per source
        self.analyser = Analyser(config)
        self.workers = Workers(config, self.analyser)
        self.senders = senders if senders is not None else [make_sender(a) for a in config.alerts]
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
        self.poll(to_poll, states, report)
        self.forget_old()
        self.publish(report)
        report.alerts_sent, report.alerts_failed = deliver(self.store, self.senders, self.clock())
        return report

    def poll(
        self, sources: list[Source], states: dict[str, SourceState], report: CycleReport
    ) -> None:
        """Fetch, analyse and store each of `sources`, concurrently, each in its own
        transaction; failures and 304s are saved together at the end."""
        self._to_poll = len(sources)
        if sources:
            asyncio.run(self._poll_all(sources, states, report))

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
        unconditional = sum(1 for s in sources if not _has_validators(states.get(s.name)))
        self.workers.begin_cycle(len(sources), unconditional)
        cycle = _Cycle(
            client=make_client(self._limits(None), f.user_agent, f.concurrency, self._named),
            hosts=self._politeness(),
            in_flight=asyncio.Semaphore(f.concurrency),
            backlog=asyncio.Semaphore(2 * f.concurrency),
            writer=ThreadPoolExecutor(max_workers=1, thread_name_prefix="store"),
            report=report,
        )
        loop = asyncio.get_running_loop()
        try:
            # Sources of one host side by side, so its kept-alive connections are reused.
            ordered = sorted(sources, key=lambda s: host_of(s.url))
            await asyncio.gather(*(self._poll_guarded(cycle, s, states) for s in ordered))
        finally:
            await cycle.client.aclose()
            await loop.run_in_executor(
                cycle.writer, self.store.save_states, cycle.settled, self.clock()
            )
            cycle.writer.shutdown(wait=True)

    def _politeness(self) -> Politeness:
        """The per-host gates of one cycle: this process's own (cluster.py shares them)."""
        return Politeness(self.config.fetch.per_host, self.config.fetch.per_host_interval)

    async def _poll_guarded(
        self, cycle: _Cycle, source: Source, states: dict[str, SourceState]
    ) -> None:
        """Whatever one source's response does costs that source, never the cycle."""
        state = states.get(source.name) or SourceState(name=source.name)
        try:
            await self._poll(cycle, source, state)
        except Exception as exc:
            log.exception("source=%s unexpected error handling its response", source.name)
            reason = " ".join(f"internal error: {type(exc).__name__}: {exc}".split())[:300]
            now = self.clock()
            cycle.settled.append(self._failed(source, state, now, reason, None, None, cycle.report))

    async def _poll(self, cycle: _Cycle, source: Source, state: SourceState) -> None:
        """One source: fetch; a failure or a 304 is settled with the others at the end of the
        cycle; a body is analysed and stored at once, in one transaction."""
        # Wait for the host first, so a busy host holds no global slot.
        async with cycle.hosts.gate(source.url, source.is_file):
            await cycle.backlog.acquire()
            try:
                async with cycle.in_flight:
                    result = await self._fetch(cycle.client, source, state)
            except BaseException:
                cycle.backlog.release()
                raise
        try:
            now = self.clock()
            if isinstance(result, FetchError):
                cycle.settled.append(
                    self._failed(
                        source, state, now, result.reason, result.status, result.retry_after,
                        cycle.report,
                    )
                )
            elif result.not_modified:
                cycle.settled.append(self._not_modified(source, state, result, now, cycle.report))
            else:
                loop = asyncio.get_running_loop()
                known, history = await loop.run_in_executor(cycle.writer, self._memory, source)
                job = Job(source.name, result.body, result.url, result.headers, known, history)
                analysis = await self.workers.analyse(job, cycle.writer)
                pages: list[FullTextPage] = []
                if source.fulltext != "off" and analysis.error is None and analysis.entries:
                    analysis, pages = await self._fulltext(cycle, source, job, analysis)
                await loop.run_in_executor(
                    cycle.writer, self._save, source, state, result, analysis, cycle.report, pages
                )
        finally:
            cycle.backlog.release()
            cycle.report.polled += 1
            if self.progress is not None:
                self.progress(cycle.report.polled, self._to_poll)

    def _memory(self, source: Source) -> tuple[dict[str, str], History]:
        """What analysing a source's body needs of the store: its entries' digests, and its
        template memory (not read for a source that learns none)."""
        history = tuple(self.store.template_history(source.name)) if source.learn else ()
        return self.store.all_digests(source.name), history

    # -- full text for teasers -----------------------------------------------------------------

    async def _fulltext(
        self, cycle: _Cycle, source: Source, job: Job, analysis: Analysis
    ) -> tuple[Analysis, list[FullTextPage]]:
        """Fetch the article page of each teaser entry (decide.needs_fulltext) that was never
        fetched, through the host's gate as a feed is (same client, limits, address guard),
        extract its main text, and analyse those entries again on it. A page fetched before
        is reused, one that failed before is not asked for again; on failure the teaser
        stands. Returns the analysis and the pages to remember with the poll."""
        wanted = [
            e.clean.link
            for e in analysis.entries
            if decide.needs_fulltext(source.fulltext, e.parsed.html, e.clean.text, e.clean.link)
        ]
        if not wanted:
            return analysis, []
        links = list(dict.fromkeys(wanted))
        loop = asyncio.get_running_loop()
        pages = await loop.run_in_executor(cycle.writer, self.store.fulltext_pages, links)
        new: list[FullTextPage] = []
        for link in links:
            if link not in pages:
                page = await self._fetch_page(cycle, source, link)
                pages[link] = page
                new.append(page)
        if any(p.ok for p in pages.values()):
            try:
                analysis = await loop.run_in_executor(
                    None, self.analyser.with_fulltext, job, analysis, pages
                )
            except Exception:  # a bug here must cost the full texts, not the poll
                log.exception("source=%s full texts not analysed; teasers stand", source.name)
        return analysis, new

    async def _fetch_page(self, cycle: _Cycle, source: Source, link: str) -> FullTextPage:
        from syndicator.fulltext import extract_main

        fetched: Fetched | FetchError
        async with cycle.hosts.gate(link, False), cycle.in_flight:
            try:
                fetched = await fetch(
                    cycle.client, link, Validators(), self._limits(source), accept=HTML_ACCEPT
                )
            except FetchError as exc:
                fetched = exc
            except Exception as exc:  # a bug here must cost this entry's full text only
                log.exception("source=%s unexpected error fetching an article", source.name)
                fetched = FetchError(link, f"unexpected error: {type(exc).__name__}: {exc}")
        if isinstance(fetched, FetchError):
            reason = fetched.reason
        else:
            loop = asyncio.get_running_loop()
            html, reason = await loop.run_in_executor(
                None, extract_main, fetched.body, fetched.url, fetched.headers
            )
            if html:
                log.info("source=%s full text of %s fetched", source.name, redact_url(link))
                return FullTextPage(link, source.name, True, html)
        reason = shown(reason)
        log.warning(
            "source=%s full text of %s not fetched: %s; the teaser stands",
            source.name,
            redact_url(link),
            reason,
        )
        return FullTextPage(link, source.name, False, reason=reason)

    def close(self) -> None:
        self.workers.close()

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
    ) -> SourceUpdate:
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
        pages: list[FullTextPage] | None = None,
    ) -> None:
        """Store one analysed feed (store thread): entries, alerts, state and the article
        pages fetched for it together."""
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
        self.store.save_poll(
            new_state, entries, analysis.alerts, now, notices, dirty=dirty, pages=pages or ()
        )
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
    ) -> SourceUpdate:
        # Stored, shown on the status page and sent in notices: a reason may quote a URL (with
        # its credentials) or a server's or document's text (with control codes).
        reason = shown(reason)
        new_state = schedule.after_failure(
            state, source, now, self.rng, reason, status, retry_after
        )
        report.failed[source.name] = reason
        log.error("source=%s url=%s failed: %s", source.name, redact_url(source.url), reason)
        return self._health(source, state, new_state)

    def _health(self, source: Source, old: SourceState, new: SourceState) -> SourceUpdate:
        """Tell every channel once when a source turns unhealthy, and once when it recovers."""
        change = decide.health_change(old, new, self.config.unhealthy_after)
        if change is None:
            return SourceUpdate(new)
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
        return SourceUpdate(
            new, tuple(NewNotice(channel.name, subject, body) for channel in self.config.alerts)
        )

    # -- reclean ---------------------------------------------------------------------------

    def reclean(self, report: CycleReport | None = None) -> int:
        """Re-apply the current rules and topics to every stored entry, then republish all
        feeds: output follows rule changes without waiting for sources to change. `report`
        receives what publishing wrote and could not write."""
        # Marked before the change, so a crash before the feeds are written leaves them marked.
        self.store.mark_dirty([ALL, *(t.name for t in self.config.topics)])
        updates = []
        by_source: dict[str, list[RawEntry]] = {}
        for raw in self.store.raw_entries():
            by_source.setdefault(raw.source, []).append(raw)
        for source, raws in by_source.items():
            updates += self._reclean_source(source, raws)
        self.store.update_cleaned(updates)
        self.settle_regrouped()
        self.publish(report)
        return len(updates)

    def _reclean_source(self, source: str, raws: list[RawEntry]) -> list[Recleaned]:
        """One source's stored entries cleaned again: its template memory is learned again
        from the newest of them (under the current rules), then applied."""
        from syndicator.clean import clean_entry

        rules = self.analyser.rules_for(source)
        firsts = [(raw, clean_entry(raw.parsed, rules, explain=False)) for raw in raws]
        newest = sorted(firsts, key=lambda pair: -pair[0].id)[:WINDOW]
        memory = [(raw.parsed.key, clean.blocks) for raw, clean in newest]
        self.store.save_template_history(source, memory, self.clock())
        learned = learn_from((), memory) if self.analyser.learning.get(source, True) else NOTHING
        if learned:
            self.learned[source] = learned
            log.info(
                "source=%s template: %d blocks learned from %d entries",
                source,
                len(learned.blocks),
                learned.entries,
            )
        updates = []
        for raw, first in firsts:
            clean = with_template(raw.parsed, first, rules, learned)
            hits = self.analyser.matcher.match(clean.title, clean.text, source)
            updates.append(Recleaned(raw.id, clean, hits))
        return updates

    # -- publish ---------------------------------------------------------------------------

    def publish(self, report: CycleReport | None = None) -> list[str]:
        """Write each feed that changed (or is missing) once per cycle, as Atom and as JSON
        Feed. A feed that cannot be written (disk full, a file in the way) stays marked and is
        tried again next cycle."""
        out = self.config.output_dir
        names = [ALL, *(t.name for t in self.config.topics)]
        dirty = self.store.dirty_feeds()
        todo = [
            n
            for n in names
            if n in dirty or not all((out / f"{n}{ext}").exists() for ext in FEED_FILES)
        ]
        written = []
        changed_files: list[str] = []  # what the hub is told of
        done = dirty - set(names)  # feeds of topics no longer configured: nothing to write
        failed: dict[str, str] = {}
        now = utcnow()
        queries = {t.name: t.query for t in self.config.topics}
        server = self.config.server
        hub = server.websub_hub if server else None
        base = self.config.base_url
        for name in todo:
            topic = None if name == ALL else name
            entries = self.store.feed_entries(topic, self.config.max_entries)
            if topic is None:
                title, subtitle = "Syndicator: all entries", "Every cleaned entry of every source"
            else:
                title, subtitle = f"Syndicator: {name}", f"Entries matching {queries[name]}"
            shapes = {
                ".atom": render_feed(name, title, entries, base, now, subtitle, topic, hub),
                ".json": render_json_feed(name, title, entries, base, subtitle, topic, hub),
            }
            changed = []
            try:
                for ext, data in shapes.items():
                    if write_atomic(out / f"{name}{ext}", data):
                        changed.append(f"{name}{ext}")
            except OSError as exc:
                failed[name] = exc.strerror or str(exc)
                log.error(
                    "cannot write %s: %s; it is written again next cycle",
                    out / f"{name}{ext}",
                    failed[name],
                )
                continue
            done.add(name)
            if changed:
                written.append(name)
                changed_files += changed
                log.info("published %s (%d entries)", " and ".join(changed), len(entries))
        if done:
            self.store.clear_dirty(done)
        if hub and changed_files:
            ping_hub(hub, [f"{base}{file}" for file in changed_files])
        if report is not None:
            report.feeds_written = written
            report.feeds_failed = failed
        return written


def _has_validators(state: SourceState | None) -> bool:
    return state is not None and bool(state.validators.etag or state.validators.last_modified)


def _days(seconds: float) -> str:
    return f"{seconds / 86400:g} days" if seconds >= 86400 else f"{seconds:g} s"
