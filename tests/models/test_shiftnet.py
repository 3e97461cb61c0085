"""Shift-Net specifics: the shift level's features (for the guidance loss) and the configurable level."""

import pytest
import torch

from inpaint_core.layers import guidance_loss
from inpaint_core.models.shiftnet import ShiftNetGenerator


def _batch(side=64):
    torch.manual_seed(0)
    mask = torch.zeros(2, 1, side, side)
    mask[..., side // 4: side // 2, side // 4: side * 3 // 4] = 1
    return torch.rand(2, 3, side, side) * 2 - 1, mask


@pytest.mark.parametrize("level", [1, 2, 3])
def test_guidance_features_live_at_the_shift_level(level):
    g = ShiftNetGenerator(width=4, depth=4, shift_level=level).train()
    image, mask = _batch()
    out = g.forward_train(image * (1 - mask), mask)
    target = g.guidance_target(image, mask)
    side = 64 // 2 ** level
    assert out["decoder_feat"].shape == target.shape == (2, 4 * 2 ** (level - 1), side, side)
    assert not target.requires_grad
    loss = guidance_loss(out["decoder_feat"], target, out["mask"])
    loss.backward()
    assert loss > 0 and g.up[-1][0].weight.grad.abs().sum() > 0


def test_odd_sizes_are_padded_inside():
    g = ShiftNetGenerator(width=4, depth=3, shift_level=2).eval()
    mask = torch.zeros(1, 1, 21, 30)
    mask[..., 5:12, 8:20] = 1
    assert g(torch.zeros(1, 3, 21, 30), mask).shape == (1, 3, 21, 30)


def test_shift_level_must_be_inside_the_unet():
    with pytest.raises(ValueError, match="shift_level"):
        ShiftNetGenerator(depth=3, shift_level=3)
