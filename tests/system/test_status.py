"""`check`, `list` and `status` as a user runs them, against real files, a real state database
filled by `run --once` from a loopback server, and the published feeds; plus `--help`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import DATA, FeedServer, Route, run_cli, write_config
from tests.unit.test_cli import COMMANDS


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


def test_top_level_help_lists_the_commands() -> None:
    out = run_cli("--help").stdout
    assert all(command in out for command in COMMANDS)
