"""The command line in process (syndicator/cli.py's `main`): `check` names the bad key and
exits 2, and every command has `--help` with an example. The commands as a user runs them, as
child processes: tests/system/test_cli.py and test_status.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.cli import main
from tests.conftest import write_config

COMMANDS = ["add", "remove", "list", "import", "export", "check", "status"]


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
