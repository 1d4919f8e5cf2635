"""A data set of a test's own, declared the way a new one is (its section of the config, its
builder and its registration, all in one module) and taken out again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Literal

import torch
from pydantic import Field

from gan_core.data import DataInfo, dataset, forget_dataset
from gan_core.data.source import Batch
from gan_core.data.toy import ToySource
from gan_core.sections import StrictModel, tag_required

NAME = "test_line"


class LineData(StrictModel):
    """Points spread along a segment of the x axis (a test's own data set)."""

    model_config = tag_required("name")
    name: Literal["test_line"] = "test_line"
    length: float = Field(2.0, gt=0, le=10, description="Length of the segment.")


def _draw(length: float, n: int, generator: torch.Generator) -> Batch:
    x = (torch.rand(n, generator=generator) - 0.5) * length
    return torch.stack([x, 0.01 * torch.randn(n, generator=generator)], dim=1), None


def build_line(cfg: LineData, seed: int) -> ToySource:
    half = cfg.length / 2
    info = DataInfo(name=NAME, kind="toy", shape=(2,), extent=(-half - 0.5, half + 0.5, -1, 1))
    return ToySource(info, partial(_draw, cfg.length), seed)


@contextmanager
def own_dataset() -> Iterator[str]:
    dataset(NAME, "2D: points along a segment (a test's own).", config=LineData,
            build=build_line, kind="toy", shape=(2,))
    try:
        yield NAME
    finally:
        forget_dataset(NAME)
