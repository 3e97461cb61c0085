import pytest
import torch

from inpaint_core.layers import composite, downsample_mask, to_valid


@pytest.mark.parametrize("batch", [1, 2])
def test_downsample_max_and_avg_hand_values(batch):
    m = torch.zeros(batch, 1, 4, 4)
    m[:, :, 0, 0] = 1  # one hole pixel in the top-left 2×2 cell
    assert torch.equal(downsample_mask(m, 2, "max")[:, 0], torch.tensor([[1.0, 0], [0, 0]]).expand(batch, 2, 2))
    assert torch.allclose(downsample_mask(m, 2, "avg")[:, 0, 0, 0], torch.full((batch,), 0.25))
    assert downsample_mask(m, (1, 2)).shape == (batch, 1, 1, 2)


def test_downsample_bad_input():
    with pytest.raises(ValueError):
        downsample_mask(torch.zeros(1, 2, 4, 4), 2)
    with pytest.raises(ValueError):
        downsample_mask(torch.zeros(1, 1, 4, 4), 2, mode="median")
    with pytest.raises(ValueError):
        downsample_mask(torch.zeros(1, 1, 4, 4), 0)


def test_to_valid_and_composite():
    image, pred = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4, requires_grad=True)
    m = torch.zeros(2, 1, 4, 4)
    m[..., 1:3, 1:3] = 1
    assert torch.equal(to_valid(m), 1 - m)
    out = composite(pred, image, m)
    assert torch.equal(out, m.expand(-1, 3, -1, -1))
    out.sum().backward()
    assert torch.equal(pred.grad, m.expand(-1, 3, -1, -1))  # no gradient outside the hole
    with pytest.raises(ValueError):
        composite(pred, image, m[0])
    with pytest.raises(ValueError):
        composite(pred, image[:, :2], m)
