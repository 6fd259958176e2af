"""The state in PostgreSQL, through the installed command: `[syndicator] state` as a URL,
shown redacted; a database that does not answer is one line; and moving from one machine to
many, `syndicator migrate --to`, after which nothing is alerted or fetched anew."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import DATA, REAL, FeedServer, Route, free_port, run_cli, write_config
from tests.system.test_service import ARTICLE, alert_lines, rss


def _sources(feed_server: FeedServer) -> str:
    feed_server.serve_file("/sample", DATA / "sample-news.rss")
    feed_server.serve_file("/guardian", REAL / "rss-parser-guardian.rss")
    feed_server.routes["/wire"] = Route(
        rss(("NATO und Japan (dpa)", "https://wire.example/1", "w1", ARTICLE + " Foto: dpa"))
    )
    feed_server.routes["/paper"] = Route(
        rss(("NATO und Japan", "https://paper.example/1", "p1", ARTICLE))
    )
    return "".join(
        f'[[sources]]\nname = "{name}"\nurl = "{feed_server.base}/{name}"\n'
        for name in ("sample", "guardian", "wire", "paper")
    )


TOPICS = """
[[topics]]
name = "nato"
query = "NATO OR OTAN"
[[topics]]
name = "world"
query = "the OR die"
[[alerts]]
type = "console"
"""


def test_a_state_migrated_to_postgres_carries_on_where_it_stopped(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    sources = _sources(feed_server)
    config = write_config(tmp_path, sources + TOPICS)
    first = run_cli("run", "--once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    alerted = alert_lines(first.stdout)
    assert len(alerted) > 10
    assert sum(line.endswith(("(wire)", "(paper)")) for line in alerted) == 1  # one story
    feeds = tmp_path / "feeds"
    before = {f.name: f.read_bytes() for f in feeds.iterdir()}
    assert set(before) == {f"{n}.{x}" for n in ("all", "nato", "world") for x in ("atom", "json")}

    moved = run_cli("migrate", "--to", postgres_url, "--config", str(config))
    assert moved.returncode == 0, moved.stderr
    assert "4 sources" in moved.stdout and "0 forgotten entries" in moved.stdout
    again = run_cli("migrate", "--to", postgres_url, "--config", str(config))
    assert again.returncode == 1
    assert "already holds a Syndicator state (4 sources" in again.stderr
    assert again.stderr.count("\n") == 1

    # Every node's config names the database now; this node starts with an empty output_dir.
    write_config(tmp_path, sources + TOPICS)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('"state/s.sqlite"', f'"{postgres_url}"'), encoding="utf-8")
    shutil.rmtree(feeds)
    feed_server.log.clear()
    second = run_cli("run", "--once", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert alert_lines(second.stdout) == []  # nothing alerted again
    assert {r.status for r in feed_server.log} == {304}  # the validators came along
    assert {f.name: f.read_bytes() for f in feeds.iterdir()} == before  # the same stories

    # A new story gets ids after the copied ones, and is alerted once.
    feed_server.routes["/paper"] = Route(
        rss(
            ("NATO und Japan", "https://paper.example/1", "p1", ARTICLE),
            ("OTAN: nouveau bureau", "https://paper.example/2", "p2", "Un bureau de l'OTAN."),
        )
    )
    third = run_cli("run", "--once", "--config", str(config))
    assert third.returncode == 0, third.stderr
    assert [line.split(" — ")[0] for line in alert_lines(third.stdout)] == [
        "ALERT [nato] OTAN: nouveau bureau"
    ]
    status = run_cli("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert "Sources: 4 (4 ok" in status.stdout
    assert f"Alerts: 0 pending, {len(alerted) + 1} sent" in status.stdout


def test_a_database_that_does_not_answer_is_one_line_without_its_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://syn:s3cretpw@127.0.0.1:{free_port()}/test"
    config = write_config(tmp_path, TOPICS)
    text = config.read_text(encoding="utf-8").replace('"state/s.sqlite"', f'"{url}"')
    config.write_text(text, encoding="utf-8")
    shown = f"postgresql://***@127.0.0.1:{url.split(':')[3].split('/')[0]}/test"
    for command in (["run", "--once"], ["status"], ["list"], ["copies"]):
        result = run_cli(*command, "--config", str(config))
        assert result.returncode == 1, (command, result.stderr)
        assert result.stderr.startswith(
            f"syndicator: cannot connect to the state database {shown}: connection failed"
        ), result.stderr
        assert "check that PostgreSQL runs" in result.stderr
        assert result.stderr.count("\n") == 1 and "s3cretpw" not in result.stderr
    check = run_cli("check", "--config", str(config))
    assert check.returncode == 0 and f"state database: {shown}" in check.stdout
    assert "s3cretpw" not in check.stdout


def test_status_before_the_first_run_creates_nothing(tmp_path: Path, postgres_url: str) -> None:
    config = write_config(tmp_path, TOPICS)
    text = config.read_text(encoding="utf-8").replace('"state/s.sqlite"', f'"{postgres_url}"')
    config.write_text(text, encoding="utf-8")
    result = run_cli("status", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "never run: no state database at postgresql://***@127.0.0.1:" in result.stdout
    again = run_cli("status", "--config", str(config))
    assert "never run" in again.stdout  # status created no table
