"""Response headers are the server's to choose, through the installed command: odd cache
headers on a 200 and a 304 cost nothing, and a User-Agent no request can carry is refused at
load."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import FeedServer, run_cli, write_config
from tests.unit.test_fetch_headers import OVERFLOWING_DATE, SUPERSCRIPT, _two_sources


@pytest.mark.parametrize(
    "headers",
    [
        {"Cache-Control": SUPERSCRIPT},
        {"Expires": OVERFLOWING_DATE},
        {"ETag": '"caf\xe9"'},
        {"Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT\xa0"},
    ],
    ids=["superscript-max-age", "overflowing-expires", "latin1-etag", "latin1-last-modified"],
)
def test_odd_cache_headers_on_a_200_and_a_304_cost_nothing(
    tmp_path: Path, feed_server: FeedServer, headers: dict[str, str]
) -> None:
    config = write_config(tmp_path, _two_sources(feed_server, headers))
    for run in range(2):  # a 200, then a 304 (or a 200 again where the ETag was dropped)
        done = run_cli("run", "--once", "--config", str(config), cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr and " ERROR " not in done.stderr, done.stderr
        assert "2 ok" in done.stderr, done.stderr
        assert len(feed_server.requests_to("/hostile")) == run + 1
    all_atom = (tmp_path / "feeds" / "all.atom").read_text()
    assert "Source: hostile" in all_atom and "Source: other" in all_atom
    with sqlite3.connect(tmp_path / "state" / "s.sqlite") as db:
        polls = dict(db.execute("SELECT name, next_poll FROM sources").fetchall())
    assert set(polls) == {"hostile", "other"}
    assert all(math.isfinite(t) for t in polls.values())


@pytest.mark.parametrize("agent", ["Syndicatör/1.0", "Syndicator\\n1.0"])
def test_a_user_agent_no_request_can_carry_is_refused_at_load(tmp_path: Path, agent: str) -> None:
    config = write_config(tmp_path, f'[fetch]\nuser_agent = "{agent}"\n')
    done = run_cli("check", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2
    assert "invalid config: fetch.user_agent: must be printable ASCII" in done.stderr
