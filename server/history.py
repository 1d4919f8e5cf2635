"""What a client gets before the live stream: a run's stored history, decimated.

A run of 100,000 steps has 10,000 report windows per series; a chart needs a few thousand
points. Decimation keeps, per bucket of consecutive points, the minimum and the maximum (in
step order), plus the first and last point, so spikes and the current value always show.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.models import CheckpointRow, MetricPoint, Run, RunEvent, SampleRow
from server.schemas import RunPublic

__all__ = ["build_history", "decimate", "metric_series"]


def decimate(steps: list[int], values: list[float | None],
             max_points: int) -> tuple[list[int], list[float]]:
    """At most ``max_points`` (>= 4) points of the series, keeping every bucket's extremes.

    Missing values (None: non-finite or not reported at that step) are left out.
    """
    pts = [(s, v) for s, v in zip(steps, values, strict=True) if v is not None]
    if len(pts) <= max_points:
        return [s for s, _ in pts], [v for _, v in pts]
    interior = pts[1:-1]
    buckets = max(1, (max_points - 2) // 2)
    size = len(interior) / buckets
    keep = [pts[0]]
    for b in range(buckets):
        chunk = interior[int(b * size): int((b + 1) * size)]
        if not chunk:
            continue
        lo = min(range(len(chunk)), key=lambda i: chunk[i][1])
        hi = max(range(len(chunk)), key=lambda i: chunk[i][1])
        keep.extend(chunk[i] for i in sorted({lo, hi}))
    keep.append(pts[-1])
    return [s for s, _ in keep], [v for _, v in keep]


def metric_series(rows: list[tuple[int, dict[str, Any]]], max_points: int | None,
                  keys: set[str] | None = None) -> dict[str, dict[str, list]]:
    """``(step, values)`` rows -> ``{name: {"step": [...], "value": [...]}}``."""
    names: dict[str, None] = {}
    for _, values in rows:
        names.update(dict.fromkeys(values))
    out = {}
    for name in names:
        if keys is not None and name not in keys:
            continue
        steps = [step for step, values in rows if name in values]
        vals = [values[name] for _, values in rows if name in values]
        if max_points is not None:
            steps, vals = decimate(steps, vals, max_points)
        out[name] = {"step": steps, "value": vals}
    return out


def build_history(session: Any, run: Run, run_dir: Path, *, after_seq: int | None,
                  max_points: int) -> dict[str, Any]:
    """The ``history`` message: the run and everything stored after ``after_seq``.

    A client that saw up to ``after_seq`` gets only what is newer (no gaps, no duplicates),
    unless the run was rewound (resumed from an earlier checkpoint) since: then everything,
    with ``reset`` true.
    """
    reset = after_seq is None or run.rewound_seq > after_seq
    since = 0 if reset else after_seq
    upto = run.seq  # rows committed after the run row was read belong to the live stream
    rid = run.id

    rows = session.execute(
        select(MetricPoint.step, MetricPoint.values)
        .where(MetricPoint.run_id == rid, MetricPoint.seq > since,
               MetricPoint.seq <= upto)
        .order_by(MetricPoint.step, MetricPoint.seq)
    ).all()
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
        "metrics": metric_series([(s, v) for s, v in rows], max_points),
        "metric_rows": len(rows),
        "samples": [sample_public(rid, s) for s in samples if s.kind == "grid"],
        "views": [sample_public(rid, s) for s in views],
        "view": latest_view,
        "checkpoints": [checkpoint_public(rid, c) for c in checkpoints],
        "events": [{"seq": e.seq, "step": e.step, "type": e.kind, **e.data} for e in events],
    }


def sample_public(run_id: str, row: SampleRow) -> dict[str, Any]:
    if row.kind == "grid":
        return {"step": row.step, "seq": row.seq, "nrow": row.nrow, "count": row.count,
                "url": f"/api/runs/{run_id}/samples/{row.step}.png"}
    return {"step": row.step, "seq": row.seq, "url": f"/api/runs/{run_id}/views/{row.step}"}


def checkpoint_public(run_id: str, row: CheckpointRow) -> dict[str, Any]:
    return {"step": row.step, "seq": row.seq, "size_bytes": row.size_bytes,
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "url": f"/api/runs/{run_id}/checkpoints/{row.step}"}
