"""Every test under tests/system/ is marked `slow`: they start `syndicator` processes, daemons
and servers and run whole scenarios end to end, so `pytest -m "not slow"` leaves them out."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)
