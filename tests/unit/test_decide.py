"""The daemon's pure decisions (syndicator/decide.py): a source's health changes are reported
once, on the way down and on the way back; an entry is a teaser whose article page to fetch."""

from __future__ import annotations

from syndicator.decide import TEASER_WORDS, health_change, needs_fulltext
from syndicator.model import SourceState


def test_health_changes_once() -> None:
    ok = SourceState("s")
    failing = SourceState("s", failures=5, last_status=500)
    assert health_change(ok, failing, threshold=5) == "unhealthy"
    reported = SourceState("s", failures=6, unhealthy=True)
    assert health_change(reported, SourceState("s", failures=7, unhealthy=True), 5) is None
    assert health_change(ok, SourceState("s", failures=1, last_status=410), 5) == "unhealthy"
    assert health_change(reported, SourceState("s", unhealthy=True), 5) == "recovered"


def test_a_teaser_is_short_or_points_to_the_page() -> None:
    link = "https://e.example/a"
    long_text = " ".join(["Wort"] * (TEASER_WORDS + 5))
    assert not needs_fulltext("off", "<p>kurz</p>", "kurz", link)
    assert needs_fulltext("auto", "<p>kurz</p>", "kurz", link)
    assert not needs_fulltext("auto", f"<p>{long_text}.</p>", long_text, link)
    # Long, but cut off: an ellipsis or a read-more link the cleaner took out.
    assert needs_fulltext("auto", f"<p>{long_text} […]</p>", long_text, link)
    assert needs_fulltext(
        "auto", f'<p>{long_text}</p><a href="{link}">Read more »</a>', long_text, link
    )
    assert needs_fulltext("on", f"<p>{long_text}.</p>", long_text, link)
    assert not needs_fulltext("on", "<p>kurz</p>", "kurz", "")  # nothing to fetch
    assert not needs_fulltext("auto", "<p>kurz</p>", "kurz", "javascript:alert(1)")
