import itertools
import math

import pytest
import torch

from gan_core.config import GaussianData, GridData, MoonsData, RingData, SpiralData
from gan_core.data import DATASETS, DataInfo, build_data

TOYS = [RingData(), GridData(), SpiralData(), MoonsData(), GaussianData(mean=(1.0, -2.0))]
MIXTURES = [RingData(), RingData(n_modes=5, radius=3.0, sigma=0.2), GridData(), GaussianData()]


def test_registry_lists_every_data_set() -> None:
    assert DATASETS.names() == [
        "ring", "grid", "spiral", "moons", "gaussian",
        "mnist5k", "digits", "mnist", "fashion_mnist", "cifar10", "celeba", "image_folder",
    ]
    assert all(entry["description"] for entry in DATASETS.describe())


@pytest.mark.parametrize("cfg", TOYS, ids=lambda c: c.name)
def test_toy_batches_are_float32_points_inside_the_extent(cfg) -> None:
    source = build_data(cfg, seed=0)
    x, y = source.next_batch(4000)
    info = source.info
    assert isinstance(info, DataInfo) and info.kind == "toy" and info.shape == (2,)
    assert info.size is None and info.num_classes is None
    assert x.shape == (4000, 2) and x.dtype == torch.float32
    xmin, xmax, ymin, ymax = info.extent
    assert (x[:, 0] > xmin).all() and (x[:, 0] < xmax).all()
    assert (x[:, 1] > ymin).all() and (x[:, 1] < ymax).all()
    # the window is for plotting the data, not a far-away box
    assert (xmax - xmin) < 1.6 * (x[:, 0].max() - x[:, 0].min())
    if info.mode_centers is None:
        assert y is None and info.sigma is None
    else:
        assert y.dtype == torch.int64 and y.shape == (4000,)


@pytest.mark.parametrize("cfg", MIXTURES, ids=lambda c: f"{c.name}-{c.sigma}")
def test_mixture_points_sit_around_their_labelled_centre(cfg) -> None:
    source = build_data(cfg, seed=1)
    x, y = source.next_batch(20_000)
    centers, sigma = source.info.mode_centers, source.info.sigma
    assert sigma == cfg.sigma and centers.dtype == torch.float32
    offsets = x - centers[y]  # (N, 2), should be N(0, sigma^2 I)
    assert offsets.norm(dim=1).max() < 5.5 * sigma
    assert offsets.mean(dim=0).abs().max() < 0.05 * sigma
    assert offsets.std(dim=0) == pytest.approx([sigma, sigma], rel=0.03)
    # modes are chosen uniformly
    counts = torch.bincount(y, minlength=len(centers)).float()
    assert counts.min() > 0.8 * counts.mean()


def test_ring_centres_are_evenly_spaced_on_the_circle() -> None:
    centers = build_data(RingData(n_modes=8, radius=2.0), seed=0).info.mode_centers
    angles = torch.atan2(centers[:, 1], centers[:, 0]) % (2 * math.pi)
    expected = torch.arange(8) * (2 * math.pi / 8)
    assert torch.allclose(angles, expected, atol=1e-5)
    assert torch.allclose(centers.norm(dim=1), torch.full((8,), 2.0))


def test_grid_default_centres_are_pacgan_grid() -> None:
    centers = build_data(GridData(), seed=0).info.mode_centers
    expected = set(itertools.product([-4.0, -2.0, 0.0, 2.0, 4.0], repeat=2))
    assert centers.shape == (25, 2)
    assert {tuple(c) for c in centers.tolist()} == expected
    even = build_data(GridData(side=4, spacing=1.0), seed=0).info.mode_centers
    assert even.mean(dim=0).tolist() == [0.0, 0.0] and even.max() == 1.5


def test_gaussian_has_one_mode_at_its_mean() -> None:
    source = build_data(GaussianData(mean=(1.0, -2.0), sigma=0.5), seed=0)
    assert source.info.mode_centers.tolist() == [[1.0, -2.0]]
    x, y = source.next_batch(20_000)
    assert (y == 0).all()
    assert x.mean(dim=0).tolist() == pytest.approx([1.0, -2.0], abs=0.02)


def test_spiral_has_its_outer_radius_and_turns() -> None:
    x, _ = build_data(SpiralData(turns=2.0, radius=3.0, noise=0.0), seed=0).next_batch(20_000)
    r = x.norm(dim=1)
    assert r.max() == pytest.approx(3.0, abs=0.01)
    # without noise, angle / (2 pi turns) equals r / radius
    angle = torch.atan2(x[:, 1], x[:, 0]) % (2 * math.pi)
    turns_done = r / 3.0 * 2.0  # in [0, 2]
    predicted = (turns_done % 1.0) * 2 * math.pi
    diff = (angle - predicted + math.pi) % (2 * math.pi) - math.pi
    assert diff.abs().max() < 1e-3


def test_moons_are_two_centred_half_circles() -> None:
    x, _ = build_data(MoonsData(noise=0.0), seed=0).next_batch(20_000)
    outer = ((x + torch.tensor([0.5, 0.25])).norm(dim=1) - 1).abs() < 1e-5
    inner = ((x - torch.tensor([0.5, 0.25])).norm(dim=1) - 1).abs() < 1e-5
    assert (outer | inner).all()
    assert outer.float().mean() == pytest.approx(0.5, abs=0.02)
    assert x.mean(dim=0).abs().max() < 0.02  # centred around the origin


@pytest.mark.parametrize("cfg", TOYS, ids=lambda c: c.name)
def test_same_seed_same_batches_other_seed_other_batches(cfg) -> None:
    a, b, c = build_data(cfg, seed=3), build_data(cfg, seed=3), build_data(cfg, seed=4)
    for _ in range(3):
        xa, _ = a.next_batch(64)
        xb, _ = b.next_batch(64)
        xc, _ = c.next_batch(64)
        assert torch.equal(xa, xb)
        assert not torch.equal(xa, xc)


def test_data_stream_differs_from_torch_seeded_with_the_run_seed() -> None:
    # The trainer seeds torch with the run seed too; data must not equal G's noise.
    x, _ = build_data(GaussianData(), seed=0).next_batch(16)
    assert not torch.allclose(x, torch.randn(16, 2, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("cfg", TOYS, ids=lambda c: c.name)
def test_state_dict_round_trip_continues_the_stream(cfg) -> None:
    original = build_data(cfg, seed=5)
    original.next_batch(32)
    state = original.state_dict()
    assert all(isinstance(v, int | torch.Tensor) for v in state.values())
    expected = [original.next_batch(32)[0] for _ in range(3)]

    restored = build_data(cfg, seed=99)
    restored.load_state_dict(state)
    for want in expected:
        assert torch.equal(restored.next_batch(32)[0], want)


def test_sample_does_not_advance_the_stream() -> None:
    a, b = build_data(RingData(), seed=0), build_data(RingData(), seed=0)
    g = torch.Generator().manual_seed(7)
    drawn, labels = a.sample(500, g)
    assert drawn.shape == (500, 2) and labels.shape == (500,)
    assert torch.equal(a.next_batch(64)[0], b.next_batch(64)[0])
    again, _ = a.sample(500, torch.Generator().manual_seed(7))
    assert torch.equal(drawn, again)


@pytest.mark.parametrize("bad", [0, -3])
def test_bad_batch_size_is_rejected(bad) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        build_data(RingData(), seed=0).next_batch(bad)
