"""Checkpoints as one safetensors file: tensors in the body, JSON in the metadata. Never pickle.

Layout of the tensors: ``G.*``, ``G_ema.*``, ``D.*`` (state dicts), ``opt_g.<param>.<name>``
and ``opt_d.*`` (optimizer state), ``rng.*`` (generator states), ``data.*`` and ``extra.*``
(trainer state that is a tensor). Metadata (all strings): ``format``, ``config`` (the run's
JSON config), ``step``, and JSON for the optimizers' param groups and non-tensor state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from gan_core.config import RunConfig
from gan_core.run_dir import RunDir, atomic_path

__all__ = [
    "FORMAT",
    "Checkpoint",
    "CheckpointError",
    "latest_checkpoint",
    "load_checkpoint",
    "optimizer_state_from_flat",
    "optimizer_state_to_flat",
    "save_checkpoint",
]

FORMAT = "ganscope-checkpoint-1"


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged or not GANscope's."""


@dataclass
class Checkpoint:
    config: RunConfig
    step: int
    tensors: dict[str, Tensor]
    meta: dict[str, Any] = field(default_factory=dict)

    def section(self, prefix: str) -> dict[str, Tensor]:
        """The tensors under ``prefix.``, with the prefix removed (e.g. a model's state dict)."""
        start = prefix + "."
        return {k[len(start):]: v for k, v in self.tensors.items() if k.startswith(start)}


def optimizer_state_to_flat(
    state: dict[str, Any], prefix: str
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into flat tensors and a JSON-able rest."""
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, pstate in state["state"].items():
        for name, value in pstate.items():
            if isinstance(value, Tensor):
                tensors[f"{prefix}.{param_id}.{name}"] = value
            else:
                scalars.setdefault(str(param_id), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_state_from_flat(
    tensors: dict[str, Tensor], rest: dict[str, Any]
) -> dict[str, Any]:
    """Inverse of :func:`optimizer_state_to_flat`, given the tensors under the same prefix."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        param_id, name = key.split(".", 1)
        state.setdefault(int(param_id), {})[name] = value
    for param_id, values in rest["scalars"].items():
        state.setdefault(int(param_id), {}).update(values)
    return {"state": state, "param_groups": rest["param_groups"]}


def save_checkpoint(
    path: str | Path,
    config: RunConfig,
    step: int,
    tensors: dict[str, Tensor],
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write atomically (gan_core.run_dir.atomic_path): a crash never leaves half a file."""
    path = Path(path)
    # safetensors refuses shared or strided storage; checkpoints are small, copies are cheap
    body = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    metadata = {
        "format": FORMAT,
        "config": config.model_dump_json(),
        "step": str(step),
        "meta": json.dumps(meta or {}),
    }
    with atomic_path(path) as tmp:
        save_file(body, str(tmp), metadata=metadata)
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (safetensors: no code runs)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    if metadata.get("format") != FORMAT:
        found = metadata.get("format")
        raise CheckpointError(f"{path}: not a GANscope checkpoint (format {found!r})")
    config = RunConfig.from_json(metadata["config"])
    return Checkpoint(
        config=config,
        step=int(metadata["step"]),
        tensors=tensors,
        meta=json.loads(metadata.get("meta", "{}")),
    )


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint with the highest step in ``run_dir/checkpoints``, or None."""
    found = RunDir(run_dir).files("checkpoint")
    return found[-1][1] if found else None
