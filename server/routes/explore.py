"""The latent explorer's API: a checkpoint's generator as images, directions, paths, neighbours.

Every request names a run and one of its checkpoints (``step``; none: the newest) and whether
to use the EMA weights. Images are rendered by the image service (``server/images/``),
never on the event loop. The WebSocket renders only each client's newest request: dragging a
slider never builds a backlog.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, WebSocket, status
from pydantic import ConfigDict, Field, ValidationError, model_validator
from pydantic.json_schema import SkipJsonSchema
from starlette.concurrency import run_in_threadpool

from gan_core.run_dir import write_atomic
from server.deps import AdminDep, AppState, RunId, StateDep
from server.errors import Conflict, NotFound, answers, content
from server.images import ImageServiceError
from server.schemas import MAX_INT, Strict, Target
from server.sockets import accept_run_socket, until_first_done

router = APIRouter(tags=["explore"])

MAX_Z = 1024  # the config's largest z_dim
MAX_SAVED = 100  # named directions per checkpoint
LATEST_TTL_S = 2.0  # how long "the newest checkpoint" is trusted before it is looked up again


class Latent(Strict):
    """Exactly one of ``z`` and ``seed`` (the schema says so with oneOf; null means absent)."""

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["z"]}, {"required": ["seed"]}]})

    z: Annotated[list[float], Field(min_length=1, max_length=MAX_Z)] | SkipJsonSchema[None] = (
        Field(None, description="The latent itself (as many numbers as the checkpoint's "
              "z_dim)."))
    seed: Annotated[int, Field(ge=0, le=MAX_INT)] | SkipJsonSchema[None] = Field(
        None, description="Or the seed of a draw from the prior.")

    @model_validator(mode="after")
    def _one_of(self) -> Latent:
        if (self.z is None) == (self.seed is None):
            raise ValueError("give exactly one of z and seed")
        return self


class Look(Strict):
    psi: float = Field(1.0, ge=0.0, le=2.0, description="Truncation: 1 none, < 1 typical.")
    label: int | None = Field(None, ge=0, le=MAX_INT,
                              description="The class, for a conditional G.")


class RenderRequest(Target, Latent, Look):
    id: int = Field(0, ge=-MAX_INT, le=MAX_INT, description="Echoed in the answer.")
    variations: int = Field(0, ge=0, le=64, description="Also a grid of this many variations.")
    spread: float = Field(0.5, ge=0.0, le=5.0, description="How far variations stray.")
    variation_seed: int = Field(0, ge=0, le=MAX_INT)


class DirectionsRequest(Target):
    layer: str | None = Field(None, max_length=100, description="A layer of G whose "
                              "activations to analyse (GANSpace); none: z itself.")
    k: int = Field(10, ge=1, le=64, description="How many directions.")
    samples: int = Field(2000, ge=100, le=20_000, description="Latents sampled for the PCA.")
    seed: int = Field(0, ge=0, le=MAX_INT)


class InterpolateRequest(Target, Look):
    keyframes: list[Latent] = Field(min_length=2, max_length=16)
    steps: int = Field(8, ge=2, le=64, description="Images per segment, both ends included.")
    method: Literal["slerp", "lerp"] = "slerp"
    format: Literal["json", "png", "gif"] = "json"
    fps: int = Field(8, ge=1, le=30, description="Frames per second of the GIF.")


class NeighboursRequest(Target, Latent, Look):
    k: int = Field(8, ge=1, le=32)
    space: Literal["pixel", "critic"] = Field(
        "pixel", description="Pixels, or the features of the run's own critic (D).")


class SavedDirection(Strict):
    vector: list[float] = Field(min_length=1, max_length=MAX_Z, description="In z space.")
    description: str = Field("", max_length=500)
    space: str | None = Field(None, max_length=100, description="Where it came from.")


NAME_PATTERN = r"^[\w][\w .\-]{0,79}$"
DirectionName = Annotated[str, Field(pattern=NAME_PATTERN)]


# -- checkpoints ------------------------------------------------------------------------------


def _saved_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.stem + ".directions.json")


def _read_saved(checkpoint: Path) -> dict[str, Any]:
    path = _saved_path(checkpoint)
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get("directions", {})


def _write_saved(checkpoint: Path, directions: dict[str, Any]) -> None:
    """Atomically: a crash never leaves half a file."""
    write_atomic(_saved_path(checkpoint),
                 json.dumps({"format": "ganscope-directions-1", "directions": directions}))


# -- REST -------------------------------------------------------------------------------------


@router.get("/api/runs/{run_id}/explore", responses=answers(409, 503))
async def explore_info(
    run_id: RunId, state: StateDep,
    step: Annotated[int | None, Query(ge=0, le=MAX_INT, description="Default: the newest.")] = None,
    ema: bool = True,
) -> dict[str, Any]:
    """What the explorer needs to know: the checkpoints, the generator's z, classes and
    layers, and the directions saved with this checkpoint."""
    path, found = await run_in_threadpool(state.runs.checkpoint_file, run_id, step)
    info = await state.images.info(checkpoint=str(path), ema=ema)
    steps = await run_in_threadpool(state.runs.checkpoint_steps, run_id)
    return {"run_id": run_id, **info, "step": found, "checkpoints": steps,
            "saved": _read_saved(path)}


@router.post("/api/runs/{run_id}/explore/directions", responses=answers(409, 503))
async def directions(run_id: RunId, body: DirectionsRequest, state: StateDep) -> dict[str, Any]:
    """Principal directions of G (GANSpace): orthonormal in z, each with the standard
    deviation that makes a slider's unit, and the share of variance it explains."""
    path, found = await run_in_threadpool(state.runs.checkpoint_file, run_id, body.step)
    params = body.model_dump(exclude={"step"})
    return {"step": found, **await state.images.directions(checkpoint=str(path), **params)}


