"""Benchmark: the status page on a large store — the store's read (reports.page_report and what
service.snapshot reads besides) and the rendering (page.render) — on generated data.

    .venv/bin/python bench/page_bench.py [--entries 100000] [--sources 60] [--days 30]
                                         [--repeat 5] [--state PATH] [--html PATH]
                                         [--postgres postgresql://postgres@127.0.0.1/test]

Entries are spread evenly over `--days` days up to now, over `--sources` sources; about a
quarter match one of five topics (with the terms in their text), one in ten is a copy of
another source's story, and every match has a sent alert on two channels (some failing). The
rows are written with plain INSERTs (the story decision is not what is measured), into a SQLite
file (kept at --state, else a temporary one) or a fresh PostgreSQL schema. `--html` writes the
page, e.g. for a screenshot. Medians of --repeat runs are reported in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

from syndicator.model import SourceState, Validators  # noqa: E402
from syndicator.page import DAYS, PER_TOPIC, ChannelStatus, SourceStatus, Status, render  # noqa: E402
from syndicator.store import SQLiteStore, SQLStore  # noqa: E402

TOPICS = [
    ("nato", "NATO OR OTAN", "NATO"),
    ("indo-pacific", 'Indopazifik OR "Indo-Pacific"', "Indopazifik"),
    ("climate", "Klimaschutz OR climate", "climate"),
    ("energy", "Energiewende OR LNG", "LNG"),
    ("elections", "Wahl* OR election", "election"),
]
SOURCES = [
    "tagesschau",
    "dw-world",
    "reuters-world",
    "ap-top",
    "spiegel",
    "zeit",
    "faz-politik",
    "lemonde-international",
    "bbc-world",
    "nhk-world",
    "sz-politik",
    "nzz-international",
]
LEADS = {
    "nato": [
        (
            "NATO-Gipfel: Allianz stärkt ihre Präsenz im Osten",
            "Die Staats- und Regierungschefs haben in Den Haag beschlossen, die Brigaden an der "
            "Ostflanke zu verstärken. Die NATO-Staaten wollen bis 2030 mehr in Luftverteidigung "
            "investieren; über eine Natoerweiterung wurde nicht gesprochen.",
        ),
        (
            "NATO plans Tokyo liaison office, its first in Asia",
            "Japan and NATO are preparing to open the alliance's first liaison office in Tokyo, "
            "officials said on Tuesday, after months of talks with Seoul and Canberra.",
        ),
    ],
    "indo-pacific": [
        (
            "Japan und Australien vertiefen Zusammenarbeit im Indo-Pazifik",
            "Die beiden Regierungen wollen gemeinsame Manöver ausweiten und Häfen im "
            "Indo-Pazifik besser schützen, sagte die Außenministerin nach dem Treffen in Perth.",
        ),
        (
            "Quad ministers meet on Indo-Pacific shipping lanes",
            "Foreign ministers of the Quad agreed on a maritime surveillance initiative for the "
            "Indo-Pacific, with satellite data shared among coast guards from next year.",
        ),
    ],
    "climate": [
        (
            "Klimaschutz: Bundesländer legen gemeinsamen Wärmeplan vor",
            "Die Länder wollen die kommunale Wärmeplanung beschleunigen; Klimaschutz und "
            "bezahlbare Heizkosten sollen zusammen gedacht werden.",
        ),
        (
            "Glaciers in the Alps lost a record share of their ice this summer",
            "Swiss researchers measured a loss of four percent in one season and say climate "
            "change has made such summers ten times likelier.",
        ),
        (
            "EU agrees on 2040 climate target after all-night talks",
            "Ministers backed a 90 percent cut in net emissions by 2040, with international "
            "credits counting for part of it, a compromise climate groups called too weak.",
        ),
    ],
    "energy": [
        (
            "Qatar signs 27-year LNG deal with German utility",
            "Deliveries of two million tonnes of LNG a year are to start in 2026 through the new "
            "terminal at Brunsbüttel.",
        ),
        (
            "Neues LNG-Terminal in Stade nimmt Betrieb auf",
            "Das schwimmende Terminal soll bis zu fünf Milliarden Kubikmeter Gas im Jahr "
            "anlanden. Die Bundesnetzagentur erwartet stabile Preise im Winter; LNG aus den USA "
            "bleibt die wichtigste Quelle.",
        ),
    ],
    "elections": [
        (
            "Wahlbeteiligung in Brandenburg so hoch wie seit 1990 nicht",
            "Bis zum Mittag hatten bereits mehr als vierzig Prozent der Berechtigten ihre Stimme "
            "abgegeben, teilte die Landeswahlleiterin mit.",
        ),
        (
            "Record turnout expected as polls open in the state election",
            "Election officials reported long queues in the capital shortly after polls opened; "
            "results are expected after midnight.",
        ),
    ],
}
OTHER = [
    (
        "Neue Fahrradbrücke für die Innenstadt",
        "Die Stadt eröffnet eine neue Brücke für Radfahrer und Fußgänger über den Fluss.",
    ),
    (
        "Central bank holds rates steady",
        "The central bank left its key rate unchanged and signalled cuts later in the year.",
    ),
]


def warp(u: float, days: int) -> float:
    """Busier on weekdays: first_seen's density goes up and down weekly (monotonic in u)."""
    k = 2 * math.pi * days / 7
    return u + 0.6 * math.sin(k * u) / k


