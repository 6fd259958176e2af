"""The schema and its migrations: what every version of the state database looks like, in
SQLite and in PostgreSQL.

Kept apart from the queries so an upgrade reads as one list of steps; a step that needs the
store's own logic (deciding every story again) says so and the store runs it. Both databases
hold the same tables at the same SCHEMA_VERSION (so `migrate --to` copies table by table);
PostgreSQL's started at 6, and adds what only a database shared by several nodes needs: feed
versions per node instead of one table of marks.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from syndicator.errors import StoreError

if TYPE_CHECKING:
    from syndicator.store.sql import Connection

SCHEMA_VERSION = 8  # 2: entries.raw_base; 3: forgotten, entries_seen; 4: entries_near*;
# 5: story_keys and evidence instead of SimHash bands (every story decided again);
# 6: claims on outbox rows, leases on sources, request slots per host (several nodes);
# 7: outbox.given_up (a receiver refused an alert for good: never retried), the status page's
#    indexes (hits_topic_entry, entries_seen_source);
# 8: source_blocks (each source's template memory), fulltext (article pages fetched)


# Version 7's indexes for the status page (reports.page_report): a topic's newest hits without
# sorting all of them, and entries per source and day over a range of first_seen without reading
# the rows. Part of either schema, and run by either upgrade.
PAGE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS hits_topic_entry ON hits (topic, entry_id)",
    "CREATE INDEX IF NOT EXISTS entries_seen_source ON entries (first_seen, source)",
)
PAGE_INDEXES_SQL = "".join(f"{statement};\n" for statement in PAGE_INDEXES)

# Schema 8's tables, the same in both databases (REAL is a double in PostgreSQL too).
V8_TABLES = """
-- Each source's template memory: the short blocks (template.block_key) of its recent
-- entries, newest by `seen`, pruned to template.WINDOW entries per source.
CREATE TABLE IF NOT EXISTS source_blocks (
    source TEXT NOT NULL, key TEXT NOT NULL, seen REAL NOT NULL,
    blocks TEXT NOT NULL,  -- a JSON list of keys
    PRIMARY KEY (source, key)
);
-- Article pages fetched for teaser entries (fulltext): once per link, failures included, so a
-- failing page is not asked for again every cycle.
CREATE TABLE IF NOT EXISTS fulltext (
    link TEXT PRIMARY KEY, source TEXT NOT NULL, fetched REAL NOT NULL,
    ok INTEGER NOT NULL, html TEXT NOT NULL, reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fulltext_by_source ON fulltext (source);
"""

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    etag TEXT, last_modified TEXT,
    last_status INTEGER, last_error TEXT,
    last_attempt REAL, last_success REAL,
    next_poll REAL NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    unhealthy INTEGER NOT NULL DEFAULT 0,
    leased_by TEXT, leased_until REAL  -- a scheduler polls it (until stored, or expiry)
);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    digest TEXT NOT NULL,
    uid TEXT NOT NULL,
    title TEXT NOT NULL, link TEXT NOT NULL, author TEXT NOT NULL,
    raw_title TEXT NOT NULL, raw_link TEXT NOT NULL, raw_html TEXT NOT NULL,
    raw_orig_link TEXT NOT NULL DEFAULT '', raw_base TEXT NOT NULL DEFAULT '',
    html TEXT NOT NULL, text TEXT NOT NULL,
    published REAL, updated REAL NOT NULL, first_seen REAL NOT NULL,
    story TEXT,  -- the link as copies elsewhere read it (stories.link_key)
    dup_of INTEGER,  -- the entry that stands for this one's story, if another does
    dup_why TEXT,  -- the evidence for that: the verdict of stories.compare
    UNIQUE (source, key)
);
CREATE INDEX IF NOT EXISTS entries_by_time ON entries (updated DESC);
CREATE INDEX IF NOT EXISTS entries_by_story ON entries (story);
-- Candidates for "the same story": each text's sketch (stories.sketch), stamped with the
-- entry's publication time, so a lookup reads only the rows of one window.
CREATE TABLE IF NOT EXISTS story_keys (
    key INTEGER NOT NULL,
    stamp REAL NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    PRIMARY KEY (key, stamp, entry_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS story_keys_entry ON story_keys (entry_id);
-- Entries whose story changed when every story was decided again (an upgrade, a reclean):
-- `alert` marks one that was hidden as a copy and now stands alone, so never alerted.
CREATE TABLE IF NOT EXISTS regrouped (
    entry_id INTEGER PRIMARY KEY REFERENCES entries(id) ON DELETE CASCADE,
    alert INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_dup ON entries (dup_of) WHERE dup_of IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_seen ON entries (first_seen);
-- Entries past the retention time: only what tells a poll they are not new.
CREATE TABLE IF NOT EXISTS forgotten (
    source TEXT NOT NULL, key TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (source, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hits (
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    topic TEXT NOT NULL,
    terms TEXT NOT NULL,
    PRIMARY KEY (entry_id, topic)
);
CREATE INDEX IF NOT EXISTS hits_by_topic ON hits (topic);
"""
    + PAGE_INDEXES_SQL
    + """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    entry_id INTEGER REFERENCES entries(id) ON DELETE CASCADE,  -- NULL: a notice
    topics TEXT NOT NULL,
    subject TEXT, body TEXT,
    created REAL NOT NULL,
    sent REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    claimed_by TEXT, claimed_until REAL,  -- a node is sending it (until marked, or expiry)
    given_up REAL,  -- when a receiver refused it for good (a webhook's 4xx): never retried
    UNIQUE (channel, entry_id)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (channel, sent, next_try);
-- Feeds whose file is behind the entries: marked with the change that dirties them, cleared
-- once written, so a failed write (disk full) is retried by the next cycle, or after a restart.
CREATE TABLE IF NOT EXISTS dirty_feeds (feed TEXT PRIMARY KEY) WITHOUT ROWID;
-- Politeness across processes: the live request slots on each host, and its last start.
CREATE TABLE IF NOT EXISTS host_slots (
    host TEXT NOT NULL, holder TEXT NOT NULL, until REAL NOT NULL,
    PRIMARY KEY (host, holder)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS host_starts (host TEXT PRIMARY KEY, last_start REAL) WITHOUT ROWID;
"""
    + V8_TABLES
)


