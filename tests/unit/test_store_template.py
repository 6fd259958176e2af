"""The store's memory of each source's recent blocks (the learned template's history), on
SQLite and on PostgreSQL."""

from __future__ import annotations

from syndicator.model import NewEntry, SourceState
from syndicator.store import SQLStore
from syndicator.template import WINDOW
from tests.unit.test_template import cleaned, parsed


def _new(i: int) -> NewEntry:
    p = parsed(i)
    return NewEntry("yle", p, f"d{i}", cleaned(i), ())


def test_the_store_remembers_each_sources_recent_blocks(store: SQLStore) -> None:
    store.save_poll(SourceState("yle"), [_new(0), _new(1)], [], 1.0)
    history = store.template_history("yle")
    assert [key for key, _ in history] == ["k0", "k1"]  # the poll's order: newest first
    assert history[0][1] == cleaned(0).blocks
    store.save_poll(SourceState("yle"), [_new(2)], [], 2.0)
    assert [key for key, _ in store.template_history("yle")] == ["k2", "k0", "k1"]
    assert store.template_history("other") == []
    # Pruned to the window: only the newest entries are remembered.
    many = [(f"m{i}", ("b",)) for i in range(WINDOW + 7)]
    store.save_template_history("yle", many, 3.0)
    kept = store.template_history("yle")
    assert len(kept) == WINDOW and kept[0][0] == "m0"
