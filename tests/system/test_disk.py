"""Disk and database trouble: a feed that could not be written is written once it can be, even
after a restart; a full disk or a damaged state database is one line that names the file and
says what to do (exit 1), and the daemon keeps serving and retries."""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    FeedServer,
    Route,
    free_port,
    run_cli,
    syndicator_command,
    wait_until,
    write_config,
)


def _feed(*titles: str) -> bytes:
    items = "".join(
        f"<item><title>{t}</title><link>https://e.example/{i}</link><guid>g{i}</guid>"
        f"<description>{t}: the alliance meets.</description></item>"
        for i, t in enumerate(titles)
    )
    return f'<rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()


def _config(tmp_path: Path, url: str, extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f'{extra}[[sources]]\nname = "s"\nurl = "{url}"\n'
        '[[topics]]\nname = "nato"\nquery = "NATO"\n[[alerts]]\ntype = "console"\n',
    )


def test_a_feed_that_could_not_be_written_is_written_by_the_next_run(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Route(_feed("NATO one"))
    config = _config(tmp_path, f"{feed_server.base}/f")
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    all_atom = tmp_path / "feeds" / "all.atom"
    stale = all_atom.read_bytes()

    # A directory in the way of all.atom: its write fails (as root too, unlike a chmod).
    all_atom.unlink()
    (all_atom / "x").mkdir(parents=True)
    feed_server.routes["/f"] = Route(_feed("NATO one", "NATO two"))
    failed = run_cli("run", "--once", "--config", str(config))
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert f"cannot write {all_atom}: Is a directory; it is written again next cycle" in (
        failed.stderr
    )
    assert "ALERT [nato] NATO two" in failed.stdout  # alerts are not held up by it
    assert "NATO two" in (tmp_path / "feeds" / "nato.atom").read_text(encoding="utf-8")

    reclean = run_cli("reclean", "--config", str(config))
    assert reclean.returncode == 1 and "Traceback" not in reclean.stderr
    assert "syndicator: feed all.atom not written: Is a directory" in reclean.stderr

    # The space is back; the source has nothing new (304). all.atom is still behind.
    shutil.rmtree(all_atom)
    all_atom.write_bytes(stale)
    again = run_cli("run", "--once", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert feed_server.log[-1].status == 304
    assert "NATO two" in all_atom.read_text(encoding="utf-8")
    assert "published all.atom" in again.stderr


# -- a damaged state database ----------------------------------------------------------------


def _damage(db: Path, how: str) -> None:
    """`garbage`: no database at all; `pages`: the file opens, but the pages of the sources
    and entries tables are noise, so the first query on them fails."""
    rng = random.Random(7)
    if how == "garbage":
        db.write_bytes(rng.randbytes(8192))
        return
    with sqlite3.connect(db) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            r[0]
            for r in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE tbl_name IN ('sources', 'entries')"
            )
        ]
    conn.close()
    data = bytearray(db.read_bytes())
    for page in pages:
        data[(page - 1) * size : page * size] = rng.randbytes(size)
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["garbage", "pages"])
def test_a_damaged_database_is_one_line_for_every_command(
    tmp_path: Path, feed_server: FeedServer, how: str
) -> None:
    feed_server.routes["/f"] = Route(_feed("NATO one"))
    config = _config(tmp_path, f"{feed_server.base}/f")
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    db = tmp_path / "state" / "s.sqlite"
    _damage(db, how)
    before = config.read_text()
    for command in (["run", "--once"], ["list"], ["status"], ["reclean"], ["remove", "s"]):
        result = run_cli(*command, "--config", str(config))
        assert result.returncode == 1, (command, result.stderr)
        assert result.stderr.startswith(f"syndicator: state database {db}: "), result.stderr
        assert "the file is damaged: restore it from a backup, or move it aside" in result.stderr
        assert result.stderr.count("\n") == 1, (command, result.stderr)
    assert config.read_text() == before  # `remove` changed nothing when it failed


def test_the_daemon_keeps_serving_and_retries_with_a_damaged_database(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Route(_feed("NATO one"))
    port = free_port()
    config = _config(tmp_path, f"{feed_server.base}/f", f'[server]\nlisten = "127.0.0.1:{port}"\n')
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    db = tmp_path / "state" / "s.sqlite"
    _damage(db, "pages")
    log_file = tmp_path / "daemon.log"

    def errors() -> int:
        return log_file.read_text(encoding="utf-8").count(f"state database {db}: ")

    with (
        log_file.open("w") as log,
        subprocess.Popen(
            [*syndicator_command(), "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        ) as proc,
    ):
        try:
            wait_until(lambda: errors() >= 1, proc)  # type: ignore[arg-type]
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").text == "ok\n"
            served = httpx.get(f"http://127.0.0.1:{port}/all.atom")
            assert served.status_code == 200 and "NATO one" in served.text
            proc.send_signal(signal.SIGHUP)  # wake now: the retry fails the same way
            wait_until(lambda: errors() >= 2, proc)  # type: ignore[arg-type]
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
    text = log_file.read_text(encoding="utf-8")
    assert "Traceback" not in text
    assert "the file is damaged" in text and "; retrying in 60s" in text
