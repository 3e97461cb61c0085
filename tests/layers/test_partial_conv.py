import pytest
import torch
import torch.nn.functional as F

from inpaint_core.layers import PartialConv2d, partial_conv2d, to_valid

TOL = 1e-6


@pytest.mark.parametrize("batch", [1, 2])
def test_fully_valid_equals_plain_conv(batch):
    torch.manual_seed(0)
    x, w, b = torch.randn(batch, 3, 6, 6), torch.randn(4, 3, 3, 3), torch.randn(4)
    out, valid = partial_conv2d(x, torch.ones(batch, 1, 6, 6), w, b, padding=0)
    assert torch.allclose(out, F.conv2d(x, w, b), atol=TOL, rtol=0)
    assert torch.equal(valid, torch.ones(batch, 1, 4, 4))


def test_fully_invalid_window_is_zero():
    x, w, b = torch.randn(1, 2, 3, 3), torch.randn(5, 2, 3, 3), torch.randn(5) + 3
    out, valid = partial_conv2d(x, torch.zeros(1, 1, 3, 3), w, b)
    assert torch.equal(out, torch.zeros(1, 5, 1, 1)) and torch.equal(valid, torch.zeros(1, 1, 1, 1))


def test_half_valid_window_rescaled():
    x, w, b = torch.randn(1, 2, 2, 2), torch.randn(3, 2, 2, 2), torch.randn(3)
    valid = torch.tensor([[1.0, 1.0], [0.0, 0.0]]).view(1, 1, 2, 2)
    out, new_valid = partial_conv2d(x, valid, w, b)
    expected = (w * x[0] * valid[0]).sum(dim=(1, 2, 3)) * (4 / 2) + b
    assert torch.allclose(out.flatten(), expected, atol=1e-5)
    assert torch.equal(new_valid, torch.ones(1, 1, 1, 1))


def test_mask_update_hand_checked():
    # 4×4 image, known only at (0, 0); 3×3 kernel, 'same' padding: windows touching (0, 0) become valid
    valid = torch.zeros(1, 1, 4, 4)
    valid[0, 0, 0, 0] = 1
    _, new_valid = PartialConv2d(1, 1, 3)(torch.randn(1, 1, 4, 4), valid)
    expected = torch.zeros(4, 4)
    expected[:2, :2] = 1
    assert torch.equal(new_valid[0, 0], expected)


def test_multi_channel():
    x, valid = torch.randn(2, 3, 5, 5), torch.ones(2, 3, 5, 5)
    valid[:, 0] = 0  # channel 0 unknown everywhere: the rest is rescaled by 27 / 18
    layer = PartialConv2d(3, 4, 3, padding=0, multi_channel=True)
    out, new_valid = layer(x, valid)
    plain = F.conv2d(x * valid, layer.weight) * 1.5 + layer.bias.view(1, -1, 1, 1)
    assert torch.allclose(out, plain, atol=1e-5)
    assert new_valid.shape == (2, 4, 3, 3) and torch.equal(new_valid, torch.ones_like(new_valid))


def test_module_equals_function_and_grad():
    layer = PartialConv2d(3, 4, 3, stride=2)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    hole = torch.zeros(2, 1, 8, 8)
    hole[..., 2:6, 2:6] = 1
    out, valid = layer(x, to_valid(hole))
    ref, ref_valid = partial_conv2d(x, to_valid(hole), layer.weight, layer.bias, 2, 1, 1)
    assert torch.equal(out, ref) and torch.equal(valid, ref_valid) and out.shape == (2, 4, 4, 4)
    out.square().sum().backward()
    assert x.grad.abs().sum() > 0 and layer.weight.grad.abs().sum() > 0 and layer.bias.grad is not None
    assert torch.all(x.grad[..., 2:6, 2:6] == 0)  # hole pixels do not influence the output


def test_bad_input():
    layer = PartialConv2d(3, 4, 3)
    with pytest.raises(ValueError):
        layer(torch.randn(1, 3, 8, 8), torch.ones(1, 1, 4, 4))
    with pytest.raises(ValueError):
        layer(torch.randn(1, 3, 8, 8), torch.ones(1, 3, 8, 8))  # multi_channel=False
    with pytest.raises(ValueError):
        layer(torch.randn(1, 2, 8, 8), torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError):
        partial_conv2d(torch.randn(1, 3, 8, 8), torch.ones(2, 1, 8, 8), torch.randn(4, 3, 3, 3))


def test_gradcheck_double():
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    valid = (torch.rand(1, 1, 5, 5) > 0.5).double()
    assert torch.autograd.gradcheck(lambda x, w, b: partial_conv2d(x, valid, w, b, padding=1)[0], (x, w, b))
