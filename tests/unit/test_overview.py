"""What `list` and `status` show (syndicator/overview.py), as pure functions: a source's
health in words, durations, an empty source list."""

from __future__ import annotations

from syndicator.model import SourceState
from syndicator.overview import ago, health, render_list


def test_health_and_durations() -> None:
    assert health(None) == "never polled"
    assert health(SourceState("a", last_attempt=1.0)) == "ok"
    failing = SourceState("a", last_attempt=1.0, failures=3, last_error="HTTP 500")
    assert health(failing) == "failing (3x): HTTP 500"
    assert [ago(s) for s in (5, 120, 7200, 172800)] == ["5s", "2m", "2h", "2d"]
    assert render_list((), None, 0).startswith("no sources")
