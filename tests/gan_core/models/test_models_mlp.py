"""MLP G and D for 2D toy data."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_core.config import MLPModel
from gan_core.models import build_models


def build(**fields):
    torch.manual_seed(0)
    return build_models(MLPModel(**fields), shape=(2,), num_classes=None)


def test_shapes_and_linear_output():
    G, D = build(z_dim=3)
    assert G.z_dim == 3
    x = G(torch.randn(16, 3))
    assert x.shape == (16, 2)
    assert D(x).shape == (16,)
    assert D(torch.randn(1, 2)).shape == (1,)  # a batch of one keeps its batch dimension
    # Points far outside [-1, 1] are reachable: the output layer has no squashing.
    assert isinstance(G.main[-1], nn.Linear)


@pytest.mark.parametrize("depth,width", [(1, 8), (4, 32)])
def test_depth_and_width(depth, width):
    G, D = build(depth=depth, width=width)
    for net in (G, D):
        linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
        assert len(linears) == depth + 1
        assert all(m.out_features == width for m in linears[:-1])
    assert [n for n, m in D.named_modules() if isinstance(m, nn.Linear)] == [
        *(f"main.fc{i}" for i in range(1, depth + 1)),
        "main.out",
    ]


@pytest.mark.parametrize(
    "activation,kind", [("relu", nn.ReLU), ("tanh", nn.Tanh), ("elu", nn.ELU), ("silu", nn.SiLU)]
)
def test_activation_choice(activation, kind):
    G, D = build(activation=activation, depth=2)
    for net in (G, D):
        acts = [m for m in net.main if not isinstance(m, nn.Linear)]
        assert len(acts) == 2 and all(type(m) is kind for m in acts)


def test_leaky_relu_slope_is_0_2():
    _, D = build(activation="leaky_relu")
    slopes = {m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}


def test_spectral_norm_flags():
    G, D = build(spectral_norm_d=True)
    assert all(torch.nn.utils.parametrize.is_parametrized(m, "weight")
               for m in D.modules() if isinstance(m, nn.Linear))
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in G.modules())
    G, _ = build(spectral_norm_g=True)
    assert all(torch.nn.utils.parametrize.is_parametrized(m, "weight")
               for m in G.modules() if isinstance(m, nn.Linear))


def test_gradients_reach_every_parameter():
    G, D = build(spectral_norm_d=True)
    D(G(torch.randn(32, G.z_dim))).mean().backward()
    for name, p in [*G.named_parameters(), *D.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_labels_are_rejected():
    G, D = build()
    with pytest.raises(ValueError, match="unconditional"):
        G(torch.randn(4, G.z_dim), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="unconditional"):
        D(torch.randn(4, 2), torch.zeros(4, dtype=torch.long))


def test_image_shape_is_rejected():
    with pytest.raises(ValueError, match="dcgan"):
        build_models(MLPModel(), shape=(1, 28, 28), num_classes=None)
