"""Are two entries one story? The pure decision (stories.compare), its candidate index (sketch,
link_key), and the store that asks it: copies merge, different stories never do."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator import stories
from syndicator.clean import clean_entry, load_rules
from syndicator.decide import digest
from syndicator.model import CleanEntry, NewEntry, ParsedEntry, SourceState
from syndicator.parse import parse_feed
from syndicator.store import SQLStore
from syndicator.stories import StoryText, compare, link_key, sketch
from tests.conftest import REAL, Backend

ARTICLE = (
    "Die NATO und Japan arbeiten an der Eröffnung eines Verbindungsbüros in Tokio. "
    "Das Büro soll die Zusammenarbeit im Indopazifik stärken und den Austausch über "
    "Sicherheitsfragen erleichtern. Nach Angaben aus Brüssel sind die Gespräche weit "
    "fortgeschritten, ein Abkommen könnte noch in diesem Jahr unterzeichnet werden. "
    "Japan ist für das Bündnis der wichtigste Partner in der Region."
)
TITLE = "NATO und Japan planen Verbindungsbüro in Tokio"


def story(text: str = ARTICLE, title: str = TITLE, source: str = "a", link: str = "") -> StoryText:
    return StoryText(source, title, text, link or f"https://{source}.example/nato-tokio")


def insider(person: str, shares: str, day: str) -> str:
    return (
        f"{person}, a director of Acme, sold {shares} shares of the company in a transaction "
        f"on November {day}. The shares were sold at an average price of $45.20. Following the "
        "transaction, the director now directly owns the rest of the shares of the company. The "
        "sale was disclosed in a filing with the Securities and Exchange Commission."
    )


WEATHER = (
    "The weather in {city} on November 3 will be cloudy, with a high of 14 degrees and a low "
    "of 6 degrees overnight. Winds will come from the west at moderate speeds, and the chance of "
    "rain stays low through the afternoon. Residents are advised to check the forecast again."
)


# -- copies merge ------------------------------------------------------------------------------


def test_syndicated_copies_are_one_story() -> None:
    original = story()
    prefixed = story(title=f"(dpa) {TITLE}", source="b")
    credited = story(text=f"{ARTICLE} Foto: dpa", source="c")
    reworded = story(text=ARTICLE.replace("weit fortgeschritten", "weit gediehen"), source="d")
    everything = story(
        text=ARTICLE.replace("wichtigste", "bedeutendste") + " Quelle: Reuters",
        title=f"Eilmeldung: {TITLE}",
        source="e",
    )
    for copy in (prefixed, credited, reworded, everything):
        verdict = compare(original, copy)
        assert verdict.same and verdict.rule == "same text", verdict
        assert compare(copy, original).same


def test_the_same_link_from_another_source_is_one_story_when_the_titles_agree() -> None:
    teaser = story(text=ARTICLE[:120], title="NATO und Japan planen Büro in Tokio", source="b",
                   link="https://www.a.example/nato-tokio/")
    verdict = compare(story(), teaser)
    assert verdict.same and verdict.rule == "same link", verdict
    other_title = dataclasses.replace(teaser, title="Wetter in Tokio: Regen am Wochenende")
    assert not compare(story(), other_title).same


# -- different stories never merge -------------------------------------------------------------


def test_one_template_with_a_different_name_or_number_is_another_story() -> None:
    a = story(insider("Anna Schmidt", "12,000", "3"), "Insider sale at Acme", "wire")
    for person, shares, day in (
        ("Peter Weber", "12,000", "3"),  # another person
        ("Anna Schmidt", "13,000", "3"),  # another amount
        ("Anna Schmidt", "12,000", "4"),  # another day
    ):
        b = story(insider(person, shares, day), "Insider sale at Acme", "wire", "https://w/2")
        verdict = compare(a, b)
        assert not verdict.same, (person, shares, day, verdict)
        assert "differs" in verdict.why
    berlin = story(WEATHER.format(city="Berlin"), "Weather for Berlin", "w1")
    hamburg = story(WEATHER.format(city="Hamburg"), "Weather for Hamburg", "w2")
    assert not compare(berlin, hamburg).same  # every other word and number the same


def test_titles_that_swap_a_number_are_different_stories() -> None:
    notes = ARTICLE  # a podcast's show notes can be the same every week
    a = story(notes, "Episode 101: Tokio", "pod", "https://pod.example/101")
    b = story(notes, "Episode 102: Tokio", "pod", "https://pod.example/102")
    assert not compare(a, b).same
    assert not compare(story(title="3 Tote in Tokio"), story(title="5 Tote in Tokio")).same


def test_within_one_source_a_shared_link_is_not_enough() -> None:
    """Posts that are anchors on one daily page share the page's link and differ in text."""
    page = "http://scripting.com/2017/06/21.html"
    first = story("A short post about outliners and the web.", "", "s", f"{page}#a101117")
    second = story("Another short post, about podcasts.", "", "s", f"{page}#a101200")
    assert link_key(first.link) != link_key(second.link)  # the fragment counts
    assert not compare(first, second).same
    same_page = dataclasses.replace(second, link=first.link)
    assert not compare(first, same_page).same  # one source: the text decides, and it differs


