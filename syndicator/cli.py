"""Command line: argument parsing and wiring. Each command loads the config (config.py checks
it whole, naming the key of any error), calls the module that does the work, and prints what
it returns; the daemon's life is service.py's.

Exit codes: 0 done (also when some sources failed: they are reported), 1 a fatal runtime error
(e.g. the state database cannot be opened), 2 invalid usage or config, with one line naming the key.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from syndicator import __version__
from syndicator.config import (
    INTERVAL,
    Config,
    http_url,
    is_postgres_url,
    load_config,
    parse_config,
    parse_duration,
    state_secrets,
)
from syndicator.errors import (
    ConfigError,
    FetchError,
    ParseError,
    QueryError,
    SyndicatorError,
)
from syndicator.fetch import Limits, fetch, fetch_file, make_client, named_endpoints
from syndicator.match import explain_match, parse_query
from syndicator.model import Fetched, Validators
from syndicator.pipeline import CycleReport, Pipeline
from syndicator.publish import write_atomic
from syndicator.redact import (
    SafeFormatter,
    redact_text,
    remember_secrets,
    shown,
    text_block,
)
from syndicator.store import Store, database_errors, migrate_to, open_reader, open_store

# The modules of the other commands (opml, config_edit, discover, overview, service, serve:
# lxml, tomlkit, APScheduler, http.server)
# are imported by the commands that use them: `run --once` pays only for what it runs.

log = logging.getLogger("syndicator")


EXAMPLES = {
    "run": "examples:\n  syndicator run --once\n"
    "  syndicator run --config /etc/syndicator/config.toml",
    "clean": "examples:\n  syndicator clean feed.xml --explain\n"
    "  syndicator clean https://rss.dw.com/xml/rss-de-all --explain --source dw\n"
    "  syndicator clean https://example.org/feed.rss",
    "reclean": "example:\n  syndicator reclean --config config.toml",
    "match": "examples:\n  syndicator match 'NATO OR \"North Atlantic Treaty\"' article.txt\n"
    "  echo 'NATO-Gipfel in Vilnius' | syndicator match NATO -",
    "add": "examples:\n  syndicator add https://www.tagesschau.de/  # a page: its feed is found\n"
    "  syndicator add https://rss.dw.com/xml/rss-de-all --name dw --interval 10m",
    "remove": "example:\n  syndicator remove dw",
    "list": "example:\n  syndicator list --config /etc/syndicator/config.toml",
    "import": "examples:\n  syndicator import feedly.opml\n"
    "  syndicator import newsboat.opml --dry-run",
    "export": "examples:\n  syndicator export subscriptions.opml\n  syndicator export > all.opml",
    "check": "example:\n  syndicator check --config /etc/syndicator/config.toml",
    "status": "example:\n  syndicator status --config /etc/syndicator/config.toml",
    "worker": "examples:\n  syndicator worker --concurrency 4\n"
    "  syndicator worker --config /etc/syndicator/config.toml",
    "copies": "examples:\n  syndicator copies            # every published story with copies\n"
    "  syndicator copies Tokio      # those whose title or link contains 'Tokio'",
    "migrate": "example:\n  syndicator migrate --to postgresql://syndicator@db.lan/syndicator\n"
    "  (then set [syndicator] state to that URL in the config of every node)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syndicator",
        description="Poll news feeds, clean them, match topics, publish Atom feeds, alert once.",
        epilog="example:\n  syndicator run --once",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"syndicator {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log to stderr (default INFO)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = _sub(sub, "run", "poll, clean, match, publish and alert; a daemon until SIGTERM")
    run.add_argument("--config", default="config.toml", help="config file (default ./config.toml)")
    run.add_argument("--once", action="store_true", help="one poll of every source, then exit")

    clean = _sub(sub, "clean", "print the cleaned text of each entry of a feed file or URL")
    clean.add_argument("feed", help="a feed file or an http(s) URL")
    clean.add_argument("--explain", action="store_true", help="list every removal and its rule")
    clean.add_argument("--config", default=None, help="use this config's extra cleaning rules")
    clean.add_argument(
        "--source",
        default=None,
        help="clean as this configured source: its rules, and the template learned from its "
        "stored entries (with the config, ./config.toml unless --config)",
    )

    reclean = _sub(sub, "reclean", "re-apply the current cleaning rules to stored entries")
    reclean.add_argument("--config", default="config.toml", help="config file")

    match = _sub(sub, "match", "show whether a text matches a topic query, and where")
    match.add_argument("query", help="a topic query, e.g. 'NATO OR OTAN'")
    match.add_argument("file", nargs="?", default="-", help="a text file, or - for stdin")

    config_help = "config file (default ./config.toml)"
    add = _sub(sub, "add", "add a feed (or the feed a web page advertises) to the config")
    add.add_argument("url", help="a feed URL, or a web page that links to its feed")
    add.add_argument("--name", help="source name (default: from the feed's title)")
    add.add_argument("--interval", help="poll interval, e.g. 10m (default: the config's)")
    add.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="add the URL as it is, without fetching it (offline)",
    )
    add.add_argument("--config", default="config.toml", help=config_help)

    remove = _sub(sub, "remove", "remove a source from the config (its stored entries stay)")
    remove.add_argument("name", help="the source's name, as `syndicator list` shows it")
    remove.add_argument("--config", default="config.toml", help=config_help)

    list_ = _sub(sub, "list", "list sources with health, last and next poll, entry counts")
    list_.add_argument("--config", default="config.toml", help=config_help)

    import_ = _sub(sub, "import", "add the feeds of an OPML file (from any feed reader)")
    import_.add_argument("file", type=Path, help="an OPML file, e.g. a Feedly or newsboat export")
    import_.add_argument("--dry-run", action="store_true", help="show what would be added")
    import_.add_argument("--config", default="config.toml", help=config_help)

    export = _sub(sub, "export", "write the sources as OPML 2.0, for other feed readers")
    export.add_argument("file", nargs="?", type=Path, help="output file (default: stdout)")
    export.add_argument("--config", default="config.toml", help=config_help)

    check = _sub(sub, "check", "validate the config, compile every query, show what would run")
    check.add_argument("--config", default="config.toml", help=config_help)

    status = _sub(sub, "status", "one screen: sources, topics, published feeds, alerts")
    status.add_argument("--config", default="config.toml", help=config_help)

    worker = _sub(sub, "worker", "run a cluster worker: poll the sources the schedulers enqueue")
    worker.add_argument(
        "-c",
        "--concurrency",
        type=int,
        default=os.cpu_count() or 1,
        help="processes that poll at once (default: cores)",
    )
    worker.add_argument("--config", default="config.toml", help=config_help)

    copies = _sub(sub, "copies", "show which copies a published entry stands for, and why")
    copies.add_argument("search", nargs="?", help="only entries whose title or link contain this")
    copies.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    copies.add_argument("--config", default="config.toml", help=config_help)

    migrate = _sub(sub, "migrate", "copy the SQLite state into an empty PostgreSQL database")
    migrate.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/db")
    migrate.add_argument("--config", default="config.toml", help=config_help)
    return parser


def _sub(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help,
        description=help,
        epilog=EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    # Every line one line, its URLs redacted, its control codes escaped, whoever logged it.
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, args.log_level), handlers=[handler])
    # APScheduler logs every job it adds and runs; one line per poll cycle is ours to write.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.root.level))
    # httpx logs every request at INFO; the pipeline's one line per source says it with the
    # outcome. Its request lines stay available at DEBUG.
    logging.getLogger("httpx").setLevel(
        logging.DEBUG if logging.root.level <= logging.DEBUG else logging.WARNING
    )
    try:
        if args.command == "run":
            return _run(Path(args.config), args.once)
        if args.command == "clean":
            return _clean(args.feed, args.explain, args.config, args.source)
        if args.command == "match":
            return _match(args.query, args.file)
        if args.command == "reclean":
            return _reclean(Path(args.config))
        if args.command == "add":
            return _add(Path(args.config), args.url, args.name, args.interval, args.check)
        if args.command == "remove":
            return _remove(Path(args.config), args.name)
        if args.command == "list":
            return _list(Path(args.config))
        if args.command == "import":
            return _import(Path(args.config), args.file, args.dry_run)
        if args.command == "export":
            return _export(Path(args.config), args.file)
        if args.command == "check":
            return _check(Path(args.config))
        if args.command == "status":
            return _show_status(Path(args.config))
        if args.command == "worker":
            from syndicator.cluster import run_worker

            if args.concurrency < 1:
                raise ConfigError("--concurrency", "must be at least 1")
            return run_worker(Path(args.config), args.concurrency, logging.root.level)
        if args.command == "copies":
            return _copies(Path(args.config), args.search, args.limit)
        if args.command == "migrate":
            return _migrate(Path(args.config), args.to)
    except ConfigError as exc:
        _say(f"syndicator: invalid config: {exc}", sys.stderr)
        return 2
    except QueryError as exc:
        _say(f"syndicator: invalid query: {exc}", sys.stderr)
        return 2
    except SyndicatorError as exc:
        _say(f"syndicator: {exc}", sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


def _say(line: str, stream: TextIO | None = None) -> None:
    """Print one line of a command's output: URLs redacted, no control codes (a feed's title,
    a page's link or an OPML file's text reach the terminal through these lines)."""
    print(shown(line), file=stream or sys.stdout)


def _run(path: Path, once: bool) -> int:
    from syndicator.cluster import make_pipeline
    from syndicator.service import Service, log_summary

    config = load_config(path)
    store = open_store(config)
    try:
        if once:
            # On a terminal, one progress line instead of a log line per source.
            bar = ProgressBar(sys.stderr) if sys.stdout.isatty() and sys.stderr.isatty() else None
            if bar is not None:
                logging.getLogger("syndicator.pipeline").setLevel(logging.WARNING)
            pipeline = make_pipeline(config, store, progress=bar)
            try:
                with database_errors(config.state_location):
                    report = pipeline.run_cycle(once=True)
            finally:
                pipeline.close()
            if bar is not None:
                bar.done()
            log_summary(config, report)
            return 1 if report.feeds_failed else 0
        return Service(path, config, store).run()
    finally:
        store.close()


class ProgressBar:
    """`[#####-----] 120/200 sources` redrawn in place; cheap enough to call per source."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self._stream.write(f"\r[{bar}] {done}/{total} sources")
        self._stream.flush()
        self._shown = True

    def done(self) -> None:
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()


