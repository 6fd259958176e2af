"""Which stored entries tell one story, in SQL: the candidates an entry may join (the same link
or shared shingle hashes within the story window), the locks and retries that keep the decision
right beside other writers, every story decided again after new rules, and the stories read.

Kept apart from sql.py because it is the one intricate part of the store; which entries are the
same story is decided by stories.py, this module only finds the candidates and records it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from syndicator import stories
from syndicator.model import Copy, OwedAlert, Regrouped, Story
from syndicator.store.sqlbase import _ENTRY_COLUMNS, _SQLBase

log = logging.getLogger(__name__)

MAX_CANDIDATES = 4  # stories compared word by word per new entry, the likeliest first
MIN_SHARED = 2  # of the sketch's hashes: one alone is too often a common phrase
JOIN_TRIES = 5  # story decisions redone when another writer changed the story meanwhile


@dataclass(frozen=True)
class _Story:
    """One entry as the story decision sees it."""

    id: int
    key: str
    stamp: float  # publication time (else the feed's update time, else first seen)
    text: stories.StoryText
    sketch: tuple[int, ...]


class StoryJoins(_SQLBase):
    """SQLStore's stories: an entry joined to the story it tells, and every story decided
    again."""

    def _put_keys(self, story: _Story) -> None:
        if story.sketch:
            rows = ",".join("(?,?,?)" for _ in story.sketch)
            self._db.execute(
                f"INSERT INTO story_keys (key, stamp, entry_id) VALUES {rows} "
                "ON CONFLICT DO NOTHING",
                [v for key in story.sketch for v in (key, float(story.stamp), story.id)],
            )

    def _join_story(
        self, story: _Story, dup_of: int | None, touched: set[str], has_copies: bool = False
    ) -> int:
        """Find the story this entry tells among the entries published within the window, on
        the evidence of stories.compare, and make the most complete version stand for it.
        Returns the id of the entry that now stands for the story."""
        if dup_of is not None:  # a changed copy: still the same story as the one it joined?
            verdict = stories.compare(story.text, self._story_text(dup_of))
            if verdict.same:
                return dup_of
            log.info("story: entry %d no longer tells story %d: %s", story.id, dup_of, verdict.why)
            self._db.execute("UPDATE entries SET dup_of=NULL, dup_why=NULL WHERE id=?", (story.id,))
        elif has_copies:
            return story.id  # it stands for copies already: it stays their story
        new_rank = stories.rank(story.text.text, story.text.source, story.key)
        for _ in range(JOIN_TRIES):
            join = stories.choose(story.text, new_rank, self._candidates(story))
            if join is None:
                return story.id
            if self._still_head(join.head):
                break
            # Another writer made that story another's copy, or forgot it, since it was read:
            # decide again on what is there now (the lock taken stays until the commit).
        else:
            return story.id
        why = f"{join.verdict.rule}: {join.verdict.why}"
        # The more complete version stands for the story; the other is its copy.
        head, copy = (story.id, join.head) if join.stands else (join.head, story.id)
        if join.stands:  # the old head's copies, and its feeds, go to the new one
            touched.update(
                topic
                for (topic,) in self._db.execute(
                    "SELECT DISTINCT topic FROM hits WHERE entry_id=? "
                    "OR entry_id IN (SELECT id FROM entries WHERE dup_of=?)",
                    (copy, copy),
                )
            )
            self._db.execute("UPDATE entries SET dup_of=? WHERE dup_of=?", (head, copy))
        self._db.execute("UPDATE entries SET dup_of=?, dup_why=? WHERE id=?", (head, why, copy))
        log.info(
            "story: entry %d (source=%s %r) joins story %d, which entry %d stands for: %s",
            story.id, story.text.source, story.text.title, join.head, head, why,
        )
        return head

    def _still_head(self, entry_id: int) -> bool:
        """Lock a story's standing entry for this transaction (PostgreSQL: its row, so a
        writer joining or taking over the same story waits), and say whether it still stands
        for its story."""
        row = self._db.execute(
            f"SELECT dup_of FROM entries WHERE id=?{self._FOR_UPDATE}", (entry_id,)
        ).fetchone()
        return row is not None and row[0] is None

    def _candidates(self, story: _Story) -> Iterator[stories.Candidate]:
        """The stories (their standing entries) that may be this one's: the same link, or a
        shared shingle hash, within the window of publication time; the likeliest first, each
        read only when the one before was not it."""
        low, high = story.stamp - self.story_window, story.stamp + self.story_window
        found: dict[int, int] = {}
        link = stories.link_key(story.text.link)
        by_link = by_sketch = None
        with self._batched():
            if link is not None:
                by_link = self._db.execute(
                    "SELECT id FROM entries WHERE story=? AND id<>? "
                    "AND coalesce(published, updated) BETWEEN ? AND ? ORDER BY id LIMIT ?",
                    (link, story.id, low, high, MAX_CANDIDATES),
                )
            if story.sketch:
                marks = ",".join("?" * len(story.sketch))
                by_sketch = self._db.execute(
                    f"SELECT entry_id, count(*) AS shared FROM story_keys WHERE key IN ({marks}) "
                    "AND stamp BETWEEN ? AND ? AND entry_id<>? GROUP BY entry_id "
                    "HAVING count(*) >= ? ORDER BY shared DESC, entry_id LIMIT ?",
                    (*story.sketch, low, high, story.id, MIN_SHARED, MAX_CANDIDATES),
                )
        for (other,) in by_link.fetchall() if by_link is not None else ():
            found[int(other)] = len(story.sketch) + 1
        for other, shared in by_sketch.fetchall() if by_sketch is not None else ():
            found[int(other)] = max(found.get(int(other), 0), int(shared))
        if not found:
            return
        marks = ",".join("?" * len(found))
        head_of = {  # an entry forgotten meanwhile by another writer is not there
            int(other): int(other) if dup_of is None else int(dup_of)
            for other, dup_of in self._db.execute(
                f"SELECT id, dup_of FROM entries WHERE id IN ({marks})", list(found)
            ).fetchall()
        }
        heads: dict[int, int] = {}
        for other, score in sorted(found.items(), key=lambda item: (-item[1], item[0])):
            head = head_of.get(other)
            if head is not None and head != story.id:
                heads.setdefault(head, score)
        for head in heads:
            row = self._db.execute(
                "SELECT source, title, text, link, key FROM entries WHERE id=?", (head,)
            ).fetchone()
            if row is None:
                continue
            source, title, text, link, key = row
            yield stories.Candidate(
                head,
                stories.StoryText(str(source), str(title), str(text), str(link)),
                stories.rank(str(text), str(source), str(key)),
            )

    def _story_text(self, entry_id: int) -> stories.StoryText:
        source, title, text, link = self._db.execute(
            "SELECT source, title, text, link FROM entries WHERE id=?", (entry_id,)
        ).fetchone()
        return stories.StoryText(str(source), str(title), str(text), str(link))

    def _regroup_all(self) -> int:
        """Decide every stored entry's story again, in the order they arrived (after an
        upgrade of the rule, or new cleaning rules). An entry that was hidden as a copy and now
        stands alone is marked for an alert (it never had one); every entry whose story changed
        is marked, so its feeds are written again. Returns how many changed."""
        self._lock_stories()
        before = {int(i): d for i, d in self._db.execute("SELECT id, dup_of FROM entries")}
        self._db.execute("DELETE FROM story_keys")
        self._db.execute("UPDATE entries SET dup_of=NULL, dup_why=NULL")
        rows = self._db.execute(
            "SELECT id, key, coalesce(published, updated), source, title, text, link "
            "FROM entries ORDER BY id"
        ).fetchall()
        touched: set[str] = set()
        for entry_id, key, stamp, source, title, text, link in rows:
            self._db.execute(
                "UPDATE entries SET story=? WHERE id=?", (stories.link_key(link), entry_id)
            )
            story = _Story(
                int(entry_id),
                str(key),
                float(stamp),
                stories.StoryText(str(source), str(title), str(text), str(link)),
                stories.sketch(str(text)),
            )
            self._put_keys(story)
            self._join_story(story, None, touched)
        after = {int(i): d for i, d in self._db.execute("SELECT id, dup_of FROM entries")}
        changed = [
            (entry_id, int(before[entry_id] is not None and dup_of is None))
            for entry_id, dup_of in after.items()
            if before.get(entry_id) != dup_of
        ]
        self._db.executemany(
            "INSERT INTO regrouped (entry_id, alert) VALUES (?,?) "
            "ON CONFLICT(entry_id) DO UPDATE SET alert = CASE "
            "WHEN excluded.alert > regrouped.alert THEN excluded.alert ELSE regrouped.alert END",
            changed,
        )
        if changed:
            log.warning(
                "story: decided the story of %d entries again; %d changed, %d now stand alone",
                len(rows), len(changed), sum(alert for _, alert in changed),
            )
        return len(changed)

    def regrouped(self) -> list[Regrouped]:
        """Entries whose story changed when every story was decided again: each with whether
        it now stands alone after being hidden as a copy (so was never alerted), and when it
        was first seen."""
        rows = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS}, r.alert, e.first_seen FROM regrouped r "
            "JOIN entries e ON e.id = r.entry_id ORDER BY e.id"
        ).fetchall()
        entries = self._entries(r[:10] for r in rows)
        return [Regrouped(e, bool(r[10]), float(r[11])) for e, r in zip(entries, rows, strict=True)]

    def settle_regrouped(
        self, alerts: Sequence[OwedAlert], now: float, dirty: Sequence[str] = ()
    ) -> int:
        """Queue the alerts (channel, entry id, topics) that regrouped entries are owed, mark
        the `dirty` feeds for republishing and clear the marks, in one transaction. An entry
        alerted before (it stood for its story once), or a topic already alerted for its story
        on that channel, is not alerted again. Returns how many alerts were queued."""

        def work() -> int:
            queued = sum(
                self._put_alert(channel, entry_id, topics, now)
                for channel, entry_id, topics in alerts
            )
            self._db.execute("DELETE FROM regrouped")
            self._put_dirty(dirty)
            return queued

        return self._atomic(work)

    def stories(self, search: str | None = None, limit: int = 50) -> list[Story]:
        """Published entries that stand for copies, newest first, each with its copies and the
        evidence; `search` keeps those whose title or link contains it (any case)."""
        where = "e.dup_of IS NULL AND EXISTS (SELECT 1 FROM entries c WHERE c.dup_of = e.id)"
        args: list[object] = []
        if search:
            where += (
                f" AND ({self._INSTR}(lower(e.title), lower(CAST(? AS TEXT))) > 0"
                f" OR {self._INSTR}(lower(e.link), lower(CAST(? AS TEXT))) > 0)"
            )
            args += [search, search]
        rows = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries e WHERE {where} "
            "ORDER BY e.updated DESC, e.id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        found = []
        for entry in self._entries(rows):
            copies = self._db.execute(
                "SELECT source, title, link, coalesce(dup_why, '') FROM entries WHERE dup_of=? "
                "ORDER BY id",
                (entry.id,),
            ).fetchall()
            found.append(Story(entry, tuple(Copy(*map(str, c)) for c in copies)))
        return found
