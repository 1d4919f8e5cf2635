"""API schemas: what the REST routes take and return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.models import Run

__all__ = ["ControlRequest", "RunCreate", "RunPublic", "RunsPublic"]

RUN_ID_PATTERN = r"^[0-9a-f]{12}$"
ResourceName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ForkFrom(Strict):
    run_id: str = Field(pattern=RUN_ID_PATTERN, description="The run to continue from.")
    step: int | None = Field(None, ge=0, description="Its checkpoint at this step (default: "
                             "the latest).")


class RunCreate(Strict):
    """A new run: a preset and/or a full config, with dotted overrides on top.

    Either ``preset`` (then ``config`` keys and ``overrides`` change it), or ``config`` alone,
    or ``fork`` (a new run that continues another run's checkpoint; only ``steps`` and
    ``name`` may change).
    """

    name: str | None = Field(None, max_length=200)
    preset: str | None = Field(None, max_length=100, description="See GET /api/registry.")
    config: dict[str, Any] | None = Field(None, description="A RunConfig (partial with a preset).")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description='Dotted paths, e.g. {"optim.g.lr": 1e-4}.'
    )
    fork: ForkFrom | None = None
    steps: int | None = Field(None, ge=1, description="Total steps (train.steps).")
    resources: dict[ResourceName, Annotated[float, Field(gt=0, le=1e6)]] = Field(
        default_factory=dict, max_length=16,
        description='Ray custom resources the run needs, e.g. {"big_gpu_node": 1}: Ray '
        "places it only on a node that has them (Ray backend only).",
    )

    @field_validator("resources")
    @classmethod
    def _custom_resources_only(cls, value: dict[str, float]) -> dict[str, float]:
        for name, amount in value.items():
            if name.upper() in ("CPU", "GPU") or name in ("memory", "object_store_memory"):
                raise ValueError(f"{name!r} is not a custom resource: a run's CPUs come from "
                                 "config train.num_threads and its GPU from train.device")
            if amount > 1 and amount != int(amount):
                raise ValueError(f"{name}: {amount:g}: amounts above 1 must be whole numbers "
                                 "(Ray's rule)")
        return value


class ControlRequest(Strict):
    action: Literal["pause", "resume", "step", "stop", "set", "checkpoint"] = Field(
        description="pause/step/stop/set act on a running run; resume continues a paused run, "
        "or a stopped, failed or interrupted one from its last checkpoint; checkpoint saves "
        "one now (the latest weights, for the explorer)."
    )
    values: dict[str, float] = Field(
        default_factory=dict, description="For 'set': lr_g, lr_d, n_critic."
    )
    steps: int | None = Field(
        None, ge=1, description="For 'resume' of a finished run: the new total of steps."
    )


class RunPublic(BaseModel):
    id: str
    name: str
    status: str
    status_message: str | None = Field(
        None, description="What the last status said: why a queued run waits, where it runs, "
        "why it stopped.")
    preset: str | None
    data: str
    loss: str
    step: int
    total_steps: int
    device: str | None
    error: str | None
    parent_id: str | None
    parent_step: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    last_metrics: dict[str, Any]
    seq: int
    config: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, run: Run, *, with_config: bool = True) -> RunPublic:
        return cls(
            id=run.id, name=run.name, status=run.status,
            status_message=run.status_message, preset=run.preset,
            data=run.data_name, loss=run.loss_name, step=run.step, total_steps=run.total_steps,
            device=run.device, error=run.error, parent_id=run.parent_id,
            parent_step=run.parent_step, created_at=run.created_at, started_at=run.started_at,
            finished_at=run.finished_at, updated_at=run.updated_at,
            last_metrics=run.last_metrics or {}, seq=run.seq,
            config=run.config if with_config else None,
        )


class RunsPublic(BaseModel):
    data: list[RunPublic]
    count: int
