"""Alert channels as the command loads them: a line break in an address or a user name is
refused at load, by `check` and by `run`, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("alerts", "key"),
    [
        ('to = ["a@example.org", "b@example.org\\r\\nBcc: evil@example.org"]', "alerts[0].to[1]"),
        ('to = "a@example.org\\nBcc: evil@example.org"', "alerts[0].to"),
        ('to = ["a@example.org", ""]', "alerts[0].to[1]"),
        ('to = ["a@example.org"]\nfrom = "s@example.org\\r\\nX: y"', "alerts[0].from"),
        ('to = ["a@example.org"]\nusername = "me\\r\\n"', "alerts[0].username"),
    ],
)
def test_a_line_break_in_an_address_is_refused_at_load(
    tmp_path: Path, alerts: str, key: str
) -> None:
    """`check` used to pass such an address and `run` crash on it."""
    from tests.conftest import run_cli, write_config

    sender = "" if "from =" in alerts else 'from = "s@example.org"\n'
    config = write_config(
        tmp_path, f'[[alerts]]\ntype = "email"\nhost = "127.0.0.1"\n{sender}{alerts}\n'
    )
    for command in (["check"], ["run", "--once"]):
        result = run_cli(*command, "--config", str(config))
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"syndicator: invalid config: {key}: "), result.stderr
        assert "Traceback" not in result.stderr
