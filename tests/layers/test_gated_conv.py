import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from inpaint_core.layers import GatedConv2d, GatedDeconv2d, gated_conv2d


@pytest.mark.parametrize("batch", [1, 2])
def test_shapes(batch):
    x = torch.randn(batch, 3, 16, 16)
    assert GatedConv2d(3, 5, 3)(x).shape == (batch, 5, 16, 16)
    assert GatedConv2d(3, 5, 5, stride=2)(x).shape == (batch, 5, 8, 8)
    assert GatedConv2d(3, 5, 3, dilation=4)(x).shape == (batch, 5, 16, 16)
    assert GatedConv2d(3, 5, 3, padding=0)(x).shape == (batch, 5, 14, 14)
    assert GatedDeconv2d(3, 5)(x).shape == (batch, 5, 32, 32)


def test_closed_gate_gives_zero():
    layer = GatedConv2d(3, 4, 3)
    with torch.no_grad():
        layer.gate_bias.fill_(-1e4)
    assert layer(torch.randn(2, 3, 8, 8)).abs().max() < 1e-6


def test_hand_value_1x1():
    # features 2 (ELU of positive = identity), gate 0 -> sigmoid 0.5: out = 1
    weight = torch.tensor([2.0, 0.0]).view(2, 1, 1, 1)
    out = gated_conv2d(torch.ones(1, 1, 2, 2), weight)
    assert torch.allclose(out, torch.ones(1, 1, 2, 2))
    out = gated_conv2d(-torch.ones(1, 1, 1, 1), weight, activation=None)
    assert torch.allclose(out, torch.tensor(-1.0))


def test_module_equals_function_and_grad():
    layer = GatedConv2d(3, 4, 3, dilation=2, activation=nn.LeakyReLU)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    out = layer(x)
    ref = gated_conv2d(x, layer.conv.weight, layer.conv.bias, 1, 2, 2, nn.functional.leaky_relu)
    assert torch.allclose(out, ref)
    out.square().sum().backward()
    assert x.grad.abs().sum() > 0 and layer.conv.weight.grad.abs().sum() > 0


def test_spectral_norm_option():
    layer = GatedConv2d(3, 4, 3, spectral_norm=True)
    assert parametrize.is_parametrized(layer.conv, "weight")
    assert layer(torch.randn(1, 3, 8, 8)).shape == (1, 4, 8, 8)


def test_bad_input():
    with pytest.raises(ValueError):
        GatedConv2d(3, 4, 3)(torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError):
        GatedConv2d(3, 4, 3)(torch.randn(3, 8, 8))
    with pytest.raises(ValueError):
        GatedConv2d(3, 4, 4)  # 'same' needs an odd kernel
    with pytest.raises(ValueError):
        gated_conv2d(torch.randn(1, 3, 4, 4), torch.randn(3, 3, 1, 1))  # odd output count
