"""The webhook and apprise sections of `[[alerts]]` (config_alerts.py, through load_config):
what they read, and each bad value names its key; without the apprise extra, the config says
what to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from syndicator.config import WebhookAlert, load_config
from syndicator.errors import ConfigError
from tests.conftest import write_config
from tests.unit.test_alert_apprise import _config


def _hook_config(tmp_path: Path, lines: str) -> Path:
    return write_config(
        tmp_path,
        f'[[topics]]\nname = "nato"\nquery = "NATO"\n[[alerts]]\ntype = "webhook"\n{lines}\n',
    )


def test_config_reads_a_webhook_with_a_config_relative_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNDICATOR_WEBHOOK_SECRET", raising=False)
    config = load_config(
        _hook_config(
            tmp_path,
            'url = "https://hooks.example/T0/abcdefghijklmnopqrstuv"\nsecret_file = "hook.key"\n'
            'topics = ["nato"]\ndigest = "1h"\nretry = "30s"',
        )
    )
    (hook,) = config.alerts
    assert isinstance(hook, WebhookAlert)
    assert hook.secret_file == tmp_path / "hook.key" and hook.topics == ("nato",)
    assert hook.digest == 3600 and hook.retry == 30 and hook.name == "webhook"


@pytest.mark.parametrize(
    ("lines", "key"),
    [
        ('url = "https://hooks.example/x"', "alerts[0].secret_file"),  # no secret anywhere
        ('url = "ftp://hooks.example/x"\nsecret_file = "k"', "alerts[0].url"),
        ('url = "https:///x"\nsecret_file = "k"', "alerts[0].url"),
        ('secret_file = "k"', "alerts[0].url"),
        ('url = "https://h/"\nsecret_file = "k"\ndigest = "1s"', "alerts[0].digest"),
        ('url = "https://h/"\nsecret_file = "k"\nsecret = "inline"', "alerts[0].secret"),
        ('url = "https://h/"\nsecret_file = "k"\ntopics = ["nope"]', "alerts[0].topics"),
    ],
)
def test_config_errors_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: str, key: str
) -> None:
    monkeypatch.delenv("SYNDICATOR_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError) as caught:
        load_config(_hook_config(tmp_path, lines))
    assert caught.value.key == key


def test_missing_extra_names_the_key_and_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # as if it were not installed
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, ["json://127.0.0.1:9/x"]))
    assert caught.value.key == "alerts[0].type"
    assert "pip install 'syndicator[apprise]'" in str(caught.value)


@pytest.mark.parametrize(
    ("urls", "key"),
    [
        ("[]", "alerts[0].urls"),
        ('["nosuchservice://x/y"]', "alerts[0].urls[0]"),
        ('["json://127.0.0.1:9/x", 3]', "alerts[0].urls"),
    ],
)
def test_bad_urls_name_the_key(tmp_path: Path, urls: str, key: str) -> None:
    path = write_config(
        tmp_path,
        f'[[topics]]\nname = "nato"\nquery = "NATO"\n[[alerts]]\ntype = "apprise"\nurls = {urls}\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key