def create(db: sqlite3.Connection) -> None:
    """Every table and index, idempotent (executescript commits on its own)."""
    db.executescript(_SCHEMA)


def migrate(db: sqlite3.Connection) -> bool:
    """Bring an older database to SCHEMA_VERSION inside the caller's transaction. Returns True
    when every story must be decided again (the rule changed since the database was written)."""
    row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    if row is None:
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        return False
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"state database schema {row[0]} is newer than this Syndicator "
            f"({SCHEMA_VERSION}); upgrade Syndicator"
        )
    regroup = False
    if version < 2:
        # Bodies stored by schema 1 had their URLs resolved by feedparser already.
        columns = {r[1] for r in db.execute("PRAGMA table_info(entries)")}
        if "raw_base" not in columns:
            db.execute("ALTER TABLE entries ADD COLUMN raw_base TEXT NOT NULL DEFAULT ''")
    if version < 5:
        # SimHash bands gave way to story_keys and evidence: every story is decided again.
        for band in range(4):
            db.execute(f"DROP INDEX IF EXISTS entries_near{band}")
            db.execute(f"DROP INDEX IF EXISTS entries_band{band}")
        columns = {r[1] for r in db.execute("PRAGMA table_info(entries)")}
        for column in ("simhash", "band0", "band1", "band2", "band3"):
            if column in columns:
                db.execute(f"ALTER TABLE entries DROP COLUMN {column}")
        if "dup_why" not in columns:
            db.execute("ALTER TABLE entries ADD COLUMN dup_why TEXT")
        regroup = True
    if version < 6:
        # Claims, leases: columns of existing tables (the new tables came with create()).
        for table, column, kind in (
            ("outbox", "claimed_by", "TEXT"),
            ("outbox", "claimed_until", "REAL"),
            ("sources", "leased_by", "TEXT"),
            ("sources", "leased_until", "REAL"),
        ):
            if column not in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    if version < 7:
        # The status page's indexes (create() made them already; kept self-contained).
        for statement in PAGE_INDEXES:
            db.execute(statement)
        # An alert a receiver refused for good is kept, marked, and never sent again.
        columns = {r[1] for r in db.execute("PRAGMA table_info(outbox)")}
        if "given_up" not in columns:
            db.execute("ALTER TABLE outbox ADD COLUMN given_up REAL")
    if version < 8:
        # source_blocks and fulltext: new tables only (no semicolon in their comments).
        for statement in V8_TABLES.split(";"):
            if statement.strip():
                db.execute(statement)
    if version < SCHEMA_VERSION:
        db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))
    return regroup


# -- PostgreSQL ------------------------------------------------------------------------------

