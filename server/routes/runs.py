"""Runs: create, list, read, control, delete; their metrics, samples and checkpoints."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import FileResponse

from gan_core.status import STATUSES
from server.deps import AdminDep, RunId, StateDep, StepPath
from server.errors import answers, content
from server.models import CheckpointRow, RunEvent, SampleRow
from server.runs import checkpoint_public, sample_public
from server.schemas import MAX_INT, ControlRequest, RunCreate, RunPublic, RunsPublic

router = APIRouter(prefix="/api/runs", tags=["runs"])


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[AdminDep],
             responses=answers(404, 409))
async def create_run(body: RunCreate, state: StateDep) -> RunPublic:
    """Create a run from a preset and/or a config (or fork a checkpoint); it queues at once."""
    run = await state.runs.create(body)
    return RunPublic.from_row(state.runs.get(run.id))


@router.get("")
def list_runs(
    state: StateDep,
    status_: Annotated[list[Literal[STATUSES]] | None, Query(alias="status")] = None,  # type: ignore[valid-type]
    q: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> RunsPublic:
    """Runs, newest first, optionally filtered by status and name."""
    rows, count = state.runs.find(statuses=status_, name=q, limit=limit, offset=offset)
    return RunsPublic(data=[RunPublic.from_row(r, with_config=False) for r in rows], count=count)


@router.get("/{run_id}")
def get_run(run_id: RunId, state: StateDep) -> RunPublic:
    """One run, with its config."""
    return RunPublic.from_row(state.runs.get(run_id))


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[AdminDep])
async def delete_run(run_id: RunId, state: StateDep) -> Response:
    """Delete a run with its files (a running one is killed first)."""
    await state.runs.delete(run_id)
    state.series.forget(run_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{run_id}/control", status_code=status.HTTP_202_ACCEPTED,
             dependencies=[AdminDep], responses=answers(409))
async def control_run(run_id: RunId, body: ControlRequest, state: StateDep) -> RunPublic:
    """Pause, resume, step once, stop, or set lr_g/lr_d/n_critic; the change streams back."""
    await state.runs.control(run_id, body)
    return RunPublic.from_row(state.runs.get(run_id))


@router.get("/{run_id}/metrics")
def get_metrics(
    run_id: RunId,
    state: StateDep,
    since: Annotated[int | None, Query(ge=0, le=MAX_INT,
                                      description="Only steps after this one.")] = None,
    max_points: Annotated[int | None, Query(ge=4, le=1_000_000,
                                            description="Decimate each series to at most "
                                            "this many points, keeping extremes.")] = None,
    keys: Annotated[str | None, Query(max_length=2000,
                                      description="Comma-separated series names.")] = None,
) -> dict[str, Any]:
    """Each metric as a series of (step, value)."""
    wanted = {k.strip() for k in keys.split(",")} if keys else None
    answer = state.runs.series(run_id, state.series, max_points=max_points, keys=wanted,
                               after_step=since)
    return {"run_id": run_id, **answer}


@router.get("/{run_id}/metrics/export", response_class=Response,
            responses=content("text/csv", "application/json",
                              description="CSV (one column per metric) or JSON"))
def export_metrics(
    run_id: RunId, state: StateDep,
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
) -> Response:
    """Every stored metric row, as CSV (one column per metric) or JSON."""
    rows = state.runs.metric_rows(run_id)
    if format == "json":
        body = json.dumps([{"step": step, **values} for step, values in rows])
        return Response(body, media_type="application/json", headers=_attachment(run_id, "json"))
    names: dict[str, None] = {}
    for _, values in rows:
        names.update(dict.fromkeys(values))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["step", *names])
    for step, values in rows:
        writer.writerow([step, *("" if values.get(n) is None else values[n] for n in names)])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers=_attachment(run_id, "csv"))


def _attachment(run_id: str, ext: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="run-{run_id}-metrics.{ext}"'}


@router.get("/{run_id}/events")
def get_events(run_id: RunId, state: StateDep) -> list[dict[str, Any]]:
    """Status changes and live hyper-parameter changes, in order."""
    rows = state.runs.rows(run_id, RunEvent, RunEvent.seq)
    return [{"seq": e.seq, "step": e.step, "type": e.kind,
             "at": e.created_at.isoformat(), **e.data} for e in rows]


@router.get("/{run_id}/samples")
def list_samples(run_id: RunId, state: StateDep) -> dict[str, list[dict[str, Any]]]:
    """Every recorded sample grid (images) and 2D view (toy data), by step."""
    rows = state.runs.rows(run_id, SampleRow, SampleRow.step)
    return {"grids": [sample_public(run_id, r) for r in rows if r.kind == "sample"],
            "views": [sample_public(run_id, r) for r in rows if r.kind == "view"]}


@router.get("/{run_id}/samples/{step}.png", response_class=FileResponse)
def get_sample(run_id: RunId, step: StepPath, state: StateDep) -> FileResponse:
    """A sample grid as PNG."""
    path = state.runs.row_file(run_id, SampleRow, step, "sample", "grid")
    return FileResponse(path, media_type="image/png",
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})


@router.get("/{run_id}/views/{step}")
def get_view(run_id: RunId, step: StepPath, state: StateDep) -> Response:
    """A 2D view: real and generated points, D over the plane, G's gradient field."""
    path = state.runs.row_file(run_id, SampleRow, step, "view", "view")
    return Response(path.read_bytes(), media_type="application/json")


@router.get("/{run_id}/checkpoints")
def list_checkpoints(run_id: RunId, state: StateDep) -> list[dict[str, Any]]:
    """The run's checkpoints, oldest first."""
    rows = state.runs.rows(run_id, CheckpointRow, CheckpointRow.step)
    return [checkpoint_public(run_id, r) for r in rows]


@router.get("/{run_id}/checkpoints/{step}", response_class=FileResponse)
def download_checkpoint(run_id: RunId, step: StepPath, state: StateDep) -> FileResponse:
    """A checkpoint file (safetensors: weights and state, config in the metadata)."""
    path = state.runs.row_file(run_id, CheckpointRow, step)
    return FileResponse(path, media_type="application/octet-stream",
                        filename=f"run-{run_id}-{path.name}")

