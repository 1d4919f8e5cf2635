"""The Ray backend through the real server, on a real two-node Ray cluster on this machine.

The head (127.0.0.2) and the second node (127.0.0.3, custom resource ``node2``) have one CPU
each and their own temp folders; a run sent to ``node2`` trains in a Ray worker process that
shares no folder with the server: everything the server shows came over Ray.
Without the ray package these tests skip; in CI (CI=true) they fail.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from gan_core.checkpoint import load_checkpoint
from tests.polling import wait_until
from tests.server.conftest import (
    IMAGE_RUN,
    Server,
    Stream,
    create_run,
    is_status,
    tiny,
    wait_status,
    wait_step,
)
from tests.server.ray_cluster import HEAD_IP, WORKER_IP, RayCluster, ray_available

pytestmark = pytest.mark.slow

LONG = {"train.steps": 200_000, "train.checkpoint_every": 50}
ON_NODE2 = {"node2": 1}


def _need_ray() -> None:
    if ray_available():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("the ray package is not installed: CI installs it with '.[dev]'",
                    pytrace=False)
    pytest.skip("ray is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    _need_ray()
    c = RayCluster().start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def ray_server(cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("ganscope-ray"), **cluster.server_env()).start(120)
    yield srv
    srv.stop()


@pytest.fixture()
def api(ray_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ray_server.url, timeout=30) as client:
        yield client


def control(api: httpx.Client, run_id: str, action: str, **body: object) -> httpx.Response:
    return api.post(f"/api/runs/{run_id}/control", json={"action": action, **body})


def on_node2(**overrides: Any) -> dict[str, Any]:
    return {**tiny(**overrides), "resources": ON_NODE2}


def worker(api: httpx.Client, run_id: str, timeout: float = 30) -> dict[str, Any]:
    def mine(workers: list[dict[str, Any]]) -> dict[str, Any] | None:
        return next((w for w in workers if w["run_id"] == run_id and w["pid"]), None)

    workers = wait_until(lambda: api.get("/api/health").json()["jobs"]["workers"], ready=mine,
                         timeout=timeout, what=f"a worker of run {run_id} in /api/health")
    return mine(workers)


def wait_reason(api: httpx.Client, run_id: str, timeout: float = 30) -> str:
    """The reason a queued run gives (it comes a moment after the run's row)."""
    run = wait_until(lambda: api.get(f"/api/runs/{run_id}").json(),
                     ready=lambda run: run["status"] == "queued" and run["status_message"],
                     timeout=timeout, what=f"run {run_id} to give a reason to wait")
    return run["status_message"]


def stop_all(api: httpx.Client, *run_ids: str) -> None:
    for run_id in run_ids:
        control(api, run_id, "stop")
    for run_id in run_ids:
        wait_status(api, run_id, "stopped", "completed", "failed", "interrupted")


def test_health_shows_the_cluster(api: httpx.Client) -> None:
    jobs = api.get("/api/health").json()["jobs"]
    assert jobs["backend"] == "ray"
    nodes = {n["address"]: n for n in jobs["cluster"]["nodes"]}
    assert set(nodes) == {HEAD_IP, WORKER_IP}
    assert all(n["alive"] and n["cpus"] == 1 for n in nodes.values())
    assert nodes[WORKER_IP]["resources"] == ON_NODE2
    assert jobs["cluster"]["cpus"]["total"] == 2


def test_a_run_on_the_second_node_streams_and_obeys_controls(api: httpx.Client,
                                                              ray_server: Server,
                                                              tmp_path: Path) -> None:
    run_id = create_run(api, on_node2(**LONG))
    with Stream(ray_server, f"/ws/runs/{run_id}") as stream:
        starting = stream.until(is_status("starting"))
        assert starting["message"] == f"on node {WORKER_IP}"
        stream.until(lambda m: m["type"] == "metrics" and m["step"] >= 50)
        assert worker(api, run_id)["node"] == WORKER_IP

        assert control(api, run_id, "pause").status_code == 202
        paused = stream.until(is_status("paused"))
        at = wait_status(api, run_id, "paused")["step"]
        assert at == paused["step"]
        time.sleep(0.5)  # a fixed window: nothing to wait for, the step must NOT move in it
        assert api.get(f"/api/runs/{run_id}").json()["step"] == at  # really paused

        assert control(api, run_id, "step").status_code == 202
        one = stream.until(lambda m: m["type"] == "metrics" and m["step"] > at)
        assert one["step"] == at + 1

        assert control(api, run_id, "set", values={"lr_g": 1e-3}).status_code == 202
        change = stream.until(lambda m: m["type"] == "hyperparams")
        assert change["changes"] == {"lr_g": 1e-3}
        assert control(api, run_id, "resume").status_code == 202
        stream.until(lambda m: m["type"] == "metrics" and m["step"] > at + 20)
        assert control(api, run_id, "checkpoint").status_code == 202
        stream.until(lambda m: m["type"] == "checkpoint" and m["step"] > at + 1)
        assert control(api, run_id, "stop").status_code == 202
        stopped = stream.until(is_status("stopped"))
    run = wait_status(api, run_id, "stopped")
    assert run["step"] == stopped["step"]
    ckpts = api.get(f"/api/runs/{run_id}/checkpoints").json()
    assert ckpts[-1]["step"] == run["step"]  # the stop's checkpoint came over Ray
    blob = api.get(ckpts[-1]["url"])
    assert blob.status_code == 200 and len(blob.content) == ckpts[-1]["size_bytes"] > 0
    events = api.get(f"/api/runs/{run_id}/events").json()
    assert any(e["type"] == "hyperparams" and e["changes"]["lr_g"] == 1e-3 for e in events)
    # the new lr reached the trainer on the other node: its optimizer saved it
    (tmp_path / "last.safetensors").write_bytes(blob.content)
    saved = load_checkpoint(tmp_path / "last.safetensors")
    assert saved.step == run["step"]
    assert saved.meta["lr_base"]["g"] == pytest.approx(1e-3)
    # ring8-gan decays its rates linearly: the optimizer holds the set rate times the factor
    # of the last step taken, 1 - (step - 1) / total
    total = saved.config.train.steps
    assert saved.meta["opt_g"]["param_groups"][0]["lr"] == pytest.approx(
        1e-3 * (1 - (saved.step - 1) / total), abs=1e-3 / total)


def test_an_image_run_on_the_second_node_serves_grids_checkpoints_and_the_explorer(
        api: httpx.Client, ray_server: Server) -> None:
    body = {**IMAGE_RUN, "resources": ON_NODE2}
    run_id = create_run(api, body)
    run = wait_status(api, run_id, "completed", "failed", timeout=120)
    assert run["status"] == "completed", run
    events = api.get(f"/api/runs/{run_id}/events").json()
    assert any(e.get("message") == f"on node {WORKER_IP}" for e in events)
    grids = api.get(f"/api/runs/{run_id}/samples").json()["grids"]
    assert grids, "no sample grid came back"
    png = api.get(grids[-1]["url"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    ckpt = api.get(f"/api/runs/{run_id}/checkpoints").json()[-1]
    assert api.get(ckpt["url"]).status_code == 200
    # the server's own run folder, written from what came over Ray
    run_dir = ray_server.data_dir / "runs" / run_id
    assert (run_dir / "config.json").is_file() and list((run_dir / "checkpoints").iterdir())
    info = api.get(f"/api/runs/{run_id}/explore").json()
    assert info["checkpoints"] == [4]
    with connect(f"{ray_server.ws_url}/ws/explore/{run_id}", open_timeout=10,
                 max_size=1 << 24) as ws:
        ws.send(json.dumps({"id": 1, "seed": 3}))
        image = json.loads(ws.recv(120))
    assert image["type"] == "image" and image["image"].startswith("data:image/png;base64,")


def test_runs_wait_in_rays_queue_with_the_reason(api: httpx.Client) -> None:
    busy = [create_run(api, tiny(**LONG)) for _ in range(2)]  # one CPU on each node
    for run_id in busy:
        wait_status(api, run_id, "running", timeout=60)
    waiting = create_run(api, tiny(**{"train.steps": 20}))
    assert wait_reason(api, waiting) == "waiting for 1 free CPU in the cluster"
    assert waiting in api.get("/api/health").json()["jobs"]["queued"]
    time.sleep(1)  # a fixed window: the run must NOT start while the cluster is full
    assert api.get(f"/api/runs/{waiting}").json()["status"] == "queued"  # not running
    control(api, busy[0], "stop")
    assert wait_status(api, waiting, "completed", "failed", timeout=60)["status"] == "completed"
    stop_all(api, busy[1])
    # a run that asks for what no node has waits (visibly) and can be stopped
    never = create_run(api, {**tiny(), "resources": {"node9": 1}})
    assert wait_reason(api, never) == ("no node of the cluster has node9: 1; the run waits "
                                       "until one joins")
    assert control(api, never, "stop").status_code == 202
    wait_status(api, never, "stopped")


def test_a_sweeps_runs_fill_both_nodes(api: httpx.Client) -> None:
    r = api.post("/api/sweeps", json={**tiny(), "axes": {"seed": [0, 1, 2, 3]}})
    assert r.status_code == 201, r.text
    run_ids = r.json()["runs"]
    nodes = set()
    for run_id in run_ids:
        assert wait_status(api, run_id, "completed", "failed", timeout=120)["status"] == \
            "completed"
        starts = [e["message"] for e in api.get(f"/api/runs/{run_id}/events").json()
                  if e["type"] == "status" and e["status"] == "starting"]
        nodes.add(starts[-1].removeprefix("on node "))
    assert nodes == {HEAD_IP, WORKER_IP}  # Ray placed them: one CPU on each node
    sweep = api.get(f"/api/sweeps/{r.json()['id']}").json()
    assert sweep["status"] == "finished" and sweep["best_run"] in run_ids


def test_a_killed_worker_fails_its_run_which_resumes(api: httpx.Client) -> None:
    run_id = create_run(api, on_node2(**LONG))
    wait_step(api, run_id, 120)
    os.kill(worker(api, run_id)["pid"], signal.SIGKILL)
    run = wait_status(api, run_id, "failed", timeout=60)
    assert "died" in run["error"] and WORKER_IP in run["error"]
    assert api.get("/api/health").status_code == 200
    r = control(api, run_id, "resume", steps=run["step"] + 60)
    assert r.status_code == 202, r.text
    done = wait_status(api, run_id, "completed", "failed", timeout=90)
    assert done["status"] == "completed" and done["step"] == run["step"] + 60
    steps = api.get(f"/api/runs/{run_id}/metrics").json()["series"]["loss_d"]["step"]
    assert steps == sorted(set(steps)) and steps[-1] == done["step"]


def test_a_restarted_server_reattaches_and_loses_nothing(cluster: RayCluster,
                                                         tmp_path: Path) -> None:
    total, every = 6000, 10
    first = Server(tmp_path / "data", **cluster.server_env()).start(120)
    try:
        with httpx.Client(base_url=first.url, timeout=30) as api:
            run_id = create_run(api, on_node2(**{"train.steps": total,
                                                 "train.report_every": every,
                                                 "train.checkpoint_every": 1000}))
            wait_step(api, run_id, 300, timeout=90)
            pid = worker(api, run_id)["pid"]
        first.kill()  # SIGKILL: no shutdown code runs; the run trains on
        second = Server(tmp_path / "data", **cluster.server_env()).start(120)
    finally:
        first.stop()
    try:
        with httpx.Client(base_url=second.url, timeout=30) as api:
            run = api.get(f"/api/runs/{run_id}").json()
            assert run["status"] in ("running", "completed"), run  # not interrupted
            if run["status"] == "running":
                assert worker(api, run_id)["pid"] == pid  # the same worker, re-attached
                with Stream(second, f"/ws/runs/{run_id}") as stream:  # and it streams on
                    stream.until(lambda m: m["type"] == "metrics" and m["step"] > run["step"])
            done = wait_status(api, run_id, "completed", "failed", "interrupted", timeout=180)
            assert done["status"] == "completed", done
            steps = api.get(f"/api/runs/{run_id}/metrics").json()["series"]["loss_d"]["step"]
            assert steps == list(range(every, total + 1, every))  # each step's row, once
            assert [c["step"] for c in api.get(f"/api/runs/{run_id}/checkpoints").json()] == [
                1000, 2000, 3000, 4000, 5000, 6000]
    finally:
        second.stop()


def test_a_run_that_loses_its_server_stops_with_a_checkpoint(cluster: RayCluster,
                                                              tmp_path: Path) -> None:
    detach_s = 3.0
    env = {**cluster.server_env(), "GANSCOPE_RAY_DETACH_TIMEOUT_S": str(detach_s)}
    first = Server(tmp_path / "data", **env).start(120)
    try:
        with httpx.Client(base_url=first.url, timeout=30) as api:
            run_id = create_run(api, on_node2(**{"train.steps": 200_000,
                                                 "train.checkpoint_every": 100_000}))
            wait_step(api, run_id, 100, timeout=90)
        first.kill()  # the run hears nothing more from any server
        lost_at = time.monotonic()
    finally:
        first.stop()
    # a fixed wait: the silence itself is the condition, it must outlast the run's detach
    # timeout (and no signal says so: the run's only channel is to the killed server)
    time.sleep(max(0.0, lost_at + detach_s + 3 - time.monotonic()))
    second = Server(tmp_path / "data", **env).start(120)
    try:
        with httpx.Client(base_url=second.url, timeout=30) as api:
            run = wait_status(api, run_id, "interrupted", "failed", timeout=90)
            assert run["status"] == "interrupted", run
            assert "lost contact with the server" in run["error"]
            # its stop checkpoint (not a periodic one: those are 100,000 steps apart) came
            # back to the server's folder
            checkpoints = api.get(f"/api/runs/{run_id}/checkpoints").json()
            assert [c["step"] for c in checkpoints] == [run["step"]]
            r = api.get(f"/api/runs/{run_id}/checkpoints/{run['step']}")
            assert r.status_code == 200 and len(r.content) > 1000
            r = control(api, run_id, "resume", steps=run["step"] + 40)
            assert r.status_code == 202, r.text
            done = wait_status(api, run_id, "completed", "failed", timeout=90)
            assert done["status"] == "completed" and done["step"] == run["step"] + 40
    finally:
        second.stop()


def test_a_lost_node_interrupts_its_run_resumably(cluster: RayCluster, api: httpx.Client) -> None:
    # last in the module: it takes the second node away, then brings a new one up
    run_id = create_run(api, on_node2(**LONG))
    wait_step(api, run_id, 120)
    cluster.kill_node("worker")
    run = wait_status(api, run_id, "interrupted", "failed", timeout=90)
    assert run["status"] == "interrupted", run
    assert "left the cluster" in run["error"]
    cluster.start_worker()
    r = control(api, run_id, "resume", steps=run["step"] + 40)
    assert r.status_code == 202, r.text
    done = wait_status(api, run_id, "completed", "failed", timeout=120)
    assert done["status"] == "completed" and done["step"] == run["step"] + 40


def test_the_embedded_instance_stays_on_loopback(tmp_path: Path) -> None:
    _need_ray()
    srv = Server(tmp_path / "data", GANSCOPE_JOBS_BACKEND="ray",
                 RAY_USAGE_STATS_ENABLED="0").start(120)
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as api:
            cluster = api.get("/api/health").json()["jobs"]["cluster"]
            assert cluster["address"] == "embedded"
            addresses = [n["address"] for n in cluster["nodes"]]
            assert len(addresses) == 1
            assert all(ipaddress.ip_address(a).is_loopback for a in addresses), addresses
            assert cluster["cpus"]["total"] == 2  # the server's 2 job slots of 1 thread
            run_id = create_run(api, tiny(**LONG))
            wait_step(api, run_id, 60)
        assert srv.stop() in (0, -signal.SIGTERM)  # graceful: the run stops with a checkpoint
        srv = Server(tmp_path / "data", GANSCOPE_JOBS_BACKEND="ray").start(120)
        with httpx.Client(base_url=srv.url, timeout=30) as api:
            run = api.get(f"/api/runs/{run_id}").json()
            assert run["status"] == "interrupted" and "resume" in run["error"]
            ckpts = [c["step"] for c in api.get(f"/api/runs/{run_id}/checkpoints").json()]
            assert ckpts[-1] == run["step"]
    finally:
        srv.stop()
