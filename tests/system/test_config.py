"""Config values the command refuses before it runs: a NaN interval is an error naming the
key, not a crash in the store."""

from __future__ import annotations

from pathlib import Path


def test_a_nan_interval_is_refused_before_run(tmp_path: Path) -> None:
    """It used to crash `run` with an IntegrityError (next_poll NOT NULL)."""
    from tests.conftest import run_cli, write_config

    config = write_config(tmp_path, '[[sources]]\nname = "s"\nurl = "https://e.example/f"\n')
    config.write_text(config.read_text().replace('interval = "15m"', "interval = nan"))
    result = run_cli("run", "--once", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.startswith("syndicator: invalid config: syndicator.interval: ")