@router.post("/api/runs/{run_id}/explore/interpolate", response_model=None,
             responses={**content("application/json", "image/png", "image/gif",
                                  description="Frames as JSON, a PNG strip or a GIF"),
                        **answers(409, 503)})
async def interpolate(run_id: RunId, body: InterpolateRequest,
                      state: StateDep) -> dict[str, Any] | Response:
    """Images along a path through the keyframes (slerp by default: it stays where a Gaussian
    prior's mass is). ``format`` png: one strip image; gif: an animation."""
    path, _ = await run_in_threadpool(state.runs.checkpoint_file, run_id, body.step)
    params = body.model_dump(exclude={"step", "format", "fps"})
    params["keyframes"] = [k.model_dump() for k in body.keyframes]
    params["strip"] = body.format != "gif"
    params["gif_ms"] = round(1000 / body.fps) if body.format == "gif" else None
    out = await state.images.interpolate(checkpoint=str(path), **params)
    if body.format == "json":
        return out
    name = f"run-{run_id}-interpolation-{out['step']}"
    if body.format == "gif":
        return Response(out["gif"], media_type="image/gif",
                        headers={"Content-Disposition": f'attachment; filename="{name}.gif"'})
    png = base64.b64decode(out["strip"].split(",", 1)[1])
    return Response(png, media_type="image/png",
                    headers={"Content-Disposition": f'attachment; filename="{name}.png"'})


@router.post("/api/runs/{run_id}/explore/neighbours", responses=answers(409, 503))
async def neighbours(run_id: RunId, body: NeighboursRequest, state: StateDep) -> dict[str, Any]:
    """The training images nearest to the image of a latent: a check for memorization."""
    path, _ = await run_in_threadpool(state.runs.checkpoint_file, run_id, body.step)
    return await state.images.neighbours(checkpoint=str(path),
                                         **body.model_dump(exclude={"step"}))


@router.get("/api/runs/{run_id}/explore/saved")
def saved_directions(
    run_id: RunId, state: StateDep,
    step: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
) -> dict[str, Any]:
    """Named directions saved with a checkpoint."""
    path, found = state.runs.checkpoint_file(run_id, step)
    return {"step": found, "directions": _read_saved(path)}


@router.put("/api/runs/{run_id}/explore/saved/{name}", dependencies=[AdminDep],
            responses=answers(409))
async def save_direction(
    run_id: RunId, name: DirectionName, body: SavedDirection, state: StateDep,
    step: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
) -> dict[str, Any]:
    """Save (or replace) a named direction with a checkpoint, in a file beside it."""
    path, found = await run_in_threadpool(state.runs.checkpoint_file, run_id, step)
    z_dim = (await state.images.info(checkpoint=str(path)))["z_dim"]
    if len(body.vector) != z_dim:
        raise Conflict(f"vector: this checkpoint's z has {z_dim} numbers, the vector "
                       f"{len(body.vector)}")
    saved = _read_saved(path)
    if name not in saved and len(saved) >= MAX_SAVED:
        raise Conflict(f"a checkpoint keeps at most {MAX_SAVED} named directions; delete one "
                       "first")
    saved[name] = body.model_dump()
    _write_saved(path, saved)
    return {"step": found, "directions": saved}


