"""The status page as a person sees it: in headless Chromium, from a running daemon, at a phone's
width and a desktop's, in light and dark. Its pure parts are tested in tests/unit/test_page.py."""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FeedServer, Route, free_port, running, wait_until, write_config
from tests.unit.test_page import SECRETS

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HOSTILE_XML = '<script>alert("x")</script> \'q\' "dq" & <img src=x onerror=alert(1)>'


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
