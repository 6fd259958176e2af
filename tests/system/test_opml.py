"""OPML as a user runs it: our export imports back to the same sources, `export` to stdout is
pure OPML, and `import --dry-run` and bad files change nothing."""

from __future__ import annotations

from pathlib import Path

from syndicator.config import load_config
from syndicator.opml import parse_opml
from tests.conftest import run_cli, write_config
from tests.unit.test_opml import OPML


def _sources(config: Path) -> list[tuple[str, str, str]]:
    return [(s.name, s.url, s.category) for s in load_config(config).sources]


def test_round_trip_import_export_import(tmp_path: Path) -> None:
    first = tmp_path / "a"
    first.mkdir()
    config_a = write_config(first, "# my config\n")
    for name in ("feedly", "category-attribute", "newsboat"):
        result = run_cli("import", str(OPML / f"{name}.opml"), "--config", str(config_a))
        assert result.returncode == 0, result.stderr
    assert "skipped heise online News" in result.stdout  # also in Feedly's
    imported = _sources(config_a)
    assert len(imported) == 5 + 3 + 4 - 1
    assert (
        "Tagesspiegel",
        "https://www.tagesspiegel.de/contentexport/feed/home",
        "News/Germany",
    ) in imported
    assert (
        load_config(config_a)
        .path.read_text()
        .startswith(
            '[syndicator]\nstate = "state/s.sqlite"\noutput_dir = "feeds"\ninterval = "15m"\n'
            "# my config\n"
        )
    )

    exported = tmp_path / "out" / "subscriptions.opml"
    result = run_cli("export", str(exported), "--config", str(config_a))
    assert result.returncode == 0, result.stderr
    assert f"exported {len(imported)} sources" in result.stdout

    second = tmp_path / "b"
    second.mkdir()
    config_b = write_config(second, "")
    result = run_cli("import", str(exported), "--config", str(config_b))
    assert result.returncode == 0, result.stderr
    assert sorted(_sources(config_b)) == sorted(imported)  # grouped by folder, same sources
    again = run_cli("import", str(exported), "--config", str(config_b))
    assert again.returncode == 0
    assert f"imported 0 of {len(imported)} feeds" in again.stdout
    assert sorted(_sources(config_b)) == sorted(imported)  # grouped by folder, same sources


def test_export_to_stdout_is_pure_opml_and_notes_local_files(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        '[[sources]]\nname = "local"\nurl = "sample.rss"\n'
        '[[sources]]\nname = "dw"\nurl = "https://rss.dw.com/xml/rss-de-all"\n'
        'category = "News/Germany"\n',
    )
    result = run_cli("export", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert [(f.title, f.category) for f in parse_opml(result.stdout.encode())] == [
        ("dw", "News/Germany")
    ]
    assert "skipped local" in result.stderr


def test_import_dry_run_and_bad_files_change_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    before = config.read_bytes()
    dry = run_cli("import", str(OPML / "newsboat.opml"), "--dry-run", "--config", str(config))
    assert dry.returncode == 0 and "would import 4 of 4 feeds" in dry.stdout
    hostile = tmp_path / "evil.opml"
    hostile.write_text(
        '<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
        '<opml><body><outline text="&x;" xmlUrl="https://e.example/"/></body></opml>'
    )
    bad = run_cli("import", str(hostile), "--config", str(config))
    assert bad.returncode == 1 and "evil.opml" in bad.stderr
    missing = run_cli("import", str(tmp_path / "nope.opml"), "--config", str(config))
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    assert config.read_bytes() == before
