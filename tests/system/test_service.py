"""Service behaviour with real subprocesses and loopback servers: one alert per story across
sources, unhealthy sources reported once, Retry-After and back-off, SMTP outages, SIGHUP."""

from __future__ import annotations

import itertools
import signal
from pathlib import Path

import httpx

from tests.conftest import (
    DATA,
    FeedServer,
    Mailbox,
    Route,
    free_port,
    run_cli,
    running,
    wait_until,
    write_config,
)

ARTICLE = (
    "Die NATO und Japan arbeiten an der Eröffnung eines Verbindungsbüros in Tokio. "
    "Das Büro soll die Zusammenarbeit im Indopazifik stärken und den Austausch über "
    "Sicherheitsfragen erleichtern. Nach Angaben aus Brüssel sind die Gespräche weit "
    "fortgeschritten, ein Abkommen könnte noch in diesem Jahr unterzeichnet werden. "
    "Japan ist für das Bündnis der wichtigste Partner in der Region."
)


def rss(*items: tuple[str, str, str, str]) -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{g}</guid>"
        f"<description>&lt;p&gt;{text}&lt;/p&gt;</description></item>"
        for t, link, g, text in items
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>t</title><link>https://example.org/</link>{body}</channel></rss>"
    ).encode()


def alert_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("ALERT ")]


