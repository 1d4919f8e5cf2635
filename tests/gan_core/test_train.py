"""The Trainer: what it reports, exact resume, live controls, divergence, device choice."""

import queue
from pathlib import Path

import pytest
import torch

from gan_core.checkpoint import latest_checkpoint, load_checkpoint
from gan_core.config import RunConfig
from gan_core.events import (
    CheckpointSaved,
    HyperparamsChanged,
    Metrics,
    SampleGrid,
    StatusChanged,
    Toy2DView,
)
from gan_core.sinks import RunDirSink, read_stats
from gan_core.train import Command, Trainer, resolve_device

TIMING = ("step_time", "images_per_s")


def toy_config(**train) -> RunConfig:
    return RunConfig.from_dict({
        "data": {"name": "ring"},
        "model": {"arch": "mlp", "depth": 2, "width": 32},
        "train": {"steps": 40, "batch_size": 64, "report_every": 5, "sample_every": 20,
                  "spectral_every": 10, "checkpoint_every": 20, "num_threads": 1,
                  **train},
    })


def image_config(**sections) -> RunConfig:
    base = {
        "data": {"name": "digits", "image_size": 28, "limit": 256},
        "model": {"arch": "dcgan", "z_dim": 16, "g_channels": 8, "d_channels": 8,
                  "d_norm": "layer", "spectral_norm_d": True},
        "loss": {"name": "wasserstein"},
        "regularization": {"gradient_penalty": 10.0},
        "optim": {"n_critic": 2, "ema_decay": 0.9},
        "train": {"steps": 12, "batch_size": 16, "report_every": 3, "sample_every": 6,
                  "spectral_every": 3, "checkpoint_every": 6, "grid_size": 16},
    }
    base.update(sections)
    return RunConfig.from_dict(base)


def collect(trainer_events: list):
    return lambda event: trainer_events.append(event)


def losses_by_step(rows: list[dict]) -> dict[int, dict]:
    return {r["step"]: {k: v for k, v in r.items() if k not in TIMING} for r in rows}


def test_reports_every_named_scalar():
    events = []
    Trainer(toy_config(), sinks=[collect(events)]).fit()
    metrics = [e for e in events if isinstance(e, Metrics)]
    assert [m.step for m in metrics] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert all(m.steps == 5 for m in metrics)
    for key in ("loss_d", "loss_g", "d_real", "d_fake", "w_estimate", "grad_norm_d",
                "grad_norm_g", "step_time", "images_per_s"):
        assert all(key in m.values for m in metrics), key
    first = metrics[0].values
    assert first["w_estimate"] == pytest.approx(first["d_real"] - first["d_fake"], rel=1e-5)
    sigma_steps = [m.step for m in metrics if "sigma/main.fc1" in m.values]
    assert sigma_steps == [10, 20, 30, 40]
    toy_steps = [m.step for m in metrics if "modes_captured" in m.values]
    assert toy_steps == [20, 40]
    assert all({"hq_fraction", "w1_exact"} <= m.values.keys() for m in metrics
               if m.step in toy_steps)
    views = [e for e in events if isinstance(e, Toy2DView)]
    assert [v.step for v in views] == [20, 40]
    view = views[-1]
    assert len(view.d_grid) == view.resolution**2
    assert len(view.fake) == len(view.grad_field) == 512 and len(view.real) == 512
    assert len(view.mode_centers) == 8
    assert [e.status for e in events if isinstance(e, StatusChanged)] == ["running", "completed"]


@pytest.mark.slow  # trains a DCGAN
def test_penalty_is_reported_when_used_and_images_make_grids(tmp_path):
    events = []
    Trainer(image_config(), out_dir=tmp_path, sinks=[collect(events)]).fit()
    metrics = [e for e in events if isinstance(e, Metrics)]
    assert all("gradient_penalty" in m.values for m in metrics)
    assert any(k.startswith("sigma/") for k in metrics[0].values)
    grids = [e for e in events if isinstance(e, SampleGrid)]
    assert [g.step for g in grids] == [6, 12]
    assert grids[0].png[:8] == b"\x89PNG\r\n\x1a\n" and grids[0].count == 16
    assert grids[0].png != grids[1].png
    ckpts = [e.step for e in events if isinstance(e, CheckpointSaved)]
    assert ckpts == [6, 12]