def test_within_one_source_a_republished_story_is_one_story() -> None:
    a = story(source="s", link="https://s.example/1")
    assert compare(a, dataclasses.replace(a, link="https://s.example/1?id=2")).same
    short = story("Kurz gemeldet.", "Eilmeldung", "s", "https://s.example/2")
    assert compare(short, dataclasses.replace(short)).same  # a new guid, nothing else new
    assert not compare(short, dataclasses.replace(short, title="Andere Eilmeldung")).same
    assert not compare(short, dataclasses.replace(short, link="https://s.example/3")).same


def test_short_texts_are_no_evidence() -> None:
    a = story("Read the full story on our website.", "First story", "a", "https://a.example/1")
    b = story("Read the full story on our website.", "First story", "b", "https://b.example/2")
    assert stories.word_count(a.text) < stories.MIN_WORDS
    assert not compare(a, b).same
    assert sketch(a.text) == ()


def test_unrelated_texts_of_one_language_are_different_stories() -> None:
    texts = []
    for path in (REAL / "netnewswire-scriptingNews.rss", REAL / "rss-parser-guardian.rss"):
        feed = parse_feed(path.read_bytes(), path.as_uri(), {})
        texts += [clean_entry(e, load_rules(), explain=False).text for e in feed.entries]
    long = [t for t in texts if stories.word_count(t) >= stories.MIN_WORDS]
    assert len(long) >= 40
    for i, a in enumerate(long):
        for b in long[i + 1 :]:
            assert not compare(story(a, "", "x", "https://x/1"), story(b, "", "y", "https://y/2")).same


# -- the candidate index -----------------------------------------------------------------------


def test_sketch_finds_copies_and_little_else() -> None:
    a = sketch(ARTICLE)
    assert len(a) == stories.SKETCH_SIZE and a == sketch(ARTICLE)
    assert stories.resemblance(a, sketch(ARTICLE + " Foto: dpa")) >= 0.5
    assert stories.resemblance(a, sketch(WEATHER.format(city="Berlin"))) == 0.0
    assert all(-(1 << 63) <= h < 1 << 63 for h in a)  # fits SQLite's INTEGER


def test_link_key() -> None:
    assert link_key("https://www.Example.org/a/b/?x=1#top") == "example.org/a/b?x=1#top"
    assert link_key("HTTP://example.org/a/b") == "example.org/a/b"
    assert link_key("relative") is None and link_key("mailto:a@b") is None


VOCABULARY = "die der und NATO Japan Büro Tokio sagte am Montag über eine neue Strategie im"
WORDS = st.sampled_from(re.findall(r"\w+", VOCABULARY + " Indopazifik mit Partnern wie Australien"))


@settings(max_examples=150, deadline=None)
@given(st.lists(WORDS, min_size=stories.MIN_WORDS, max_size=80), st.data())
def test_property_a_changed_number_is_always_another_story(
    words: list[str], data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(words)))
    first, second = data.draw(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)))
    if first == second:
        second += 1
    text = " ".join([*words[:position], str(first), *words[position:]])
    other = " ".join([*words[:position], str(second), *words[position:]])
    assert not compare(story(text, source="a"), story(other, source="b")).same


