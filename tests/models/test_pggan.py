"""PGGAN: resize-conv generator with a long input skip; one discriminator, two heads."""

import torch
from torch import nn

from inpaint_core.layers import UpConv
from inpaint_core.models import get_model_spec
from inpaint_core.models.pggan_train import PGGANDiscriminator
from inpaint_core.training.recipe import get_recipe


def test_upsampling_is_interpolation_then_conv_not_transposed():
    g = get_model_spec("pggan").build({"width": 4, "dilations": [1, 2]})
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in g.modules())
    assert sum(isinstance(m, UpConv) for m in g.modules()) == 2


def test_small_inputs_are_padded_and_cropped_back():
    g = get_model_spec("pggan").build({"width": 4, "dilations": [1, 16]}).eval()
    out = g(torch.zeros(1, 3, 8, 12), torch.ones(1, 1, 8, 12))
    assert out.shape == (1, 3, 8, 12)


def test_discriminator_has_one_trunk_and_two_heads():
    d = PGGANDiscriminator(3, width=4)
    g_logit, p_logits = d(torch.randn(2, 3, 64, 64))
    assert g_logit.shape == (2,) and p_logits.shape == (2, 1, 6, 6)
    (g_logit.sum() + 0 * p_logits.sum()).backward()
    assert all(p.grad is not None for p in d.trunk.parameters())
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in d.patch_head.parameters())


def test_recipe_uses_lsgan_on_both_heads():
    torch.manual_seed(0)
    g = get_model_spec("pggan").build({"width": 4, "dilations": [1, 2]})
    r = get_recipe("pggan")(g, {"d_width": 4}, resolution=64)
    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 16:40, 20:44] = 1
    batch = {"image": torch.rand(2, 3, 64, 64) * 2 - 1, "mask": mask}
    loss, logs, out = r.generator_step(batch)
    assert r.adversarial == "lsgan" and {"rec", "adv_g_global", "adv_g_patch"} <= set(logs)
    loss.backward()
    assert all(p.grad is not None for p in g.parameters())
    d_loss, d_logs = r.discriminator_step(batch, out)
    assert {"adv_d_global", "adv_d_patch"} <= set(d_logs) and torch.isfinite(d_loss)
