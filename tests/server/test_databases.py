"""The whole server on each database it supports: a real run and a study session, the server
SIGKILLed mid-run and restarted: every acknowledged judgment is there, every metric row once."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from gan_core.run_dir import RunDir
from tests.polling import wait_until
from tests.server.conftest import IMAGE_RUN, create_run, server_on, tiny, wait_status, wait_step
from tests.server.databases import KINDS

LONG = {"train.steps": 200_000, "train.checkpoint_every": 50}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_server_loses_nothing_it_acknowledged(kind: str, tmp_path: Path) -> None:
    with server_on(kind, tmp_path) as server:
        with httpx.Client(base_url=server.url, timeout=60) as api:
            image_run = create_run(api, IMAGE_RUN)
            assert wait_status(api, image_run, "completed", "failed")["status"] == "completed"
            study = api.post("/api/studies", json={
                "name": "kill", "practice_trials": 2, "main_trials": 4, "pool_size": 4,
                "vigilance_rate": 0.0, "exposure_ms": 200, "seed": 1,
                "conditions": [{"run_id": image_run, "ema": True, "label": "ema"}]})
            assert study.status_code == 201, study.text
            sid = study.json()["id"]
            token = api.post(f"/api/studies/{sid}/sessions",
                             json={"participant": "K"}).json()["token"]
            run_id = create_run(api, tiny(**LONG))
            for position in range(3):
                ack = api.post(f"/api/studies/{sid}/sessions/{token}/judgments", json={
                    "position": position, "response": 0, "exposures_ms": [200.0, 200.0],
                    "response_ms": 300.0})
                assert ack.status_code == 200, ack.text
            wait_step(api, run_id, 120)
            worker = server.worker_pids()[run_id]
        server.kill()  # SIGKILL: no shutdown code runs
        wait_until(lambda: not _alive(worker), timeout=30, interval=0.2,
                   what=f"the orphaned worker (pid {worker}) to checkpoint and exit")

        server.start()
        with httpx.Client(base_url=server.url, timeout=60) as api:
            state = api.get(f"/api/studies/{sid}/sessions/{token}").json()
            assert state["answered"] == 3 and state["trial"]["position"] == 3
            run = api.get(f"/api/runs/{run_id}").json()
            assert run["status"] == "interrupted"
            # the orphaned worker trained on after the server died (past the stored step) and
            # checkpointed where it stopped: resume from there
            last_checkpoint = RunDir(server.data_dir / "runs" / run_id).files("checkpoint")[-1][0]
            assert last_checkpoint >= run["step"] - LONG["train.checkpoint_every"]
            resumed = api.post(f"/api/runs/{run_id}/control",
                               json={"action": "resume", "steps": last_checkpoint + 50})
            assert resumed.status_code == 202, resumed.text
            done = wait_status(api, run_id, "completed", "failed")
            assert done["status"] == "completed"
            steps = api.get(f"/api/runs/{run_id}/metrics").json()["series"]["loss_d"]["step"]
        # each report window stored once: as many rows as steps, in order, up to the end
        rows = server.sql("SELECT step FROM metric_points WHERE run_id = :id ORDER BY seq",
                          id=run_id)
        assert [step for (step,) in rows] == steps == sorted(set(steps))
        assert steps[-1] == done["step"]
        [(judged,)] = server.sql("SELECT count(*) FROM study_judgments")
        assert judged == 3
