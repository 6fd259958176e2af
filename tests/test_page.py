"""The status page as a person sees it: in headless Chromium, from a running daemon, at a phone's
width and a desktop's, in light and dark; and the pure parts (escaping, highlighting, the
chart, the store's bounded read) with plain values."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.errors import StoreError
from syndicator.match.explain import Word, term_spans, words_with_spans
from syndicator.match.query import WORD_RE, fold
from syndicator.model import (
    Carrier,
    CleanEntry,
    MatchedStory,
    NewAlert,
    NewEntry,
    ParsedEntry,
    SourceState,
    TopicHit,
)
from syndicator.page import ChannelStatus, SourceStatus, Status, chart, render, snippet
from syndicator.stories import sketch
from tests.conftest import Backend, FeedServer, Route, free_port, running, wait_until, write_config

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SECRETS = ("s3cretpass", "topsecret123")
HOSTILE_XML = '<script>alert("x")</script> \'q\' "dq" & <img src=x onerror=alert(1)>'
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


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_words_with_spans_maps_every_word_back_to_the_text(text: str) -> None:
    """The ASCII shortcut and the character cache give what folding each character gives."""
    folded, origin = "", []
    for i, ch in enumerate(text):
        folded += fold(ch)
        origin += [i] * len(fold(ch))
    expected = [
        Word(m.group(), origin[m.start()], origin[m.end() - 1] + 1)
        for m in WORD_RE.finditer(folded)
    ]
    assert words_with_spans(text) == expected


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


def test_the_server_renders_the_page_once_per_snapshot_and_list_of_feeds(tmp_path: Path) -> None:
    from syndicator.serve import FeedServer as Server

    server = Server(tmp_path, "127.0.0.1", 0)
    server.start()
    try:
        server.status = _hostile_status()
        first = server.page(["all.atom"])
        assert server.page(["all.atom"]) is first  # a reload costs no rendering
        assert b"nato.atom" in server.page(["all.atom", "nato.atom"])
        server.status = dataclasses.replace(server.status, updated=200.0)  # the next cycle's
        assert server.page(["all.atom"]) != first
    finally:
        server.stop()


# -- the store's read: both databases ---------------------------------------------------------


def _entry(
    key: str, source: str, title: str, link: str, text: str, hits: tuple[str, ...]
) -> NewEntry:
    parsed = ParsedEntry(key=key, title=title, link=link, html=f"<p>{text}</p>")
    clean = CleanEntry(title=title, link=link, html=f"<p>{text}</p>", text=text)
    return NewEntry(
        source, parsed, f"d-{key}", clean, tuple(TopicHit(t, ("NATO",)) for t in hits), sketch(text)
    )


def test_the_page_report_reads_the_newest_stories_their_carriers_and_entries_per_day(
    backend: Backend,
) -> None:
    store = backend.open()
    day = 86400.0
    now = 100 * day + 3600
    for i in range(15):  # one a day from 14 days before today up to today
        text = f"Bericht {i}: die NATO tagt, Runde {i} von vielen, mit eigenen Worten {i * 7919}."
        store.save_poll(
            SourceState("wire"),
            [_entry(f"k{i}", "wire", f"NATO {i}", f"https://a/{i}", text, ("nato",))],
            [NewAlert("mail", 0, ("nato",))],
            now - (14 - i) * day,
        )
    copy = "Bericht 14: die NATO tagt, Runde 14 von vielen, mit eigenen Worten 110866."
    store.save_poll(
        SourceState("daily"),
        [_entry("c", "daily", "NATO 14", "https://a/14", copy, ("nato",))],
        [],
        now,
    )
    report = store.page_report(["nato", "none"], 10, 14, now)
    titles = [s.title for s in report.stories["nato"]]
    assert titles == [f"NATO {i}" for i in range(14, 4, -1)]  # newest first, ten of them
    assert report.stories["none"] == ()
    newest = report.stories["nato"][0]
    assert newest.source == "wire" and newest.terms == ("NATO",)
    assert newest.carriers == (Carrier("daily", "https://a/14"),) and newest.copies == 1
    assert "NATO" in newest.text
    assert report.daily["wire"] == (1,) * 14  # the 15th is older than the 14 days
    assert report.daily["daily"] == (0,) * 13 + (1,)
    mail = report.channels["mail"]
    assert (mail.pending, mail.sent) == (15, 0)


def test_an_older_database_gains_the_page_indexes(backend: Backend) -> None:
    """Schema 6 had neither index: opening it adds them, on either database."""
    store = backend.open()
    store._db.execute("DROP INDEX hits_topic_entry")
    store._db.execute("DROP INDEX entries_seen_source")
    store._db.execute("UPDATE meta SET value='6' WHERE key='schema'")
    if backend.kind == "sqlite":
        names = "SELECT name FROM sqlite_master WHERE type='index'"
    else:
        names = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    with pytest.raises(StoreError, match="is at schema 6, older than this Syndicator"):
        backend.open(read_only=True)  # a report neither upgrades it nor misreads it
    assert "hits_topic_entry" not in {str(r[0]) for r in store._db.execute(names)}
    again = backend.open()
    indexes = {str(r[0]) for r in again._db.execute(names)}
    assert {"hits_topic_entry", "entries_seen_source"} <= indexes
    (version,) = again._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    assert int(version) >= 7  # 7 gave the indexes; later versions keep them


# -- in a real browser, from a running daemon ---------------------------------------------------


def _rss(items: list[tuple[str, str, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{html.escape(title)}</title><link>{link}</link><guid>{guid}</guid>"
        f"<description>{html.escape(text)}</description></item>"
        for guid, title, link, text in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://example.org/</link>{body}</channel></rss>"
    ).encode()


STORIES = [
    (
        "s1",
        "NATO-Gipfel: Allianz stärkt ihre Präsenz im Indo-Pazifik",
        "https://news.example/nato-gipfel",
        "Die Staats- und Regierungschefs der Allianz haben beim Gipfel in Den Haag beschlossen, "
        "die Zusammenarbeit mit Japan, Südkorea und Australien auszubauen. Die NATO-Staaten "
        "wollen im Indo-Pazifik enger mit ihren Partnern üben; über eine Natoerweiterung wurde "
        "nicht gesprochen.",
    ),
    (
        "s2",
        "Japan opens talks on a NATO liaison office in Tokyo",
        "https://news.example/nato-tokyo",
        "Officials in Tokyo said talks on the alliance's first liaison office in the "
        "Indo-Pacific would begin next month. NATO's secretary general welcomed the step.",
    ),
    (
        "s3",
        f"{html.escape(HOSTILE_XML)} Sicherheitsrat berät",  # text, not markup, in the feed
        "https://news.example/hostile",
        "Der Sicherheitsrat der Vereinten Nationen berät über die Lage; die NATO beobachtet.",
    ),
    (
        "s4",
        "Neue Fahrradbrücke für die Innenstadt",
        "https://news.example/bruecke",
        "Die Stadt eröffnet eine neue Brücke für Radfahrer und Fußgänger über den Fluss.",
    ),
]


@pytest.fixture
def chromium() -> Iterator[Any]:
    """Headless Chromium from Debian's packages through its own chromedriver (never a
    downloaded one). A missing one fails the test, saying how to install it."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        pytest.fail(
            f"the page is tested in Chromium, and {', '.join(missing)} is missing: "
            "apt-get install -y chromium chromium-driver (.ci/run does)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--hide-scrollbars",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _viewport(driver: Any, width: int, height: int, mobile: bool, dark: bool) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
    )


