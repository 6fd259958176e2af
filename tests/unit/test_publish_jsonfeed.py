"""JSON Feed 1.1 rendering (publish.render_json_feed) over arbitrary text: valid against the
spec's fields, UTF-8, no control codes. The feeds a real run writes and serves are checked in
tests/system/test_jsonfeed.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.model import StoredEntry, TopicHit
from syndicator.publish import JSON_FEED_VERSION, render_json_feed


def parse_time(value: object) -> datetime:
    """RFC 3339 as JSON Feed requires: a full date and time with a zone."""
    assert isinstance(value, str) and "T" in value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.tzinfo is not None, value
    return moment


def check_json_feed(feed: dict[str, Any], feed_url: str) -> None:
    """The fields https://jsonfeed.org/version/1.1 requires, and the types of those we use."""
    assert feed["version"] == JSON_FEED_VERSION == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    assert feed["feed_url"] == feed_url
    assert feed["authors"] and all(isinstance(a["name"], str) for a in feed["authors"])
    assert isinstance(feed["items"], list)
    known = {
        "id", "url", "external_url", "title", "content_html", "content_text", "summary",
        "image", "banner_image", "date_published", "date_modified", "authors", "tags",
        "language", "attachments",
    }  # fmt: skip
    for item in feed["items"]:
        assert set(item) <= known, set(item) - known
        assert isinstance(item["id"], str) and item["id"]
        assert "content_html" in item or "content_text" in item  # one of them is required
        assert isinstance(item["content_html"], str)
        assert isinstance(item["title"], str)
        parse_time(item["date_published"])
        parse_time(item["date_modified"])
        if "url" in item:
            assert item["url"].startswith(("http://", "https://"))
        for author in item.get("authors", []):
            assert isinstance(author["name"], str)
        assert all(isinstance(t, str) for t in item.get("tags", []))


# -- arbitrary text --------------------------------------------------------------------------------


def stored(title: str, html: str, author: str, terms: list[str]) -> StoredEntry:
    return StoredEntry(
        id=1,
        uid="urn:uuid:1",
        source="dw",
        title=title,
        link="https://example.org/x",
        html=html,
        text=html,
        author=author,
        published=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        updated=datetime(2024, 1, 3, tzinfo=UTC),
        hits=(TopicHit("nato", tuple(terms)),),
    )


# What XML forbids or a terminal reader obeys; kept out of the Atom feed, so out of this one.
CONTROLS = set(map(chr, [*range(0x20), *range(0x7F, 0xA0)])) - {"\t", "\n", "\r"}


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(), st.text(), st.lists(st.text(max_size=10), max_size=3))
def test_any_text_makes_a_valid_json_feed_without_control_codes(
    title: str, html: str, author: str, terms: list[str]
) -> None:
    data = render_json_feed(
        "nato", "Syndicator: nato", [stored(title, html, author, terms)], "http://h/", topic="nato"
    )
    feed = json.loads(data.decode("utf-8"))  # UTF-8, valid JSON, whatever the entry holds
    check_json_feed(feed, "http://h/nato.json")
    (item,) = feed["items"]
    assert item["date_published"] == "2024-01-02T03:04:05Z"
    for field in ("title", "content_html", "summary"):
        assert not set(item[field]) & CONTROLS
    assert item["title"]  # an empty title falls back to the text's start, or "(untitled)"
