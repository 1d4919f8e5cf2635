"""Per-layer largest singular values by warm-started power iteration."""

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_core.metrics.spectral import SpectralMonitor


def exact_sigma(module: nn.Module) -> float:
    w = module.weight.detach()
    if isinstance(module, nn.ConvTranspose2d):
        w = w.transpose(0, 1)
    return float(torch.linalg.matrix_norm(w.flatten(1), ord=2))


def test_matches_exact_singular_values_and_follows_updates():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 4), nn.ConvTranspose2d(16, 8, 4), nn.Linear(10, 4))
    monitor = SpectralMonitor(net)
    for name, sigma in monitor.measure().items():
        assert float(sigma) == pytest.approx(exact_sigma(net.get_submodule(name)), rel=1e-2)
    with torch.no_grad():
        net[2].weight.mul_(3.0)
    assert float(monitor.measure()["2"]) == pytest.approx(exact_sigma(net[2]), rel=1e-2)


def test_spectral_norm_brings_sigma_to_one_and_measuring_changes_nothing():
    torch.manual_seed(0)
    layer = spectral_norm(nn.Linear(64, 64))
    with torch.no_grad():
        layer.parametrizations.weight.original.mul_(10)
    net = nn.Sequential(layer)
    for _ in range(20):  # SN's own power iteration runs in train-mode forward passes
        net(torch.randn(4, 64))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    sigma = float(SpectralMonitor(net).measure()["0"])
    assert sigma == pytest.approx(1.0, abs=0.05)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # SN's u/v untouched
    assert exact_sigma(nn.Linear(64, 64)) != pytest.approx(1.0, abs=0.05)