def _copies(path: Path, search: str | None, limit: int) -> int:
    """Each published story that stands for copies, with every copy and the evidence."""
    config = load_config(path)
    store = open_store(config)
    try:
        found = store.stories(search, limit)
    finally:
        store.close()
    for story in found:
        e = story.entry
        print(f"{e.title} — {e.link} ({e.source}) stands for {len(story.copies)}:")
        for copy in story.copies:
            print(f"  {copy.source}: {copy.title} — {copy.link} [{copy.why}]")
    if not found:
        print("no published entry stands for copies" + (f" matching {search!r}" if search else ""))
    return 0


def _migrate(path: Path, url: str) -> int:
    """The config's SQLite state copied into an empty PostgreSQL database, in one transaction."""
    remember_secrets(*state_secrets(url))
    if not is_postgres_url(url):
        _say(f"syndicator: migrate --to: expected a postgresql:// URL, got {url!r}", sys.stderr)
        return 2
    config = load_config(path)
    if config.state_url is not None:
        raise ConfigError(
            "syndicator.state",
            "names a PostgreSQL database already: migrate copies the SQLite state a config "
            "names (run it with the config that still names the file)",
        )
    with database_errors(url):
        counts = migrate_to(config.state, url)
    _say(
        f"copied the state {config.state} to {url}: {counts['sources']} sources, "
        f"{counts['entries']} entries ({counts['story_keys']} story keys, {counts['hits']} "
        f"topic hits), {counts['outbox']} outbox rows, {counts['forgotten']} forgotten entries, "
        f"{counts['dirty_feeds']} feeds to write"
    )
    _say(f'now set [syndicator] state = "{url}" in {path} (and in every node\'s config)')
    return 0


