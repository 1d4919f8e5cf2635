"""Latent paths, truncation, principal directions, a generator from a checkpoint, neighbours."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gan_core.checkpoint import CheckpointError, latest_checkpoint
from gan_core.config import RunConfig
from gan_core.generate import load_generator, to_uint8
from gan_core.latent import (
    activation_layers,
    lerp,
    principal_directions,
    sample_z,
    slerp,
    truncate,
)
from gan_core.neighbours import nearest
from gan_core.train import Trainer


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DCGAN on the 8x8 digits, trained 4 steps, with an EMA of G."""
    out = tmp_path_factory.mktemp("run")
    config = RunConfig.from_dict({
        "data": {"name": "digits", "image_size": 28, "limit": 256},
        "model": {"arch": "dcgan", "z_dim": 16, "g_channels": 8, "d_channels": 8},
        "optim": {"ema_decay": 0.9},
        "train": {"steps": 4, "batch_size": 16, "report_every": 2, "sample_every": 4,
                  "checkpoint_every": 4, "grid_size": 16, "num_threads": 1},
    })
    Trainer(config, out_dir=out).fit()
    return latest_checkpoint(out)


def test_lerp_and_slerp_hit_their_endpoints_exactly() -> None:
    a, b = torch.randn(3, 8), torch.randn(3, 8)
    for path in (lerp, slerp):
        assert torch.allclose(path(a, b, 0.0), a, atol=1e-6)
        assert torch.allclose(path(a, b, 1.0), b, atol=1e-6)


def test_slerp_keeps_unit_vectors_on_the_sphere() -> None:
    a = torch.nn.functional.normalize(torch.randn(5, 16), dim=-1)
    b = torch.nn.functional.normalize(torch.randn(5, 16), dim=-1)
    for t in torch.linspace(0, 1, 11):
        assert torch.allclose(slerp(a, b, t).norm(dim=-1), torch.ones(5), atol=1e-5)
    midway = lerp(a, b, 0.5).norm(dim=-1)
    assert (midway < 0.99).all()  # lerp cuts through the inside


def test_truncation_pulls_toward_the_mean_and_checks_psi() -> None:
    z = torch.randn(4, 8)
    assert torch.equal(truncate(z, 1.0), z)
    assert torch.allclose(truncate(z, 0.5).norm(dim=1), 0.5 * z.norm(dim=1))
    with pytest.raises(ValueError, match="psi"):
        truncate(z, -1.0)


@pytest.mark.parametrize("layer", [None, "main.relu1", "main.relu2"])
def test_principal_directions_are_orthonormal_and_ordered(checkpoint: Path, layer) -> None:
    g = load_generator(checkpoint)
    assert activation_layers(g.G) == ["main.relu1", "main.relu2"]
    dirs = principal_directions(g.G, g.sample_z(400, seed=1), k=6, layer=layer)
    gram = dirs.vectors @ dirs.vectors.T
    assert torch.allclose(gram, torch.eye(6), atol=1e-4)
    assert dirs.vectors.shape == (6, 16) and dirs.space == (layer or "z")
    assert (dirs.explained[:-1] >= dirs.explained[1:] - 1e-6).all()
    assert (dirs.stddev > 0).all()


def test_principal_directions_of_z_find_the_stretched_axis() -> None:
    """PCA of z alone recovers an axis along which the latents were stretched."""
    z = torch.randn(2000, 8, generator=torch.Generator().manual_seed(0))
    z[:, 3] *= 5
    dirs = principal_directions(torch.nn.Identity(), z, k=2)
    assert abs(dirs.vectors[0, 3]) > 0.99 and 4.5 < dirs.stddev[0] < 5.5
    assert dirs.explained[0] > 0.7


def test_bad_direction_requests_say_what_to_change(checkpoint: Path) -> None:
    g = load_generator(checkpoint)
    with pytest.raises(ValueError, match=r"no layer 'main\.nope'.*main\.relu1"):
        principal_directions(g.G, g.sample_z(100, 0), k=2, layer="main.nope")
    with pytest.raises(ValueError, match="k must lie"):
        principal_directions(g.G, g.sample_z(100, 0), k=17)


def test_the_same_seed_gives_the_same_image(checkpoint: Path) -> None:
    g = load_generator(checkpoint)
    first = to_uint8(g(g.sample_z(1, seed=42)))
    again = to_uint8(load_generator(checkpoint)(g.sample_z(1, seed=42)))
    other = to_uint8(g(g.sample_z(1, seed=43)))
    assert first.shape == (1, 28, 28, 1) and first.dtype.name == "uint8"
    assert (first == again).all() and not (first == other).all()
    assert g.ema and not load_generator(checkpoint, ema=False).ema


def test_bad_checkpoints_get_clear_messages(tmp_path: Path, checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_generator(tmp_path / "missing.safetensors")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_generator(broken)
    toy = tmp_path / "toy"
    Trainer(RunConfig.from_dict({
        "data": {"name": "ring"}, "model": {"arch": "mlp", "width": 8, "depth": 1},
        "train": {"steps": 2, "checkpoint_every": 2, "num_threads": 1}}), out_dir=toy).fit()
    with pytest.raises(CheckpointError, match="2D points"):
        load_generator(latest_checkpoint(toy))


def test_nearest_finds_exact_copies_first() -> None:
    bank = torch.randn(500, 20, generator=torch.Generator().manual_seed(0))
    query = bank[[7, 300]] + 1e-4
    distances, indices = nearest(query, bank, k=3)
    assert indices[:, 0].tolist() == [7, 300]
    assert (distances[:, 0] < 1e-2).all() and (distances[:, 1:] > distances[:, :1]).all()
    with pytest.raises(ValueError, match="share F"):
        nearest(torch.zeros(1, 3), bank)


def test_sample_z_matches_the_prior() -> None:
    z = sample_z(20_000, 4, "uniform", generator=torch.Generator().manual_seed(0))
    assert z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.02


def test_a_conditional_generator_draws_the_class_asked_for(tmp_path: Path) -> None:
    config = RunConfig.from_dict({
        "data": {"name": "digits", "image_size": 28, "limit": 128},
        "model": {"arch": "dcgan", "z_dim": 8, "g_channels": 8, "d_channels": 8,
                  "conditional": True},
        "train": {"steps": 2, "batch_size": 16, "checkpoint_every": 2, "num_threads": 1},
    })
    Trainer(config, out_dir=tmp_path).fit()
    g = load_generator(latest_checkpoint(tmp_path))
    assert g.num_classes == 10
    z = g.sample_z(1, seed=3).repeat(2, 1)
    images = g(z, torch.tensor([1, 7]))
    assert not torch.equal(images[0], images[1])  # same z, another class
    assert g.labels(4, 3).tolist() == [4, 4, 4]
    with pytest.raises(ValueError, match=r"class must lie in 0\.\.9"):
        g.labels(10, 1)
