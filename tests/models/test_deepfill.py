"""DeepFill v1 and v2: what makes them those methods (two stages, contextual attention copying from the
known region, gated convolutions), their sizes, and the v1 recipe's spatially discounted loss."""

import pytest
import torch
import torch.nn.functional as F

from inpaint_core.layers import GatedConv2d
from inpaint_core.models import get_model_spec
from inpaint_core.training.recipe import get_recipe

NAMES = ["deepfill_v1", "deepfill_v2"]


def build(name, width=4, seed=0):
    torch.manual_seed(seed)
    return get_model_spec(name).build({"width": width})


def holed(b, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(b, 1, h, w)
    mask[..., h // 4: h * 3 // 4, w // 4: w * 3 // 4] = 1
    return (torch.rand(b, 3, h, w, generator=g) * 2 - 1) * (1 - mask), mask


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [(128, 128), (256, 256), (72, 136)])
def test_two_stages_and_attention_copy_from_known_region(name, size):
    h, w = size
    image, mask = holed(2, h, w)
    with torch.inference_mode():
        out = build(name).eval().forward_train(image, mask)
    assert out["coarse"].shape == out["output"].shape == (2, 3, h, w)
    assert out["flow"].shape == (2, 2, h // 8, w // 8)
    # every hole location's best patch (at 1/4 resolution) lies outside the hole
    quarter = F.max_pool2d(mask, 4)[:, 0]
    ys, xs = torch.meshgrid(torch.arange(h // 8), torch.arange(w // 8), indexing="ij")
    ty, tx = ys * 2 + out["flow"][:, 0].long(), xs * 2 + out["flow"][:, 1].long()
    in_hole = F.max_pool2d(mask, 8)[:, 0] > 0
    for i in range(2):
        assert (quarter[i, ty[i], tx[i]][in_hole[i]] == 0).all()


@pytest.mark.parametrize("name", NAMES)
def test_sides_must_be_multiples_of_8(name):
    image, mask = holed(1, 60, 64)
    with pytest.raises(ValueError, match="multiples of 8"):
        build(name)(image, mask)


def test_v2_is_gated_throughout_and_v1_is_not():
    v2, v1 = build("deepfill_v2"), build("deepfill_v1")
    convs = [m for m in v2.modules() if isinstance(m, torch.nn.Conv2d)]
    gated = [m for m in v2.modules() if isinstance(m, GatedConv2d)]
    assert len(convs) == len(gated) + 2  # only the two RGB output layers are plain
    assert not any(isinstance(m, GatedConv2d) for m in v1.modules())


@pytest.mark.parametrize("name, low, high", [("deepfill_v1", 1.5e6, 3e6), ("deepfill_v2", 3.5e6, 4.5e6)])
def test_default_width_is_cpu_sized(name, low, high):
    spec = get_model_spec(name)
    n = sum(p.numel() for p in spec.build(spec.default_config).parameters())
    assert low < n < high


def test_spatial_discount_decays_toward_hole_centre():
    from inpaint_core.training.recipes.deepfill_v1 import spatial_discount

    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    w = spatial_discount(mask, 0.9)[0, 0]
    assert (w[mask[0, 0] == 0] == 0).all()
    assert w[8, 16] == pytest.approx(0.9) and w[15, 16] == pytest.approx(0.9 ** 8)
    assert w[8, 16] > w[12, 16] > w[15, 16]


@pytest.mark.parametrize("name", NAMES)
def test_recipe_steps_give_finite_losses_and_critic_gradients(name):
    torch.manual_seed(0)
    generator = build(name)
    recipe = get_recipe(name)(generator, {"d_width": 4}, resolution=64)
    image, mask = holed(2, 64, 64)
    batch = {"image": image + mask * 0.3, "mask": mask}
    loss, logs, out = recipe.generator_step(batch)
    assert {"coarse", "output"} <= set(out) and torch.isfinite(loss)
    loss.backward()
    d_loss, d_logs = recipe.discriminator_step(batch, out)
    assert torch.isfinite(d_loss) and all(v == v for v in d_logs.values())
    d_loss.backward()
    for d in recipe.discriminators.values():
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in d.parameters())
