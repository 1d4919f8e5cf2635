"""GET /api/runs/{id}/samples.gif: a run's sample grids as one animated GIF."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from gan_core.presets import preset_config
from server.db import Database
from server.runs import import_run_dir
from server.settings import Settings
from tests.server.conftest import Server


def _grid_png(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (62, 62), shade).save(buf, "PNG")
    return buf.getvalue()


def _import(server: Server, folder: Path, *, preset: str, grid_steps: list[int]) -> str:
    """A run folder with ``grid_steps`` grids, imported into the running server's database."""
    config = preset_config(preset)
    (folder / "samples").mkdir(parents=True)
    (folder / "config.json").write_text(config.to_json())
    last = max(grid_steps, default=10)
    (folder / "stats.jsonl").write_text(json.dumps({"step": last, "loss_d": 1.0}) + "\n")
    (folder / "events.jsonl").write_text(
        json.dumps({"kind": "status", "step": last, "status": "completed"}) + "\n")
    for i, step in enumerate(grid_steps):
        (folder / "samples" / f"grid_{step:09d}.png").write_bytes(_grid_png(20 * i))
    settings = Settings(data_dir=server.data_dir)
    db = Database(settings.resolved_database_url)
    try:
        return import_run_dir(db, settings.runs_dir, folder)
    finally:
        db.dispose()


def _frames(response: httpx.Response) -> list[Image.Image]:
    gif = Image.open(io.BytesIO(response.content))
    frames = []
    for index in range(gif.n_frames):
        gif.seek(index)
        frames.append(gif.convert("L"))
    return frames


@pytest.fixture(scope="module")
def image_run(server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    return _import(server, tmp_path_factory.mktemp("img") / "run", preset="digits-dcgan",
                   grid_steps=[50, 100, 150, 200, 250, 300, 350])


def test_the_gif_has_one_frame_per_grid_in_step_order(api: httpx.Client, image_run: str) -> None:
    r = api.get(f"/api/runs/{image_run}/samples.gif", params={"fps": 10})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/gif"
    assert "samples.gif" in r.headers["content-disposition"]
    frames = _frames(r)
    assert len(frames) == 7
    # each grid is 62 px: scaled by a whole factor to at least 256 px, under an 18 px label
    assert frames[0].size == (62 * 5, 62 * 5 + 18)
    # the grids' shades, in step order (sampled below the label strip)
    shades = [f.getpixel((150, 200)) for f in frames]
    assert shades == sorted(shades) and shades[0] < 10 and shades[-1] > 100
    gif = Image.open(io.BytesIO(r.content))
    assert gif.info["duration"] == 100  # 10 frames per second


def test_max_frames_keeps_the_first_and_the_last(api: httpx.Client, image_run: str) -> None:
    all_frames = _frames(api.get(f"/api/runs/{image_run}/samples.gif"))
    r = api.get(f"/api/runs/{image_run}/samples.gif", params={"max_frames": 3})
    frames = _frames(r)
    assert len(frames) == 3
    assert frames[0].tobytes() == all_frames[0].tobytes()
    assert frames[-1].tobytes() == all_frames[-1].tobytes()


def test_unknown_runs_and_runs_without_grids_are_404(api: httpx.Client, server: Server,
                                                     tmp_path: Path) -> None:
    r = api.get("/api/runs/000000000000/samples.gif")
    assert r.status_code == 404 and "no run" in r.json()["detail"]
    toy = _import(server, tmp_path / "toy", preset="ring8-gan", grid_steps=[])
    r = api.get(f"/api/runs/{toy}/samples.gif")
    assert r.status_code == 404 and "no sample grids" in r.json()["detail"]


@pytest.mark.parametrize("params", [{"fps": 0}, {"fps": 31}, {"max_frames": 1},
                                    {"max_frames": 301}, {"fps": "fast"}])
def test_bad_parameters_are_422(api: httpx.Client, image_run: str, params: dict) -> None:
    r = api.get(f"/api/runs/{image_run}/samples.gif", params=params)
    assert r.status_code == 422
    assert list(params) == [r.json()["detail"][0]["loc"][-1]]


def test_a_malformed_run_id_is_422(api: httpx.Client) -> None:
    assert api.get("/api/runs/NOT-AN-ID/samples.gif").status_code == 422
