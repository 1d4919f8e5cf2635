"""The latent explorer's API on a real server: renders, latest-wins, directions, paths,
neighbours, saved directions, and what a person sees when something is wrong."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image
from websockets.sync.client import connect

from tests.polling import wait_until
from tests.server.conftest import Server, create_run, tiny, wait_status


@pytest.fixture()
def explorer(server: Server, image_run: str) -> Iterator[object]:
    with connect(f"{server.ws_url}/ws/explore/{image_run}", open_timeout=10,
                 max_size=1 << 24) as ws:
        yield ws


def ask(ws, **request) -> dict:
    ws.send(json.dumps(request))
    return json.loads(ws.recv(120))


def test_info_names_the_generator_and_its_checkpoints(api: httpx.Client, image_run: str) -> None:
    info = api.get(f"/api/runs/{image_run}/explore").json()
    assert info["z_dim"] == 16 and info["image_shape"] == [1, 32, 32]
    assert info["checkpoints"] == [4] and info["step"] == 4 and info["ema"] is True
    assert info["layers"] == ["main.relu1", "main.relu2", "main.relu3"]
    assert info["num_classes"] is None and info["saved"] == {}


def test_the_same_seed_renders_the_same_image(explorer, image_run: str) -> None:
    first = ask(explorer, id=1, seed=7, variations=4)
    again = ask(explorer, id=2, seed=7)
    other = ask(explorer, id=3, seed=8)
    assert first["type"] == "image" and first["id"] == 1 and first["step"] == 4
    assert first["image"].startswith("data:image/png;base64,") and first["grid"]
    assert first["image"] == again["image"] != other["image"]
    assert len(first["z"]) == 16 and first["render_ms"] > 0
    assert first["server_ms"] >= first["render_ms"]
    by_z = ask(explorer, id=4, z=first["z"])
    assert by_z["image"] == first["image"]  # a latent sent back renders the same image
    dimmer = ask(explorer, id=5, z=first["z"], psi=0.5)
    assert dimmer["image"] != first["image"]


def test_only_the_newest_request_is_rendered(explorer) -> None:
    ask(explorer, id=0, seed=1)  # warm
    for i in range(1, 41):  # a slider dragged faster than renders come back
        explorer.send(json.dumps({"id": i, "seed": i}))
    answers = []
    while not answers or answers[-1]["id"] != 40:
        answers.append(json.loads(explorer.recv(120)))
    assert len(answers) < 40  # no backlog: most requests were superseded, none queued
    assert sum(a["superseded"] for a in answers) == 40 - len(answers)
    assert [a["id"] for a in answers] == sorted(a["id"] for a in answers)


def test_bad_render_requests_get_errors_not_a_closed_socket(explorer) -> None:
    explorer.send("nonsense")
    assert "not a JSON render request" in json.loads(explorer.recv(30))["message"]
    wrong = ask(explorer, id=9, z=[0.0, 1.0])
    assert wrong == {"type": "error", "id": 9,
                     "message": "z must have 16 numbers (this generator's z size), got 2"}
    both = ask(explorer, id=10, seed=1, z=[0.0] * 16)
    assert both["type"] == "error" and "exactly one of z and seed" in both["message"]
    far = ask(explorer, id=11, seed=1, step=999)
    assert far["type"] == "error" and "no checkpoint at step 999" in far["message"]
    assert ask(explorer, id=12, seed=1)["type"] == "image"  # still serving


def test_directions_are_orthonormal_with_slider_scales(api: httpx.Client, image_run: str) -> None:
    r = api.post(f"/api/runs/{image_run}/explore/directions",
                 json={"layer": "main.relu1", "k": 5, "samples": 500})
    assert r.status_code == 200, r.text
    out = r.json()
    vectors = out["vectors"]
    assert len(vectors) == 5 and len(vectors[0]) == 16 and out["space"] == "main.relu1"
    for i in range(5):
        for j in range(5):
            dot = sum(a * b for a, b in zip(vectors[i], vectors[j], strict=True))
            assert abs(dot - (i == j)) < 1e-4
    assert all(s > 0 for s in out["stddev"]) and sum(out["explained"]) <= 1.0
    bad = api.post(f"/api/runs/{image_run}/explore/directions", json={"layer": "main.nope"})
    # schema-valid, but this generator has no such layer: the request does not fit it (409)
    assert bad.status_code == 409 and "main.relu1" in bad.json()["detail"]


def test_interpolation_runs_from_keyframe_to_keyframe(api: httpx.Client, explorer,
                                                      image_run: str) -> None:
    body = {"keyframes": [{"seed": 1}, {"seed": 2}, {"seed": 3}], "steps": 5}
    out = api.post(f"/api/runs/{image_run}/explore/interpolate", json=body).json()
    assert out["count"] == 9  # 5 per segment, the shared keyframe once
    assert out["frames"][0] == ask(explorer, id=1, seed=1)["image"]
    assert out["frames"][4] == ask(explorer, id=2, seed=2)["image"]
    assert out["frames"][-1] == ask(explorer, id=3, seed=3)["image"]
    png = api.post(f"/api/runs/{image_run}/explore/interpolate", json={**body, "format": "png"})
    assert png.headers["content-type"] == "image/png"
    strip = Image.open(io.BytesIO(png.content))
    assert strip.width > 8 * strip.height  # one row of nine images
    gif = api.post(f"/api/runs/{image_run}/explore/interpolate",
                   json={**body, "format": "gif", "fps": 10})
    assert gif.headers["content-type"] == "image/gif"
    assert Image.open(io.BytesIO(gif.content)).n_frames == 9
    one = api.post(f"/api/runs/{image_run}/explore/interpolate", json={"keyframes": [{"seed": 1}]})
    assert one.status_code == 422 and one.json()["detail"][0]["loc"] == ["body", "keyframes"]


@pytest.mark.parametrize("space", ["pixel", "critic"])
def test_nearest_training_images(api: httpx.Client, image_run: str, space: str) -> None:
    r = api.post(f"/api/runs/{image_run}/explore/neighbours",
                 json={"seed": 1, "k": 4, "space": space})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["bank_size"] == 256 and out["space"] == space  # data.limit: the whole set
    distances = [n["distance"] for n in out["neighbours"]]
    assert len(distances) == 4 and distances == sorted(distances)
    assert all(0 <= n["label"] <= 9 for n in out["neighbours"])


def test_named_directions_are_saved_with_the_checkpoint(api: httpx.Client, server: Server,
                                                        image_run: str) -> None:
    base = f"/api/runs/{image_run}/explore/saved"
    vector = [0.25] * 16
    r = api.put(f"{base}/stroke width", json={"vector": vector, "description": "thicker"})
    assert r.status_code == 200, r.text
    assert api.get(base).json()["directions"]["stroke width"]["vector"] == vector
    assert "stroke width" in api.get(f"/api/runs/{image_run}/explore").json()["saved"]
    sidecar = server.data_dir / "runs" / image_run / "checkpoints"
    assert [p.name for p in sidecar.glob("*.directions.json")] == [
        "ckpt_000000004.directions.json"]
    short = api.put(f"{base}/short", json={"vector": [1.0]})
    assert short.status_code == 409 and "16 numbers" in short.text
    assert api.put(f"{base}/..%2Fevil", json={"vector": vector}).status_code in (404, 422)
    assert api.delete(f"{base}/stroke width").status_code == 204
    assert api.delete(f"{base}/stroke width").status_code == 404
    assert api.get(base).json()["directions"] == {}


def test_runs_without_a_usable_checkpoint_say_why(api: httpx.Client) -> None:
    run_id = create_run(api, tiny(**{"train.steps": 100_000, "train.checkpoint_every": 100_000}))
    wait_status(api, run_id, "running")
    missing = api.get(f"/api/runs/{run_id}/explore")
    assert missing.status_code == 404 and "no checkpoint yet" in missing.json()["detail"]
    # a snapshot of the weights of now, on request
    assert api.post(f"/api/runs/{run_id}/control", json={"action": "checkpoint"}).status_code == 202
    wait_until(lambda: api.get(f"/api/runs/{run_id}/checkpoints").json(), timeout=60,
               interval=0.2, what="a checkpoint after the checkpoint command")
    toy = api.get(f"/api/runs/{run_id}/explore")
    assert toy.status_code == 409 and "2D points" in toy.json()["detail"]
    api.delete(f"/api/runs/{run_id}")
    assert api.get("/api/runs/0123456789ab/explore").status_code == 404


def test_a_damaged_checkpoint_is_an_error_message(api: httpx.Client, server: Server,
                                                  image_run: str) -> None:
    path = next((server.data_dir / "runs" / image_run / "checkpoints").glob("*.safetensors"))
    intact = path.read_bytes()
    try:
        path.write_bytes(intact[:500])
        r = api.get(f"/api/runs/{image_run}/explore")
        assert r.status_code == 409 and "not a readable safetensors file" in r.json()["detail"]
    finally:
        path.write_bytes(intact)
    assert api.get(f"/api/runs/{image_run}/explore").status_code == 200


def test_the_image_service_recovers_from_a_crash(api: httpx.Client, image_run: str) -> None:
    import os
    import signal

    api.get(f"/api/runs/{image_run}/explore").raise_for_status()
    pid = api.get("/api/health").json()["images"]["pid"]
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    # until the server sees it gone, a request could still be sent to the dead service
    wait_until(lambda: api.get("/api/health").json()["images"]["pid"] is None, timeout=10,
               what=f"the server to see the image service (pid {pid}) gone")
    again = api.get(f"/api/runs/{image_run}/explore")
    assert again.status_code == 200, again.text  # a fresh service took over
    assert api.get("/api/health").json()["images"]["pid"] not in (None, pid)
