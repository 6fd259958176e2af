"""`check`, `list` and `status` as a user runs them, against real files, a real state database
filled by `run --once` from a loopback server, and the published feeds; plus `--help`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from syndicator.cli import main
from syndicator.model import SourceState
from syndicator.overview import ago, health, render_list
from syndicator.store import SQLiteStore, open_reader
from tests.conftest import DATA, FeedServer, Route, run_cli, write_config

COMMANDS = ["add", "remove", "list", "import", "export", "check", "status"]


def _config(tmp_path: Path, server: FeedServer, extra: str = "") -> Path:
    ok = server.serve_file("/sample.rss", DATA / "sample-news.rss")
    server.routes["/gone.rss"] = Route(b"gone", "text/plain", status=404)
    return write_config(
        tmp_path,
        f"""
[[sources]]
name = "sample"
url = "{ok}"
category = "News"

[[sources]]
name = "gone"
url = "{server.base}/gone.rss"
interval = "1h"

[[topics]]
name = "nato"
query = 'NATO OR OTAN'

[[alerts]]
type = "console"
{extra}""",
    )


def test_check_shows_what_would_run(tmp_path: Path, feed_server: FeedServer) -> None:
    config = _config(tmp_path, feed_server)
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"config {config} is valid" in out
    assert "sample" in out and "every 15m" in out and "every 1h" in out and "News" in out
    assert "nato: NATO OR OTAN" in out
    assert "console: console, every topic" in out
    assert "server: off" in out and str(tmp_path / "feeds") in out
    assert not (tmp_path / "state").exists()  # checking creates nothing


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[[topics]]\nname = "t"\nquery = "NATO AND"\n', "topics[0].query"),
        ('[[sources]]\nname = "a"\nurl = "https://a/"\ndrop = ["(unclosed"]\n', "sources[0].drop"),
        ('[clean]\ndrop_selectors = ["div[[["]\n', "clean.drop_selectors"),
        ('[[sources]]\nname = "a"\nurl = "https://a/"\ncategory = 3\n', "sources[0].category"),
        ("[fetch]\ntimeout = 'soon'\n", "fetch.timeout"),
    ],
)
def test_check_names_the_bad_key_and_exits_2(
    tmp_path: Path, body: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process for speed; test_config_errors_exit_2_naming_the_key runs the real command.
    assert main(["check", "--config", str(write_config(tmp_path, body))]) == 2
    err = capsys.readouterr().err
    assert key in err and len(err.strip().splitlines()) == 1


def test_before_the_first_run_nothing_is_created(tmp_path: Path, feed_server: FeedServer) -> None:
    config = _config(tmp_path, feed_server)
    listed = run_cli("list", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("never polled") == 2
    status = run_cli("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert "never run" in status.stdout
    assert not (tmp_path / "state").exists()
    missing = run_cli("status", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "config file not found" in missing.stderr


def test_list_and_status_after_a_run(tmp_path: Path, feed_server: FeedServer) -> None:
    config = _config(tmp_path, feed_server)
    run = run_cli("run", "--once", "--config", str(config))
    assert run.returncode == 0, run.stderr
    alerts = sum(line.startswith("ALERT ") for line in run.stdout.splitlines())

    listed = run_cli("list", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert rows["sample"].split()[2] == "ok" and "in 1" in rows["sample"]
    assert "failing: HTTP 404" in rows["gone"]
    with sqlite3.connect(tmp_path / "state" / "s.sqlite") as db:
        stored = db.execute("SELECT count(*) FROM entries").fetchone()[0]
        nato = db.execute("SELECT count(*) FROM hits WHERE topic='nato'").fetchone()[0]
    assert rows["sample"].split()[-1] == str(stored) and stored > 0

    status = run_cli("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    out = status.stdout
    assert "Sources: 2 (1 ok, 1 failing, 0 never polled)" in out
    assert "HTTP 404" in out
    assert any(line.split()[:2] == ["nato", str(nato)] for line in out.splitlines())
    assert any(line.split()[:2] == ["all.atom", str(stored)] for line in out.splitlines())
    assert "nato.atom" in out
    assert f"Alerts: 0 pending, {alerts} sent" in out and alerts == nato


def test_status_counts_pending_alerts_and_removed_sources_beside_a_writer(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = _config(tmp_path, feed_server)
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    with sqlite3.connect(tmp_path / "state" / "s.sqlite") as db:
        db.execute("UPDATE outbox SET sent=NULL, attempts=2, last_error='SMTP 451 later'")
    text = config.read_text()
    config.write_text(text.replace('name = "sample"', 'name = "renamed"'))
    # Read-only, so status neither waits for nor blocks the daemon's open transaction.
    writer = sqlite3.connect(tmp_path / "state" / "s.sqlite", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE sources SET failures = 0")
    try:
        result = run_cli("status", "--config", str(config), timeout=20)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "1 failing" in out and "renamed" in out
    assert "no longer configured: sample (" in out
    assert "retrying (last error: SMTP 451 later)" in out
    assert "0 sent" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "example" in out and f"syndicator {command}" in out
    assert "--config" in out


def test_top_level_help_lists_the_commands() -> None:
    out = run_cli("--help").stdout
    assert all(command in out for command in COMMANDS)


# -- pieces ----------------------------------------------------------------------------------


def test_open_state_is_read_only_and_does_not_create(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    db = open_reader(path)
    assert db is None
    assert not path.exists()
    SQLiteStore(path).close()  # the real schema, as the daemon leaves it
    db = open_reader(path)
    assert db is not None and db.source_states() == {}
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db._db.execute("INSERT INTO sources (name) VALUES ('x')")
    db.close()


def test_health_and_durations() -> None:
    assert health(None) == "never polled"
    assert health(SourceState("a", last_attempt=1.0)) == "ok"
    failing = SourceState("a", last_attempt=1.0, failures=3, last_error="HTTP 500")
    assert health(failing) == "failing (3x): HTTP 500"
    assert [ago(s) for s in (5, 120, 7200, 172800)] == ["5s", "2m", "2h", "2d"]
    assert render_list((), None, 0).startswith("no sources")
