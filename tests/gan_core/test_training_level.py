"""Training-level checks on CPU: the presets learn what they are meant to show.

Wall-clock figures for these runs are printed by benchmarks/bench_presets.py, not asserted.
"""

import statistics

import pytest
import torch

from gan_core.checkpoint import latest_checkpoint, load_checkpoint
from gan_core.events import Metrics, SampleGrid
from gan_core.models import build_models
from gan_core.presets import preset_config
from gan_core.sinks import RunDirSink

pytestmark = pytest.mark.slow


def train(config, out_dir=None) -> tuple[list[Metrics], list]:
    events = []
    sinks = [events.append]
    if out_dir is not None:
        sinks.append(RunDirSink(out_dir))
    from gan_core.train import Trainer

    result = Trainer(config, out_dir=out_dir, sinks=sinks).fit()
    assert result.status == "completed", result.message
    return [e for e in events if isinstance(e, Metrics)], events


def shortened(name: str, steps: int):
    """The preset with its whole schedule (the lr decay too) squeezed into ``steps``."""
    config = preset_config(name)
    return config.model_copy(update={"train": config.train.model_copy(update={"steps": steps})})


def last_view(metrics: list[Metrics]) -> dict[str, float]:
    return [m.values for m in metrics if "modes_captured" in m.values][-1]


def test_ring8_gan_captures_the_modes():
    # a sixth of its 12,000 steps (the decay squeezed in): every mode, samples tightening
    last = last_view(train(shortened("ring8-gan", 2000))[0])
    assert last["modes_captured"] == 8, last
    assert last["hq_fraction"] >= 0.4, last


def test_ring8_gan_collapse_drops_modes():
    last = last_view(train(preset_config("ring8-gan-collapse"))[0])  # 2,000 steps, ~15 s
    assert last["modes_captured"] <= 6, last  # 5 of 8 on seed 0


def test_ring8_pacgan4_covers_the_ring():
    last = last_view(train(shortened("ring8-pacgan4", 1500))[0])
    assert last["modes_captured"] == 8, last


def test_ring8_wgan_gp_critic_tracks_the_true_w1():
    metrics, _ = train(shortened("ring8-wgan-gp", 2000))  # a third of its steps
    # w_estimate is a window mean: compare it with w1_exact at the same evaluation steps
    points = [(m.values["w_estimate"], m.values["w1_exact"]) for m in metrics
              if "w1_exact" in m.values]
    w_est, w1 = zip(*points, strict=True)
    quarter = len(points) // 4
    assert statistics.mean(w_est[-quarter:]) < 0.5 * statistics.mean(w_est[:quarter])
    # the true W1 falls from its first evaluation to the sample-size floor (~0.09 on 1,000 points)
    assert statistics.mean(w1[-quarter:]) < 0.5 * w1[0]
    assert statistics.correlation(w_est, w1) > 0.5


def test_short_mnist_dcgan_run_writes_grids_and_a_loadable_checkpoint(tmp_path):
    config = preset_config("mnist-dcgan")
    config = config.model_copy(update={"train": config.train.model_copy(
        update={"steps": 20, "sample_every": 10, "checkpoint_every": 10})})
    _, events = train(config, tmp_path)
    grids = sorted(p.name for p in (tmp_path / "samples").glob("*.png"))
    assert grids == ["grid_000000010.png", "grid_000000020.png"]
    assert all(e.count == 64 for e in events if isinstance(e, SampleGrid))

    ckpt = load_checkpoint(latest_checkpoint(tmp_path))
    assert ckpt.step == 20
    G, _ = build_models(ckpt.config.model, shape=(1, 28, 28))
    G.load_state_dict(ckpt.section("G_ema"))
    with torch.inference_mode():
        images = G.eval()(torch.randn(4, ckpt.config.model.z_dim))
    assert images.shape == (4, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0.01
