"""Config parsing: typed values, config-relative paths, and errors that name the key."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.config import (
    COUNTS,
    DIGEST,
    INTERVAL,
    RETAIN,
    RETRY,
    SIZE,
    SPACING,
    STORY_WINDOW,
    TIMEOUT,
    Config,
    ConsoleAlert,
    EmailAlert,
    load_config,
    parse_config,
    parse_duration,
    parse_size,
)
from syndicator.errors import ConfigError
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_loads() -> None:
    config = load_config(ROOT / "config.toml")
    assert config.sources[0].name == "sample"
    assert Path(config.sources[0].url).is_file()  # config-relative bundled sample
    assert config.server is not None and config.server.base_url == "http://127.0.0.1:8080/"
    assert [t.name for t in config.topics] == ["nato", "indo-pacific"]


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[syndicator]\nstate = "s/db.sqlite"\n'
            '[[sources]]\nname = "a"\nurl = "file:local.xml"\n',
        )
    )
    assert config.state == tmp_path / "s" / "db.sqlite"
    assert config.output_dir == tmp_path / "feeds"
    assert config.sources[0].url == str(tmp_path / "local.xml")


def test_defaults_and_alerts(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[syndicator]
interval = "90s"
[[sources]]
name = "a"
url = "https://example.org/feed"
[[sources]]
name = "b"
url = "https://example.org/b"
interval = "2h"
[[topics]]
name = "nato"
query = "NATO"
[[alerts]]
type = "console"
[[alerts]]
type = "email"
host = "smtp.example.org"
from = "a@example.org"
to = "b@example.org"
topics = ["nato"]
ca_file = "certs/relay-ca.pem"
password_file = "secret/smtp"
""",
        )
    )
    assert [s.interval for s in config.sources] == [90, 7200]
    console, mail = config.alerts
    assert isinstance(console, ConsoleAlert) and console.topics is None
    assert isinstance(mail, EmailAlert) and mail.port == 587 and mail.security == "starttls"
    assert mail.to == ("b@example.org",) and mail.topics == ("nato",)
    assert mail.ca_file == tmp_path / "certs" / "relay-ca.pem"  # relative to the config file
    assert mail.password_file == tmp_path / "secret" / "smtp"
    assert config.server is None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[syndicator]\ninterval = "often"', "syndicator.interval"),
        ("[syndicator]\nmax_entries = 0", "syndicator.max_entries"),
        ('[syndicator]\nintervall = "5m"', "syndicator.intervall"),
        ('[server]\nlisten = "localhost"', "server.listen"),
        ('[fetch]\nmax_bytes = "lots"', "fetch.max_bytes"),
        ('[[sources]]\nurl = "https://e/"', "sources[0].name"),
        ('[[sources]]\nname = "a"', "sources[0].url"),
        ('[[sources]]\nname = "a b"\nurl = "https://e/"', "sources[0].name"),
        ('[[sources]]\nname = "a"\nurl = "ftp://e/x"', "sources[0].url"),
        (
            '[[sources]]\nname = "a"\nurl = "https://e/"\n[[sources]]\nname = "a"\nurl = "https://f/"',
            "sources",
        ),
        ('[[topics]]\nname = "all"\nquery = "x"', "topics[0].name"),
        ('[[topics]]\nname = "t"\nquery = " "', "topics[0].query"),
        ('[[alerts]]\ntype = "pager"', "alerts[0].type"),
        ('[[alerts]]\ntype = "console"\ntopics = ["nope"]', "alerts[0].topics"),
        ('[[alerts]]\ntype = "email"\nfrom = "a@b"\nto = ["c@d"]', "alerts[0].host"),
        ('[[alerts]]\ntype = "email"\nhost = "h"\nfrom = "a@b"\nto = []', "alerts[0].to"),
        (
            '[[alerts]]\ntype = "email"\nhost = "h"\nfrom = "a@b"\nto = ["c"]\nsecurity = "ssl"',
            "alerts[0].security",
        ),
        ("sources = 3", "sources"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert info.value.key == key
    assert str(info.value).startswith(key)


def test_unreadable_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[syndicator\n"))


def test_durations_and_sizes() -> None:
    assert parse_duration("90s", "k") == 90
    assert parse_duration("15m", "k") == 900
    assert parse_duration("2h", "k") == 7200
    assert parse_duration("1d", "k") == 86400
    assert parse_duration(30, "k") == 30
    assert parse_size("10MiB", "k") == 10 * 2**20
    assert parse_size("5kb", "k") == 5000
    assert parse_size(123, "k") == 123
    for bad in ("0s", "-1m", "fast", True):
        with pytest.raises(ConfigError):
            parse_duration(bad, "k")


def test_every_documented_syndicator_key_is_accepted(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[syndicator]\nstate = "s.db"\noutput_dir = "out"\ninterval = "5m"\n'
            'max_entries = 50\nbase_url = "http://h/"\nunhealthy_after = 3\nworkers = 1\n'
            'retain = "7d"\n'
            '[fetch]\nper_host_interval = 0\n[server]\nwebsub_hub = "https://hub.example/"\n',
        )
    )
    assert (config.unhealthy_after, config.workers, config.max_entries) == (3, 1, 50)
    assert config.retain == 7 * 86400
    assert config.fetch.per_host_interval == 0
    assert config.server is not None and config.server.websub_hub == "https://hub.example/"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ('"0s"', 0.0), ('"0ms"', 0.0), ('"1.5s"', 1.5), ('"250ms"', 0.25)],
)
def test_per_host_interval_takes_zero_in_any_unit(
    tmp_path: Path, value: str, seconds: float
) -> None:
    config = load_config(write(tmp_path, f"[fetch]\nper_host_interval = {value}\n"))
    assert config.fetch.per_host_interval == seconds


