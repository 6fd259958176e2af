"""The daemon's status page: what matched and why, how each source is doing, where the alerts
stand, and the feeds to subscribe to, as one HTML page.

Rendering is a pure function of a frozen snapshot (`Status`, read from the store once per
cycle by service.snapshot) and the feed files present, so the server never touches the
database and the page is tested with plain values. The page is served without login: every
source URL is shown redacted (redact.py) and linked without its credentials, every text from
a feed, a server or the database is escaped and shown on one line, and only http(s) links are
followed. It needs no JavaScript and no asset besides itself (the charts are inline SVG), fits
a phone's width and follows the reader's light or dark colour scheme.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from syndicator.match.explain import term_spans
from syndicator.model import MatchedStory, SourceState
from syndicator.redact import public_url, redact_url, shown

DAYS = 14  # entries per day shown for each source
PER_TOPIC = 10  # latest matched stories shown for each topic
SNIPPET = 240  # characters of cleaned text around the first matched word
_LEAD = 70  # of them before it


@dataclass(frozen=True)
class SourceStatus:
    name: str
    url: str
    state: SourceState | None
    daily: tuple[int, ...] = ()  # entries first seen per UTC day, oldest first, ending today
    fulltext: tuple[int, int] | None = None  # article pages (fetched, failed); None: off


@dataclass(frozen=True)
class ChannelStatus:
    """One alert channel's outbox."""

    name: str
    pending: int = 0
    sent: int = 0
    failing: int = 0  # unsent, failed at least once: retried with back-off
    failed: int = 0  # given up on (a permanent failure), where the outbox records that
    last_error: str | None = None


@dataclass(frozen=True)
class Status:
    """Everything the page shows, as of `updated`."""

    topics: tuple[tuple[str, str], ...] = ()  # (name, query)
    sources: tuple[SourceStatus, ...] = ()
    alerts_pending: int = 0
    alerts_sent: int = 0
    updated: float = field(default_factory=time.time)
    problems: tuple[str, ...] = ()  # what the daemon cannot reach, and since when
    stories: tuple[tuple[str, tuple[MatchedStory, ...]], ...] = ()  # per topic, newest first
    channels: tuple[ChannelStatus, ...] = ()
    base_url: str = ""  # where readers reach the feeds; "" for links relative to the page


def e(text: str) -> str:
    """Any text shown: one line, URLs redacted, control codes escaped, then HTML-escaped."""
    return html.escape(shown(text))


