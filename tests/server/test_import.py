"""`ganscope import`: a run folder alone rebuilds the run, for CLI runs and server runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gan_core import cli as core_cli
from gan_core.sinks import read_stats
from server.cli import main
from server.db import Database, migrate
from server.models import CheckpointRow, MetricPoint, Run, SampleRow
from server.runs import import_run_dir
from tests.server.conftest import Server, create_run, tiny, wait_status


def _cli_run(folder: Path, steps: int = 60) -> None:
    code = core_cli.main(["train", "--preset", "ring8-gan", "--out", str(folder), "--quiet",
                          "--set", f"train.steps={steps}", "--set", "train.sample_every=30",
                          "--set", "train.checkpoint_every=30", "--set", "model.width=32"])
    assert code == 0


def test_import_a_cli_run_then_resume_it_in_the_server(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "cli-run"
    _cli_run(folder)
    data = tmp_path / "data"
    assert main(["import", str(folder), "--data-dir", str(data), "--name", "from-cli"]) == 0
    run_id = capsys.readouterr().out.split()[-1]

    srv = Server(data).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as api:
            run = api.get(f"/api/runs/{run_id}").json()
            assert run["name"] == "from-cli" and run["status"] == "completed"
            assert run["step"] == 60 and run["device"] == "cpu"
            series = api.get(f"/api/runs/{run_id}/metrics").json()["series"]["loss_d"]
            stats = read_stats(folder)
            assert series["step"] == [r["step"] for r in stats]
            assert series["value"] == [r["loss_d"] for r in stats]
            ckpts = api.get(f"/api/runs/{run_id}/checkpoints").json()
            assert [c["step"] for c in ckpts] == [30, 60]
            views = api.get(f"/api/runs/{run_id}/samples").json()["views"]
            assert [v["step"] for v in views] == [30, 60]
            r = api.post(f"/api/runs/{run_id}/control", json={"action": "resume", "steps": 90})
            assert r.status_code == 202, r.text
            assert wait_status(api, run_id, "completed", "failed")["step"] == 90
    finally:
        srv.stop()
    assert (folder / "stats.jsonl").exists()  # the source folder is copied, not moved


def test_a_server_run_folder_rebuilds_the_same_run(api: httpx.Client, server: Server,
                                                   tmp_path: Path) -> None:
    run_id = create_run(api, tiny(**{"train.steps": 200}))
    wait_status(api, run_id, "completed")
    db = Database(f"sqlite:///{tmp_path / 'other.db'}")
    migrate(db)
    copy_id = import_run_dir(db, tmp_path / "runs", server.data_dir / "runs" / run_id)
    original = api.get(f"/api/runs/{run_id}/metrics").json()["series"]
    with db.read() as session:
        rows = session.execute(select(MetricPoint.step, MetricPoint.values)
                               .where(MetricPoint.run_id == copy_id)
                               .order_by(MetricPoint.step)).all()
        run = session.get(Run, copy_id)
        n_ckpt = len(session.execute(select(CheckpointRow)).scalars().all())
        n_views = len(session.execute(select(SampleRow)).scalars().all())
    db.dispose()
    assert [s for s, _ in rows] == original["loss_d"]["step"]
    assert [v["loss_d"] for _, v in rows] == original["loss_d"]["value"]
    assert run.status == "completed" and run.step == 200 and run.config["train"]["steps"] == 200
    assert n_ckpt == 2 and n_views == 2


def test_a_run_killed_mid_training_imports_as_interrupted(tmp_path: Path) -> None:
    folder = tmp_path / "cli-run"
    _cli_run(folder)
    events = (folder / "events.jsonl").read_text().splitlines()
    (folder / "events.jsonl").write_text("\n".join(events[:-1]) + "\n")  # no final status
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(db)
    run_id = import_run_dir(db, tmp_path / "runs", folder)
    with db.read() as session:
        run = session.get(Run, run_id)
    db.dispose()
    assert run.status == "interrupted" and "resume" in run.error


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["import", str(tmp_path / "empty"), "--data-dir", str(tmp_path / "d")]) == 2
    assert "no config.json" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text('{"train": {"steps": -1}}')
    assert main(["import", str(tmp_path / "bad"), "--data-dir", str(tmp_path / "d")]) == 2
    assert "train.steps" in capsys.readouterr().err
    assert not list((tmp_path / "d" / "runs").glob("*"))  # nothing half-imported
