"""What a client gets before the live stream: a run's stored history, decimated.

A run of 100,000 steps has 10,000 report windows per series; a chart needs a few thousand
points. The series come from the :class:`~server.runs.series.SeriesCache` (decoded once per run,
decimated keeping every bucket's extremes); grids, views, checkpoints and events are read here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.models import CheckpointRow, Run, RunEvent, SampleRow
from server.runs.series import SeriesCache
from server.schemas import RunPublic

__all__ = ["build_history", "checkpoint_public", "sample_public"]


def build_history(session: Any, run: Run, run_dir: Path, series: SeriesCache, *,
                  after_seq: int | None, max_points: int) -> dict[str, Any]:
    """The ``history`` message: the run and everything stored after ``after_seq``.

    A client that saw up to ``after_seq`` gets only what is newer (no gaps, no duplicates),
    unless the run was rewound (resumed from an earlier checkpoint) since: then everything,
    with ``reset`` true.
    """
    reset = after_seq is None or run.rewound_seq > after_seq
    since = 0 if reset else after_seq
    upto = run.seq  # rows committed after the run row was read belong to the live stream
    rid = run.id

    metrics = series.query(session, run, max_points=max_points, after_seq=since)
    samples = session.execute(
        select(SampleRow).where(SampleRow.run_id == rid, SampleRow.seq > since,
               SampleRow.seq <= upto)
        .order_by(SampleRow.step)
    ).scalars().all()
    checkpoints = session.execute(
        select(CheckpointRow).where(CheckpointRow.run_id == rid, CheckpointRow.seq > since,
               CheckpointRow.seq <= upto)
        .order_by(CheckpointRow.step)
    ).scalars().all()
    events = session.execute(
        select(RunEvent).where(RunEvent.run_id == rid, RunEvent.seq > since,
               RunEvent.seq <= upto)
        .order_by(RunEvent.seq)
    ).scalars().all()

    views = [s for s in samples if s.kind == "view"]
    latest_view = None
    if views:
        path = run_dir / views[-1].file
        if path.is_file():
            data = json.loads(path.read_text())
            data.pop("kind", None)
            data.pop("step", None)
            latest_view = {"step": views[-1].step, "data": data}
    return {
        "type": "history",
        "reset": reset,
        "seq": run.seq,
        "run": RunPublic.from_row(run).model_dump(mode="json"),
        "metrics": metrics["series"],
        "metric_rows": metrics["rows"],
        "samples": [sample_public(rid, s) for s in samples if s.kind == "sample"],
        "views": [sample_public(rid, s) for s in views],
        "view": latest_view,
        "checkpoints": [checkpoint_public(rid, c) for c in checkpoints],
        "events": [{"seq": e.seq, "step": e.step, "type": e.kind, **e.data} for e in events],
    }


def sample_public(run_id: str, row: SampleRow) -> dict[str, Any]:
    if row.kind == "sample":
        return {"step": row.step, "seq": row.seq, "nrow": row.nrow, "count": row.count,
                "url": f"/api/runs/{run_id}/samples/{row.step}.png"}
    return {"step": row.step, "seq": row.seq, "url": f"/api/runs/{run_id}/views/{row.step}"}


def checkpoint_public(run_id: str, row: CheckpointRow) -> dict[str, Any]:
    return {"step": row.step, "seq": row.seq, "size_bytes": row.size_bytes,
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "url": f"/api/runs/{run_id}/checkpoints/{row.step}"}
