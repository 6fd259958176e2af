"""What the store remembers for the cleaner, in SQL: each source's recent block keys (the
template memory, template.py) and the article pages fetched for full text.

Kept apart from sql.py because neither is an entry: both are caches the analysis reads before
cleaning, saved with the poll that filled them and forgotten with old entries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from syndicator.model import FullTextPage
from syndicator.store.sqlbase import CHUNK, _SQLBase
from syndicator.template import WINDOW


class Memory(_SQLBase):
    """SQLStore's template memory and full-text pages."""

    def template_history(self, source: str) -> list[tuple[str, tuple[str, ...]]]:
        """The block keys of the source's recent entries, newest first (template.WINDOW)."""
        rows = self._db.execute(
            "SELECT key, blocks FROM source_blocks WHERE source=? ORDER BY seen DESC, key LIMIT ?",
            (source, WINDOW),
        ).fetchall()
        return [(str(key), tuple(json.loads(blocks))) for key, blocks in rows]

    def save_template_history(
        self, source: str, entries: Sequence[tuple[str, tuple[str, ...]]], now: float
    ) -> None:
        """Replace a source's memory with these entries' blocks (newest first): a reclean
        learns again from what is stored."""
        with self._transaction():
            self._db.execute("DELETE FROM source_blocks WHERE source=?", (source,))
            self._put_blocks(source, entries, now)

    def _put_blocks(
        self, source: str, entries: Sequence[tuple[str, tuple[str, ...]]], now: float
    ) -> None:
        """Remember the entries' blocks (the first is the newest) and forget all but the
        source's WINDOW most recent entries."""
        if not entries:
            return
        self._db.executemany(
            "INSERT INTO source_blocks (source, key, seen, blocks) VALUES (?,?,?,?) "
            "ON CONFLICT (source, key) DO UPDATE SET seen=excluded.seen, blocks=excluded.blocks",
            [
                (source, key, float(now) - i * 1e-3, json.dumps(list(blocks)))
                for i, (key, blocks) in enumerate(entries)
            ],
        )
        self._db.execute(
            "DELETE FROM source_blocks WHERE source=? AND key NOT IN (SELECT key FROM "
            "source_blocks WHERE source=? ORDER BY seen DESC, key LIMIT ?)",
            (source, source, WINDOW),
        )

    def fulltext_pages(self, links: Iterable[str]) -> dict[str, FullTextPage]:
        """The article pages fetched before (or failed) among these links."""
        found: dict[str, FullTextPage] = {}
        listed = list(dict.fromkeys(links))
        for start in range(0, len(listed), CHUNK):
            chunk = listed[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            for link, source, ok, html, reason in self._db.execute(
                f"SELECT link, source, ok, html, reason FROM fulltext WHERE link IN ({marks})",
                chunk,
            ):
                found[str(link)] = FullTextPage(str(link), str(source), bool(ok), html, reason)
        return found

    def _put_pages(self, pages: Sequence[FullTextPage], now: float) -> None:
        if pages:
            self._db.executemany(
                "INSERT INTO fulltext (link, source, fetched, ok, html, reason) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (link) DO UPDATE SET source=excluded.source, "
                "fetched=excluded.fetched, ok=excluded.ok, html=excluded.html, "
                "reason=excluded.reason",
                [(p.link, p.source, float(now), int(p.ok), p.html, p.reason) for p in pages],
            )
