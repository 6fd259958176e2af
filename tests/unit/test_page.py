"""The status page's pure parts (syndicator/page.py) with plain values: everything shown is
escaped and no secret or script link gets in, matched words are marked however the text spells
them, snippets, the chart, the full-text counts. The page in headless Chromium from a running
daemon is tests/system/test_page.py."""

from __future__ import annotations

import html
import re

from syndicator.match.explain import term_spans
from syndicator.model import Carrier, MatchedStory, SourceState
from syndicator.page import ChannelStatus, SourceStatus, Status, chart, render, snippet

SECRETS = ("s3cretpass", "topsecret123")
HOSTILE = '<script>alert("x")</script> NATO \'q\' "dq" & \x1b[2J\x07 <img src=x onerror=alert(1)>'


# -- pure: escaping, highlighting, the chart ---------------------------------------------------


def _hostile_status() -> Status:
    story = MatchedStory(
        id=1,
        source=HOSTILE,
        title=HOSTILE,
        link='javascript:alert("x")',
        text=f"Vorher. {HOSTILE} Die NATO-Staaten beraten. https://u:{SECRETS[0]}@h/x",
        stamp=1.0,
        terms=("NATO", HOSTILE),
        carriers=(Carrier(HOSTILE, f"https://u:{SECRETS[0]}@h/c?apikey={SECRETS[1]}"),),
    )
    return Status(
        topics=((HOSTILE, HOSTILE),),
        sources=(
            SourceStatus(
                HOSTILE,
                f"https://u:{SECRETS[0]}@h/f?apikey={SECRETS[1]}",
                SourceState(HOSTILE, last_error=HOSTILE, failures=2, last_attempt=1.0),
                (0, 3, 1),
            ),
        ),
        problems=(HOSTILE,),
        stories=((HOSTILE, (story,)),),
        channels=(ChannelStatus(HOSTILE, 1, 2, 1, 0, HOSTILE),),
        updated=100.0,
    )


def test_everything_shown_is_escaped_and_no_secret_or_script_link_is_in_the_page() -> None:
    page = render(_hostile_status(), [f"{HOSTILE}.atom", "all.atom"])
    assert "<script" not in page and "<img" not in page
    assert 'href="javascript' not in page
    for secret in SECRETS:
        assert secret not in page
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", page), "a control character got through"
    assert "\n" not in page
    # What a reader sees of the hostile text is the text itself, escaped.
    assert html.escape('<script>alert("x")</script>') in page
    assert "\\x1b[2J\\x07" in page
    assert 'href="https://h/f"' in page  # the source linked without its credentials


def test_a_matched_word_is_marked_however_the_text_spells_it() -> None:
    text = "Die Natoerweiterung und NATO-Staaten im Indo-Pazifik, nicht Anatolien."
    assert [text[a:b] for a, b in term_spans(["NATO"], text)] == ["Natoerweiterung", "NATO"]
    assert [text[a:b] for a, b in term_spans(["Indopazifik"], text)] == ["Indo-Pazifik"]
    assert [text[a:b] for a, b in term_spans(['"Indo-Pazifik"'], text)] == ["Indo-Pazifik"]
    assert [text[a:b] for a, b in term_spans(["Indo*"], text)] == ["Indo"]
    shown = snippet(text, ["NATO", "Indopazifik"])
    assert re.findall(r"<mark>(.*?)</mark>", shown) == ["Natoerweiterung", "NATO", "Indo-Pazifik"]
    assert "Anatolien" in shown and "<mark>Anatolien" not in shown


def test_a_snippet_starts_near_the_first_match_of_a_long_text() -> None:
    text = "Wort " * 400 + "Die NATO tagt. " + "Ende " * 400
    shown = snippet(text, ["NATO"])
    assert shown.startswith("… ") and shown.endswith(" …")
    assert "<mark>NATO</mark>" in shown and len(shown) < 400


def test_the_chart_has_a_bar_per_day_scaled_to_the_busiest() -> None:
    svg = chart((0, 5, 10), today=86400 * 3)
    heights = [int(h) for h in re.findall(r'class="bar"[^>]*height="(\d+)"', svg)]
    assert len(heights) == 3 and heights[0] == 0 and heights[2] == 30 and 0 < heights[1] < 30
    assert "15 entries in the last 3 days" in svg


def test_the_status_page_counts_full_text_fetches_per_source() -> None:
    from syndicator.page import SourceStatus, Status, render

    page = render(
        Status(
            sources=(
                SourceStatus("zeitung", "https://z.example/feed", None, (), (7, 2)),
                SourceStatus("blog", "https://b.example/feed", None, ()),
            )
        ),
        [],
    )
    assert page.count("<dt>full text</dt>") == 1  # the source that asks for it only
    assert "<dt>full text</dt><dd>7 fetched, 2 failed</dd>" in page
