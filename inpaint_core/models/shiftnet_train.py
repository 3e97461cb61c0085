"""Training components of :mod:`inpaint_core.models.shiftnet` (never imported by inference code).

Discriminator of Shift-Net (https://github.com/Zhaoyi-Yan/Shift-Net_pytorch, ``which_model_netD
basic``): the pix2pix 70x70 PatchGAN (:class:`inpaint_core.layers.PatchDiscriminator`, 3 stride-2
layers, batch norm) on the RGB image alone (the repo's D is unconditional). Without spectral norm.
"""

from __future__ import annotations

from inpaint_core.layers import PatchDiscriminator

__all__ = ["ShiftNetDiscriminator"]


class ShiftNetDiscriminator(PatchDiscriminator):
    """``forward(image B x 3 x H x W) -> B x 1 x h x w`` patch logits (``H, W`` multiples of 8)."""

    def __init__(self, width: int = 64, n_layers: int = 3) -> None:
        super().__init__(3, base=width, n_layers=n_layers, spectral_norm=False, norm="batch")
