"""PConv: what partial convolutions promise, and the recipe's loss terms."""

import torch

from inpaint_core.models.pconv import PConvUNet
from inpaint_core.models.pconv_train import RandomFeatureNet
from inpaint_core.training.recipe import get_recipe


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 10:40, 20:50] = 1
    return image, mask


def test_hole_pixel_values_are_never_seen():
    torch.manual_seed(0)
    model = PConvUNet(width=4, depth=5).eval()
    image, mask = _inputs()
    noisy = image + torch.randn_like(image) * 5 * mask
    with torch.no_grad():
        assert torch.equal(model(image, mask), model(noisy, mask))


def test_paper_layout_at_512_and_width_scaling():
    model = PConvUNet(width=64, depth=8)
    kernels = [b.conv.weight.shape[-1] for b in model.enc]
    assert kernels == [7, 5, 5, 3, 3, 3, 3, 3]
    assert [b.conv.weight.shape[0] for b in model.enc] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert isinstance(model.enc[0].bn, torch.nn.Identity) and isinstance(model.dec[-1].bn, torch.nn.Identity)
    n = sum(p.numel() for p in model.parameters())
    assert 30e6 < n < 36e6  # the paper's network is ~33 M parameters
    assert sum(p.numel() for p in PConvUNet().parameters()) < n / 10


def test_recipe_has_no_discriminator_and_fixed_features():
    model = PConvUNet(width=4, depth=4)
    recipe = get_recipe("pconv")(model, resolution=32)
    assert recipe.discriminators == {} and recipe.discriminator_step({}, {}) is None
    image, mask = _inputs()
    batch = {"image": image[..., :32, :32], "mask": mask[..., :32, :32]}
    loss, logs, out = recipe.generator_step(batch)
    assert set(logs) == {"valid", "hole", "perceptual", "style", "tv"} and torch.isfinite(loss)
    loss.backward()
    assert all(not p.requires_grad for p in recipe.features.parameters())
    a, b = RandomFeatureNet(seed=0), RandomFeatureNet(seed=0)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_fine_tuning_freezes_encoder_batch_norm_only():
    model = PConvUNet(width=4, depth=4).train()
    recipe = get_recipe("pconv")(model, {"freeze_encoder_bn": True}, resolution=32)
    image, mask = _inputs()
    before = model.enc[1].bn.running_mean.clone()
    recipe.generator_step({"image": image[..., :32, :32], "mask": mask[..., :32, :32]})
    assert torch.equal(model.enc[1].bn.running_mean, before) and not model.enc[1].bn.training
    assert model.dec[0].bn.training
