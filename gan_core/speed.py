"""The hardware's speed options for training: mixed precision, channels-last, torch.compile,
fused optimizers (``train.amp``, ``train.channels_last``, ``train.compile``,
``train.fused_optimizer``).

:class:`Precision` is what the trainer and the objective ask for autocast and backward: bf16
autocast needs no scaling (CPU and recent GPUs); fp16 autocast needs a gradient scaler, one per
optimizer (D steps ``n_critic`` times per G step), whose state goes into the checkpoint.
Gradients are unscaled before they are measured (``grad_norm_*``) or clipped, so the reported
numbers mean the same with every option.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Precision", "check_speed_options", "maybe_compile"]

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_speed_options(amp: str, device: torch.device) -> None:
    """Refuse what this run's device cannot do, saying what to use instead (a ValueError naming
    the field). What the config alone rules out (channels-last on 2D data) RunConfig refuses."""
    if amp == "fp16" and device.type != "cuda":
        raise ValueError(f"train.amp: fp16 needs a CUDA GPU (this run trains on {device.type});"
                         " use bf16 on the CPU, or off")
    if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("train.amp: this GPU has no bf16; use fp16 (with its gradient scaler) "
                         "or off")


class Precision:
    """Autocast and gradient scaling for one run's D and G steps."""

    def __init__(self, amp: str, device: torch.device) -> None:
        self.amp = amp
        self.device_type = device.type
        self.dtype = DTYPES.get(amp)
        self.scalers: dict[str, Any] = {}
        if amp == "fp16":
            self.scalers = {name: torch.amp.GradScaler(device.type) for name in ("d", "g")}

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.dtype is None:
            yield
            return
        with torch.autocast(self.device_type, dtype=self.dtype):
            yield

    def grad_scale(self, phase: str) -> float:
        """The factor the loss of ``phase`` is multiplied by before backward (1 without fp16)."""
        scaler = self.scalers.get(phase)
        return float(scaler.get_scale()) if scaler is not None else 1.0

    def backward(self, phase: str, loss: Tensor) -> None:
        scaler = self.scalers.get(phase)
        (scaler.scale(loss) if scaler is not None else loss).backward()

    def unscale(self, phase: str, optimizer: torch.optim.Optimizer) -> None:
        """The true gradients in ``.grad`` (before measuring them)."""
        scaler = self.scalers.get(phase)
        if scaler is not None:
            scaler.unscale_(optimizer)

    def step(self, phase: str, optimizer: torch.optim.Optimizer) -> None:
        """The optimizer's step (skipped by the scaler when a gradient is inf/NaN)."""
        scaler = self.scalers.get(phase)
        if scaler is None:
            optimizer.step()
        else:
            scaler.step(optimizer)
            scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {name: {k: (float(v) if isinstance(v, Tensor) else v)
                       for k, v in scaler.state_dict().items()}
                for name, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, scaler in self.scalers.items():
            if name in state:
                scaler.load_state_dict(state[name])


def maybe_compile(module: nn.Module, enabled: bool) -> nn.Module:
    """``torch.compile(module)`` when asked; the caller keeps the original module for its state
    (a compiled module's state_dict names its keys ``_orig_mod.*``)."""
    return torch.compile(module) if enabled else module
