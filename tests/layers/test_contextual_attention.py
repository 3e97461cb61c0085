import pytest
import torch

from inpaint_core.layers import ContextualAttention, contextual_attention


def tiled_scene(batch: int, size: int = 24, period: int = 4, seed: int = 0):
    """A periodic texture (foreground) and the same texture with garbage in the hole (background)."""
    g = torch.Generator().manual_seed(seed)
    tile = torch.rand(batch, 3, period, period, generator=g) * 2 - 1
    image = tile.repeat(1, 1, size // period, size // period)
    mask = torch.zeros(batch, 1, size, size)
    mask[..., 8:16, 8:16] = 1
    background = image.clone()
    background[..., 8:16, 8:16] = torch.randn(batch, 3, 8, 8, generator=g) * 3
    return image, background, mask


@pytest.mark.parametrize("rate", [1, 2])
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("fuse", [True, False])
def test_hole_copies_the_identical_known_patch(rate, batch, fuse):
    image, background, mask = tiled_scene(batch)
    out = contextual_attention(image, background, mask, rate=rate, softmax_scale=100.0, fuse=fuse)
    assert out.shape == image.shape
    hole = mask.expand_as(image) > 0
    assert (out - image)[hole].abs().max() < 0.05  # the garbage in the background hole was never used


def test_flow_points_to_known_region():
    image, background, mask = tiled_scene(2)
    _, flow = contextual_attention(image, background, mask, rate=2, softmax_scale=100.0, return_flow=True)
    assert flow.shape == (2, 2, 12, 12)
    ys, xs = torch.meshgrid(torch.arange(12) * 2, torch.arange(12) * 2, indexing="ij")
    src_y, src_x = ys + flow[:, 0], xs + flow[:, 1]
    assert torch.all((flow % 4) == 0)  # same phase of the period-4 texture
    inside = (src_y >= 6) & (src_y < 18) & (src_x >= 6) & (src_x < 18)  # patches touching the hole
    assert not inside.any()


def test_each_sample_uses_its_own_mask():
    image, _, _ = tiled_scene(2, seed=1)
    background = image.clone()
    mask = torch.zeros(2, 1, 24, 24)
    mask[0, :, 8:16, 8:16] = 1
    background[0, :, 8:16, 8:16] = 5.0  # garbage only in sample 0, whose mask covers it
    out = contextual_attention(image, background, mask, rate=2, softmax_scale=100.0)
    assert (out[0] - image[0])[:, 8:16, 8:16].abs().max() < 0.05


def test_module_equals_function_and_grad():
    torch.manual_seed(0)
    f = torch.randn(2, 4, 8, 12, requires_grad=True)
    b = torch.randn(2, 4, 8, 12, requires_grad=True)
    mask = torch.zeros(2, 1, 16, 24)  # image-resolution mask, max-pooled to the features
    mask[..., 4:10, 6:14] = 1
    layer = ContextualAttention(rate=2, softmax_scale=10.0)
    out = layer(f, b, mask)
    assert torch.allclose(out, contextual_attention(f, b, mask, rate=2, softmax_scale=10.0))
    out.square().sum().backward()
    assert f.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    assert torch.isfinite(f.grad).all() and torch.isfinite(b.grad).all()


def test_background_stride_2():
    image, background, mask = tiled_scene(1)
    out, flow = contextual_attention(image, background, mask, stride=2, rate=2, softmax_scale=100.0,
                                     fuse=False, return_flow=True)
    assert out.shape == image.shape and flow.shape == (1, 2, 12, 12) and torch.isfinite(out).all()
    grid = torch.arange(12) * 2
    assert torch.all((grid.view(12, 1) + flow[:, 0]) % 4 == 0)  # sources lie on the stride-2 (low-res) grid
    assert torch.all((grid.view(1, 12) + flow[:, 1]) % 4 == 0)


def test_no_mask_and_all_hole_stay_finite():
    x = torch.randn(1, 2, 8, 8)
    assert contextual_attention(x, x, None, rate=1).shape == x.shape
    assert torch.isfinite(contextual_attention(x, x, torch.ones(1, 1, 8, 8), rate=2)).all()


def test_bad_input():
    x = torch.randn(1, 2, 10, 10)
    with pytest.raises(ValueError):
        contextual_attention(x, x, rate=4)  # not divisible
    with pytest.raises(ValueError):
        contextual_attention(x, torch.randn(1, 2, 10, 8))
    with pytest.raises(ValueError):
        contextual_attention(x, x, torch.zeros(2, 1, 10, 10))
    with pytest.raises(ValueError):
        contextual_attention(x, x, ksize=2)
    with pytest.raises(ValueError):
        contextual_attention(x[0], x[0])


def test_gradcheck_double():
    torch.manual_seed(0)
    f = torch.randn(2, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.zeros(2, 1, 4, 4, dtype=torch.float64)
    mask[0, :, :2, :2] = 1
    assert torch.autograd.gradcheck(lambda f, b: contextual_attention(f, b, mask, rate=2, softmax_scale=2.0),
                                    (f, b))
