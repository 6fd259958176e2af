"""The daemon's pure decisions (syndicator/decide.py): a source's health changes are reported
once, on the way down and on the way back."""

from __future__ import annotations

from syndicator.decide import health_change
from syndicator.model import SourceState


def test_health_changes_once() -> None:
    ok = SourceState("s")
    failing = SourceState("s", failures=5, last_status=500)
    assert health_change(ok, failing, threshold=5) == "unhealthy"
    reported = SourceState("s", failures=6, unhealthy=True)
    assert health_change(reported, SourceState("s", failures=7, unhealthy=True), 5) is None
    assert health_change(ok, SourceState("s", failures=1, last_status=410), 5) == "unhealthy"
    assert health_change(reported, SourceState("s", unhealthy=True), 5) == "recovered"
