"""The store's read for the status page (page_report), on SQLite and on PostgreSQL: the newest
stories per topic with their carriers, entries per day, channel counts; and the indexes it
needs, added to an older database when it is opened."""

from __future__ import annotations

import pytest

from syndicator.errors import StoreError
from syndicator.model import (
    Carrier,
    CleanEntry,
    NewAlert,
    NewEntry,
    ParsedEntry,
    SourceState,
    TopicHit,
)
from syndicator.stories import sketch
from tests.conftest import Backend


def _entry(
    key: str, source: str, title: str, link: str, text: str, hits: tuple[str, ...]
) -> NewEntry:
    parsed = ParsedEntry(key=key, title=title, link=link, html=f"<p>{text}</p>")
    clean = CleanEntry(title=title, link=link, html=f"<p>{text}</p>", text=text)
    return NewEntry(
        source, parsed, f"d-{key}", clean, tuple(TopicHit(t, ("NATO",)) for t in hits), sketch(text)
    )


def test_the_page_report_reads_the_newest_stories_their_carriers_and_entries_per_day(
    backend: Backend,
) -> None:
    store = backend.open()
    day = 86400.0
    now = 100 * day + 3600
    for i in range(15):  # one a day from 14 days before today up to today
        text = f"Bericht {i}: die NATO tagt, Runde {i} von vielen, mit eigenen Worten {i * 7919}."
        store.save_poll(
            SourceState("wire"),
            [_entry(f"k{i}", "wire", f"NATO {i}", f"https://a/{i}", text, ("nato",))],
            [NewAlert("mail", 0, ("nato",))],
            now - (14 - i) * day,
        )
    copy = "Bericht 14: die NATO tagt, Runde 14 von vielen, mit eigenen Worten 110866."
    store.save_poll(
        SourceState("daily"),
        [_entry("c", "daily", "NATO 14", "https://a/14", copy, ("nato",))],
        [],
        now,
    )
    report = store.page_report(["nato", "none"], 10, 14, now)
    titles = [s.title for s in report.stories["nato"]]
    assert titles == [f"NATO {i}" for i in range(14, 4, -1)]  # newest first, ten of them
    assert report.stories["none"] == ()
    newest = report.stories["nato"][0]
    assert newest.source == "wire" and newest.terms == ("NATO",)
    assert newest.carriers == (Carrier("daily", "https://a/14"),) and newest.copies == 1
    assert "NATO" in newest.text
    assert report.daily["wire"] == (1,) * 14  # the 15th is older than the 14 days
    assert report.daily["daily"] == (0,) * 13 + (1,)
    mail = report.channels["mail"]
    assert (mail.pending, mail.sent) == (15, 0)


def test_an_older_database_gains_the_page_indexes(backend: Backend) -> None:
    """Schema 6 had neither index: opening it adds them, on either database."""
    store = backend.open()
    store._db.execute("DROP INDEX hits_topic_entry")
    store._db.execute("DROP INDEX entries_seen_source")
    store._db.execute("UPDATE meta SET value='6' WHERE key='schema'")
    if backend.kind == "sqlite":
        names = "SELECT name FROM sqlite_master WHERE type='index'"
    else:
        names = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    with pytest.raises(StoreError, match="is at schema 6, older than this Syndicator"):
        backend.open(read_only=True)  # a report neither upgrades it nor misreads it
    assert "hits_topic_entry" not in {str(r[0]) for r in store._db.execute(names)}
    again = backend.open()
    indexes = {str(r[0]) for r in again._db.execute(names)}
    assert {"hits_topic_entry", "entries_seen_source"} <= indexes
    (version,) = again._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    assert int(version) >= 7  # 7 gave the indexes; later versions keep them
