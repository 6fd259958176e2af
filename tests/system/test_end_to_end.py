"""The installed command against real loopback servers: poll → clean → match → publish → alert."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from tests.conftest import DATA, REAL, FeedServer, Mailbox, run_cli, write_config

ATOM = "{http://www.w3.org/2005/Atom}"

NEW_ITEM = """<item>
      <title>NATO-Gipfel beschließt neue Partnerschaft</title>
      <link>https://example.org/politik/nato-gipfel-partnerschaft</link>
      <guid isPermaLink="false">sample-nato-gipfel</guid>
      <pubDate>Thu, 11 May 2023 08:00:00 +0000</pubDate>
      <description>Die Staats- und Regierungschefs der NATO haben sich geeinigt.</description>
    </item>
    <item>"""


def entries(path: Path) -> list[etree._Element]:
    return etree.parse(str(path)).getroot().findall(f"{ATOM}entry")


def titles(path: Path) -> list[str]:
    return [e.findtext(f"{ATOM}title") or "" for e in entries(path)]


def alert_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("ALERT ")]


def test_poll_publish_alert_then_conditional_then_one_new(
    tmp_path: Path, feed_server: FeedServer, smtp: tuple[Mailbox, int]
) -> None:
    box, smtp_port = smtp
    sample = feed_server.serve_file("/sample.rss", DATA / "sample-news.rss")
    heise = feed_server.serve_file(
        "/heise.atom", REAL / "rss-parser-heise.atom", content_type="application/atom+xml"
    )
    guardian = feed_server.serve_file("/guardian.rss", REAL / "rss-parser-guardian.rss")
    config = write_config(
        tmp_path,
        f"""
[[sources]]
name = "sample"
url = "{sample}"
[[sources]]
name = "heise"
url = "{heise}"
[[sources]]
name = "guardian"
url = "{guardian}"
[[sources]]
name = "unreachable"
url = "http://127.0.0.1:9/feed.xml"

[[topics]]
name = "nato"
query = 'NATO OR OTAN OR "North Atlantic Treaty"'
[[topics]]
name = "java"
query = 'Java'

[[alerts]]
type = "console"
[[alerts]]
type = "email"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "syndicator@example.org"
to = ["analyst@example.org"]
""",
    )

    # First run: everything is new.
    first = run_cli("run", "--once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert "unreachable" in first.stderr and "connection refused" in first.stderr
    feeds = tmp_path / "feeds"
    all_titles = titles(feeds / "all.atom")
    heise_count = len(etree.parse(str(REAL / "rss-parser-heise.atom")).findall(f"{ATOM}entry"))
    guardian_count = len(etree.parse(str(REAL / "rss-parser-guardian.rss")).findall(".//item"))
    assert len(all_titles) == 3 + heise_count + guardian_count
    nato = titles(feeds / "nato.atom")
    java = titles(feeds / "java.atom")
    assert "NATO und Japan planen Verbindungsbüro in Tokio" in nato
    assert "Neue Fahrradbrücke für die Innenstadt" not in nato
    assert java and all(t in all_titles for t in java)
    # Each flagged story alerted exactly once per channel.
    flagged = set(nato) | set(java)
    lines = alert_lines(first.stdout)
    assert len(lines) == len(flagged)
    assert len(box.messages) == len(flagged)
    subjects = [str(m["Subject"]) for m in box.messages]
    assert any(s.startswith("[nato] NATO und Japan planen") for s in subjects)
    # The cleaned text, not the boilerplate, is published.
    sample_entry = next(
        e
        for e in entries(feeds / "all.atom")
        if e.findtext(f"{ATOM}title", "").startswith("NATO und Japan")
    )
    content = sample_entry.findtext(f"{ATOM}content") or ""
    assert "seinepolitische" in content
    assert "[Anzeige_2]" not in content and "Quellenlink" not in content
    assert "Kommentar (0)" not in content

    # Second run: unchanged sources are asked conditionally, answer 304, and nothing is alerted.
    served = ("/sample.rss", "/heise.atom", "/guardian.rss")
    before = {p: len(feed_server.requests_to(p)) for p in served}
    second = run_cli("run", "--once", "--config", str(config))
    assert second.returncode == 0, second.stderr
    for path in served:
        req = feed_server.requests_to(path)[before[path] :]
        assert len(req) == 1
        assert req[0].headers.get("If-None-Match"), path
        assert req[0].status == 304
    assert alert_lines(second.stdout) == []
    assert len(box.messages) == len(flagged)

    # Third run: one new matching entry is published and alerted exactly once.
    body = (DATA / "sample-news.rss").read_text(encoding="utf-8")
    feed_server.routes["/sample.rss"].body = body.replace("<item>", NEW_ITEM, 1).encode()
    third = run_cli("run", "--once", "--config", str(config))
    assert third.returncode == 0, third.stderr
    lines = alert_lines(third.stdout)
    assert len(lines) == 1 and "NATO-Gipfel beschließt neue Partnerschaft" in lines[0]
    assert len(box.messages) == len(flagged) + 1
    assert str(box.messages[-1]["Subject"]) == "[nato] NATO-Gipfel beschließt neue Partnerschaft"
    assert titles(feeds / "all.atom")[0] == "NATO-Gipfel beschließt neue Partnerschaft"
    assert "NATO-Gipfel beschließt neue Partnerschaft" in titles(feeds / "nato.atom")

    # And a fourth run with nothing new stays silent again.
    fourth = run_cli("run", "--once", "--config", str(config))
    assert alert_lines(fourth.stdout) == []
    assert len(box.messages) == len(flagged) + 1


def test_invalid_config_names_the_key(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, '[[sources]]\nname = "x"\nurl = "http://a/"\ninterval = "soon"\n'
    )
    result = run_cli("run", "--once", "--config", str(config))
    assert result.returncode == 2
    assert "sources[0].interval" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_query_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[[topics]]\nname = "t"\nquery = "(NATO OR"\n')
    result = run_cli("run", "--once", "--config", str(config))
    assert result.returncode == 2
    assert "topics[0].query" in result.stderr and "position" in result.stderr


def test_missing_config_is_reported(tmp_path: Path) -> None:
    result = run_cli("run", "--once", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "not found" in result.stderr


def test_progress_bar_on_a_terminal_and_log_lines_otherwise(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    import os
    import pty
    import subprocess

    from tests.conftest import syndicator_command

    urls = [feed_server.serve_file(f"/{i}", DATA / "sample-news.rss") for i in range(3)]
    sources = "".join(f'[[sources]]\nname = "s{i}"\nurl = "{url}"\n' for i, url in enumerate(urls))
    config = write_config(tmp_path, sources)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*syndicator_command(), "run", "--once", "--config", str(config)],
        stdout=slave,
        stderr=slave,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closed: the process is gone
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    screen = b"".join(chunks).decode()
    assert "] 3/3 sources" in screen and "[####" in screen
    assert "status=200" not in screen  # no log line per source on a terminal
    piped = run_cli("run", "--once", "--config", str(config))
    assert "[#" not in piped.stderr
    assert "source=s0 not modified" in piped.stderr  # plain log lines when not a terminal