def test_same_story_from_two_sources_alerts_once_and_is_published_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    short = ARTICLE[:200]
    feed_server.routes["/a"] = Route(
        rss(
            ("NATO-Büro in Tokio", "https://news.example.org/nato-tokio?utm_source=a", "a1", short),
        )
    )
    feed_server.routes["/b"] = Route(
        rss(
            (
                "NATO eröffnet Büro in Tokio",
                "https://www.news.example.org/nato-tokio/",
                "b1",
                ARTICLE,
            ),
            (
                "Andere Meldung mit fast gleichem Text",
                "https://other.example.com/x",
                "b2",
                ARTICLE.replace("weit fortgeschritten", "weit gediehen"),
            ),
        )
    )
    config = write_config(
        tmp_path,
        f"""
[[sources]]
name = "a"
url = "{feed_server.base}/a"
[[sources]]
name = "b"
url = "{feed_server.base}/b"
[[topics]]
name = "nato"
query = "NATO"
[[alerts]]
type = "console"
""",
    )
    first = run_cli("run", "--once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    lines = alert_lines(first.stdout)
    assert len(lines) == 1, lines  # three versions of one story: one alert
    # Each merge is logged with both entries and its evidence, and `copies` shows it.
    assert "same link: same link, titles 0.8" in first.stderr
    assert "same text: text 0.98 aligned" in first.stderr
    copies = run_cli("copies", "--config", str(config))
    assert copies.returncode == 0, copies.stderr
    head, *rest = copies.stdout.splitlines()
    assert head.startswith("NATO eröffnet Büro in Tokio — https://www.news.example.org/nato-tokio")
    assert head.endswith("(b) stands for 2:")
    assert sorted(line.split(":")[0].strip() for line in rest) == ["a", "b"]
    second = run_cli("run", "--once", "--config", str(config))
    assert alert_lines(second.stdout) == []
    for feed in ("all.atom", "nato.atom"):
        text = (tmp_path / "feeds" / feed).read_text(encoding="utf-8")
        assert text.count("<entry>") == 1, feed
        assert "Japan ist für das Bündnis der wichtigste Partner" in text  # the complete one


def test_unhealthy_source_is_reported_once_then_recovery(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/gone"] = Route(b"gone", status=410)
    config = write_config(
        tmp_path,
        f"""
[syndicator]
[[sources]]
name = "gone"
url = "{feed_server.base}/gone"
interval = "10s"
[[alerts]]
type = "console"
""".replace("[syndicator]\n", ""),
    )
    outputs = []
    for _ in range(3):
        # run --once skips a source in back-off; move its next poll into the past each time
        result = run_cli("run", "--once", "--config", str(config))
        assert result.returncode == 0
        outputs.append(result.stdout)
        _expire_backoff(tmp_path)
    notices = [line for out in outputs for line in out.splitlines() if line.startswith("NOTICE")]
    assert notices == ["NOTICE source gone is failing: HTTP 410 Gone"]
    feed_server.serve_file("/gone", DATA / "sample-news.rss")
    result = run_cli("run", "--once", "--config", str(config))
    assert "NOTICE source gone works again" in result.stdout


def _expire_backoff(directory: Path) -> None:
    import sqlite3

    with sqlite3.connect(directory / "state" / "s.sqlite") as db:
        db.execute("UPDATE sources SET next_poll = 0")


def test_retry_after_and_back_off_are_observed(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.routes["/busy"] = Route(b"", status=503, headers={"Retry-After": "3600"})
    feed_server.routes["/broken"] = Route(b"", status=500)
    feed_server.serve_file("/fine", DATA / "sample-news.rss")
    config = write_config(
        tmp_path,
        f"""
[[sources]]
name = "busy"
url = "{feed_server.base}/busy"
[[sources]]
name = "broken"
url = "{feed_server.base}/broken"
[[sources]]
name = "fine"
url = "{feed_server.base}/fine"
""",
    )
    for _ in range(3):
        result = run_cli("run", "--once", "--config", str(config))
        assert result.returncode == 0
    # The server saw busy and broken once each (then they were held back), fine every time.
    assert len(feed_server.requests_to("/busy")) == 1
    assert len(feed_server.requests_to("/broken")) == 1
    assert len(feed_server.requests_to("/fine")) == 3
    assert "source=busy skipped" in result.stderr and "source=broken skipped" in result.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "state" / "s.sqlite") as db:
        rows = dict(db.execute("SELECT name, next_poll - last_attempt FROM sources"))
    assert rows["busy"] >= 3600 * 0.9  # Retry-After beats the 15 min interval
    assert 900 * 0.9 <= rows["broken"] <= 900 * 1.1  # first failure: one interval


def test_daemon_survives_smtp_outage_and_picks_up_new_topic_on_sighup(
    tmp_path: Path, feed_server: FeedServer, smtp: tuple[Mailbox, int]
) -> None:
    box, smtp_port = smtp
    box.refuse = True
    url = feed_server.serve_file("/sample.rss", DATA / "sample-news.rss")
    port = free_port()
    base = f"""
[server]
listen = "127.0.0.1:{port}"
[[sources]]
name = "sample"
url = "{url}"
[[topics]]
name = "nato"
query = "NATO"
[[alerts]]
type = "email"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
retry = "1s"
from = "s@example.org"
to = ["a@example.org"]
"""
    config = write_config(tmp_path, base)
    with running("run", "--config", str(config)) as proc:
        feeds = tmp_path / "feeds"
        wait_until(lambda: (feeds / "nato.atom").exists(), proc)
        assert box.messages == []
        box.refuse = False  # the mail server is back: every alert arrives, once
        wait_until(lambda: len(box.messages) >= 2, proc)
        # A new topic in the config, then SIGHUP: its feed appears without a restart.
        config.write_text(config.read_text() + '[[topics]]\nname = "japan"\nquery = "Japan"\n')
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: (feeds / "japan.atom").exists(), proc)
        served = httpx.get(f"http://127.0.0.1:{port}/japan.atom")
        assert served.status_code == 200 and "Verbindungsbüro" in served.text
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
        assert proc.returncode == 0
    subjects = sorted(str(m["Subject"]) for m in box.messages)
    assert len(subjects) == 2 and all(s.startswith("[nato] NATO") for s in subjects)


def test_requests_to_one_host_are_spaced(tmp_path: Path, feed_server: FeedServer) -> None:
    sources = ""
    for i in range(4):
        feed_server.serve_file(f"/f{i}", DATA / "sample-news.rss")
        sources += f'[[sources]]\nname = "f{i}"\nurl = "{feed_server.base}/f{i}"\n'
    config = write_config(tmp_path, '[fetch]\nper_host_interval = "0.3s"\n' + sources)
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    starts = sorted(r.at for r in feed_server.log)
    assert len(starts) == 4
    # The client spaces the starts by 0.3 s; the server sees them with the scheduling jitter of
    # a loaded machine (70 ms seen), so each gap is allowed that much, the whole run none.
    assert all(b - a >= 0.2 for a, b in itertools.pairwise(starts)), starts
    assert starts[-1] - starts[0] >= 3 * 0.3 - 0.05, starts


def test_websub_hub_is_advertised_and_pinged_on_change(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve_file("/sample.rss", DATA / "sample-news.rss")
    port = free_port()
    config = write_config(
        tmp_path,
        f"""
[server]
listen = "127.0.0.1:{port}"
websub_hub = "{feed_server.base}/hub"
[[sources]]
name = "sample"
url = "{url}"
""",
    )
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    pings = [r.body.decode() for r in feed_server.requests_to("/hub")]
    assert pings == [
        f"hub.mode=publish&hub.url=http%3A%2F%2F127.0.0.1%3A{port}%2Fall.{shape}"
        for shape in ("atom", "json")
    ]
    feed = (tmp_path / "feeds" / "all.atom").read_text(encoding="utf-8")
    assert f'href="{feed_server.base}/hub" rel="hub"' in feed
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    assert len(feed_server.requests_to("/hub")) == 2  # nothing changed: no ping
