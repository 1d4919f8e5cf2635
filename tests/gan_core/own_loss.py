"""A loss of a test's own, registered the way a new one is (gan_core/losses.py) and taken out
again: the proof that adding one touches one file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch.nn.functional as F
from torch import Tensor

from gan_core.config import LossConfig
from gan_core.losses import LOSSES, AdversarialLoss

NAME = "test-squared-hinge"


@contextmanager
def own_loss() -> Iterator[str]:
    @LOSSES.register(NAME, "Squared hinge (a test's own loss).", d_output="margin")
    class SquaredHinge(AdversarialLoss):
        def __init__(self, cfg: LossConfig) -> None:
            pass

        def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
            return (F.relu(1 - real_out) ** 2).mean() + (F.relu(1 + fake_out) ** 2).mean()

        def g_loss(self, fake_out: Tensor) -> Tensor:
            return -fake_out.mean()

    try:
        yield NAME
    finally:
        LOSSES.remove(NAME)
