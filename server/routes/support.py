"""The birthday-paradox test of support size, as an API a person drives.

Draw ``s`` samples of a checkpoint's G, flag the closest pairs in a feature space (the image
service does this), let a person confirm or reject each flagged pair, and estimate from the
verdicts the smallest ``s`` at which duplicates are likely and the support size that implies
(:mod:`gan_core.metrics.support`). Draws and verdicts live in one JSON file per checkpoint,
``runs/<id>/support/<step>.json``, written atomically.

A draw counts toward the estimate once it is settled: a pair in it was confirmed, or every
flagged pair was rejected.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from gan_core.metrics.support import estimate_support
from gan_core.run_dir import write_atomic
from server.deps import AdminDep, AppState, RunId, StateDep
from server.errors import Conflict, NotFound, answers
from server.schemas import MAX_INT, Strict, Target

router = APIRouter(tags=["support"])

FORMAT = "ganscope-support-1"
MAX_S = 5000  # as the image service's SUPPORT_MAX_S
MAX_TOP = 50
DRAW_ID_PATTERN = r"^\d{1,12}-\d{1,5}-\d{1,12}-(ema|raw)-[a-z]{1,16}$"
DrawId = Annotated[str, PathParam(pattern=DRAW_ID_PATTERN,
                                  description="step-s-seed-(ema|raw)-space")]

_lock = threading.Lock()  # read-modify-write of the verdict files


class DrawRequest(Target):
    s: int = Field(100, ge=2, le=MAX_S, description="Samples drawn from G.")
    seed: int = Field(0, ge=0, le=10**12, description="The seed of the latents.")
    top: int = Field(20, ge=1, le=MAX_TOP, description="Closest pairs flagged for review.")
    features: Literal["auto", "mnist", "critic", "pixel"] = Field(
        "auto", description="Where closeness is measured: the MNIST feature net (MNIST-like "
        "sets), the run's own critic (D), or pixels; auto: mnist where it fits, else critic.")


class Verdicts(Strict):
    verdicts: dict[int, bool | None] = Field(
        description="Pair index -> true (the same image), false (different), null (undecided).",
        json_schema_extra={"propertyNames": {"pattern": r"^(0|[1-9][0-9]{0,8})$"}})


# -- the file ---------------------------------------------------------------------------------


def _file(state: AppState, run_id: str, step: int) -> Path:
    return state.runs.run_dir(run_id) / "support" / f"{step}.json"


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get("draws", {})


def _write(path: Path, draws: dict[str, Any]) -> None:
    """Atomically: a crash never leaves half a file."""
    write_atomic(path, json.dumps({"format": FORMAT, "draws": draws}))


def _draw_id(step: int, s: int, seed: int, ema: bool, space: str) -> str:
    return f"{step}-{s}-{seed}-{'ema' if ema else 'raw'}-{space}"


def _settled(draw: dict[str, Any]) -> bool | None:
    """Whether a confirmed duplicate is in the draw; None while it is not settled."""
    verdicts = [p.get("verdict") for p in draw["pairs"]]
    if any(v is True for v in verdicts):
        return True
    return False if all(v is False for v in verdicts) else None


def _summary(draws: dict[str, Any], ema: bool | None) -> dict[str, Any]:
    """Draws by s (how many, settled, holding a confirmed duplicate) and the estimate."""
    chosen = [d for d in draws.values() if ema is None or d["ema"] == ema]
    by_s: dict[int, dict[str, int]] = {}
    records = []
    for d in chosen:
        row = by_s.setdefault(d["s"], {"s": d["s"], "draws": 0, "settled": 0, "duplicates": 0})
        row["draws"] += 1
        found = _settled(d)
        if found is not None:
            row["settled"] += 1
            row["duplicates"] += int(found)
            records.append((d["s"], found))
    estimate = None
    if records:
        e = estimate_support(records)
        estimate = {"smallest_s": e.smallest_s, "support": e.support,
                    "lower_bound": e.lower_bound,
                    "rates": {str(s): r for s, r in e.rates.items()}}
    return {"by_s": [by_s[s] for s in sorted(by_s)], "estimate": estimate}


def _public(draw_id: str, draw: dict[str, Any], images: bool) -> dict[str, Any]:
    pairs = [{"index": k, **{key: v for key, v in p.items()
                             if images or not key.startswith("image_")}}
             for k, p in enumerate(draw["pairs"])]
    return {"id": draw_id, **{k: v for k, v in draw.items() if k != "pairs"},
            "settled": _settled(draw), "pairs": pairs}


def _store_draw(path: Path, draw_id: str, draw: dict[str, Any]) -> dict[str, Any]:
    """Keep a draw; the same draw again keeps the verdicts already given."""
    with _lock:
        draws = _read(path)
        old = draws.get(draw_id)
        if old is not None and [(p["i"], p["j"]) for p in old["pairs"]] == \
                [(p["i"], p["j"]) for p in draw["pairs"]]:
            for new, before in zip(draw["pairs"], old["pairs"], strict=True):
                new["verdict"] = before.get("verdict")
        draws[draw_id] = draw
        _write(path, draws)
    return draw


def _judge(path: Path, draw_id: str, verdicts: dict[int, bool | None]) -> dict[str, Any]:
    with _lock:
        draws = _read(path)
        draw = draws.get(draw_id)
        if draw is None:
            raise NotFound(f"no draw {draw_id!r} for this checkpoint; POST a draw first")
        pairs = draw["pairs"]
        bad = [k for k in verdicts if not 0 <= k < len(pairs)]
        if bad:
            raise Conflict(f"verdicts: no pair {', '.join(map(str, bad))}: this draw flagged "
                           f"pairs 0..{len(pairs) - 1}")
        for k, verdict in verdicts.items():
            pairs[k]["verdict"] = verdict
        _write(path, draws)
    return draw


# -- routes -----------------------------------------------------------------------------------


@router.post("/api/runs/{run_id}/support/draws", dependencies=[AdminDep],
             responses=answers(409, 503))
async def create_draw(run_id: RunId, body: DrawRequest, state: StateDep) -> dict[str, Any]:
    """Draw ``s`` samples and flag the ``top`` closest pairs (closest first) for review. The
    same draw again returns the verdicts already given."""
    path, step = await run_in_threadpool(state.runs.checkpoint_file, run_id, body.step)
    out = await state.images.support_draw(checkpoint=str(path),
                                          **body.model_dump(exclude={"step"}))
    draw = {"s": body.s, "seed": body.seed, "top": body.top, "ema": out["ema"],
            "space": out["space"], "step": step,
            "pairs": [{**p, "verdict": None} for p in out["pairs"]]}
    draw_id = _draw_id(step, body.s, body.seed, out["ema"], out["space"])
    draw = await run_in_threadpool(_store_draw, _file(state, run_id, step), draw_id, draw)
    return {**_public(draw_id, draw, images=True), "render_ms": out["render_ms"]}


@router.get("/api/runs/{run_id}/support/draws/{draw_id}")
def get_draw(run_id: RunId, draw_id: DrawId, state: StateDep) -> dict[str, Any]:
    """One draw with its pairs' images and verdicts."""
    step = int(draw_id.split("-", 1)[0])
    state.runs.checkpoint_file(run_id, step)
    draw = _read(_file(state, run_id, step)).get(draw_id)
    if draw is None:
        raise NotFound(f"no draw {draw_id!r} for this checkpoint")
    return _public(draw_id, draw, images=True)


