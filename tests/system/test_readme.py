"""README's first command on the shipped config, as a user runs it. Its query examples and its
test command: tests/unit/test_readme.py."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT


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
