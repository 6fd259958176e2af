"""The README's promises: its query examples hold, and CI runs its test command."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.match import compile_topics
from syndicator.model import Topic

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def examples() -> list[tuple[str, str, str]]:
    block = README.split("<!-- query-examples -->")[1].split("<!-- /query-examples -->")[0]
    rows = []
    for line in block.strip().splitlines()[2:]:
        query, yes, no = (c.strip() for c in line.strip().strip("|").split("|"))
        rows.append((query.strip("`"), yes, no))
    return rows


def test_readme_has_query_examples() -> None:
    assert len(examples()) >= 5


@pytest.mark.parametrize(("query", "yes", "no"), examples())
def test_readme_query_example(query: str, yes: str, no: str) -> None:
    matcher = compile_topics([Topic("t", query)])
    # Each example is an entry whose title and text are the example sentence.
    assert matcher.match(yes, yes), f"{query!r} should match {yes!r}"
    assert not matcher.match(no, no), f"{query!r} should not match {no!r}"


def test_ci_runs_the_readme_test_command() -> None:
    command = next(line for line in README.splitlines() if "pytest" in line and "pip" in line)
    assert command.strip() in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_shipped_config_serves_a_topic_feed_as_the_readme_says(tmp_path: Path) -> None:
    """README's first command on the shipped config, minus the public feeds (tests talk only to
    loopback): the bundled sample is polled, alerted, and its topic feed served."""
    import re
    import shutil
    import signal

    import httpx

    from tests.conftest import free_port, running, wait_until

    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = re.sub(
        r'\[\[sources\]\]\nname = "[^"]+"\nurl = "https://[^\n]*\n(interval[^\n]*\n)?', "", text
    )
    assert '\nurl = "https://' not in text and 'name = "sample"' in text
    port = free_port()
    text = text.replace('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{port}"')
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    with running("run", cwd=tmp_path) as proc:
        wait_until(lambda: (tmp_path / "feeds" / "indo-pacific.atom").exists(), proc)
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert 'href="/nato.atom"' in page.text
        feed = httpx.get(f"http://127.0.0.1:{port}/nato.atom")
        assert feed.status_code == 200 and "NATO und Japan planen" in feed.text
        assert "[Anzeige_2]" not in feed.text and "utm_source" not in feed.text
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert "ALERT [nato,indo-pacific] NATO und Japan planen Verbindungsbüro in Tokio" in out
