import pytest
import torch
from torch import nn

from inpaint_core.layers import DilatedResBlock, GatedConv2d, dilated_stack


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("norm", ["instance", "none"])
def test_res_block_shape_and_grad(batch, norm):
    block = DilatedResBlock(4, dilation=4, norm=norm)
    x = torch.randn(batch, 4, 12, 12, requires_grad=True)
    out = block(x)
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad.abs().sum() > 0 and block.body[1].weight.grad.abs().sum() > 0


def test_res_block_is_identity_plus_body():
    block = DilatedResBlock(3, dilation=2, norm="none")
    for p in block.parameters():
        nn.init.zeros_(p)
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(block(x), x)  # a zero body leaves the identity path


def test_res_block_spectral_norm_and_receptive_field():
    block = DilatedResBlock(1, dilation=3, norm="none", activation=None, spectral_norm=True)
    assert nn.utils.parametrize.is_parametrized(block.body[1], "weight")
    block.eval()
    x = torch.randn(1, 1, 15, 15, requires_grad=True)
    block(x)[0, 0, 7, 7].backward()
    touched = (x.grad[0, 0].abs() > 0).nonzero()
    assert touched[:, 0].min() == 7 - 4 and touched[:, 0].max() == 7 + 4  # 3 (dilated) + 1 (plain)


@pytest.mark.parametrize("block", ["conv", "gated", "residual"])
def test_stack(block):
    stack = dilated_stack(4, (2, 4, 8, 16), block=block)
    x = torch.randn(2, 4, 20, 20, requires_grad=True)
    out = stack(x)
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad.abs().sum() > 0
    if block == "gated":
        assert [m.dilation for m in stack if isinstance(m, GatedConv2d)] == [2, 4, 8, 16]
    if block == "conv":
        assert [m.dilation[0] for m in stack if isinstance(m, nn.Conv2d)] == [2, 4, 8, 16]


def test_bad_input():
    with pytest.raises(ValueError):
        DilatedResBlock(4)(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError):
        DilatedResBlock(4, norm="group")
    with pytest.raises(ValueError):
        dilated_stack(4, block="attention")
    with pytest.raises(ValueError):
        dilated_stack(4, ())