def _screenshot(driver: Any, path: Path) -> None:
    """The whole page, not only the viewport."""
    import base64

    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def _luminance(css: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_the_page_in_chromium_shows_what_matched_how_sources_do_and_no_secret(
    tmp_path: Path, feed_server: FeedServer, chromium: Any
) -> None:
    from selenium.webdriver.common.by import By

    feed_server.routes[f"/wire.rss?apikey={SECRETS[1]}"] = Route(_rss(STORIES))
    feed_server.routes["/daily.rss"] = Route(_rss([STORIES[1]]))
    port = free_port()
    host = feed_server.base.removeprefix("http://")
    config = write_config(
        tmp_path,
        f"""
[server]
listen = "127.0.0.1:{port}"
[[sources]]
name = "wire"
url = "http://reader:{SECRETS[0]}@{host}/wire.rss?apikey={SECRETS[1]}"
[[sources]]
name = "daily"
url = "{feed_server.base}/daily.rss"
[[sources]]
name = "broken"
url = "{feed_server.base}/gone.rss"
[[topics]]
name = "nato"
query = "NATO"
[[topics]]
name = "indo-pacific"
query = 'Indopazifik OR "Indo-Pacific"'
[[alerts]]
type = "console"
""",
    )
    base = f"http://127.0.0.1:{port}/"
    with running("run", "--config", str(config)) as proc:

        def cycled() -> bool:
            try:
                page = httpx.get(base, timeout=5).text
            except httpx.HTTPError:
                return False
            return "<mark>" in page and "HTTP 404" in page and "also in" in page

        wait_until(cycled, proc)
        raw = httpx.get(base).text
        for secret in SECRETS:
            assert secret not in raw

        # A phone, in the light.
        _viewport(chromium, 375, 800, mobile=True, dark=False)
        chromium.get(base)
        marks = [m for m in chromium.find_elements(By.TAG_NAME, "mark") if m.is_displayed()]
        seen = {m.text for m in marks}
        assert "NATO" in seen and "Natoerweiterung" in seen  # the word, and a closed compound
        assert "Indo-Pazifik" in seen and "Indo-Pacific" in seen  # one query, two spellings
        assert not chromium.find_elements(By.TAG_NAME, "script")
        assert not chromium.find_elements(By.CSS_SELECTOR, "main img")
        text = chromium.find_element(By.TAG_NAME, "body").text
        assert '<script>alert("x")</script>' in text  # the hostile title, shown as text
        for secret in SECRETS:
            assert secret not in text and secret not in chromium.page_source
        assert "also in daily" in text or "also in wire" in text  # the same story elsewhere
        assert "HTTP 404" in text  # why the broken source fails
        for name in ("all.atom", "nato.atom", "indo-pacific.atom"):
            assert chromium.find_elements(By.CSS_SELECTOR, f'#feeds a[href="/{name}"]'), name
        charts = chromium.find_elements(By.CSS_SELECTOR, "#sources svg.chart")
        assert len(charts) == 3
        bars = charts[0].find_elements(By.CSS_SELECTOR, "rect.bar")
        assert len(bars) == 14 and float(bars[-1].get_attribute("height")) > 0  # today's entries
        assert charts[0].size["width"] > 0 and charts[0].is_displayed()
        width, client = chromium.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert client == 375 and width <= client, f"scrolls sideways at 375px: {width} > {client}"
        light = chromium.execute_script("return getComputedStyle(document.body).backgroundColor")
        shots = Path(tempfile.gettempdir())
        _screenshot(chromium, shots / "syndicator-page-phone.png")

        # The same phone in the dark.
        _viewport(chromium, 375, 800, mobile=True, dark=True)
        chromium.get(base)
        dark = chromium.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert _luminance(light) > 0.9 and _luminance(dark) < 0.15, (light, dark)
        mark = chromium.find_element(By.TAG_NAME, "mark")
        assert _luminance(mark.value_of_css_property("color")) > 0.5  # light text on dark
        _screenshot(chromium, shots / "syndicator-page-phone-dark.png")

        # A desktop: the sources side by side, nothing wider than the window either.
        _viewport(chromium, 1280, 900, mobile=False, dark=False)
        chromium.get(base)
        cards = chromium.find_elements(By.CSS_SELECTOR, "#sources article")
        assert len({c.location["y"] for c in cards}) < len(cards)  # more than one per row
        width, client = chromium.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert width <= client
        _screenshot(chromium, shots / "syndicator-page-desktop.png")
        assert (shots / "syndicator-page-desktop.png").stat().st_size > 10_000
