"""The speed options on the CPU: bf16 autocast, channels-last, fused optimizers and
torch.compile each train, give the same run twice, and resume exactly; what this hardware cannot
do (fp16 without CUDA, channels-last on 2D data) is refused naming the field."""

from __future__ import annotations

import pytest
import torch

from gan_core.checkpoint import load_checkpoint
from gan_core.config import ConfigError, RunConfig
from gan_core.events import Metrics
from gan_core.sinks import RunDirSink, read_stats
from gan_core.speed import Precision
from gan_core.train import Trainer
from tests.gan_core.test_train import image_config, losses_by_step, run_with_checkpoints, toy_config

OPTIONS = {
    "toy-bf16-fused": lambda: toy_config(amp="bf16", fused_optimizer=True),
    "dcgan-bf16-channels_last-fused": lambda: image_config(train={
        "steps": 12, "batch_size": 16, "report_every": 3, "sample_every": 6,
        "spectral_every": 3, "checkpoint_every": 6, "grid_size": 16, "amp": "bf16",
        "channels_last": True, "fused_optimizer": True}),
}


# the DCGAN case trains tens of seconds here: slow, out of `make test-fast`
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if "dcgan" in n else n
                                  for n in OPTIONS])
def test_options_train_reproducibly_and_resume_exactly(tmp_path, name: str) -> None:
    config = OPTIONS[name]()
    full = run_with_checkpoints(config, tmp_path / "full")
    again = run_with_checkpoints(config, tmp_path / "again")
    assert losses_by_step(again) == losses_by_step(full)  # same options, same run
    assert all(all(torch.isfinite(torch.tensor(v)) for k, v in row.items()
                   if isinstance(v, float)) for row in full)

    partial = tmp_path / "partial"
    run_with_checkpoints(config, partial)
    ckpts = sorted((partial / "checkpoints").glob("*.safetensors"))
    for later in ckpts[1:]:
        later.unlink()
    resume_step = load_checkpoint(ckpts[0]).step
    sink = RunDirSink(partial, resume_step=resume_step)
    Trainer.resume(partial, sinks=[sink]).fit()
    sink.close()
    assert losses_by_step(read_stats(partial)) == losses_by_step(full)


def test_bf16_differs_from_full_precision_and_stays_close() -> None:
    """bf16 really is in use (the numbers change), and training still means the same thing."""
    def losses(**train) -> list[float]:
        events: list = []
        Trainer(toy_config(steps=20, **train), sinks=[events.append]).fit()
        return [e.values["loss_d"] for e in events if isinstance(e, Metrics)]

    full, half = losses(), losses(amp="bf16")
    assert full != half
    assert max(abs(a - b) for a, b in zip(full, half, strict=True)) < 0.2


def test_what_the_hardware_cannot_do_is_refused() -> None:
    with pytest.raises(ValueError, match=r"train\.amp: fp16 needs a CUDA GPU"):
        Trainer(toy_config(amp="fp16", device="cpu"))
    with pytest.raises(ConfigError, match=r"train\.channels_last"):
        RunConfig.from_dict({"data": {"name": "ring"}, "train": {"channels_last": True}})
    with pytest.raises(ConfigError, match=r"train\.amp"):
        RunConfig.from_dict({"train": {"amp": "fp8"}})


def test_precision_off_is_plain_backward_and_step() -> None:
    precision = Precision("off", torch.device("cpu"))
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.5)
    with precision.autocast():
        loss = (w * 2).sum()
    assert loss.dtype == torch.float32 and precision.grad_scale("d") == 1.0
    precision.backward("d", loss)
    precision.unscale("d", opt)
    precision.step("d", opt)
    assert torch.equal(w.detach(), torch.zeros(3)) and precision.state_dict() == {}


@pytest.mark.slow
def test_compile_trains_reports_its_time_and_saves_plain_weights(tmp_path) -> None:
    events: list = []
    config = toy_config(steps=10, compile=True)
    Trainer(config, out_dir=tmp_path, sinks=[events.append]).fit()
    reports = [e for e in events if isinstance(e, Metrics)]
    compiled = [e.values["compile_s"] for e in reports if "compile_s" in e.values]
    assert len(compiled) == 1 and compiled[0] > 0  # once, in the first report
    assert all(e.values["step_time"] < compiled[0] for e in reports)  # not a step's time
    ckpt = load_checkpoint(sorted((tmp_path / "checkpoints").glob("*.safetensors"))[-1])
    assert not any("_orig_mod" in key for key in ckpt.tensors)
