"""The labelled boilerplate corpus (tests/data/boilerplate/) is well-formed.

This checks the corpus, not the cleaner: bench/clean_eval.py scores the cleaner against it.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
import warnings
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from tests.conftest import DATA

CORPUS = DATA / "boilerplate"
FILES = sorted(CORPUS.glob("*.toml"))
KEYS = {"style", "origin", "link", "title", "html", "keep", "drop"}
NAME = re.compile(r"^(?P<style>[a-z0-9]+(?:-[a-z0-9]+)*)-[a-z0-9]+(?:-[a-z0-9]+)*\.toml$")


def norm(text: str) -> str:
    """As the evaluation compares: NFC, whitespace runs collapsed to one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def text_of(markup: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BeautifulSoup(markup, "lxml").get_text()


def load(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def test_corpus_size_and_styles() -> None:
    styles = {load(p)["style"] for p in FILES}
    assert len(FILES) >= 60, f"only {len(FILES)} cases"
    assert len(styles) >= 6, f"only {len(styles)} styles: {sorted(styles)}"


def test_cases_from_real_feeds() -> None:
    real_dir = DATA / "real"
    origins = [str(load(p)["origin"]) for p in FILES]
    real = [o for o in origins if o.startswith("tests/data/real/")]
    assert len(real) >= 20
    for origin in real:
        feed = origin.removeprefix("tests/data/real/").split(",", 1)[0]
        assert (real_dir / feed).is_file(), origin


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_case_is_well_formed(path: Path) -> None:
    case = load(path)
    assert set(case) == KEYS, f"keys {sorted(case)}"
    for key in ("style", "origin", "link", "title", "html"):
        assert isinstance(case[key], str), key
    for key in ("style", "origin", "html"):
        assert case[key].strip(), f"empty {key}"
    assert case["link"].startswith(("http://", "https://")), case["link"]
    m = NAME.match(path.name)
    assert m and path.name.startswith(case["style"] + "-"), "file name must be <style>-<slug>.toml"

    keep, drop = case["keep"], case["drop"]
    assert isinstance(keep, list) and isinstance(drop, list)
    assert all(isinstance(s, str) and s.strip() for s in keep + drop), "empty or non-string label"
    assert keep, "at least one must-stay string"
    assert len(set(keep)) == len(keep) and len(set(drop)) == len(drop), "duplicate label"

    html = case["html"]
    text = norm(text_of(html))
    for s in keep:
        assert norm(s) in text, f"keep string not in the input's text: {s!r}"
    html_n = norm(html)
    for s in drop:
        assert norm(s) in text or norm(s) in html_n or s in case["link"], (
            f"drop string not in the input: {s!r}"
        )
        for k in keep:
            assert norm(s) not in norm(k), f"drop {s!r} is inside keep {k!r}"
        assert norm(s) not in norm(case["title"]), f"drop {s!r} is in the title"