@router.put("/api/runs/{run_id}/support/draws/{draw_id}/verdicts", dependencies=[AdminDep],
            responses=answers(409))
def put_verdicts(run_id: RunId, draw_id: DrawId, body: Verdicts,
                 state: StateDep) -> dict[str, Any]:
    """Confirm (true) or reject (false) flagged pairs; null takes a verdict back."""
    step = int(draw_id.split("-", 1)[0])
    state.runs.checkpoint_file(run_id, step)
    path = _file(state, run_id, step)
    draw = _judge(path, draw_id, body.verdicts)
    ema = draw["ema"]
    return {"draw": _public(draw_id, draw, images=False),
            **_summary(_read(path), ema)}


@router.get("/api/runs/{run_id}/support")
def support(
    run_id: RunId, state: StateDep,
    step: Annotated[int | None, Query(ge=0, le=MAX_INT, description="Default: the newest.")] = None,
    ema: Annotated[bool | None, Query(description="Only draws of the EMA (true) or raw "
                                      "(false) weights; default: all.")] = None,
) -> dict[str, Any]:
    """Every draw of a checkpoint with its verdicts (no images), draws by s, and the estimate:
    the smallest s at which at least half the settled draws held a confirmed duplicate, and the
    support size s(s-1)/(2 ln 2) that implies (or, with none, a lower bound)."""
    _, found = state.runs.checkpoint_file(run_id, step)
    draws = _read(_file(state, run_id, found))
    listed = [_public(k, d, images=False) for k, d in draws.items()
              if ema is None or d["ema"] == ema]
    listed.sort(key=lambda d: (d["s"], d["seed"]))
    return {"run_id": run_id, "step": found, "draws": listed, **_summary(draws, ema)}
