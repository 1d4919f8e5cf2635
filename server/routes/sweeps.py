"""Sweeps: many runs from one config and a set of axes, ranked by one metric."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi import Path as PathParam

from server.deps import AdminDep, StateDep
from server.errors import answers
from server.schemas import (
    MAX_INT,
    RUN_ID_PATTERN,
    SweepControl,
    SweepControlResult,
    SweepCreate,
    SweepCreated,
    SweepPublic,
    SweepsPublic,
)

router = APIRouter(prefix="/api/sweeps", tags=["sweeps"])

SweepId = Annotated[str, PathParam(pattern=RUN_ID_PATTERN,
                                   description="A sweep id (12 hex digits).")]


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[AdminDep],
             responses=answers(409))
async def create_sweep(body: SweepCreate, state: StateDep) -> SweepCreated:
    """Create a sweep: every point is validated first, then all its runs queue at once."""
    sweep, run_ids = await state.sweeps.create(body)
    return SweepCreated(id=sweep.id, runs=run_ids)


@router.get("")
def list_sweeps(
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> SweepsPublic:
    """Sweeps, newest first, with how many of their runs are still active."""
    return SweepsPublic.model_validate(state.sweeps.list(limit, offset))


@router.get("/{sweep_id}")
def get_sweep(sweep_id: SweepId, state: StateDep) -> SweepPublic:
    """A sweep's table: each run's status, axis values, final and best metric; the best run."""
    return SweepPublic.model_validate(state.sweeps.summary(sweep_id))


@router.get("/{sweep_id}/export.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def export_sweep(sweep_id: SweepId, state: StateDep) -> Response:
    """The sweep's table as CSV: one row per run, one column per axis."""
    return Response(state.sweeps.csv(sweep_id), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="sweep-{sweep_id}.csv"'})


@router.post("/{sweep_id}/control", dependencies=[AdminDep])
async def control_sweep(sweep_id: SweepId, body: SweepControl,
                        state: StateDep) -> SweepControlResult:
    """Stop every queued or training run of the sweep, or resume its interrupted and failed
    runs from their last checkpoints."""
    return SweepControlResult.model_validate(await state.sweeps.control(sweep_id, body.action))
