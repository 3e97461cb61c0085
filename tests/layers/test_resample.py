import pytest
import torch
import torch.nn.functional as F
from torch import nn

from inpaint_core.layers import UpConv, up_conv


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_shape(batch, mode):
    assert UpConv(3, 5, scale=2, mode=mode)(torch.randn(batch, 3, 5, 7)).shape == (batch, 5, 10, 14)
    assert UpConv(3, 5, scale=4, mode=mode)(torch.randn(batch, 3, 5, 7)).shape == (batch, 5, 20, 28)


def test_hand_value_nearest_identity_kernel():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    out = up_conv(x, torch.ones(1, 1, 1, 1), padding=0)
    assert torch.equal(out[0, 0], torch.tensor([[1.0, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]))


def test_no_checkerboard_on_constant_input():
    # a transposed 3×3 stride-2 conv with a constant kernel gives an uneven (checkerboard) map;
    # resize-convolution gives a constant interior
    x = torch.ones(1, 1, 6, 6)
    interior = up_conv(x, torch.ones(1, 1, 3, 3))[..., 1:-1, 1:-1]
    assert torch.allclose(interior, torch.full_like(interior, 9.0))
    deconv = F.conv_transpose2d(x, torch.ones(1, 1, 3, 3), stride=2)[..., 2:-2, 2:-2]
    assert deconv.std() > 0.5


def test_module_equals_function_and_grad():
    layer = UpConv(3, 4, mode="bilinear", activation=nn.ReLU)
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    out = layer(x)
    assert torch.equal(out, F.relu(up_conv(x, layer.conv.weight, layer.conv.bias, 2, "bilinear")))
    out.sum().backward()
    assert x.grad.abs().sum() > 0 and layer.conv.weight.grad is not None


def test_bad_input():
    with pytest.raises(ValueError):
        UpConv(3, 4)(torch.randn(1, 2, 4, 4))
    with pytest.raises(ValueError):
        UpConv(3, 4, mode="bicubic")
    with pytest.raises(ValueError):
        up_conv(torch.randn(1, 3, 4, 4), torch.randn(4, 3, 3, 3), scale=0)