def _reclean(path: Path) -> int:
    config = load_config(path)
    store = open_store(config)
    try:
        report = CycleReport()
        with database_errors(config.state_location):
            pipeline = Pipeline(config, store, senders=[])
            count = pipeline.reclean(report)
    finally:
        store.close()
    for name, learned in sorted(pipeline.learned.items()):
        _say(
            f"source {name}: template of {len(learned.blocks)} blocks learned from "
            f"{learned.entries} entries"
        )
        for block in learned.blocks:
            _say(f"  - [{block.rule}] {redact_text(block.key)}")
    if report.feeds_failed:
        for name, reason in sorted(report.feeds_failed.items()):
            _say(f"syndicator: feed {name}.atom not written: {reason}", sys.stderr)
        _say(f"re-cleaned {count} stored entries; the feeds above are written by the next run")
        return 1
    _say(f"re-cleaned {count} stored entries; feeds republished in {config.output_dir}")
    return 0


def _clean(feed: str, explain: bool, config_path: str | None, source: str | None = None) -> int:
    # Imported here: the cleaner and feedparser are a third of `run`'s start-up, which a
    # run whose sources all answer 304 does not need (see pipeline.py).
    from syndicator.analyse import learn_from, with_template
    from syndicator.clean import clean_entry, load_rules
    from syndicator.clean.report import explain_entries
    from syndicator.parse import parse_feed
    from syndicator.template import NOTHING

    drop: tuple[str, ...] = ()
    selectors: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    history: tuple[tuple[str, tuple[str, ...]], ...] = ()
    learning = True
    if config_path or source:
        config = load_config(config_path or "config.toml")
        drop, selectors, allowed = config.drop, config.drop_selectors, config.fetch.allow_private
        if source:
            found = next((s for s in config.sources if s.name == source), None)
            if found is None:
                raise ConfigError("--source", f"no source named {source!r} in {config.path}")
            drop, selectors = drop + found.drop, selectors + found.drop_selectors
            learning = found.learn
            history = _template_history(config, source)
    try:
        rules = load_rules(drop=drop, drop_selectors=selectors)
    except ValueError as exc:
        raise ConfigError("clean.drop", str(exc)) from exc
    limits = Limits()
    url = http_url(feed)
    if url is not None:
        allow = named_endpoints([url], allowed)

        async def get() -> Fetched:
            async with make_client(limits, allow=allow) as client:
                return await fetch(client, url, Validators(), limits)

        try:
            fetched = asyncio.run(get())
        except FetchError as exc:
            _say(f"syndicator: {feed}: {exc.reason}", sys.stderr)
            return 1
    else:
        try:
            fetched = fetch_file(str(Path(feed).resolve()), Validators(), limits)
        except FetchError as exc:
            _say(f"syndicator: {feed}: {exc.reason}", sys.stderr)
            return 1
    parsed = parse_feed(fetched.body, fetched.url, fetched.headers)
    firsts = [(e, clean_entry(e, rules)) for e in parsed.entries]
    # What a poll of this document would learn: the source's memory (--source) and the
    # document's own entries, as a new source's first poll does.
    learned = NOTHING
    if learning:
        learned = learn_from(history, [(e.key, c.blocks) for e, c in firsts])
    pairs = [(e, with_template(e, c, rules, learned, explain=True)) for e, c in firsts]
    # The feed's own text, links as published: control codes escaped, nothing redacted.
    title = redact_text(parsed.title)  # the URL, for a feed without a title
    sys.stdout.write(text_block(explain_entries(title, pairs, explain, learned)))
    return 0


