"""A run's sample grids as one animated GIF: the progression of G on the run's fixed noise."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Response
from PIL import Image, ImageDraw, ImageFont

from server.deps import RunId, StateDep
from server.errors import NotFound
from server.images.encoding import encode_gif
from server.models import SampleRow

router = APIRouter(prefix="/api/runs", tags=["runs"])

LABEL_HEIGHT = 18  # px of the strip above each grid that names its step
MIN_WIDTH = 256  # small grids (4x4 of 32 px) are scaled up by a whole factor to be legible
HOLD_LAST_MS = 1500  # the last grid stays a moment before the loop starts again

T = TypeVar("T")


@router.get("/{run_id}/samples.gif", response_class=Response,
            responses={200: {"content": {"image/gif": {}}}})
def samples_gif(
    run_id: RunId,
    state: StateDep,
    fps: Annotated[int, Query(ge=1, le=30, description="Grids per second.")] = 4,
    max_frames: Annotated[int, Query(ge=2, le=300, description="At most this many grids, "
                                     "evenly spaced, the first and the last always in.")] = 100,
) -> Response:
    """Every recorded sample grid of the run, oldest first, as an animated GIF."""
    rows = state.runs.rows(run_id, SampleRow, SampleRow.seq)
    latest: dict[int, SampleRow] = {}
    for row in rows:
        if row.kind == "sample":
            latest[row.step] = row  # in seq order: a replayed step keeps its newest file
    run_dir = state.runs.run_dir(run_id)
    # the paths come from our own rows, never from the request
    frames = [(step, run_dir / latest[step].file) for step in sorted(latest)]
    frames = [(step, path) for step, path in frames if path.is_file()]
    if not frames:
        raise NotFound(f"run {run_id} has no sample grids (2D runs record views instead)")
    body = build_gif(evenly_spaced(frames, max_frames), fps)
    return Response(body, media_type="image/gif", headers={
        "Content-Disposition": f'inline; filename="run-{run_id}-samples.gif"',
    })


def evenly_spaced(items: list[T], count: int) -> list[T]:
    """At most ``count`` (>= 2) of ``items``, evenly spaced, keeping the first and the last."""
    if len(items) <= count:
        return items
    picks = sorted({round(i * (len(items) - 1) / (count - 1)) for i in range(count)})
    return [items[i] for i in picks]


def build_gif(frames: list[tuple[int, Path]], fps: int) -> bytes:
    """The GIF of ``(step, png path)`` frames, each labelled with its step."""
    font = ImageFont.load_default(size=13)
    images = []
    for step, path in frames:
        with Image.open(path) as grid:
            grid = grid.convert("RGB")
        scale = max(1, -(-MIN_WIDTH // grid.width))
        if scale > 1:
            grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
        frame = Image.new("RGB", (grid.width, grid.height + LABEL_HEIGHT), "white")
        frame.paste(grid, (0, LABEL_HEIGHT))
        ImageDraw.Draw(frame).text((4, 2), f"step {step:,}", fill="black", font=font)
        images.append(frame)
    durations = [round(1000 / fps)] * len(images)
    durations[-1] += HOLD_LAST_MS
    return encode_gif(images, durations)