@settings(max_examples=150, deadline=None)
@given(st.lists(WORDS, min_size=stories.MIN_WORDS, max_size=80), st.text(max_size=30))
def test_property_a_text_and_its_copy_with_a_credit_line_are_one_story(
    words: list[str], credit: str
) -> None:
    text = " ".join(words)
    credit_words = re.findall(r"\w+", credit)[:3]  # a credit line is a few words
    copy = story(f"{text} {' '.join(credit_words)}", source="b")
    assert compare(story(text, source="a"), copy).same
    assert sketch(text) == sketch(text)


# -- the store asks -------------------------------------------------------------------------


def _entries(path: Path, source: str) -> list[NewEntry]:
    feed = parse_feed(path.read_bytes(), path.as_uri(), {})
    out = []
    for parsed in feed.entries:
        clean = clean_entry(parsed, load_rules(), explain=False)
        out.append(NewEntry(source, parsed, digest(parsed), clean, (), sketch(clean.text)))
    return out


def test_a_real_blog_of_anchors_on_daily_pages_keeps_every_post(store: SQLStore) -> None:
    """Scripting News: 41 of its posts were merged away when links lost their fragment."""
    entries = _entries(REAL / "netnewswire-scriptingNews.rss", "scripting")
    assert len({link_key(e.clean.link).split("#")[0] for e in entries if e.clean.link}) < 20
    store.save_poll(SourceState("scripting"), entries, [], 1.0)
    assert len(store.feed_entries(None, 1000)) == len(entries) > 40


def _entry(source: str, key: str, title: str, text: str) -> NewEntry:
    parsed = ParsedEntry(key, title, f"https://{source}.example/{key}", f"<p>{text}</p>")
    clean = CleanEntry(title, parsed.link, parsed.html, text)
    return NewEntry(source, parsed, digest(parsed), clean, (), sketch(text))


def test_copies_from_other_sources_are_published_once_in_the_longest_version(
    store: SQLStore,
) -> None:
    store.save_poll(SourceState("a"), [_entry("a", "1", TITLE, ARTICLE)], [], 1.0)
    store.save_poll(
        SourceState("b"), [_entry("b", "9", f"(dpa) {TITLE}", ARTICLE + " Foto: dpa")], [], 2.0
    )
    berlin = _entry("c", "5", "Weather for Berlin", WEATHER.format(city="Berlin"))
    hamburg = _entry("c", "6", "Weather for Hamburg", WEATHER.format(city="Hamburg"))
    store.save_poll(SourceState("c"), [berlin, hamburg], [], 3.0)
    published = store.feed_entries(None, 10)
    assert sorted(e.link for e in published) == [
        "https://b.example/9",  # the longer version stands for the story
        "https://c.example/5",
        "https://c.example/6",
    ]
    (found,) = store.stories()
    assert found.entry.link == "https://b.example/9"
    (copy,) = found.copies
    assert (copy.source, copy.link) == ("a", "https://a.example/1")
    assert copy.why.startswith("same text: text 0.9")
    assert store.stories("tokio") == [found] and store.stories("nothing like it") == []
    store.close()


def test_a_copy_outside_the_window_of_publication_is_another_story(backend: Backend) -> None:
    store = backend.open(story_window=86400.0)

    def dated(entry: NewEntry, day: int) -> NewEntry:
        when = datetime(2026, 11, day, 12, tzinfo=UTC)
        return dataclasses.replace(entry, parsed=dataclasses.replace(entry.parsed, published=when))

    store.save_poll(SourceState("a"), [dated(_entry("a", "1", TITLE, ARTICLE), 1)], [], 1.0)
    store.save_poll(SourceState("b"), [dated(_entry("b", "1", TITLE, ARTICLE), 5)], [], 2.0)
    store.save_poll(SourceState("c"), [dated(_entry("c", "1", TITLE, ARTICLE), 5)], [], 3.0)
    published = sorted(e.source for e in store.feed_entries(None, 10))
    assert published[0] == "a" and len(published) == 2  # b and c are one story, a another
    store.close()