def generate(store: SQLStore, entries: int, sources: int, days: int, now: float) -> None:
    rnd = random.Random(18)
    names = [
        SOURCES[i % len(SOURCES)] + ("" if i < len(SOURCES) else f"-{i}") for i in range(sources)
    ]
    db = store._db
    rows, hits, outbox, story_of = [], [], [], {}
    weights = [rnd.uniform(0.2, 3.0) for _ in names]
    picked = rnd.choices(names, weights, k=entries + 1)
    for i in range(1, entries + 1):
        source = picked[i]
        seen = now - days * 86400 * (1 - warp(i / entries, days) / warp(1.0, days))
        topic = TOPICS[i % 20][0] if i % 20 < len(TOPICS) else None
        title, text = rnd.choice(LEADS[topic]) if topic else rnd.choice(OTHER)
        link = f"https://news.example/{topic or 'misc'}/{i}"
        dup_of = None
        earlier = story_of.get(title)
        if topic and earlier and seen - earlier[1] < 2 * 86400:  # the same story, elsewhere
            dup_of = earlier[0]
            link = f"https://news.example/{topic}/{dup_of}"
        elif topic:
            story_of[title] = (i, seen)
        rows.append(
            (
                i,
                source,
                f"k{i}",
                f"d{i}",
                uuid.uuid4().urn,
                title,
                link,
                "",
                title,
                link,
                f"<p>{text}</p>",
                f"<p>{text}</p>",
                text,
                seen,
                seen,
                seen,
                link,
                dup_of,
            )
        )
        if topic:
            term = next(t[2] for t in TOPICS if t[0] == topic)
            hits.append((i, topic, json.dumps([term])))
            for channel in ("email", "console"):
                failing = channel == "email" and i > entries - 3
                outbox.append(
                    (
                        channel,
                        i,
                        json.dumps([topic]),
                        seen,
                        None if failing else seen,
                        2 if failing else 0,
                        "SMTP 451 4.3.0 mail.example: try again later" if failing else None,
                    )
                )
    with store._transaction():
        db.executemany(
            "INSERT INTO entries (id, source, key, digest, uid, title, link, author, raw_title, "
            "raw_link, raw_html, html, text, published, updated, first_seen, story, dup_of) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.executemany("INSERT INTO hits (entry_id, topic, terms) VALUES (?,?,?)", hits)
        db.executemany(
            "INSERT INTO outbox (channel, entry_id, topics, created, sent, attempts, last_error) "
            "VALUES (?,?,?,?,?,?,?)",
            outbox,
        )
    states = []
    for n, name in enumerate(names):
        broken = n % 5 == 4
        states.append(
            SourceState(
                name,
                Validators(etag='"x"'),
                last_status=503 if broken else 200,
                last_error="HTTP 503 Service Unavailable" if broken else None,
                last_attempt=now - 300,
                last_success=now - (86400 if broken else 300),
                next_poll=now + 600,
                failures=4 if broken else 0,
            )
        )
    store.save_states([(s, ()) for s in states], now)


def snapshot(store: SQLStore, names: list[str], now: float, per_topic: int = PER_TOPIC) -> Status:
    """What service.snapshot reads and builds, without a pipeline."""
    states = store.source_states()
    pending, sent = store.outbox_counts()
    report = store.page_report([t[0] for t in TOPICS], per_topic, DAYS, now)
    return Status(
        topics=tuple((t[0], t[1]) for t in TOPICS),
        sources=tuple(
            SourceStatus(
                n, f"https://feeds.example/{n}/rss", states.get(n), report.daily.get(n, (0,) * DAYS)
            )
            for n in names
        ),
        alerts_pending=pending,
        alerts_sent=sent,
        updated=now,
        stories=tuple((t[0], report.stories.get(t[0], ())) for t in TOPICS),
        channels=tuple(
            ChannelStatus(name, c.pending, c.sent, c.retrying, 0, c.last_error)
            for name, c in sorted(report.channels.items())
        ),
        base_url="https://news.example.org/feeds/",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--sources", type=int, default=60)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--state", type=Path)
    ap.add_argument("--html", type=Path)
    ap.add_argument("--per-topic", type=int, default=PER_TOPIC, help="stories shown per topic")
    ap.add_argument("--postgres")
    args = ap.parse_args()
    now = time.time()
    tmp = tempfile.TemporaryDirectory()
    drop = None
    if args.postgres:
        import psycopg

        from syndicator.store.postgres import PostgresStore

        schema = f"page_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
        url = f"{args.postgres}?options=-csearch_path%3D{schema}"
        store: SQLStore = PostgresStore(url)

        def drop() -> None:
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")
    else:
        path = args.state or Path(tmp.name) / "page.sqlite"
        store = SQLiteStore(path)
    try:
        started = time.perf_counter()
        generate(store, args.entries, args.sources, args.days, now)
        # The steady state a running daemon reaches: SQLite's WAL checkpointed, PostgreSQL's
        # tables vacuumed and analysed by autovacuum (index-only scans need the visibility map).
        if args.postgres:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        else:
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"generated {args.entries} entries in {time.perf_counter() - started:.1f}s")
        names = sorted(store.source_states())
        reads, renders = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            status = snapshot(store, names, now, args.per_topic)
            t1 = time.perf_counter()
            page = render(status, ["all.atom", *(f"{t[0]}.atom" for t in TOPICS)])
            t2 = time.perf_counter()
            reads.append((t1 - t0) * 1000)
            renders.append((t2 - t1) * 1000)
        read, rendered = statistics.median(reads), statistics.median(renders)
        print(
            f"store read (snapshot): {read:.1f} ms; render: {rendered:.1f} ms; "
            f"total: {read + rendered:.1f} ms; page {len(page.encode()) // 1024} KiB "
            f"(median of {args.repeat})"
        )
        if args.html:
            args.html.write_text(page, encoding="utf-8")
    finally:
        store.close()
        if drop is not None:
            drop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
