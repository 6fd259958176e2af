"""PostgresStore from many threads, one after another, as a worker's executor threads and a
pipeline's writer thread come and go with every cycle: the connections do not pile up (they
once exhausted the server's max_connections within a benchmark)."""

from __future__ import annotations

import threading

from syndicator.store.postgres import MAX_IDLE, PostgresStore


def test_threads_that_come_and_go_reuse_connections(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    backends: set[int] = set()

    def work() -> None:
        assert store.source_states() == {}
        backends.add(store._db.live().info.backend_pid)

    try:
        for _ in range(60):
            thread = threading.Thread(target=work)
            thread.start()
            thread.join()
        assert len(backends) <= 2  # one thread at a time: the same connection, handed on
        alive = [threading.Thread(target=work) for _ in range(3)]
        for thread in alive:
            thread.start()
        for thread in alive:
            thread.join()
        assert len(store._db._idle) <= MAX_IDLE
    finally:
        store.close()