POSTGRES_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    etag TEXT, last_modified TEXT,
    last_status INTEGER, last_error TEXT,
    last_attempt DOUBLE PRECISION, last_success DOUBLE PRECISION,
    next_poll DOUBLE PRECISION NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    unhealthy INTEGER NOT NULL DEFAULT 0,
    leased_by TEXT, leased_until DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS entries (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    digest TEXT NOT NULL,
    uid TEXT NOT NULL,
    title TEXT NOT NULL, link TEXT NOT NULL, author TEXT NOT NULL,
    raw_title TEXT NOT NULL, raw_link TEXT NOT NULL, raw_html TEXT NOT NULL,
    raw_orig_link TEXT NOT NULL DEFAULT '', raw_base TEXT NOT NULL DEFAULT '',
    html TEXT NOT NULL, text TEXT NOT NULL,
    published DOUBLE PRECISION, updated DOUBLE PRECISION NOT NULL,
    first_seen DOUBLE PRECISION NOT NULL,
    story TEXT,
    dup_of BIGINT,
    dup_why TEXT,
    UNIQUE (source, key)
);
CREATE INDEX IF NOT EXISTS entries_by_time ON entries (updated DESC);
CREATE INDEX IF NOT EXISTS entries_by_story ON entries (story);
CREATE INDEX IF NOT EXISTS entries_dup ON entries (dup_of) WHERE dup_of IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_seen ON entries (first_seen);
CREATE TABLE IF NOT EXISTS story_keys (
    key BIGINT NOT NULL,  -- stories.sketch: signed 64-bit
    stamp DOUBLE PRECISION NOT NULL,
    entry_id BIGINT NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    PRIMARY KEY (key, stamp, entry_id)
);
CREATE INDEX IF NOT EXISTS story_keys_entry ON story_keys (entry_id);
CREATE TABLE IF NOT EXISTS regrouped (
    entry_id BIGINT PRIMARY KEY REFERENCES entries(id) ON DELETE CASCADE,
    alert INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS forgotten (
    source TEXT NOT NULL, key TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (source, key)
);
CREATE TABLE IF NOT EXISTS hits (
    entry_id BIGINT NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    topic TEXT NOT NULL,
    terms TEXT NOT NULL,
    PRIMARY KEY (entry_id, topic)
);
CREATE INDEX IF NOT EXISTS hits_by_topic ON hits (topic);
"""
    + PAGE_INDEXES_SQL
    + """
CREATE TABLE IF NOT EXISTS outbox (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    channel TEXT NOT NULL,
    entry_id BIGINT REFERENCES entries(id) ON DELETE CASCADE,
    topics TEXT NOT NULL,
    subject TEXT, body TEXT,
    created DOUBLE PRECISION NOT NULL,
    sent DOUBLE PRECISION,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error TEXT,
    claimed_by TEXT, claimed_until DOUBLE PRECISION,
    given_up DOUBLE PRECISION,
    UNIQUE (channel, entry_id)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (channel, next_try) WHERE sent IS NULL;
CREATE INDEX IF NOT EXISTS outbox_entry ON outbox (entry_id);
-- Feeds to republish, per node: every change bumps its feeds' versions (in its own
-- transaction, so versions grow in commit order); each node records the versions it wrote.
CREATE TABLE IF NOT EXISTS feed_versions (feed TEXT PRIMARY KEY, version BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS feed_written (
    node TEXT NOT NULL, feed TEXT NOT NULL, version BIGINT NOT NULL,
    PRIMARY KEY (node, feed)
);
CREATE TABLE IF NOT EXISTS host_slots (
    host TEXT NOT NULL, holder TEXT NOT NULL, until DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (host, holder)
);
CREATE TABLE IF NOT EXISTS host_starts (host TEXT PRIMARY KEY, last_start DOUBLE PRECISION);
"""
    + V8_TABLES
)


# The tables `migrate --to` copies, parents first, with the columns both databases share.
COPIED = {
    "sources": (
        "name", "etag", "last_modified", "last_status", "last_error", "last_attempt",
        "last_success", "next_poll", "failures", "unhealthy",
    ),
    "entries": (
        "id", "source", "key", "digest", "uid", "title", "link", "author", "raw_title",
        "raw_link", "raw_html", "raw_orig_link", "raw_base", "html", "text", "published",
        "updated", "first_seen", "story", "dup_of", "dup_why",
    ),
    "story_keys": ("key", "stamp", "entry_id"),
    "regrouped": ("entry_id", "alert"),
    "forgotten": ("source", "key", "digest"),
    "hits": ("entry_id", "topic", "terms"),
    "outbox": (
        "id", "channel", "entry_id", "topics", "subject", "body", "created", "sent",
        "attempts", "next_try", "last_error", "given_up",
    ),
    "source_blocks": ("source", "key", "seen", "blocks"),
    "fulltext": ("link", "source", "fetched", "ok", "html", "reason"),
}


def migrate_postgres(db: Connection, value: str) -> None:
    """Bring a PostgreSQL database written at an older SCHEMA_VERSION (6 or later) to this one,
    inside the caller's transaction (which holds the schema lock)."""
    version = int(value)
    if version < 7:
        db.execute("ALTER TABLE outbox ADD COLUMN IF NOT EXISTS given_up DOUBLE PRECISION")
        for statement in PAGE_INDEXES:  # the status page's
            db.execute(statement)
    if version < 8:
        db.execute(V8_TABLES)  # source_blocks and fulltext: new tables only
    if version < SCHEMA_VERSION:
        db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))


def require_current(value: str | None, where: str) -> None:
    """For a read-only report: it cannot upgrade an older database (the daemon that wrote it may
    still run), and its queries would miss the new columns, so say so in one line instead."""
    check_version(value)
    if value is not None and int(value) < SCHEMA_VERSION:
        raise StoreError(
            f"state database {where} is at schema {value}, older than this Syndicator "
            f"({SCHEMA_VERSION}); start the daemon or `syndicator run --once` of this version "
            "once to upgrade it"
        )


def check_version(value: str | None) -> None:
    """A database written by a newer Syndicator is refused rather than misread."""
    if value is not None and int(value) > SCHEMA_VERSION:
        raise StoreError(
            f"state database schema {value} is newer than this Syndicator "
            f"({SCHEMA_VERSION}); upgrade Syndicator"
        )
