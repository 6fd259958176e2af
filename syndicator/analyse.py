"""parse → what is new → clean → match → sketch: the CPU work of one poll, with no store and no
network.

Kept out of the pipeline so that it can run anywhere the pipeline sends it (workers.py: worker
processes, or the pipeline's own thread) and so that one entry is analysed the same way for a
poll, a reclean and a preview (`analyse_entry`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

from syndicator import decide, stories, template
from syndicator.config import Config
from syndicator.errors import ParseError
from syndicator.match import Matcher, compile_topics
from syndicator.model import (
    CleanEntry,
    FullTextPage,
    NewAlert,
    NewEntry,
    ParsedEntry,
    StoredEntry,
    TopicHit,
)
from syndicator.publish import ALL, render_feed, utcnow
from syndicator.store import entry_uid
from syndicator.template import NOTHING, Template

if TYPE_CHECKING:
    from syndicator.clean import RuleSet

log = logging.getLogger(__name__)
# syndicator.clean (lxml, cssselect, nh3) and syndicator.parse (feedparser) are imported where
# they are used: a run in which every source answers 304 never needs them, and its start-up
# is most of its time. The worker processes preload them (workers.py).


History = tuple[tuple[str, tuple[str, ...]], ...]  # (entry key, its block keys), newest first


class Job(NamedTuple):
    """One fetched body to analyse; `known` maps the source's stored entry keys to digests,
    `history` is the source's template memory (store.template_history)."""

    source: str
    body: bytes
    url: str
    headers: dict[str, str]
    known: dict[str, str]
    history: History = ()


@dataclass(frozen=True)
class Analysis:
    """What one fetched body yields; an error instead of an exception, to cross processes."""

    entries: tuple[NewEntry, ...] = ()
    alerts: tuple[NewAlert, ...] = ()
    total: int = 0
    warning: str | None = None
    error: str | None = None


def analyse_entry(
    parsed: ParsedEntry,
    rules: RuleSet,
    matcher: Matcher,
    source: str,
    learned: Template = NOTHING,
) -> tuple[CleanEntry, tuple[TopicHit, ...]]:
    """One entry cleaned and matched: what a poll, a reclean and a preview all do."""
    from syndicator.clean import clean_entry

    clean = clean_entry(parsed, rules, explain=False, template=learned)
    return clean, matcher.match(clean.title, clean.text, source)


def learn_from(history: History, batch: Sequence[tuple[str, tuple[str, ...]]]) -> Template:
    """The template of a source, from its memory and this poll's entries (newest first)."""
    return template.learn(template.merge_history(history, batch))


def with_template(
    parsed: ParsedEntry,
    clean: CleanEntry,
    rules: RuleSet,
    learned: Template,
    *,
    explain: bool = False,
    applied: Template = NOTHING,
) -> CleanEntry:
    """`clean` (cleaned with the template `applied`, none by default) as the `learned` one
    would clean it: cleaned again only when the two differ on one of its blocks. The blocks
    counted stay those the rules left."""
    from syndicator.clean import clean_entry

    def hits(found: Template) -> set[str]:
        return {key for key in clean.blocks if key in found.by_key} if found else set()

    before, after = hits(applied), hits(learned)
    if after == before:
        return clean
    if not explain and before <= after:
        # Only more blocks go: the first clean's body, cleaned again, is that body (the cleaner
        # is idempotent, a tested property), so the template is applied to it rather than to
        # the raw body, at a fraction of the cost (a new source's first poll cleans each of its
        # entries carrying the template twice).
        parsed = replace(parsed, html=clean.html)
    again = clean_entry(parsed, rules, explain=explain, template=learned)
    return replace(again, blocks=clean.blocks)