def run_with_checkpoints(config: RunConfig, out: Path) -> list[dict]:
    sink = RunDirSink(out)
    Trainer(config, out_dir=out, sinks=[sink]).fit()
    sink.close()
    return read_stats(out)


@pytest.mark.parametrize(
    "make_config", [toy_config, pytest.param(image_config, marks=pytest.mark.slow)],
    ids=["toy", "dcgan"],
)
def test_resume_continues_exactly(tmp_path, make_config):
    config = make_config()
    full = run_with_checkpoints(config, tmp_path / "full")

    # the same run, killed after its first checkpoint (we delete everything after it)...
    partial = tmp_path / "partial"
    run_with_checkpoints(config, partial)
    ckpts = sorted((partial / "checkpoints").glob("*.safetensors"))
    first = ckpts[0]
    for later in ckpts[1:]:
        later.unlink()
    resume_step = load_checkpoint(first).step
    assert 0 < resume_step < config.train.steps

    # ...then resumed from the folder: stats after the checkpoint are replaced, not duplicated
    sink = RunDirSink(partial, resume_step=resume_step)
    result = Trainer.resume(partial, sinks=[sink]).fit()
    sink.close()
    assert result.status == "completed" and result.step == config.train.steps
    resumed = read_stats(partial)
    assert [r["step"] for r in resumed] == [r["step"] for r in full]
    assert losses_by_step(resumed) == losses_by_step(full)


def test_linear_lr_decay_falls_to_zero_follows_live_changes_and_resumes_exactly(tmp_path):
    config = toy_config(steps=40)
    config = config.model_copy(update={"optim": config.optim.model_copy(
        update={"lr_decay": "linear"})})
    seen: list[tuple[int, float, float]] = []

    class Watched(Trainer):
        def train_step(self):
            stats = super().train_step()
            seen.append((self.step, self.opt_g.param_groups[0]["lr"],
                         self.opt_d.param_groups[0]["lr"]))
            return stats

    controls = queue.Queue()
    trainer = Watched(config, sinks=[], controls=controls)
    trainer.fit()
    lr_g, lr_d = config.optim.g.lr, config.optim.d.lr
    for step, g, d in seen:  # the lr used at step s (0-based) is lr * (1 - s / steps)
        assert g == pytest.approx(lr_g * (1 - step / 40)) and d == pytest.approx(
            lr_d * (1 - step / 40))
    assert seen[-1][1] == pytest.approx(lr_g / 40)  # the last step's: one fortieth

    # a live change sets the value that decays from then on
    trainer = Trainer(config)
    trainer.step = 20
    trainer.set_hyperparams(lr_g=1e-3)
    assert trainer.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5)
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(lr_d * 0.5)

    # and a resumed run continues the schedule exactly
    full = run_with_checkpoints(config, tmp_path / "full")
    partial = tmp_path / "partial"
    run_with_checkpoints(config, partial)
    for later in sorted((partial / "checkpoints").glob("*.safetensors"))[1:]:
        later.unlink()
    resume_step = load_checkpoint(latest_checkpoint(partial)).step
    sink = RunDirSink(partial, resume_step=resume_step)
    Trainer.resume(partial, sinks=[sink]).fit()
    sink.close()
    assert losses_by_step(read_stats(partial)) == losses_by_step(full)


@pytest.mark.slow  # trains a DCGAN
def test_checkpoint_holds_config_weights_and_no_pickle(tmp_path):
    config = image_config()
    Trainer(config, out_dir=tmp_path).fit()
    ckpt = load_checkpoint(latest_checkpoint(tmp_path))
    assert ckpt.config == config and ckpt.step == 12
    for prefix in ("G", "G_ema", "D", "opt_g", "opt_d"):
        assert ckpt.section(prefix), prefix
    assert "rng.train" in ckpt.tensors
    raw = latest_checkpoint(tmp_path).read_bytes()
    assert b"\x80\x04\x95" not in raw[:1000]  # not a pickle stream


