"""The data sets GANscope ships, registered (gan_core/data/registry.py), and
:func:`build_data`, the one way the trainer gets its data."""

from __future__ import annotations

from typing import Any

# the 2D sets register first: the web form's menu lists them first
from gan_core.data import toy  # noqa: F401

# isort: split
from gan_core.data import array_sets, file_sets  # noqa: F401
from gan_core.data.registry import DATASETS
from gan_core.data.source import DataSource

__all__ = ["DATASETS", "build_data"]


def build_data(cfg: Any, seed: int = 0) -> DataSource:
    """The data source for a run's ``data`` section; the same seed gives the same batches."""
    return DATASETS.get(cfg.name).build(cfg, seed)
