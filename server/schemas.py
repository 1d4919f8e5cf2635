"""API schemas: what the REST routes take and return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.models import Run

__all__ = ["ControlRequest", "RunCreate", "RunPublic", "RunsPublic", "SweepControl",
           "SweepControlResult", "SweepCreate", "SweepCreated", "SweepPublic", "SweepsPublic"]

RUN_ID_PATTERN = r"^[0-9a-f]{12}$"
# what an INTEGER column of PostgreSQL holds: steps, positions, offsets and seeds a client sends
# stay within it (the OpenAPI document says so; a larger one is a 422 naming the field)
MAX_INT = 2**31 - 1
Step = Annotated[int, Field(ge=0, le=MAX_INT)]
ResourceName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")]


def custom_resources(value: dict[str, float]) -> dict[str, float]:
    """Ray custom resources as Ray takes them: no CPU/GPU/memory, whole numbers above 1."""
    for name, amount in value.items():
        if name.upper() in ("CPU", "GPU") or name in ("memory", "object_store_memory"):
            raise ValueError(f"{name!r} is not a custom resource: a run's CPUs come from "
                             "config train.num_threads and its GPU from train.device")
        if amount > 1 and amount != int(amount):
            raise ValueError(f"{name}: {amount:g}: amounts above 1 must be whole numbers "
                             "(Ray's rule)")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ForkFrom(Strict):
    run_id: str = Field(pattern=RUN_ID_PATTERN, description="The run to continue from.")
    step: int | None = Field(None, ge=0, le=MAX_INT,
                             description="Its checkpoint at this step (default: "
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
    steps: int | None = Field(None, ge=1, le=10_000_000, description="Total steps (train.steps).")
    resources: dict[ResourceName, Annotated[float, Field(gt=0, le=1e6)]] = Field(
        default_factory=dict, max_length=16,
        description='Ray custom resources the run needs, e.g. {"big_gpu_node": 1}: Ray '
        "places it only on a node that has them (Ray backend only).",
    )

    @field_validator("resources")
    @classmethod
    def _custom_resources_only(cls, value: dict[str, float]) -> dict[str, float]:
        return custom_resources(value)


class ControlRequest(Strict):
    # gan_core.train.Command refuses a 'set' that sets nothing
    model_config = ConfigDict(json_schema_extra={
        "if": {"required": ["action"], "properties": {"action": {"const": "set"}}},
        "then": {"required": ["values"], "properties": {"values": {"minProperties": 1}}}})

    action: Literal["pause", "resume", "step", "stop", "set", "checkpoint"] = Field(
        description="pause/step/stop/set act on a running run; resume continues a paused run, "
        "or a stopped, failed or interrupted one from its last checkpoint; checkpoint saves "
        "one now (the latest weights, for the explorer)."
    )
    values: dict[Literal["lr_g", "lr_d", "n_critic"], float] = Field(
        default_factory=dict, description="For 'set': lr_g and lr_d in (0, 1], n_critic a whole "
        "number from 1 to 100.",
        json_schema_extra={"properties": {
            "lr_g": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "lr_d": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "n_critic": {"type": "integer", "minimum": 1, "maximum": 100}}},
    )
    steps: int | None = Field(
        None, ge=1, le=10_000_000,
        description="For 'resume' of a finished run: the new total of steps (train.steps)."
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
    sweep_id: str | None = None
    sweep_point: dict[str, Any] | None = None
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
            parent_step=run.parent_step, sweep_id=run.sweep_id,
            sweep_point=run.sweep_point, created_at=run.created_at, started_at=run.started_at,
            finished_at=run.finished_at, updated_at=run.updated_at,
            last_metrics=run.last_metrics or {}, seq=run.seq,
            config=run.config if with_config else None,
        )


class RunsPublic(BaseModel):
    data: list[RunPublic]
    count: int


AxisName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=100)]


class AxisRange(Strict):
    """A continuous axis for random search: values drawn between ``low`` and ``high``."""

    low: float
    high: float
    log: bool = Field(False, description="Draw uniformly in log space (learning rates).")
    integer: bool = Field(False, description="Round each draw to a whole number.")


class SweepCreate(Strict):
    """Runs from one preset/config: every point of ``axes`` (grid), or ``count`` of them."""

    name: str | None = Field(None, max_length=200)
    preset: str | None = Field(None, max_length=100, description="See GET /api/registry.")
    config: dict[str, Any] | None = Field(None, description="A RunConfig (partial with a preset).")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description='Dotted paths for every run, e.g. {"train.steps": 5000}.'
    )
    axes: dict[AxisName, list[Any] | AxisRange] = Field(
        min_length=1, max_length=10,
        description='Dotted config field -> its values, e.g. {"optim.d.lr": [1e-4, 5e-4], '
        '"seed": [0, 1, 2]}; with random search also {"low": 1e-5, "high": 1e-3, "log": true}.',
    )
    search: Literal["grid", "random"] = Field(
        "grid", description="grid: every combination; random: `count` points drawn with `seed`.")
    count: int | None = Field(None, ge=1, le=10_000, description="Points of a random search.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="The random search's seed.")
    metric: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_./-]{1,100}$",
        description="The metric that ranks the runs (default: w1_exact on 2D data, else loss_g).")
    goal: Literal["min", "max"] | None = Field(
        None, description="Whether less or more of the metric is better (default by metric).")
    stop_rule: Literal["median"] | None = Field(
        None, description="median: stop a run whose best value is worse than the median of "
        "the sweep's other runs at the same step (after a quarter of its steps).")
    resources: dict[ResourceName, Annotated[float, Field(gt=0, le=1e6)]] = Field(
        default_factory=dict, max_length=16, description="Ray custom resources of every run.")

    @field_validator("resources")
    @classmethod
    def _custom_resources_only(cls, value: dict[str, float]) -> dict[str, float]:
        return custom_resources(value)


class SweepControl(Strict):
    action: Literal["stop", "resume"] = Field(
        description="stop: every queued or training run of the sweep; resume: its stopped-by-"
        "the-server (interrupted) and failed runs, from their last checkpoints.")


class SweepCreated(BaseModel):
    id: str
    runs: list[str] = Field(description="The ids of the sweep's runs, one per point.")


class SweepRunPublic(BaseModel):
    id: str
    name: str
    status: str
    status_message: str | None
    error: str | None
    step: int
    total_steps: int
    point: dict[str, Any] = Field(description="The run's value on each axis.")
    final: float | None = Field(description="The metric's last reported value.")
    final_step: int | None
    best: float | None = Field(description="The metric's best value (by the sweep's goal).")
    best_step: int | None


class SweepHead(BaseModel):
    id: str
    name: str
    created_at: datetime
    metric: str
    goal: Literal["min", "max"]
    stop_rule: Literal["median"] | None
    axes: list[str]


class SweepSummary(SweepHead):
    runs: int = Field(description="How many runs the sweep has.")
    active: int = Field(description="How many of them are queued or training.")


class SweepPublic(SweepHead):
    search: Literal["grid", "random"]
    spec: dict[str, Any] = Field(description="The request that made the sweep.")
    status: Literal["active", "finished"]
    counts: dict[str, int] = Field(description="Runs per status.")
    best_run: str | None
    runs: list[SweepRunPublic] = Field(description="One row per run, in the points' order.")


class SweepsPublic(BaseModel):
    data: list[SweepSummary]
    count: int


class SweepControlResult(BaseModel):
    runs: list[str] = Field(description="The runs the action was applied to.")
    skipped: list[str] = Field(description="Runs it could not be applied to, with why.")


class Target(Strict):
    """Which of a run's checkpoints an image operation uses."""

    step: int | None = Field(None, ge=0, le=MAX_INT, description="The checkpoint's step "
                             "(default: the newest).")
    ema: bool = Field(True, description="The EMA weights of G when the run kept them.")
