"""`ganscope train`: exit codes, messages, the run folder, resume."""

import json
import subprocess
import sys

import pytest

from gan_core import cli
from gan_core.checkpoint import latest_checkpoint, load_checkpoint
from tests.polling import wait_until

QUICK = ["--set", "train.steps=20", "--set", "train.report_every=5",
         "--set", "train.sample_every=10", "--set", "train.checkpoint_every=10",
         "--set", "model.width=16", "--quiet"]


def test_train_preset_writes_the_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--preset", "ring8-gan", "--out", str(out), *QUICK]) == 0
    assert "done: 20 steps" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["name"] == "ring8-gan" and config["train"]["steps"] == 20
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    assert sorted(p.name for p in (out / "views").iterdir()) == [
        "view_000000010.json", "view_000000020.json"]
    assert load_checkpoint(latest_checkpoint(out)).step == 20
    statuses = [json.loads(line)["status"] for line in (out / "events.jsonl").read_text()
                .splitlines() if json.loads(line)["kind"] == "status"]
    assert statuses == ["running", "completed"]


def test_resume_extends_a_finished_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--preset", "ring8-gan", "--out", str(out), *QUICK]) == 0
    assert cli.main(["train", "--resume", str(out), "--steps", "30", "--quiet"]) == 0
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20, 25, 30]
    assert load_checkpoint(latest_checkpoint(out)).step == 30
    # nothing left to do without --steps: a clear message, exit 2
    assert cli.main(["train", "--resume", str(out), "--quiet"]) == 2
    assert "pass --steps" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "ring9"], "--preset: unknown preset 'ring9'; choose one of: ring8-gan"),
        (["--preset", "ring8-gan", "--set", "loss.name=wgan"], "loss.name: got 'wgan'; allowed:"),
        (["--preset", "ring8-gan", "--set", "optim.g.lr=-1"], "optim.g.lr: Input should be"),
        (["--preset", "ring8-gan", "--set", "train.batchsize=3"], "train.batchsize: unknown field"),
        (["--preset", "ring8-gan", "--set", "model.arch=dcgan"], "model.arch: 2D data 'ring'"),
        (["--preset", "mnist-dcgan", "--set", "data.name=mnist", "--set", "data.root=/nowhere"],
         "/nowhere/MNIST/raw"),
        (["--config", "/nowhere.yaml"], "does not exist"),
        (["--resume", "/nowhere"], "no checkpoint"),
    ],
)
def test_bad_input_exits_2_with_a_message_naming_the_field(tmp_path, capsys, args, message):
    assert cli.main(["train", *args, "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_diverged_run_exits_3(tmp_path, capsys):
    # an unconstrained critic trained with SGD at lr 1 blows up to inf, then nan
    code = cli.main(["train", "--preset", "ring8-gan", "--out", str(tmp_path / "r"), "--quiet",
                     "--set", "loss.name=wasserstein", "--set", "optim.d.name=sgd",
                     "--set", "optim.d.lr=1.0", "--set", "optim.g.name=sgd",
                     "--set", "optim.g.lr=1.0", "--set", "train.steps=500",
                     "--set", "train.report_every=5"])
    assert code == 3
    assert "diverged" in capsys.readouterr().err


def test_console_script_runs_and_lists_presets():
    done = subprocess.run([sys.executable, "-m", "gan_core.cli", "presets"],
                          capture_output=True, text=True, check=True)
    assert "mnist-sngan-hinge" in done.stdout and "ring8-wgan-clip" in done.stdout
    done = subprocess.run([sys.executable, "-m", "gan_core.cli", "train"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "one of the arguments --preset --config --resume" in done.stderr


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    import signal

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gan_core.cli", "train", "--preset", "ring8-gan", "--quiet",
         "--out", str(out), "--set", "train.steps=100000", "--set", "train.report_every=5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    stats = out / "stats.jsonl"

    def two_reports() -> bool:
        assert proc.poll() is None, proc.stderr.read()  # it exited early: say why
        return stats.exists() and stats.read_text().count("\n") >= 2

    wait_until(two_reports, timeout=60, what=f"two reports in {stats}")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    step = load_checkpoint(latest_checkpoint(out)).step
    assert 10 <= step < 100000
