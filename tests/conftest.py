"""Markers by where a test lives: the browser tests are tests/webui (the integration tests
of tests/server are marked by its conftest). A test that trains for tens of seconds carries
its own `slow` mark, so that `make test-fast` stays under 2 minutes."""

from __future__ import annotations

from pathlib import Path

import pytest

WEBUI = Path(__file__).parent / "webui"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(WEBUI):
            item.add_marker(pytest.mark.browser)
