"""Markers by where a test lives: the browser tests are tests/webui (the integration tests
of tests/server are marked by its conftest); and gan_core tests that train DCGANs or several
critics for tens of seconds on these machines are `slow`, like the training-level ones, so that
`make test-fast` stays under 2 minutes (measured: these five took 60-200 s of its CPU time)."""

from __future__ import annotations

from pathlib import Path

import pytest

WEBUI = Path(__file__).parent / "webui"
SLOW = {
    "gan_core/test_speed.py::test_options_train_reproducibly_and_resume_exactly"
    "[dcgan-bf16-channels_last-fused]",
    "gan_core/test_divergences.py::test_minimax_gradient_vanishes_where_the_critics_does_not",
    "gan_core/test_train.py::test_resume_continues_exactly[dcgan]",
    "gan_core/test_train.py::test_penalty_is_reported_when_used_and_images_make_grids",
    "gan_core/test_train.py::test_checkpoint_holds_config_weights_and_no_pickle",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(WEBUI):
            item.add_marker(pytest.mark.browser)
        elif item.path.is_relative_to(tests):
            node = f"{item.path.relative_to(tests).as_posix()}::{item.name}"
            if node in SLOW:
                item.add_marker(pytest.mark.slow)