def test_controls_pause_step_set_resume_stop(tmp_path):
    controls = queue.Queue()
    for cmd in (Command("set", {"lr_g": 1e-5, "n_critic": 3}), Command("pause"),
                Command("step"), Command("step"), Command("resume")):
        controls.put(cmd)
    events = []

    def sink(event):
        events.append(event)
        if isinstance(event, Metrics) and event.step == 10:
            controls.put(Command("stop"))

    trainer = Trainer(toy_config(steps=1000), out_dir=tmp_path, sinks=[sink], controls=controls)
    result = trainer.fit()
    assert result.status == "stopped" and result.step == 10
    assert trainer.opt_g.param_groups[0]["lr"] == 1e-5 and trainer.n_critic == 3
    assert trainer.opt_d.param_groups[0]["lr"] == 2e-4  # untouched
    statuses = [(e.status, e.step) for e in events if isinstance(e, StatusChanged)]
    assert statuses == [("running", 0), ("paused", 0), ("running", 2), ("stopped", 10)]
    changes = [e for e in events if isinstance(e, HyperparamsChanged)]
    assert changes[0].step == 0 and changes[0].changes == {"lr_g": 1e-5, "n_critic": 3}
    # each single step while paused is reported at once
    assert [e.step for e in events if isinstance(e, Metrics)][:2] == [1, 2]
    # stopping saves a checkpoint to resume from
    assert load_checkpoint(latest_checkpoint(tmp_path)).step == 10


def test_commands_are_validated():
    with pytest.raises(ValueError, match="cannot be changed live"):
        Command("set", {"batch_size": 5})
    with pytest.raises(ValueError, match="positive"):
        Command("set", {"lr_d": -1.0})
    with pytest.raises(ValueError, match="integer"):
        Command("set", {"n_critic": 2.5})
    with pytest.raises(ValueError, match="unknown action"):
        Command("jump")


def test_nan_loss_ends_the_run_as_diverged(tmp_path, monkeypatch):
    from gan_core import losses

    original = losses.GANObjective.g_phase
    calls = {"n": 0}

    def poisoned(self, D, fake, labels):
        calls["n"] += 1
        stats = original(self, D, fake, labels)
        if calls["n"] >= 7:
            stats["loss_g"] = stats["loss_g"] * float("nan")
        return stats

    monkeypatch.setattr(losses.GANObjective, "g_phase", poisoned)
    events = []
    result = Trainer(toy_config(), out_dir=tmp_path, sinks=[collect(events)]).fit()
    assert result.status == "diverged"
    assert "loss_g became nan at step 7" in result.message
    assert events[-1].status == "diverged" and events[-1].step == 10
    assert latest_checkpoint(tmp_path) is None  # no NaN weights saved


def test_device_selection(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cpu").type == "cpu"


def test_same_seed_same_run_different_seed_different_run():
    def losses(seed):
        events = []
        cfg = toy_config(steps=10).model_copy(update={"seed": seed})
        Trainer(cfg, sinks=[collect(events)]).fit()
        return [e.values["loss_d"] for e in events if isinstance(e, Metrics)]

    assert losses(3) == losses(3)
    assert losses(3) != losses(4)


def test_thread_budget_applies_during_fit_only():
    seen = []
    before = torch.get_num_threads()
    config = toy_config(steps=5, num_threads=1)
    Trainer(config, sinks=[lambda e: seen.append(torch.get_num_threads())]).fit()
    assert set(seen) == {1}
    assert torch.get_num_threads() == before


def test_a_checkpoint_command_saves_the_weights_of_now(tmp_path):
    controls = queue.Queue()
    events = []

    def sink(event):
        events.append(event)
        if isinstance(event, Metrics) and event.step == 5:  # the first report window
            controls.put(Command("checkpoint"))
            controls.put(Command("stop"))

    trainer = Trainer(toy_config(steps=1000, checkpoint_every=1000), out_dir=tmp_path,
                      sinks=[sink], controls=controls)
    trainer.fit()
    saved = [e.step for e in events if isinstance(e, CheckpointSaved)]
    assert saved[0] == 5  # between steps, at once, before the stop's own checkpoint