def _template_history(config: Config, source: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A source's stored template memory, read beside a running daemon (nothing created)."""
    with database_errors(config.state_location):
        store = open_reader(config.state_location)
        if store is None:
            return ()
        try:
            return tuple(store.template_history(source))
        finally:
            store.close()


def _match(query: str, file: str) -> int:
    parse_query(query)
    text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    report = text_block(explain_match(query, text))
    sys.stdout.write(report if report.endswith("\n") else report + "\n")
    return 0 if report.startswith("MATCH") else 1


# -- managing sources: add, remove, list, import, export, check, status --------------------


def _add(path: Path, url: str, name: str | None, interval: str | None, check: bool) -> int:
    from syndicator.config_edit import (
        NewSource,
        SourceEditError,
        append_sources,
        check_name,
        name_from,
        same_url_key,
        unique_name,
    )
    from syndicator.discover import find_feed, normalize_input_url
    from syndicator.overview import format_interval

    config = load_config(path)
    typed = normalize_input_url(url)
    if http_url(typed) is None:
        _say(
            f"syndicator: {typed!r} is not an http(s) URL (add a local file by editing {path})",
            sys.stderr,
        )
        return 2
    url = http_url(typed) or typed
    try:
        if interval:
            parse_duration(interval, "--interval", INTERVAL)
        if name:
            check_name(name)
    except (ConfigError, SourceEditError) as exc:
        _say(f"syndicator: {exc}", sys.stderr)
        return 2
    taken = {same_url_key(s.url): s.name for s in config.sources}
    if same_url_key(url) in taken:
        raise SourceEditError(f"{url} is already a source: {taken[same_url_key(url)]}")
    if name and name.lower() in {s.name.lower() for s in config.sources}:
        raise SourceEditError(f"there is already a source named {name!r}")
    title = ""
    if check:
        f = config.fetch
        limits = Limits(
            min(f.timeout, 20.0), min(f.connect_timeout, 10.0), f.max_bytes, f.max_redirects
        )
        # What the user typed and what the config names may be internal; what a page
        # advertises may not, unless so named.
        named = named_endpoints([url, *(s.url for s in config.sources)], f.allow_private)
        try:
            found = asyncio.run(find_feed(url, limits, f.user_agent, named))
        except (FetchError, ParseError) as exc:
            _say(f"syndicator: {url}: {exc}", sys.stderr)
            return 1
        if found.page:
            failed = dict(found.rejected)
            _say(f"{url} is a web page; it advertises {len(found.links)} feed(s):")
            for link in found.links:
                mark = "*" if link.url == found.url else " "
                note = " (chosen)" if link.url == found.url else ""
                if link.url in failed:
                    note = f" (not used: {failed[link.url]})"
                elif not link.readable:
                    note = " (not used: Syndicator cannot read this format)"
                label = f' "{link.title}"' if link.title else ""
                _say(f"  {mark} {link.url}  {link.kind}{label}{note}")
            if same_url_key(found.url) in taken:
                raise SourceEditError(
                    f"{found.url} is already a source: {taken[same_url_key(found.url)]}"
                )
        url, title = found.url, found.title
    source = NewSource(
        name=name or unique_name(name_from(title, url), (s.name for s in config.sources)),
        url=url,
        interval=interval or "",
    )
    _edit_sources(path, lambda text: append_sources(text, [source]))
    every = interval or f"{format_interval(config.interval)} (default)"
    _say(f'added source "{source.name}": {url}, polled every {every}, to {path}')
    _say("a running daemon picks it up on reload (SIGHUP)")
    return 0


def _edit_sources(path: Path, edit: Callable[[str], str]) -> None:
    """Apply a text edit to the config, refusing to write anything the config parser rejects."""
    from syndicator.config_edit import read_config_text, write_config_text

    original = read_config_text(path)
    text = edit(original)
    parse_config(tomllib.loads(text), path.resolve())
    write_config_text(path, original, text)


def _remove(path: Path, name: str) -> int:
    from syndicator.config_edit import remove_source

    config = load_config(path)
    source = next((s for s in config.sources if s.name == name), None)
    if source is None:
        _say(f"syndicator: no source named {name!r} (see: syndicator list)", sys.stderr)
        return 1
    with _reader(config.state_location) as store:  # read first: a failure changes nothing
        stored = store.entry_counts().get(name, 0) if store is not None else 0
    _edit_sources(path, lambda text: remove_source(text, name))
    _say(f'removed source "{name}" ({source.url}) from {path}')
    if stored:
        print(
            f"its {stored} stored entries stay in the state database (and in published feeds "
            "until newer entries push them out)"
        )
    else:
        print("it has no stored entries")
    return 0


def _list(path: Path) -> int:
    from syndicator.overview import render_list

    config = load_config(path)
    with _reader(config.state_location) as store:
        states = store.source_states() if store is not None else None
    sys.stdout.write(render_list(config.sources, states, time.time()))
    return 0


def _import(path: Path, file: Path, dry_run: bool) -> int:
    from syndicator.config_edit import append_sources
    from syndicator.opml import OpmlError, parse_opml, plan_import

    config = load_config(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        _say(f"syndicator: cannot read {file}: {exc.strerror}", sys.stderr)
        return 1
    try:
        feeds = parse_opml(data)
    except OpmlError as exc:
        _say(f"syndicator: {file}: {exc}", sys.stderr)
        return 1
    plan = plan_import(feeds, config.sources)
    for feed, why in plan.skipped:
        _say(f"skipped {feed.title or feed.url} ({feed.url}): {why}")
    for s in plan.add:
        _say(
            f"{'would add' if dry_run else 'added'} {s.name}: {s.url}"
            + (f"  [{s.category}]" if s.category else "")
        )
    if plan.add and not dry_run:
        _edit_sources(path, lambda text: append_sources(text, plan.add))
    verb = "would import" if dry_run else "imported"
    _say(
        f"{verb} {len(plan.add)} of {len(feeds)} feeds from {file} into {path}; "
        f"{len(plan.skipped)} skipped"
    )
    return 0


def _export(path: Path, file: Path | None) -> int:
    from syndicator.opml import render_opml

    config = load_config(path)
    local = [s for s in config.sources if s.is_file]
    remote = [s for s in config.sources if not s.is_file]
    data = render_opml(remote, datetime.now(UTC))
    note = sys.stdout if file else sys.stderr  # keep stdout pure OPML when it is the output
    for s in local:
        _say(f"skipped {s.name}: a local file ({s.url}) other readers cannot fetch", note)
    if file is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    write_atomic(file, data)
    print(f"exported {len(remote)} sources to {file}")
    return 0


def _check(path: Path) -> int:
    from syndicator.overview import render_check

    config = load_config(path)  # every query and rule compiled, every error naming its key
    sys.stdout.write(render_check(config))
    return 0


def _show_status(path: Path) -> int:
    from syndicator.overview import read_summary, render_status

    config = load_config(path)
    with _reader(config.state_location) as store:
        snap = read_summary(store, config.output_dir) if store is not None else None
    sys.stdout.write(render_status(config, snap, time.time()))
    return 0


@contextmanager
def _reader(where: Path | str) -> Iterator[Store | None]:
    """The state read-only for a report (None before the first run); a damaged or locked
    database is one line naming it (store.database_trouble)."""
    with database_errors(where):
        store = open_reader(where)
        try:
            yield store
        finally:
            if store is not None:
                store.close()
