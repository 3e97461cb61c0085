import pytest
import torch
from torch.nn.utils import parametrize

from inpaint_core.layers import PatchDiscriminator, SNPatchGAN


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("size,patches", [(64, 6), (128, 14)])
def test_patch_discriminator_shapes(batch, size, patches):
    disc = PatchDiscriminator(4, base=8)
    logits, features = disc(torch.randn(batch, 4, size, size), return_features=True)
    assert logits.shape == (batch, 1, patches, patches)
    assert len(features) == 5 and features[-1] is logits
    assert [f.shape[1] for f in features] == [8, 16, 32, 64, 1]


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("size,flat", [(64, 32), (128, 128)])
def test_sn_patchgan_shapes(batch, size, flat):
    assert SNPatchGAN(4, base=8)(torch.randn(batch, 4, size, size)).shape == (batch, flat)


def conv_layers(module):
    return [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]


def test_spectral_norm_present():
    assert all(parametrize.is_parametrized(c, "weight") for c in conv_layers(SNPatchGAN(4, base=8)))
    assert len(conv_layers(SNPatchGAN(4, base=8))) == 6
    assert all(parametrize.is_parametrized(c, "weight") for c in conv_layers(PatchDiscriminator(3, base=8)))
    plain = PatchDiscriminator(3, base=8, spectral_norm=False, norm="instance")
    assert not any(parametrize.is_parametrized(c, "weight") for c in conv_layers(plain))
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in plain.modules())


def test_grad_reaches_input_and_params():
    for disc in (PatchDiscriminator(3, base=8, norm="batch", spectral_norm=False), SNPatchGAN(3, base=8)):
        x = torch.randn(2, 3, 64, 64, requires_grad=True)
        out = disc(x)
        out.mean().backward()
        assert x.grad.abs().sum() > 0
        assert all(p.grad is not None for p in disc.parameters())


def test_bad_input():
    with pytest.raises(ValueError):
        PatchDiscriminator(3, base=8)(torch.randn(1, 4, 64, 64))
    with pytest.raises(ValueError):
        SNPatchGAN(3, base=8)(torch.randn(3, 64, 64))
    with pytest.raises(ValueError):
        PatchDiscriminator(3, norm="layer")
