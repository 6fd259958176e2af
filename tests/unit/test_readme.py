"""The README's promises: its query examples hold, and CI runs its test command. Its first
command on the shipped config: tests/system/test_readme.py."""

from __future__ import annotations

import pytest

from syndicator.match import compile_topics
from syndicator.model import Topic
from tests.conftest import ROOT

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
