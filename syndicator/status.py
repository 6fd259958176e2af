"""What `list`, `status` and `check` show: read-only views of the state database and the
published feeds, rendered as plain text for one terminal screen.

The database is opened read-only (never created, never migrated), so these commands are safe
to run beside the daemon, as another user, or before the first run.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from syndicator.config import Config, ConsoleAlert, EmailAlert, Source
from syndicator.errors import ConfigError
from syndicator.model import SourceState
from syndicator.redact import redact_text, shown, text_block
from syndicator.store import database_trouble, read_source_states

log = logging.getLogger(__name__)

_ATOM_ENTRY = "{http://www.w3.org/2005/Atom}entry"


# -- reading the state database --------------------------------------------------------------


@contextmanager
def open_state(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection, or None when the daemon has never run (no database yet)."""
    if not path.exists():
        yield None
        return
    try:
        db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        db.execute("PRAGMA busy_timeout=5000")
    except sqlite3.Error as exc:
        raise database_trouble(path, exc) from exc
    try:
        yield db
    except sqlite3.Error as exc:
        raise database_trouble(path, exc) from exc
    finally:
        db.close()


def source_states(db: sqlite3.Connection) -> dict[str, SourceState]:
    return read_source_states(db)


def entry_counts(db: sqlite3.Connection) -> dict[str, int]:
    """Stored entries per source name, including sources no longer in the config."""
    return {s: n for s, n in db.execute("SELECT source, count(*) FROM entries GROUP BY source")}


def topic_counts(db: sqlite3.Connection) -> dict[str, int]:
    return {t: n for t, n in db.execute("SELECT topic, count(*) FROM hits GROUP BY topic")}


@dataclass(frozen=True)
class ChannelCounts:
    pending: int
    sent: int
    retrying: int  # pending alerts that failed at least once
    last_error: str | None


def outbox_counts(db: sqlite3.Connection) -> dict[str, ChannelCounts]:
    counts = {}
    for channel, pending, sent, retrying in db.execute(
        "SELECT channel, count(*) FILTER (WHERE sent IS NULL), "
        "count(*) FILTER (WHERE sent IS NOT NULL), "
        "count(*) FILTER (WHERE sent IS NULL AND attempts > 0) FROM outbox GROUP BY channel"
    ):
        row = db.execute(
            "SELECT last_error FROM outbox WHERE channel=? AND sent IS NULL "
            "AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
            (channel,),
        ).fetchone()
        counts[channel] = ChannelCounts(pending, sent, retrying, row[0] if row else None)
    return counts


# -- published feeds -------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedFile:
    name: str
    entries: int | None  # None: unreadable
    mtime: float


def feed_files(output_dir: Path) -> list[FeedFile]:
    """The .atom files in output_dir with their entry counts: what readers actually get."""
    files = []
    for path in sorted(output_dir.glob("*.atom")):
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue  # removed meanwhile
        count: int | None
        try:
            parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
            root = etree.parse(str(path), parser).getroot()
            count = sum(1 for _ in root.iterchildren(_ATOM_ENTRY))
        except (OSError, etree.XMLSyntaxError) as exc:
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
class Snapshot:
    """Everything `status` shows, read in one go."""

    states: dict[str, SourceState]
    entries: dict[str, int]
    topics: dict[str, int]
    outbox: dict[str, ChannelCounts]
    feeds: list[FeedFile]


def read_snapshot(db: sqlite3.Connection, output_dir: Path) -> Snapshot:
    return Snapshot(
        states=source_states(db),
        entries=entry_counts(db),
        topics=topic_counts(db),
        outbox=outbox_counts(db),
        feeds=feed_files(output_dir) if output_dir.is_dir() else [],
    )


def render_status(config: Config, snap: Snapshot | None, now: float) -> str:
    """`syndicator status`: sources, topics, feeds, alerts on one screen."""
    out = [f"Syndicator status  ({config.path})"]
    if snap is None:
        out.append(f"never run: no state database at {config.state}")
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
    out.append(f"Alerts: {pending} pending, {sent} sent")
    for channel in sorted({a.name for a in config.alerts} | set(snap.outbox)):
        c = snap.outbox.get(channel, ChannelCounts(0, 0, 0, None))
        line = f"  {channel}: {c.pending} pending, {c.sent} sent"
        if c.retrying:
            line += f", {c.retrying} retrying (last error: {_short(c.last_error or '', 50)})"
        out.append(line)
    return _screen("\n".join(out) + "\n")


def _screen(text: str) -> str:
    """What a view prints, as the terminal gets it: every URL redacted, no control code (the
    reasons and names in it come from servers, feeds and the database)."""
    return text_block(redact_text(text))


def check_rules(config: Config) -> None:
    """Compile every cleaning rule the daemon would, so a bad regex or selector is reported
    now and by key, not at the first poll."""
    from syndicator.clean import load_rules

    candidates: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
        ("clean.drop", config.drop, ()),
        ("clean.drop_selectors", (), config.drop_selectors),
    ]
    for i, s in enumerate(config.sources):
        candidates.append((f"sources[{i}].drop", s.drop, ()))
        candidates.append((f"sources[{i}].drop_selectors", (), s.drop_selectors))
    for key, drop, selectors in candidates:
        if not drop and not selectors:
            continue
        try:
            load_rules(drop=drop, drop_selectors=selectors)
        except ValueError as exc:
            first = (str(exc).splitlines() or [""])[0]  # keep one line of a parser message
            raise ConfigError(key, f"bad cleaning rule: {first}") from exc


def render_check(config: Config) -> str:
    """`syndicator check`: what `run` would do with this config."""
    out = [f"config {config.path} is valid", ""]
    out.append(f"state database: {config.state}")
    feeds = ", ".join(["all.atom", *(f"{t.name}.atom" for t in config.topics)])
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
    return _screen("\n".join(out) + "\n")