def _href(url: str) -> str | None:
    """A link a reader may follow: http(s) only (no javascript: or data: from a feed), without
    credentials."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return html.escape(shown(public_url(url.strip()))) if scheme in ("http", "https") else None


def _link(url: str, label: str, attrs: str = "") -> str:
    href = _href(url)
    return f'<a href="{href}"{attrs}>{label}</a>' if href else label


def _ago(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _when(stamp: float | None, now: float) -> str:
    """UTC time, and how long ago or ahead of the snapshot: both are what a reader asks."""
    if not stamp:
        return "—"
    at = datetime.fromtimestamp(stamp, UTC)
    delta = now - stamp
    rel = f"{_ago(delta)} ago" if delta >= 0 else f"in {_ago(delta)}"
    return (
        f'<time datetime="{at.strftime("%Y-%m-%dT%H:%M:%SZ")}" title="{rel}">'
        f"{at.strftime('%Y-%m-%d %H:%M')} UTC</time> <small>({rel})</small>"
    )


# -- matched words -----------------------------------------------------------------------------


def marked(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """`text` escaped, with each span in a <mark>."""
    out: list[str] = []
    at = 0
    for start, end in spans:
        out.append(e(text[at:start]))
        out.append(f"<mark>{e(text[start:end])}</mark>")
        at = end
    out.append(e(text[at:]))
    return "".join(out)


def snippet(text: str, terms: Sequence[str]) -> str:
    """About SNIPPET characters of `text` around the first matched word, every matched word
    in it marked; the start of the text when none is in it (a title or source match)."""
    text = " ".join(text.split())
    spans = term_spans(terms, text)
    start = 0
    if spans and spans[0][0] > _LEAD:
        start = text.rfind(" ", 0, spans[0][0] - _LEAD) + 1
    end = min(len(text), start + SNIPPET)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + SNIPPET // 2 else end
    inside = [
        (max(a, start) - start, min(b, end) - start) for a, b in spans if a < end and b > start
    ]
    body = marked(text[start:end], inside)
    return ("… " if start else "") + body + (" …" if end < len(text) else "")


# -- the chart ---------------------------------------------------------------------------------


def chart(daily: Sequence[int], today: float) -> str:
    """Entries per day as an inline SVG bar chart, the newest day on the right; each bar says
    its day and count on hover, and the whole chart says its total to a screen reader."""
    days = len(daily) or DAYS
    counts = list(daily) or [0] * days
    top = max(counts) or 1
    width, height, bar = days * 8, 32, 6
    first = (int(today) // 86400 - (days - 1)) * 86400
    parts = []
    for i, n in enumerate(counts):
        day = datetime.fromtimestamp(first + i * 86400, UTC).strftime("%Y-%m-%d")
        h = 0 if n == 0 else max(2, round(n / top * (height - 2)))
        parts.append(
            f'<rect class="bar" x="{i * 8 + 1}" y="{height - h}" width="{bar}" height="{h}">'
            f"<title>{day}: {n}</title></rect>"
        )
    total = sum(counts)
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width * 2}" '
        f'height="{height * 2}" role="img" preserveAspectRatio="none" '
        f'aria-label="{total} entries in the last {days} days, at most {max(counts)} a day">'
        f'<line class="axis" x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}"/>'
        f"{''.join(parts)}</svg>"
    )


# -- the page ----------------------------------------------------------------------------------

_CSS = """
:root{color-scheme:light dark;--bg:#fdfdfc;--fg:#1b1b1b;--muted:#5f6368;--card:#f3f3f1;
--line:#d9d9d6;--accent:#0b57d0;--mark:#ffe169;--markfg:#1b1b1b;--bad:#a8231a;--badbg:#fde8e6;
--ok:#18794e;--bar:#0b57d0}
@media (prefers-color-scheme:dark){:root{--bg:#141414;--fg:#e8e8e6;--muted:#a3a3a0;
--card:#1f1f1e;--line:#3a3a38;--accent:#8ab4f8;--mark:#7a5d00;--markfg:#fff6d5;--bad:#f4b4ae;
--badbg:#3d1613;--ok:#7bd29b;--bar:#8ab4f8}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0 auto;max-width:75rem;padding:1rem;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;overflow-wrap:anywhere}
a{color:var(--accent)}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.25rem;margin:1.8rem 0 .6rem;
border-bottom:1px solid var(--line)}h3{font-size:1.05rem;margin:0 0 .3rem}
nav{display:flex;flex-wrap:wrap;gap:.4rem 1rem}
small,.meta,.muted{color:var(--muted)}
.meta{font-size:.9rem}
mark{background:var(--mark);color:var(--markfg);border-radius:2px;padding:0 .1em}
code{font-size:.9em;background:var(--card);padding:0 .2em;border-radius:3px}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(min(100%,21rem),1fr))}
.card{background:var(--card);border:1px solid var(--line);border-radius:.5rem;
padding:.75rem 1rem;min-width:0}
.wide{grid-template-columns:repeat(auto-fill,minmax(min(100%,32rem),1fr))}
.stories{list-style:none;margin:0;padding:0;display:grid;gap:.75rem}
.stories li{border-left:3px solid var(--line);padding-left:.75rem}
.story-title{font-weight:600}
.snippet{margin:.2rem 0 0}
.problem{background:var(--badbg);color:var(--bad);border-radius:.5rem;padding:.5rem .75rem}
.failing{border-color:var(--bad)}
.state-ok{color:var(--ok);font-weight:600}.state-failing{color:var(--bad);font-weight:600}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.1rem .75rem;margin:.4rem 0}
dt{color:var(--muted)}dd{margin:0}
.chart{display:block;width:100%;max-width:14rem;height:3.5rem;margin-top:.4rem}
.chart .bar{fill:var(--bar)}.chart .axis{stroke:var(--line);stroke-width:1}
.feeds{padding-left:1.2rem}
footer{margin-top:2rem;font-size:.85rem;color:var(--muted)}
""".replace("\n", "")  # the page is one line: no text in it can start a line of its own


def _feed_url(status: Status, name: str) -> str:
    """The address a reader subscribes to (base_url: what the feeds' self links say)."""
    return (status.base_url or "/") + name


def _feeds_section(status: Status, feeds: Sequence[str]) -> str:
    items = []
    for name in feeds:
        url = _feed_url(status, name)
        items.append(f'<li><a href="/{e(name)}">{e(name)}</a> <small>{e(url)}</small></li>')
    if not items:
        items.append('<li class="muted">none written yet</li>')
    return (
        '<section id="feeds"><h2>Subscribe</h2><p class="muted">Paste a feed\'s address '
        "into your feed reader: all.atom carries every story, each topic's feed the stories "
        f'it matched.</p><ul class="feeds">{"".join(items)}</ul></section>'
    )


def _story(story: MatchedStory, now: float) -> str:
    title_spans = term_spans(story.terms, story.title)
    title = marked(story.title, title_spans) or "(untitled)"
    others = ""
    carriers = {c.source: c for c in story.carriers if c.source != story.source}  # once each
    if carriers:
        links = ", ".join(_link(c.link, e(c.source)) for c in carriers.values())
        more = story.copies - len(story.carriers)
        others = f" · also in {links}" + (f" and {more} more" if more > 0 else "")
    terms = ", ".join(f"<code>{e(t)}</code>" for t in story.terms)
    return (
        f'<li><div class="story-title">{_link(story.link, title)}</div>'
        f'<div class="meta">{e(story.source)} · {_when(story.stamp, now)}{others}'
        f"{' · matched ' + terms if terms else ''}</div>"
        f'<p class="snippet">{snippet(story.text, story.terms)}</p></li>'
    )


def _topics_section(status: Status) -> str:
    stories = dict(status.stories)
    cards = []
    for name, query in status.topics:
        shown_stories = stories.get(name, ())
        body = (
            f'<ol class="stories">{"".join(_story(s, status.updated) for s in shown_stories)}</ol>'
            if shown_stories
            else '<p class="muted">nothing matched yet</p>'
        )
        cards.append(
            f'<section class="topic card" id="topic-{e(name)}"><h3>{e(name)} '
            f'<small><a href="/{e(name)}.atom">{e(name)}.atom</a></small></h3>'
            f'<div class="meta">query <code>{e(query)}</code></div>{body}</section>'
        )
    if not cards:
        cards.append('<p class="muted">no topics configured</p>')
    grid = f'<div class="grid wide">{"".join(cards)}</div>'
    return f'<section id="topics"><h2>Topics</h2>{grid}</section>'


def _health(state: SourceState | None) -> tuple[str, str]:
    """(class, words) for a source's health."""
    if state is None or state.last_attempt is None:
        return "never", "never polled"
    if state.failures:
        times = f" ({state.failures} times)" if state.failures > 1 else ""
        return "failing", ("unhealthy" if state.unhealthy else "failing") + times
    return "ok", "ok"


def fulltext_cell(counts: tuple[int, int] | None) -> str:
    """A source's article-page fetches (fulltext), as the page and `status` say it."""
    if counts is None:
        return "off"
    fetched, failed = counts
    return f"{fetched} fetched, {failed} failed" if failed else f"{fetched} fetched"


def _sources_section(status: Status) -> str:
    now = status.updated
    cards = []
    for s in status.sources:
        st = s.state
        kind, words = _health(st)
        rows = [
            ("health", f'<span class="state-{kind}">{e(words)}</span>'),
            ("last poll", _when(st.last_attempt if st else None, now)),
            ("last success", _when(st.last_success if st else None, now)),
        ]
        if st is not None and st.last_attempt is not None:
            due = st.next_poll <= now
            rows.append(("next poll", "due" if due else _when(st.next_poll, now)))
        if st is not None and st.failures and st.last_error:
            rows.append(("last failure", e(st.last_error)))
        rows.append(("entries", str(st.entries if st else 0)))
        if s.fulltext is not None:
            rows.append(("full text", fulltext_cell(s.fulltext)))
        dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
        label = e(redact_url(s.url))
        cards.append(
            f'<article class="card{" failing" if kind == "failing" else ""}">'
            f'<h3>{e(s.name)}</h3><div class="meta">{_link(s.url, label)}</div><dl>{dl}</dl>'
            f'<div class="meta">entries per day, last {len(s.daily) or DAYS} days</div>'
            f"{chart(s.daily, now)}</article>"
        )
    if not cards:
        cards.append('<p class="muted">no sources configured</p>')
    return (
        f'<section id="sources"><h2>Sources</h2><div class="grid">{"".join(cards)}</div></section>'
    )


def _alerts_section(status: Status) -> str:
    cards = []
    for c in status.channels:
        counts = f"{c.pending} pending, {c.sent} sent"
        if c.failing:
            counts += f', <span class="state-failing">{c.failing} failing</span>'
        if c.failed:
            counts += f', <span class="state-failing">{c.failed} failed</span>'
        error = f"<dl><dt>last error</dt><dd>{e(c.last_error)}</dd></dl>" if c.last_error else ""
        failing = " failing" if c.failing or c.failed else ""
        cards.append(
            f'<article class="card{failing}"><h3>{e(c.name)}</h3><div>{counts}</div>{error}'
            "</article>"
        )
    summary = f"{status.alerts_pending} pending, {status.alerts_sent} sent"
    grid = f'<div class="grid">{"".join(cards)}</div>' if cards else ""
    return f'<section id="alerts"><h2>Alerts</h2><p>{summary}</p>{grid}</section>'


def render(status: Status, feeds: Sequence[str]) -> str:
    """The whole page, from the snapshot and the feed files present."""
    problems = "".join(f'<p class="problem" role="alert">{e(p)}</p>' for p in status.problems)
    alternates = "".join(
        f'<link rel="alternate" type="application/atom+xml" title="{e(f)}" '
        f'href="/{e(f)}">'
        for f in feeds
        if f.endswith(".atom")
    )
    failing = sum(1 for s in status.sources if s.state is not None and s.state.failures)
    headline = (
        f"{len(status.sources)} sources ({failing} failing), {len(status.topics)} topics, "
        f"{status.alerts_pending} alert{'' if status.alerts_pending == 1 else 's'} pending"
    )
    updated = datetime.fromtimestamp(status.updated, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>Syndicator</title>{alternates}<style>{_CSS}</style></head><body>"
        f'<header><h1>Syndicator</h1><p class="muted">{e(headline)}</p>'
        '<nav><a href="#topics">Topics</a><a href="#sources">Sources</a>'
        '<a href="#alerts">Alerts</a><a href="#feeds">Subscribe</a></nav></header>'
        f"{problems}<main>{_topics_section(status)}{_sources_section(status)}"
        f"{_alerts_section(status)}{_feeds_section(status, feeds)}</main>"
        f"<footer>as of {updated} · refreshed after every poll cycle</footer></body></html>"
    )
