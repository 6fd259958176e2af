"""The store's memory of article pages fetched for full text, per link, on SQLite and on
PostgreSQL; and a schema 6 state gaining the tables schema 8 added (fulltext, source_blocks)."""

from __future__ import annotations

from syndicator.model import CleanEntry, FullTextPage, NewEntry, ParsedEntry, SourceState
from syndicator.store import SCHEMA_VERSION, SQLStore
from tests.conftest import Backend


def test_the_store_remembers_pages_and_failures_per_link(store: SQLStore) -> None:
    ok = FullTextPage("https://e/a", "src", True, "<p>Text</p>")
    failed = FullTextPage("https://e/b", "src", False, reason="HTTP 404")
    store.save_poll(SourceState("src"), [], [], 10.0, pages=[ok, failed])
    found = store.fulltext_pages(["https://e/a", "https://e/b", "https://e/c"])
    assert found == {"https://e/a": ok, "https://e/b": failed}
    assert store.fulltext_counts() == {"src": (1, 1)}
    # Retention: pages fetched before the cut go with the entries.
    store.save_poll(
        SourceState("src"), [], [], 20.0, pages=[FullTextPage("https://e/c", "src", True, "x")]
    )
    store.save_poll(
        SourceState("src"),
        [
            NewEntry(
                "src",
                ParsedEntry("k", "t", "https://e/k", "<p>x</p>"),
                "d",
                CleanEntry("t", "https://e/k", "<p>x</p>", "x"),
                (),
            )
        ],
        [],
        5.0,
    )
    store.forget(15.0)
    assert set(store.fulltext_pages(["https://e/a", "https://e/b", "https://e/c"])) == {
        "https://e/c"
    }


def test_a_schema_6_state_gets_the_new_tables(backend: Backend) -> None:
    store = backend.open()
    for table in ("source_blocks", "fulltext"):
        store._db.execute(f"DROP TABLE {table}")
    store._db.execute("UPDATE meta SET value='6' WHERE key='schema'")
    if backend.kind == "sqlite":
        store._db.commit()  # type: ignore[attr-defined]
    store.close()
    again = backend.open()
    again.save_poll(
        SourceState("s"), [], [], 1.0, pages=[FullTextPage("https://e/a", "s", True, "x")]
    )
    assert again.fulltext_counts() == {"s": (1, 0)} and again.template_history("s") == []
    (version,) = again._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    assert version == str(SCHEMA_VERSION)