class Analyser:
    """Holds what analysing needs for one config: the compiled topics and each source's rules.
    The config is valid (config.load_config checked every query and rule, naming the key)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.matcher: Matcher = compile_topics(config.topics)
        self._sources = {source.name: source for source in config.sources}
        self.learning = {source.name: source.learn for source in config.sources}
        # Built on first use: a process whose workers do the cleaning never needs them (a
        # third of a warm run's start-up).
        self._rules: dict[str, RuleSet] = {}

    def rules_for(self, source: str) -> RuleSet:
        """A source's rules: the global ones, then its own; the global ones alone for a source
        no longer in the config."""
        found = self._rules.get(source)
        if found is None:
            from syndicator.clean import load_rules

            src = self._sources.get(source)
            found = self._rules[source] = load_rules(
                drop=self.config.drop + (src.drop if src else ()),
                drop_selectors=self.config.drop_selectors + (src.drop_selectors if src else ()),
            )
        return found

    def analyse(self, job: Job) -> Analysis:
        try:
            return self._analyse(job)
        except Exception as exc:  # a bug must cost this source, not the whole cycle
            log.exception("source=%s could not be analysed", job.source)
            return Analysis(error=f"internal error: {type(exc).__name__}: {exc}")

    def _analyse(self, job: Job) -> Analysis:
        from syndicator.parse import parse_feed

        try:
            feed = parse_feed(job.body, job.url, job.headers)
        except ParseError as exc:
            return Analysis(error=exc.reason)
        from syndicator.clean import clean_entry

        rules = self.rules_for(job.source)
        # Cleaned with what the memory alone teaches (a source's template is stable: once),
        # then again only where this poll's own entries changed what is learned (they count
        # too: a new source's first poll is cleaned of its template).
        prior = self.template_for(job, ())
        fresh = [
            (parsed, digest, clean_entry(parsed, rules, explain=False, template=prior))
            for parsed, digest, _is_new in decide.new_or_changed(feed.entries, job.known)
        ]
        learned = self.template_for(job, [(p.key, c.blocks) for p, _, c in fresh])
        if learned:
            carrying = sum(any(k in learned.by_key for k in c.blocks) for _, _, c in fresh)
            log.info(
                "source=%s template: %d blocks learned from %d entries, in %d of this poll's %d",
                job.source,
                len(learned.blocks),
                learned.entries,
                carrying,
                len(fresh),
            )
        entries: list[NewEntry] = []
        for parsed, digest, first in fresh:
            clean = with_template(parsed, first, rules, learned, applied=prior)
            hits = self.matcher.match(clean.title, clean.text, job.source)
            entries.append(
                NewEntry(job.source, parsed, digest, clean, hits, stories.sketch(clean.text))
            )
        return Analysis(tuple(entries), self._alerts(entries), len(feed.entries), feed.warning)

    def template_for(self, job: Job, batch: Sequence[tuple[str, tuple[str, ...]]]) -> Template:
        """What the source's memory and this poll teach of its template (nothing when the
        source says `learn = false`)."""
        if not self.learning.get(job.source, True):
            return NOTHING
        return learn_from(job.history, batch)

    def _alerts(self, entries: Sequence[NewEntry]) -> tuple[NewAlert, ...]:
        alerts = []
        for index, entry in enumerate(entries):
            for channel in self.config.alerts:
                topics = decide.alert_topics(entry.hits, channel)
                if topics:
                    alerts.append(NewAlert(channel.name, index, topics))
        return tuple(alerts)

    def with_fulltext(
        self, job: Job, analysis: Analysis, pages: Mapping[str, FullTextPage]
    ) -> Analysis:
        """The analysis again for the entries whose article page was fetched (`pages`, by the
        entry's clean link): the page's main text is the entry's body from now on (stored as
        its raw body, so a reclean cleans it too), cleaned, matched and alerted like any."""
        from syndicator.clean import clean_entry

        rules = self.rules_for(job.source)
        entries = list(analysis.entries)
        # What the analysis applied (the same memory and entries teach the same template).
        before = self.template_for(job, [(e.parsed.key, e.clean.blocks) for e in entries])
        replaced: set[int] = set()
        for i, entry in enumerate(entries):
            page = pages.get(entry.clean.link)
            if page is None or not page.ok or not page.html.strip():
                continue
            parsed = replace(entry.parsed, html=page.html, base=page.link)
            clean = clean_entry(parsed, rules, explain=False)
            entries[i] = replace(entry, parsed=parsed, clean=clean)
            replaced.add(i)
        if not replaced:
            return analysis
        learned = self.template_for(job, [(e.parsed.key, e.clean.blocks) for e in entries])
        done = []
        for i, entry in enumerate(entries):
            applied = NOTHING if i in replaced else before
            clean = with_template(entry.parsed, entry.clean, rules, learned, applied=applied)
            hits = self.matcher.match(clean.title, clean.text, job.source)
            done.append(replace(entry, clean=clean, hits=hits, sketch=stories.sketch(clean.text)))
        return replace(analysis, entries=tuple(done), alerts=self._alerts(done))


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
    from syndicator.parse import parse_feed

    feed = parse_feed(body, url, headers)
    now = utcnow()
    stored = []
    for i, parsed in enumerate(feed.entries):
        clean, hits = analyse_entry(parsed, rules, matcher, "preview")
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
                hits=hits,
            )
        )
    return render_feed(topic or ALL, feed.title, stored, "http://127.0.0.1/", now, topic=topic)