def test_a_negative_per_host_interval_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fetch\.per_host_interval"):
        load_config(write(tmp_path, '[fetch]\nper_host_interval = "-1s"\n'))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 90 * 86400.0),
        ('"30d"', 30 * 86400.0),
        ('"12h"', 43200.0),
        ("0", 0.0),
        ('"forever"', 0.0),
    ],
)
def test_retain_is_a_duration_or_forever(tmp_path: Path, value: str | None, seconds: float) -> None:
    body = f"retain = {value}\n" if value is not None else ""
    assert load_config(write(tmp_path, f"[syndicator]\n{body}")).retain == seconds


@pytest.mark.parametrize("value", ['"soon"', "true", '"-3d"'])
def test_a_bad_retain_names_the_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"syndicator\.retain"):
        load_config(write(tmp_path, f"[syndicator]\nretain = {value}\n"))


# -- bounds ----------------------------------------------------------------------------------

# Every bounded key, its bounds, and whether 0 ("none") is allowed besides them.
BOUNDED: dict[str, tuple[tuple[float, float], bool]] = {
    "syndicator.interval": (INTERVAL, False),
    "syndicator.retain": (RETAIN, True),
    **{f"syndicator.{k}": (COUNTS[f"syndicator.{k}"], False) for k in ("max_entries", "workers")},
    "syndicator.unhealthy_after": (COUNTS["syndicator.unhealthy_after"], False),
    "syndicator.story_window": (STORY_WINDOW, False),
    "sources[0].interval": (INTERVAL, False),
    "sources[0].timeout": (TIMEOUT, False),
    "sources[0].max_bytes": (SIZE, False),
    "fetch.timeout": (TIMEOUT, False),
    "fetch.connect_timeout": (TIMEOUT, False),
    "fetch.per_host_interval": (SPACING, True),
    "fetch.max_bytes": (SIZE, False),
    **{f"fetch.{k}": (COUNTS[f"fetch.{k}"], False) for k in ("max_redirects", "concurrency")},
    "fetch.per_host": (COUNTS["fetch.per_host"], False),
    "alerts[0].retry": (RETRY, False),
    "alerts[0].timeout": (TIMEOUT, False),
    "alerts[0].digest": (DIGEST, False),
    "alerts[0].port": ((1, 65535), False),
}


