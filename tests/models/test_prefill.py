"""The ``prefill="telea"`` option: an untrained model reproduces Telea; training moves it from there."""

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from inpaint_core import create_inpainter
from inpaint_core.models import get_model_spec, save_checkpoint
from inpaint_core.edges import canny_edges
from inpaint_core.models.prefill import Prefilled, classical_fill
from inpaint_core.training.recipe import get_recipe, list_recipes


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


MODELS = list_recipes()  # every learned model


def _config(name, **extra):
    spec = get_model_spec(name)
    config = {**spec.default_config, "prefill": "telea", **extra}
    config.update({k: v for k, v in {"width": 8, "max_channels": 16}.items() if k in spec.default_config})
    if name == "msnps":
        config["texture_iters"] = 0
    return config


@pytest.mark.parametrize("name", MODELS)
def test_untrained_prefilled_model_returns_telea(name, tmp_path):
    torch.manual_seed(0)
    spec = get_model_spec(name)
    config = _config(name)
    path = str(tmp_path / f"{name}.safetensors")
    save_checkpoint(spec.build(config), name, config, path, {"resolution": 128})
    img, mask = _case()
    inp = create_inpainter(name, checkpoint=path, device="cpu")
    edges = [canny_edges(img, mask)] if inp.needs_edges else None
    (out,) = inp([img], [mask], edges=edges)
    (telea,) = create_inpainter("telea", radius=3)([img], [mask])
    assert np.array_equal(out[~mask], img[~mask])
    # the fixed-size Context Encoder works at its own 128 px like the rest; resizing costs a little
    assert np.abs(out.astype(int) - telea.astype(int)).max() <= 2


@pytest.mark.parametrize("name", MODELS)
def test_prefilled_model_trains_through_its_recipe(name):
    """One recipe step moves the residual head away from zero; the network's own outputs (coarse
    stage, edges...) are still there for the method's losses."""
    torch.manual_seed(0)
    spec = get_model_spec(name)
    g = spec.build(_config(name, **({"resolution": 64} if spec.fixed_size else {})))
    recipe_cls = get_recipe(name)
    options = {"d_width": 8} if "d_width" in recipe_cls.default_options else {}
    recipe = recipe_cls(g, options, resolution=64)
    image = torch.rand(2, 3, 64, 64) * 2 - 1
    mask = torch.zeros(2, 1, 64, 64)
    mask[:, :, 16:48, 16:40] = 1
    batch = {"image": image, "mask": mask}
    if spec.needs_edges:
        batch["edges"] = (torch.rand(2, 1, 64, 64) > 0.8).float()
    opt = torch.optim.Adam(g.parameters(), 1e-3)
    loss, logs, out = recipe.generator_step(batch)
    assert torch.isfinite(loss)
    opt.zero_grad()
    loss.backward()
    opt.step()
    head = g.head.net[-1] if isinstance(g, Prefilled) else g.up[0][0]
    assert head.weight.abs().sum() > 0
    if isinstance(g, Prefilled):
        assert "network_output" in recipe.forward_generator(batch)


def test_prefill_option_is_checked_when_the_model_is_built():
    with pytest.raises(ValueError, match="prefill must be one of"):
        get_model_spec("pconv").build({**get_model_spec("pconv").default_config, "prefill": "lama"})


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


@pytest.mark.parametrize("name", ["glcic", "edgeconnect", "context_encoder"])
def test_a_fill_given_by_the_loader_is_the_one_the_model_uses(name):
    """The recipe hands the loader's fill (batch["fill"]) to the model: the output is the same as when
    the model computes that fill itself, and a different fill changes it."""
    spec = get_model_spec(name)
    g = spec.build(_config(name, **({"resolution": 64} if spec.fixed_size else {}))).eval()
    torch.nn.init.normal_(g.head.net[-1].weight, std=0.01)  # a trained head: the output depends on its inputs
    recipe_cls = get_recipe(name)
    options = {"d_width": 8} if "d_width" in recipe_cls.default_options else {}
    recipe = recipe_cls(g, options, resolution=64)
    img, hole = _case()
    image = torch.from_numpy(img[:64, :64]).permute(2, 0, 1)[None].float() / 127.5 - 1
    mask = torch.from_numpy(hole[:64, :64])[None, None].float()
    batch = {"image": image, "mask": mask}
    if spec.needs_edges:
        batch["edges"] = torch.from_numpy(canny_edges(img[:64, :64])[None, None].astype(np.float32))
    with torch.no_grad():
        own = recipe.forward_generator(batch)["output"]
        given = recipe.forward_generator({**batch, "fill": classical_fill(image * (1 - mask), mask)})["output"]
        other = recipe.forward_generator({**batch, "fill": torch.zeros_like(image)})["output"]
    assert torch.allclose(own, given, atol=1e-6)
    assert not torch.allclose(own, other, atol=1e-3)


def test_a_fill_of_the_wrong_shape_is_refused():
    g = get_model_spec("glcic").build(_config("glcic"))
    image, mask = torch.zeros(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)
    with pytest.raises(ValueError, match="fill must have the image's shape"):
        g(image, mask, fill=torch.zeros(1, 3, 16, 16))
