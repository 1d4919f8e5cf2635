"""The data sets a run can train on, each declared once, by the module that draws it.

A data set brings its section of the run config (a model tagged by ``name``), what builds its
source, and what the rest of GANscope needs to know of it: its kind (2D points or images), a
sample's native shape, its classes, and the feature spaces its images can be measured in.
:mod:`gan_core.config` takes the ``data`` section's variants and the rules that depend on the
kind from here, ``/api/registry`` serves it, the web form and the run page read it.

    dataset("line", "2D: points on a segment.", config=LineData, build=build_line,
            kind="toy", shape=(2,))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from gan_core.registry import Registry

__all__ = ["DATASETS", "DataSet", "dataset", "forget_dataset", "on_change"]

Kind = Literal["toy", "image"]


@dataclass(frozen=True)
class DataSet:
    # its section of a run config: a StrictModel tagged `name: Literal[<the set's name>]`, or
    # ImageData (whose name takes every image set that declares it)
    config: type
    build: Callable[[Any, int], Any]  # (the section, seed) -> DataSource
    kind: Kind
    shape: tuple[int, ...]  # a sample's native shape: (2,) for 2D points, (C, H, W) for images
    labels: int | None = None  # classes (what a conditional model needs); None: no labels
    # feature spaces that fit its images (eval.features; gan_core.metrics.features.EXTRACTORS)
    features: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "shape": list(self.shape), "labels": self.labels,
                "features": list(self.features)}


DATASETS: Registry[DataSet] = Registry("data set")
_listeners: list[Callable[[], None]] = []


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener`` after every data set added or taken out (the config rebuilds its
    ``data`` section and rules)."""
    _listeners.append(listener)


def dataset(name: str, description: str, **fields: Any) -> DataSet:
    """Declare a data set (the fields of :class:`DataSet`)."""
    spec = DataSet(**fields)
    if spec.kind == "toy" and spec.shape != (2,):
        raise ValueError(f"data set {name!r}: 2D data has shape (2,), not {spec.shape}")
    if spec.kind == "image" and len(spec.shape) != 3:
        raise ValueError(f"data set {name!r}: an image's shape is (channels, height, width)")
    from gan_core.metrics.features import EXTRACTORS  # late: it imports the feature networks

    unknown = [space for space in spec.features if space not in EXTRACTORS]
    if unknown:
        raise ValueError(f"data set {name!r}: no feature space {unknown}; choose from "
                         f"{', '.join(EXTRACTORS)}")
    DATASETS.add(name, spec, description, **spec.describe())
    try:
        _changed()
        tags = get_args(spec.config.model_fields["name"].annotation)
        if name not in tags:
            raise ValueError(f"data set {name!r}: its section {spec.config.__name__} must be "
                             f"tagged name: Literal[{name!r}] (it takes {tags})")
    except Exception:  # refused: nothing of it stays, and the config is as it was
        DATASETS.remove(name)
        _changed()
        raise
    return spec


def forget_dataset(name: str) -> None:
    """Take a data set out (a test's own, once the test is done with it)."""
    DATASETS.remove(name)
    _changed()


def _changed() -> None:
    for listener in _listeners:
        listener()
