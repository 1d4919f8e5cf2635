"""PacGAN packing: D judges m samples at once; m = 1 is today's D bit for bit."""

from __future__ import annotations

import pytest
import torch

from gan_core.config import ConfigError, DCGANModel, MLPModel, RunConfig
from gan_core.losses import LOSSES, GANObjective, gradient_penalty, r1_penalty
from gan_core.models import build_models
from gan_core.models.layers import pack_samples, repeat_for_pack
from gan_core.presets import preset_dict


def test_pack_samples_puts_consecutive_samples_side_by_side() -> None:
    points = torch.arange(12.0).reshape(6, 2)  # 6 points of (x, y)
    packed = pack_samples(points, 3)
    assert packed.tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
    images = torch.randn(4, 3, 8, 8)
    packed = pack_samples(images, 2)  # (4, 3, 8, 8) -> (2, 6, 8, 8)
    assert packed.shape == (2, 6, 8, 8)
    assert torch.equal(packed[1, :3], images[2]) and torch.equal(packed[1, 3:], images[3])
    assert pack_samples(images, 1) is images
    with pytest.raises(ValueError, match="multiple of 3"):
        pack_samples(images, 3)
    assert repeat_for_pack(points, 2)[:4].tolist() == [[0, 1], [0, 1], [2, 3], [2, 3]]


@pytest.mark.parametrize("pack", [2, 4, 5])
def test_a_packed_mlp_d_gives_one_output_per_pack(pack: int) -> None:
    torch.manual_seed(0)
    _, D = build_models(MLPModel(pack=pack, width=16), shape=(2,))
    assert D.main.fc1.in_features == 2 * pack
    x = torch.randn(10 * pack, 2)
    out = D(x)
    assert out.shape == (10,)
    # the same as the unpacked layers on the concatenated points
    assert torch.allclose(out, D.main(x.reshape(10, 2 * pack)).squeeze(1))


@pytest.mark.parametrize(("size", "channels"), [(28, 1), (32, 3), (64, 3)])
def test_a_packed_dcgan_d_stacks_the_images_channels(size: int, channels: int) -> None:
    torch.manual_seed(0)
    cfg = DCGANModel(pack=4, g_channels=8, d_channels=8, d_norm="layer")
    _, D = build_models(cfg, shape=(channels, size, size))
    assert D.main.conv1.in_channels == 4 * channels
    assert D(torch.randn(8, channels, size, size)).shape == (2,)


@pytest.mark.parametrize("cfg", [MLPModel(width=16), DCGANModel(g_channels=8, d_channels=8)])
def test_pack_one_is_todays_d_bit_for_bit(cfg: MLPModel | DCGANModel) -> None:
    shape = (2,) if isinstance(cfg, MLPModel) else (1, 28, 28)
    torch.manual_seed(3)
    _, packed_one = build_models(cfg.model_copy(update={"pack": 1}), shape=shape)
    torch.manual_seed(3)
    _, plain = build_models(cfg, shape=shape)
    for (name, a), (_, b) in zip(packed_one.state_dict().items(), plain.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    x = torch.randn(16, *shape)
    assert torch.equal(packed_one(x), plain(x))
    # and the penalties: same numbers, same random draw
    real, fake = torch.randn(16, *shape), torch.randn(16, *shape)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(gradient_penalty(plain, real, fake, generator=g1),
                       gradient_penalty(plain, real, fake, generator=g2, pack=1))


def test_penalties_are_per_pack() -> None:
    torch.manual_seed(0)
    _, D = build_models(MLPModel(pack=2, width=16), shape=(2,))
    real, fake = torch.randn(8, 2), torch.randn(8, 2)

    # by hand: packs of 2 points, one eps per pack, the norm over the pack's 4 coordinates
    g = torch.Generator().manual_seed(5)
    eps = torch.rand((4, 1), generator=g).repeat_interleave(2, dim=0)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat)
    expected = ((grad.reshape(4, 4).norm(dim=1) - 1) ** 2).mean()
    got = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(5), pack=2)
    assert torch.allclose(got, expected)

    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x)
    assert torch.allclose(r1_penalty(D, real, pack=2), grad.reshape(4, 4).pow(2).sum(1).mean())


@pytest.mark.parametrize("loss", LOSSES.names())
@pytest.mark.parametrize("reg", [{}, {"gradient_penalty": 1.0}, {"r1_gamma": 1.0},
                                 {"weight_clip": 0.01}])
def test_every_loss_and_regularizer_trains_a_packed_d(loss: str, reg: dict) -> None:
    config = RunConfig.model_validate({"model": {"arch": "mlp", "pack": 4, "width": 16},
                                       "loss": {"name": loss}, "regularization": reg,
                                       "train": {"batch_size": 32}})
    torch.manual_seed(0)
    G, D = build_models(config.model, shape=(2,))
    objective = GANObjective(config.loss, config.regularization, pack=4)
    fake = G(torch.randn(32, 2))
    stats = objective.d_phase(D, torch.randn(32, 2), fake, None)
    assert all(torch.isfinite(v) for v in stats.values())
    assert all(p.grad is not None for p in D.parameters())
    objective.g_phase(D, fake, None)
    assert all(p.grad is not None for p in G.parameters())


def test_the_batch_size_must_be_a_multiple_of_the_pack() -> None:
    base = preset_dict("ring8-gan")
    with pytest.raises(ConfigError, match=r"train.batch_size: 250 is not a multiple of "
                                          r"model.pack \(4\).*use e.g. 248"):
        RunConfig.from_dict({**base, "model": {**base["model"], "pack": 4},
                             "train": {**base["train"], "batch_size": 250}})
    with pytest.raises(ConfigError, match=r"model\.pack"):
        RunConfig.from_dict({"data": {"name": "digits"}, "model": {
            "arch": "dcgan", "pack": 2, "conditional": True}})
    with pytest.raises(ConfigError, match=r"model\.pack"):
        RunConfig.from_dict({**base, "model": {**base["model"], "pack": 9}})


def test_a_packed_toy_run_trains_and_draws_its_view(tmp_path) -> None:
    from gan_core.events import Toy2DView
    from gan_core.train import Trainer

    data = preset_dict("ring8-gan")
    data["model"]["pack"] = 4
    data["train"].update(steps=20, sample_every=20, report_every=10)
    events: list = []
    result = Trainer(RunConfig.model_validate(data), sinks=[events.append]).fit()
    assert result.status == "completed", result.message
    view = next(e for e in events if isinstance(e, Toy2DView))
    assert len(view.d_grid) == view.resolution ** 2  # D over the plane, one value per point
    assert len(view.grad_field) == len(view.fake)
