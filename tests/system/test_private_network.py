"""The daemon is no proxy into the network it runs in, through the installed command: `run`
refuses a redirect into the internal service and shows nothing of it, `[fetch] allow_private`
lets the named host and port through (and takes only host:port), and `add` and `clean` do not
follow a page inside. The connection-level rules are tests/unit/test_fetch_private_network.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import PHRASE, REAL, SECRET, FeedServer, Route, run_cli, write_config


def _config(tmp_path: Path, feed_server: FeedServer, internal: FeedServer, extra: str = "") -> Path:
    port = internal.httpd.server_address[1]
    for path, target in (("/to-feed", "/internal"), ("/to-error", "/error")):
        location = f"http://127.0.0.1:{port}{target}"
        feed_server.routes[path] = Route(b"", status=302, headers={"Location": location})
    ok = feed_server.serve_file("/ok", REAL / "rss-parser-guardian.rss")
    return write_config(
        tmp_path,
        f"{extra}"
        f'[[sources]]\nname = "to-feed"\nurl = "{feed_server.base}/to-feed"\n'
        f'[[sources]]\nname = "to-error"\nurl = "{feed_server.base}/to-error"\n'
        f'[[sources]]\nname = "ok"\nurl = "{ok}"\n',
    )


def test_run_refuses_the_redirect_publishes_nothing_internal_and_shows_no_internal_phrase(
    tmp_path: Path, feed_server: FeedServer, internal: FeedServer
) -> None:
    port = internal.httpd.server_address[1]
    config = _config(tmp_path, feed_server, internal)
    done = run_cli("run", "--once", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert internal.log == []
    all_atom = (tmp_path / "feeds" / "all.atom").read_text()
    assert "Source: ok" in all_atom and SECRET not in all_atom
    with sqlite3.connect(tmp_path / "state" / "s.sqlite") as db:
        errors = dict(db.execute("SELECT name, last_error FROM sources").fetchall())
    for name, target in (("to-feed", "/internal"), ("to-error", "/error")):
        assert errors[name].startswith(
            f"redirect to http://127.0.0.1:{port}{target} refused: 127.0.0.1:{port} is a loopback"
        ), errors[name]
    assert errors["ok"] is None
    status = run_cli("status", "--config", str(config), cwd=tmp_path)
    assert status.returncode == 0 and "refused" in status.stdout
    assert PHRASE not in done.stderr + status.stdout + str(errors)


def test_allow_private_lets_the_named_internal_host_and_port_through(
    tmp_path: Path, feed_server: FeedServer, internal: FeedServer
) -> None:
    port = internal.httpd.server_address[1]
    allow = f'[fetch]\nallow_private = ["127.0.0.1:{port}"]\n'
    config = _config(tmp_path, feed_server, internal, allow)
    done = run_cli("run", "--once", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert SECRET in (tmp_path / "feeds" / "all.atom").read_text()
    assert f"HTTP 500 {PHRASE}" in done.stderr  # allowed, so its answer is an answer


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ('"127.0.0.1:8081"', "fetch.allow_private"),
        ('["localhost"]', "fetch.allow_private[0]"),
        ('["localhost:99999"]', "fetch.allow_private[0]"),
        ('["ok:80", "::1:8081"]', "fetch.allow_private[1]"),
        ('["http://localhost:8081/"]', "fetch.allow_private[0]"),
    ],
)
def test_allow_private_entries_are_host_and_port(tmp_path: Path, value: str, key: str) -> None:
    config = write_config(tmp_path, f"[fetch]\nallow_private = {value}\n")
    done = run_cli("check", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2 and f"invalid config: {key}:" in done.stderr, done.stderr


def test_add_does_not_follow_a_page_into_the_internal_network(
    tmp_path: Path, feed_server: FeedServer, internal: FeedServer
) -> None:
    port = internal.httpd.server_address[1]
    page = (
        f'<html><head><link rel="alternate" type="application/atom+xml" '
        f'href="http://127.0.0.1:{port}/internal"></head></html>'
    )
    feed_server.routes["/page"] = Route(page.encode(), "text/html")
    config = write_config(tmp_path, "")
    done = run_cli("add", feed_server.base + "/page", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 1 and "refused: 127.0.0.1" in done.stderr, done.stderr
    assert internal.log == [] and "[[sources]]" not in config.read_text()
    clean = run_cli("clean", f"{feed_server.base}/to-internal", cwd=tmp_path)  # 404 on A
    assert clean.returncode == 1
    feed_server.routes["/to-internal"] = Route(
        b"", status=302, headers={"Location": f"http://127.0.0.1:{port}/internal"}
    )
    clean = run_cli("clean", f"{feed_server.base}/to-internal", cwd=tmp_path)
    assert clean.returncode == 1 and "refused" in clean.stderr and SECRET not in clean.stdout
    # the user typing the internal URL itself names it
    typed = run_cli("add", f"http://127.0.0.1:{port}/internal", "--config", str(config))
    assert typed.returncode == 0, typed.stderr
    assert f"http://127.0.0.1:{port}/internal" in config.read_text()
