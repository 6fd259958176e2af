"""What `list`, `status` and `check` print: the config, the state and the published feeds,
rendered as plain text for one terminal screen.

The state comes from a store opened read-only (store.open_reader: never created, never
migrated), so these commands are safe beside the daemon, as another user, or before the first
run. (The daemon's own status page is serve.py's.)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from syndicator.config import AppriseAlert, Config, ConsoleAlert, EmailAlert, Source, WebhookAlert
from syndicator.model import ChannelCounts, SourceState
from syndicator.page import fulltext_cell
from syndicator.redact import origin_only, redact_text, shown, text_block
from syndicator.store import Store

log = logging.getLogger(__name__)

_ATOM_ENTRY = "{http://www.w3.org/2005/Atom}entry"


# -- published feeds -------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedFile:
    name: str
    entries: int | None  # None: unreadable
    mtime: float


def feed_files(output_dir: Path) -> list[FeedFile]:
    """The .atom and .json files in output_dir with their entry counts: what readers actually
    get."""
    files = []
    for path in sorted([*output_dir.glob("*.atom"), *output_dir.glob("*.json")]):
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue  # removed meanwhile
        count: int | None
        try:
            if path.suffix == ".json":
                items = json.loads(path.read_bytes()).get("items")
                count = len(items) if isinstance(items, list) else None
            else:
                parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
                root = etree.parse(str(path), parser).getroot()
                count = sum(1 for _ in root.iterchildren(_ATOM_ENTRY))
        except (OSError, ValueError, AttributeError, etree.XMLSyntaxError) as exc:
            log.debug("cannot read %s: %s", path, exc)
            count = None
        files.append(FeedFile(path.name, count, mtime))
    return files


# -- formatting ------------------------------------------------------------------------------


def ago(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def when(stamp: float | None, now: float) -> str:
    """Local time, with how long ago or how far ahead: both are what a user asks."""
    if not stamp:
        return "—"
    local = time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))
    delta = now - stamp
    return f"{local} ({ago(delta)} ago)" if delta >= 0 else f"{local} (in {ago(delta)})"


def health(state: SourceState | None) -> str:
    if state is None or state.last_attempt is None:
        return "never polled"
    if state.failures:
        times = f" ({state.failures}x)" if state.failures > 1 else ""
        return f"failing{times}: {state.last_error or 'unknown error'}"
    return "ok"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> str:
    """Cells are one line each, URLs redacted and control codes escaped (see redact.py)."""
    rows = [[shown(str(c)) for c in row] for row in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = []
    for row in [headers, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return "\n".join(lines) + "\n"


def _short(text: str, limit: int = 70) -> str:
    text = shown(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_interval(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:g}s"


# -- the three views -------------------------------------------------------------------------


def render_list(
    sources: Sequence[Source], states: dict[str, SourceState] | None, now: float
) -> str:
    """`syndicator list`: one row per configured source. `states` None: never run."""
    if not sources:
        return "no sources; add one with: syndicator add URL\n"
    rows = []
    for s in sources:
        st = (states or {}).get(s.name)
        polled = st is not None and st.last_attempt is not None
        next_poll = "—"
        if st is not None and polled:
            next_poll = "due" if st.next_poll <= now else f"in {ago(st.next_poll - now)}"
        rows.append(
            (
                s.name,
                s.url,
                _short(health(st), 60),
                f"{ago(now - st.last_attempt)} ago" if st and st.last_attempt else "—",
                next_poll,
                str(st.entries if st else 0),
            )
        )
    return _screen(table(("NAME", "URL", "HEALTH", "LAST POLL", "NEXT POLL", "ENTRIES"), rows))


@dataclass(frozen=True)
class Summary:
    """Everything `status` shows, read in one go."""

    states: dict[str, SourceState]
    entries: dict[str, int]
    topics: dict[str, int]
    outbox: dict[str, ChannelCounts]
    feeds: list[FeedFile]
    fulltext: dict[str, tuple[int, int]] = field(default_factory=dict)  # (fetched, failed)


def read_summary(store: Store, output_dir: Path) -> Summary:
    return Summary(
        states=store.source_states(),
        entries=store.entry_counts(),
        topics=store.topic_counts(),
        outbox=store.channel_counts(),
        feeds=feed_files(output_dir) if output_dir.is_dir() else [],
        fulltext=store.fulltext_counts(),
    )


def render_status(config: Config, snap: Summary | None, now: float) -> str:
    """`syndicator status`: sources, topics, feeds, alerts on one screen."""
    out = [f"Syndicator status  ({config.path})"]
    if snap is None:
        out.append(f"never run: no state database at {config.state_location}")
        out.append(
            f"{len(config.sources)} sources and {len(config.topics)} topics configured; "
            "start with: syndicator run --once"
        )
        return _screen("\n".join(out) + "\n")
    states = snap.states
    failing = [s for s in config.sources if (st := states.get(s.name)) and st.failures]
    never = [s for s in config.sources if health(states.get(s.name)) == "never polled"]
    ok = len(config.sources) - len(failing) - len(never)
    out.append("")
    out.append(
        f"Sources: {len(config.sources)} ({ok} ok, {len(failing)} failing, "
        f"{len(never)} never polled)"
    )
    rows = []
    for s in config.sources:
        st = states.get(s.name)
        state = "ok" if st and not st.failures and st.last_attempt else health(st).split(":")[0]
        detail = ""
        if st and st.failures:
            detail = _short(st.last_error or "", 60)
        last = when(st.last_success, now) if st and st.last_success else "never"
        rows.append((s.name, state, last, str(st.entries if st else 0), detail))
    out.append(table(("NAME", "STATE", "LAST SUCCESS", "ENTRIES", "REASON"), rows, "  ").rstrip())
    wanting = [s for s in config.sources if s.fulltext != "off"]
    if wanting:
        out.append(
            "  full text (article pages): "
            + ", ".join(
                f"{s.name} {fulltext_cell(snap.fulltext.get(s.name, (0, 0)))}" for s in wanting
            )
        )
    configured = {s.name for s in config.sources}
    gone = {n: c for n, c in snap.entries.items() if n not in configured}
    if gone:
        names = ", ".join(f"{n} ({c})" for n, c in sorted(gone.items()))
        out.append(f"  stored entries of sources no longer configured: {names}")
    out.append("")
    out.append(f"Topics: {len(config.topics)}")
    if config.topics:
        trows = [
            (t.name, str(snap.topics.get(t.name, 0)), _short(t.query, 50)) for t in config.topics
        ]
        out.append(table(("NAME", "ENTRIES", "QUERY"), trows, "  ").rstrip())
    out.append("")
    out.append(f"Feeds published in {config.output_dir}: {len(snap.feeds)}")
    if snap.feeds:
        frows = [
            (
                f.name,
                "unreadable" if f.entries is None else str(f.entries),
                when(f.mtime, now),
                config.base_url + f.name,
            )
            for f in snap.feeds
        ]
        out.append(table(("FILE", "ENTRIES", "UPDATED", "URL"), frows, "  ").rstrip())
    out.append("")
    pending = sum(c.pending for c in snap.outbox.values())
    sent = sum(c.sent for c in snap.outbox.values())
    failed = sum(c.failed for c in snap.outbox.values())
    out.append(f"Alerts: {pending} pending, {sent} sent" + (f", {failed} failed" if failed else ""))
    for channel in sorted({a.name for a in config.alerts} | set(snap.outbox)):
        c = snap.outbox.get(channel, ChannelCounts(0, 0, 0, None))
        line = f"  {channel}: {c.pending} pending, {c.sent} sent"
        error = _short(c.last_error or "", 90)
        if c.retrying:
            line += f", {c.retrying} retrying" + ("" if c.failed else f" (last error: {error})")
        if c.failed:
            line += f", {c.failed} failed (refused for good, not retried; last error: {error})"
        out.append(line)
    return _screen("\n".join(out) + "\n")


def _screen(text: str) -> str:
    """What a view prints, as the terminal gets it: every URL redacted, no control code (the
    reasons and names in it come from servers, feeds and the database)."""
    return text_block(redact_text(text))


def render_check(config: Config) -> str:
    """`syndicator check`: what `run` would do with this config."""
    out = [f"config {config.path} is valid", ""]
    out.append(f"state database: {config.state_location}")
    feeds = ", ".join(f"{n}.atom/.json" for n in ["all", *(t.name for t in config.topics)])
    out.append(f"output: {config.output_dir}  ({feeds}; newest {config.max_entries} each)")
    if config.server is not None:
        out.append(
            f"server: listens on {config.server.host}:{config.server.port}, "
            f"feeds at {config.server.base_url}all.atom"
        )
    else:
        out.append("server: off (feeds are files only)")
    f = config.fetch
    out.append(
        f"fetch: timeout {format_interval(f.timeout)}, max {f.max_bytes} bytes, "
        f"{f.concurrency} at once, {f.per_host} per host"
    )
    out.append("")
    out.append(f"sources ({len(config.sources)}):")
    if config.sources:
        rows = []
        for s in config.sources:
            note = ""
            if s.is_file and not Path(s.url).is_file():
                note = "warning: file not found"
            rows.append((s.name, s.url, f"every {format_interval(s.interval)}", s.category, note))
        out.append(table(("NAME", "URL", "INTERVAL", "CATEGORY", ""), rows, "  ").rstrip())
    out.append("")
    out.append(f"topics ({len(config.topics)}), every query compiled:")
    for t in config.topics:
        out.append(f"  {t.name}: {t.query}")
    out.append("")
    out.append(f"alerts ({len(config.alerts)}):")
    for a in config.alerts:
        topics = ", ".join(a.topics) if a.topics is not None else "every topic"
        if isinstance(a, ConsoleAlert):
            out.append(f"  {a.name}: console, {topics}")
        elif isinstance(a, EmailAlert):
            out.append(
                f"  {a.name}: email to {', '.join(a.to)} via {a.host}:{a.port} "
                f"({a.security}), {topics}"
            )
        elif isinstance(a, WebhookAlert):
            out.append(f"  {a.name}: webhook to {origin_only(a.url)}, {topics}")
        elif isinstance(a, AppriseAlert):
            out.append(f"  {a.name}: apprise to {', '.join(a.shown_urls)}, {topics}")
        digest = None if isinstance(a, ConsoleAlert) else a.digest
        if digest is not None:
            out[-1] += f", digest every {format_interval(digest)}"
    return _screen("\n".join(out) + "\n")
