"""Each source's learned template through the command: `run --once`, `clean --explain
--source` and `reclean` on a loopback feed whose junk line is Finnish (no rule file knows
Finnish); `learn = false`; a bad `learn` names the key."""

from __future__ import annotations

from pathlib import Path

from syndicator.template import MIN_HISTORY
from tests.conftest import FeedServer, run_cli
from tests.unit.test_template import ARTICLES, _config, feed


def _atom(tmp_path: Path) -> str:
    return (tmp_path / "feeds" / "all.atom").read_text(encoding="utf-8")


def test_run_once_removes_a_finnish_junk_line_and_keeps_every_article_word(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    from tests.conftest import Route

    feed_server.routes["/yle.rss"] = Route(feed(range(10)))
    config = _config(tmp_path, feed_server.base + "/yle.rss")
    result = run_cli("run", "--once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    atom = _atom(tmp_path)
    assert "Lue lisää" not in atom
    for i in range(10):
        assert ARTICLES[i].split()[0] in atom and f"numero {i}" in atom

    explained = run_cli(
        "clean", feed_server.base + "/yle.rss", "--explain", "--source", "yle",
        "--config", str(config),
    )  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    assert "template learned from 10 entries: 1 blocks" in explained.stdout
    assert "[source-template (seen in 10 of 10 entries)] Lue lisää" in explained.stdout


def test_history_accumulates_over_polls_and_reclean_applies_it_to_older_entries(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    from tests.conftest import Route

    half = MIN_HISTORY // 2 + 1
    feed_server.routes["/yle.rss"] = Route(feed(range(half)))
    config = _config(tmp_path, feed_server.base + "/yle.rss")
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    assert _atom(tmp_path).count("Lue lisää") == half  # too little history: nothing learned
    feed_server.routes["/yle.rss"] = Route(feed(range(half, 12)))
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    atom = _atom(tmp_path)
    # The stored memory and this poll make 12: the new entries lose the line, older keep it.
    assert atom.count("Lue lisää") == half
    recleaned = run_cli("reclean", "--config", str(config))
    assert recleaned.returncode == 0, recleaned.stderr
    assert "source yle: template of 1 blocks learned from 12 entries" in recleaned.stdout
    atom = _atom(tmp_path)
    assert "Lue lisää" not in atom
    assert all(ARTICLES[i].split()[0] in atom for i in range(12))


def test_learn_false_turns_it_off(tmp_path: Path, feed_server: FeedServer) -> None:
    from tests.conftest import Route

    feed_server.routes["/yle.rss"] = Route(feed(range(10)))
    config = _config(tmp_path, feed_server.base + "/yle.rss", "learn = false")
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    assert _atom(tmp_path).count("Lue lisää") == 10


def test_a_bad_learn_value_names_the_key(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9/f", 'learn = "yes"')
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 2
    assert "sources[0].learn" in result.stderr