def _with(key: str, value: object) -> dict[str, Any]:
    """A valid config with `value` at `key`, written as TOML and read back by tomllib."""
    doc: dict[str, Any] = {
        "sources": [{"name": "s", "url": "https://example.org/feed"}],
        "alerts": [{"type": "email", "host": "h", "from": "a@example.org", "to": ["b@e.org"]}],
    }
    table, name = key.split(".")
    target = doc[table[:-3]][0] if table.endswith("[0]") else doc.setdefault(table, {})
    target[name] = value
    return tomllib.loads(tomlkit.dumps(doc))


def _read(config: Config, key: str) -> float:
    table, name = key.split(".")
    holder: object = {
        "syndicator": config,
        "fetch": config.fetch,
        "sources[0]": config.sources[0],
        "alerts[0]": config.alerts[0],
    }[table]
    value = getattr(holder, name)
    assert isinstance(value, int | float), (key, value)
    return value


def _load(raw: dict[str, Any]) -> Config:
    return parse_config(raw, Path("/nowhere/config.toml"))


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, 1e30, 10**400, "0.0000001s", "1ms", "9" * 400 + "d", -5],
)
@pytest.mark.parametrize("key", BOUNDED)
def test_out_of_bounds_values_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        _load(_with(key, value))
    assert info.value.key == key


_DURATION_TEXT = st.from_regex(r"\A\s?-?\d{1,25}(\.\d{1,12})?\s?(ms|s|m|h|d|B|KiB|MB|GiB)?\Z")
TOML_VALUES = st.recursive(
    st.one_of(
        st.integers(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.booleans(),
        st.text(),
        _DURATION_TEXT,
        st.sampled_from(["0", "forever", "0s", "inf", "nan", "1e30", "-0"]),
        st.datetimes(),
        st.dates(),
        st.times(),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


@pytest.mark.parametrize("key", BOUNDED)
@given(value=TOML_VALUES)
@settings(max_examples=60, deadline=None)
def test_any_toml_value_loads_within_bounds_or_names_the_key(key: str, value: object) -> None:
    """Whatever TOML value a key holds: the config loads with it inside its bounds, or a
    ConfigError names that key; never another exception."""
    try:
        config = _load(_with(key, value))
    except ConfigError as exc:
        assert exc.key == key, (value, exc)
        return
    number = _read(config, key)
    (low, high), zero = BOUNDED[key]
    assert math.isfinite(number)
    assert (zero and number == 0) or low <= number <= high, (value, number)


def test_story_window_is_days_not_the_whole_history(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "[syndicator]\n")).story_window == 3 * 86400.0
    config = load_config(write(tmp_path, '[syndicator]\nstory_window = "12h"\n'))
    assert config.story_window == 43200.0
    for value in ('"40d"', "0", '"later"'):
        with pytest.raises(ConfigError, match=r"syndicator\.story_window"):
            load_config(write(tmp_path, f"[syndicator]\nstory_window = {value}\n"))


def test_the_state_key_takes_a_path_or_a_postgresql_url(tmp_path: Path) -> None:
    def state(value: str) -> tuple[Path, str | None]:
        config = parse_config({"syndicator": {"state": value}}, tmp_path / "config.toml")
        return config.state, config.state_url

    assert state("s/db.sqlite") == (tmp_path / "s" / "db.sqlite", None)
    url = "postgresql://syn:pw@db.lan:5432/syndicator?sslmode=require"
    assert state(url)[1] == url
    assert state("POSTGRES://db.lan/syndicator")[1] == "POSTGRES://db.lan/syndicator"
    for bad in ("mysql://syn:s3cretpw@db.lan/x", "postgresql://syn:s3cretpw@db.lan/x\n"):
        with pytest.raises(ConfigError, match=r"^syndicator\.state: ") as info:
            state(bad)
        assert "s3cretpw" not in str(info.value) and "***@db.lan" in str(info.value)
