"""The ``prefill="telea"`` option: an untrained model reproduces Telea; training moves it from there."""

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from inpaint_core import create_inpainter
from inpaint_core.models import get_model_spec, save_checkpoint
from inpaint_core.models.prefill import classical_fill


def _case():
    img = skdata.astronaut()[100:228, 150:278].copy()
    mask = np.zeros(img.shape[:2], bool)
    mask[40:90, 30:100] = True
    return img, mask


def test_classical_fill_is_opencvs_telea():
    img, mask = _case()
    t = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1
    m = torch.from_numpy(mask)[None, None].float()
    got = ((classical_fill(t * (1 - m), m)[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    want = cv2.inpaint(np.where(mask[..., None], 0, img).astype(np.uint8), mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


@pytest.mark.parametrize("name", ["glcic", "shiftnet"])
def test_untrained_prefilled_model_returns_telea(name, tmp_path):
    torch.manual_seed(0)
    spec = get_model_spec(name)
    config = {**spec.default_config, "width": 8, "prefill": "telea"}
    path = str(tmp_path / f"{name}.safetensors")
    save_checkpoint(spec.build(config), name, config, path, {"resolution": 128})
    img, mask = _case()
    (out,) = create_inpainter(name, checkpoint=path, device="cpu")([img], [mask])
    (telea,) = create_inpainter("telea", radius=3)([img], [mask])
    assert np.array_equal(out[~mask], img[~mask])
    assert np.abs(out.astype(int) - telea.astype(int)).max() <= 2


@pytest.mark.parametrize("name", ["glcic", "shiftnet"])
def test_prefilled_model_learns_a_residual(name):
    torch.manual_seed(0)
    g = get_model_spec(name).build({"width": 8, "prefill": "telea"})
    img = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 8:24, 8:24] = 1
    opt = torch.optim.Adam(g.parameters(), 1e-2)
    before = None
    for _ in range(5):
        loss = ((g(img * (1 - mask), mask) - img) ** 2 * mask).mean()
        before = before if before is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < before
