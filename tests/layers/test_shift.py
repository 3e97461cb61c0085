import pytest
import torch

from inpaint_core.layers import ShiftLayer, guidance_loss, shift_features


def scene(batch: int = 2, ch: int = 6, size: int = 8):
    torch.manual_seed(0)
    encoder = torch.randn(batch, ch, size, size)
    decoder = torch.randn(batch, ch, size, size)
    mask = torch.zeros(batch, 1, 4 * size, 4 * size)  # image resolution, 4× the features
    mask[..., 8:24, 8:24] = 1  # feature cells 2..5 are hole
    return decoder, encoder, mask


@pytest.mark.parametrize("batch", [1, 2])
def test_hole_location_receives_matching_known_vector(batch):
    decoder, encoder, mask = scene(batch)
    decoder[:, :, 3, 4] = 2.5 * encoder[:, :, 0, 7]  # cosine: the scale does not matter
    shifted, idx = shift_features(decoder, encoder, mask, return_indices=True)
    assert torch.equal(shifted[:, :, 3, 4], encoder[:, :, 0, 7])
    assert torch.all(idx[:, 3, 4] == 7)
    hole = torch.zeros(8, 8, dtype=torch.bool)
    hole[2:6, 2:6] = True
    assert torch.all(shifted[:, :, ~hole] == 0)  # known locations get zeros
    assert torch.all(idx[:, ~hole] == -1)
    sources = idx[:, hole]
    assert torch.all(~hole.flatten()[sources])  # every source is a known location


def test_patch_size_3():
    decoder, encoder, mask = scene(1)
    decoder[:, :, 2:5, 2:5] = encoder[:, :, 0:3, 5:8]  # the 3×3 neighbourhood of known location (1, 6)
    shifted = shift_features(decoder, encoder, mask, patch_size=3)
    assert torch.equal(shifted[:, :, 3, 3], encoder[:, :, 1, 6])
    assert torch.all(shifted[..., 0:2, :] == 0)


def test_threshold():
    decoder, encoder, _ = scene(1)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 0:1, 0:4] = 1  # 1/4 of cell (0, 0) is hole: below 5/16, above 1/8
    assert shift_features(decoder, encoder, mask).abs().sum() == 0
    assert shift_features(decoder, encoder, mask, threshold=1 / 8)[..., 0, 0].abs().sum() > 0


def test_module_equals_function_grad_and_concat():
    decoder, encoder, mask = scene(2)
    encoder.requires_grad_(True)
    out = ShiftLayer()(decoder, encoder, mask)
    assert torch.equal(out, shift_features(decoder, encoder, mask))
    out.sum().backward()
    assert encoder.grad.abs().sum() > 0  # gradient reaches the copied encoder vectors
    assert ShiftLayer(concat=True)(decoder, encoder, mask).shape == (2, 18, 8, 8)


def test_guidance_loss_hand_value_and_grad():
    decoder, encoder, mask = scene(2, ch=3)
    target = decoder.detach().clone()
    target[:, :, 2, 2] += 1.0  # one hole location off by 1 in each of 3 channels
    target[:, :, 0, 0] += 100.0  # known locations do not count
    decoder.requires_grad_(True)
    loss = guidance_loss(decoder, target, mask)
    assert torch.allclose(loss, torch.tensor(2 * 3 / (2 * 16 * 3)))
    assert torch.allclose(guidance_loss(decoder, target, mask, reduction="sum"), torch.tensor(6.0))
    loss.backward()
    assert decoder.grad.abs().sum() > 0


def test_bad_input():
    decoder, encoder, mask = scene(2)
    with pytest.raises(ValueError):
        shift_features(decoder, encoder[:, :3], mask)
    with pytest.raises(ValueError):
        shift_features(decoder, encoder, mask[:1])
    with pytest.raises(ValueError):
        shift_features(decoder, encoder, mask, patch_size=2)
    with pytest.raises(ValueError):
        guidance_loss(decoder, encoder, mask, reduction="max")
