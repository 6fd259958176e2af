"""The SQLite schema and its migrations: what every version of the state database looks like.

Kept apart from the queries so an upgrade reads as one list of steps; a step that needs the
store's own logic (deciding every story again) says so and the store runs it.
"""

from __future__ import annotations

import sqlite3

from syndicator.errors import StoreError

SCHEMA_VERSION = 5  # 2: entries.raw_base; 3: forgotten, entries_seen; 4: entries_near*;
# 5: story_keys and evidence instead of SimHash bands (every story decided again)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    etag TEXT, last_modified TEXT,
    last_status INTEGER, last_error TEXT,
    last_attempt REAL, last_success REAL,
    next_poll REAL NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    unhealthy INTEGER NOT NULL DEFAULT 0
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
    UNIQUE (channel, entry_id)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (channel, sent, next_try);
-- Feeds whose file is behind the entries: marked with the change that dirties them, cleared
-- once written, so a failed write (disk full) is retried by the next cycle, or after a restart.
CREATE TABLE IF NOT EXISTS dirty_feeds (feed TEXT PRIMARY KEY) WITHOUT ROWID;
"""


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
    if version < SCHEMA_VERSION:
        db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))
    return regroup
