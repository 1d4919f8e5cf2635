"""DCGAN G and D: geometry, init, normalization, spectral norm and class conditioning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_core.config import DCGANModel
from gan_core.models import build_models

SMALL = {"z_dim": 16, "g_channels": 8, "d_channels": 8}
STAGES = {28: 2, 32: 3, 64: 4}


def build(shape=(1, 28, 28), num_classes=None, **fields):
    torch.manual_seed(0)
    return build_models(DCGANModel(**{**SMALL, **fields}), shape=shape, num_classes=num_classes)


def weight_layers(net):
    return [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes_and_range(size, channels):
    G, D = build(shape=(channels, size, size))
    x = G(torch.randn(5, G.z_dim) * 10)  # large z pushes the output against the tanh bounds
    assert x.shape == (5, channels, size, size)
    assert x.abs().max() <= 1
    out = D(x)
    assert out.shape == (5,) and out.dtype == torch.float32


@pytest.mark.parametrize("size", [28, 32, 64])
def test_stage_count_and_base_resolution(size):
    G, D = build(shape=(3, size, size))
    base = 7 if size == 28 else 4
    stages = STAGES[size]
    g_convs, d_convs = weight_layers(G), weight_layers(D)
    assert sum(m.stride == (2, 2) for m in g_convs) == stages
    assert sum(m.stride == (2, 2) for m in d_convs) == stages
    assert G.main.deconv1.kernel_size == (base, base)
    assert G.main.deconv1.out_channels == 8 * 2 ** (stages - 1)
    assert D.final_conv.kernel_size == (base, base)
    assert D.main(torch.zeros(2, 3, size, size)).shape == (2, 8 * 2 ** (stages - 1), base, base)


def test_init_statistics():
    G, D = build(shape=(3, 64, 64), d_norm="instance")
    for m in weight_layers(G) + weight_layers(D):
        assert abs(m.weight.std().item() - 0.02) < 0.003, m
        assert abs(m.weight.mean().item()) < 0.003, m
    norms = [m for m in [*G.modules(), *D.modules()]
             if isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d)]
    scales = torch.cat([m.weight.detach() for m in norms])
    assert abs(scales.mean().item() - 1) < 0.01
    assert 0.01 < scales.std().item() < 0.03  # drawn, not left at PyTorch's constant 1
    assert all((m.bias == 0).all() for m in norms)


def test_norm_layers_and_conv_bias():
    _, D = build(d_norm="layer")
    assert not hasattr(D.main, "norm1")  # no norm on D's first layer
    assert isinstance(D.main.norm2, nn.GroupNorm) and D.main.norm2.num_groups == 1
    assert D.main.conv1.bias is not None and D.main.conv2.bias is None
    _, D = build(d_norm="none")
    assert not any(isinstance(m, nn.GroupNorm | nn.BatchNorm2d) for m in D.modules())
    assert D.main.conv2.bias is not None
    G, _ = build(g_norm="none")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in G.modules())
    assert G.main.deconv1.bias is not None


@pytest.mark.parametrize("d_norm,per_sample", [
    ("layer", True), ("instance", True), ("none", True), ("batch", False),
])
def test_d_mixes_samples_only_with_batch_norm(d_norm, per_sample):
    _, D = build(shape=(3, 32, 32), d_norm=d_norm)
    D.train()
    x = torch.randn(6, 3, 32, 32)
    others = x.clone()
    others[1:] = torch.randn(5, 3, 32, 32) * 3 + 1
    same = torch.allclose(D(x)[0], D(others)[0], atol=1e-5)
    assert same == per_sample


def largest_singular_values(D):
    return [torch.linalg.matrix_norm(m.weight.reshape(m.weight.shape[0], -1), ord=2).item()
            for m in D.modules() if isinstance(m, nn.Conv2d | nn.Embedding)]


def test_spectral_norm_bounds_every_d_layer():
    _, D = build(shape=(3, 32, 32), num_classes=10, conditional=True, spectral_norm_d=True)
    D.train()
    for _ in range(10):
        D(torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,)))
    sigmas = largest_singular_values(D)
    assert len(sigmas) == 3 + 1 + 1  # convs, final conv, projection embedding
    assert all(abs(s - 1) < 0.05 for s in sigmas), sigmas

    _, D = build(shape=(3, 32, 32), num_classes=10, conditional=True)
    assert any(abs(s - 1) > 0.5 for s in largest_singular_values(D))


def test_spectral_norm_g_wraps_convs_only():
    G, _ = build(num_classes=10, conditional=True, spectral_norm_g=True)
    parametrized = torch.nn.utils.parametrize.is_parametrized
    assert all(parametrized(m, "weight") for m in weight_layers(G))
    assert not parametrized(G.embed)  # the label table stays on the scale of z


def test_conditional_outputs_depend_on_labels():
    G, D = build(shape=(1, 28, 28), num_classes=10, conditional=True)
    G.eval()  # so a sample does not depend on the labels of the rest of the batch
    z = torch.randn(4, G.z_dim)
    y0, y1 = torch.zeros(4, dtype=torch.long), torch.full((4,), 7)
    assert G(z, y0).shape == (4, 1, 28, 28)
    assert (G(z, y0) - G(z, y1)).abs().amin(dim=(1, 2, 3)).gt(0).all()
    x = torch.randn(4, 1, 28, 28)
    assert not torch.isclose(D(x, y0), D(x, y1)).any()


def test_label_mismatch_errors():
    G, D = build(num_classes=10, conditional=True)
    z, x = torch.randn(4, G.z_dim), torch.randn(4, 1, 28, 28)
    with pytest.raises(ValueError, match="class-conditional"):
        G(z)
    with pytest.raises(ValueError, match="class-conditional"):
        D(x)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        D(x, torch.zeros(3, dtype=torch.long))
    G, D = build()
    with pytest.raises(ValueError, match="unconditional"):
        G(z, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="unconditional"):
        D(x, torch.zeros(4, dtype=torch.long))


def test_build_errors():
    with pytest.raises(ValueError, match="num_classes"):
        build(conditional=True)
    with pytest.raises(ValueError, match="image_size"):
        build(shape=(3, 48, 48))
    with pytest.raises(ValueError, match="image_size"):
        build(shape=(2,))


@pytest.mark.parametrize("fields", [
    {},
    {"d_norm": "layer", "spectral_norm_d": True, "spectral_norm_g": True},
    {"d_norm": "instance", "g_norm": "none", "conditional": True},
])
def test_gradients_reach_every_parameter(fields):
    G, D = build(num_classes=10, **fields)
    y = torch.randint(0, 10, (8,)) if fields.get("conditional") else None
    D(G(torch.randn(8, G.z_dim), y), y).mean().backward()
    for name, p in [*G.named_parameters(), *D.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name
