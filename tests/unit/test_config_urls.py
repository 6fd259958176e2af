"""A URL means one thing everywhere: schemes are case-insensitive, a URL is never silently a
local path, and one function (syndicator/config.py's http_url) decides which is which for the
config and for OPML import. `add`, `clean` and discovery through the installed command:
tests/system/test_urls.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.config import Source, http_url
from syndicator.opml import parse_opml, plan_import


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("HTTP://example.org/Feed", "http://example.org/Feed"),
        ("hTTpS://example.org/feed", "https://example.org/feed"),
        ("  https://example.org/  ", "https://example.org/"),
        ("https://example.org/a\nb", None),  # a control character: no URL
        ("https://example.org/\x1b[2J", None),
        ("https://example.org/\x85x", None),  # C1
        ("http:/example.org/feed", None),
        ("feed.xml", None),
        ("/srv/feeds/feed.xml", None),
        ("file:///srv/feed.xml", None),
        ("ftp://example.org/", None),
    ],
)
def test_one_function_tells_a_url_from_a_path(text: str, url: str | None) -> None:
    assert http_url(text) == url
    assert Source("s", text, 60).is_file == (url is None)


@given(st.text(), st.sampled_from(["http", "HTTP", "Http", "https", "HTTPS", "hTTpS"]))
def test_schemes_are_case_insensitive(rest: str, scheme: str) -> None:
    url = http_url(f"{scheme}://{rest}")
    assert url == http_url(f"{scheme.lower()}://{rest}")
    assert url is None or url.startswith(("http://", "https://"))


def test_opml_urls_in_any_case_are_urls_and_with_control_characters_are_refused() -> None:
    data = b"""<opml version="2.0"><body>
      <outline text="loud" xmlUrl="hTTpS://example.org/feed"/>
      <outline text="broken" xmlUrl="https://example.org/feed&#10;[[sources]]"/>
      <outline text="tab" xmlUrl="https://example.org/&#9;x"/>
      <outline text="nel" xmlUrl="https://example.org/&#133;x"/>
    </body></opml>"""
    plan = plan_import(parse_opml(data), [])
    assert [s.url for s in plan.add] == ["https://example.org/feed"]
    assert [(f.title, why) for f, why in plan.skipped] == [
        ("broken", "refused: the URL contains control characters"),
        ("tab", "refused: the URL contains control characters"),
        ("nel", "refused: the URL contains control characters"),
    ]