@router.delete("/api/runs/{run_id}/explore/saved/{name}", dependencies=[AdminDep],
               status_code=status.HTTP_204_NO_CONTENT)
def delete_direction(
    run_id: RunId, name: DirectionName, state: StateDep,
    step: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
) -> Response:
    """Forget a saved direction."""
    path, _ = state.runs.checkpoint_file(run_id, step)
    saved = _read_saved(path)
    if saved.pop(name, None) is None:
        raise NotFound(f"no direction named {name!r} is saved with this checkpoint")
    _write_saved(path, saved)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- the render stream ------------------------------------------------------------------------


@router.websocket("/ws/explore/{run_id}")
async def explore_stream(websocket: WebSocket, run_id: str) -> None:
    """Send render requests (``RenderRequest`` as JSON); get ``{"type": "image", "id", "image",
    "grid", "z", "step", "render_ms", "server_ms", "superseded"}`` for the newest one only.

    ``render_ms`` is the image service's own time; ``server_ms`` adds the server's (from the
    request's arrival to the answer's send); ``superseded`` counts requests replaced by a newer
    one while waiting. A bad request gets ``{"type": "error", "id", "message"}``.
    """
    state: AppState = websocket.app.state.ganscope
    if not await accept_run_socket(websocket, run_id):
        return
    newest: list[tuple[float, dict[str, Any]]] = []  # at most one waiting request
    superseded = [0]
    arrived = asyncio.Event()

    async def receive() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:  # a binary frame: answered at once, nothing queued
                await websocket.send_text(json.dumps({
                    "type": "error", "id": None,
                    "message": "send render requests as JSON text frames, not binary ones"}))
                continue
            if newest:
                superseded[0] += 1
            newest[:] = [(time.perf_counter(), text)]
            arrived.set()

    async def render() -> None:
        resolved: dict[int | None, tuple[Path, int, float]] = {}
        while True:
            await arrived.wait()
            arrived.clear()
            if not newest:
                continue
            (started, text), = newest
            newest.clear()
            skipped, superseded[0] = superseded[0], 0
            request_id = None
            try:
                data = json.loads(text, parse_constant=_no_constant)
                if not isinstance(data, dict):
                    raise ValueError("a render request is a JSON object, e.g. "
                                     '{"seed": 1} or {"z": [...]}')
                request_id = data.get("id") if isinstance(data.get("id"), int) else None
                kind = data.pop("type", "render")
                if kind != "render":
                    raise ValueError(f"unknown message type {str(kind)[:40]!r}: this socket "
                                     "takes render requests")
                request = RenderRequest.model_validate(data)
                path, _ = await _resolve(resolved, request.step)
                out = await state.images.render(
                    checkpoint=str(path), **request.model_dump(exclude={"id", "step"}))
                answer = {"type": "image", "id": request.id, **out,
                          "server_ms": round((time.perf_counter() - started) * 1e3, 3),
                          "superseded": skipped}
            except (ValueError, ValidationError) as exc:  # json errors are ValueErrors
                answer = {"type": "error", "id": request_id, "message": _describe(exc)}
            except RecursionError:  # JSON nested deeper than the parser goes
                answer = {"type": "error", "id": None,
                          "message": "not a JSON render request: nested too deeply"}
            except (NotFound, ImageServiceError) as exc:
                answer = {"type": "error", "id": request_id, "message": str(exc)}
            await websocket.send_text(json.dumps(answer))

    async def _resolve(cache: dict, step: int | None) -> tuple[Path, int]:
        hit = cache.get(step)
        if hit is not None and (step is not None or time.monotonic() - hit[2] < LATEST_TTL_S):
            return hit[0], hit[1]
        path, found = await run_in_threadpool(state.runs.checkpoint_file, run_id, step)
        cache[step] = (path, found, time.monotonic())
        return path, found

    await until_first_done(receive(), render())


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a render request can carry")


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}"
                         for e in exc.errors())
    if isinstance(exc, json.JSONDecodeError):
        return f"not a JSON render request: {exc}"
    return str(exc)
