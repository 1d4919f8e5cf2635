"""Reference implementations (dev dependencies) for parity tests.

Locally a missing package skips the test; with ``CI=true`` it fails, so CI never passes
without having compared against the references.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType

import pytest


def require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = f"reference {module} is not installed (pip install -e '.[dev]'): {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def reference() -> Callable[[str], ModuleType]:
    return require
