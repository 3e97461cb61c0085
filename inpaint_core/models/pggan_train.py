"""Training components of :mod:`inpaint_core.models.pggan` (never imported by inference code).

The PGGAN discriminator of Demir & Unal 2018 (arXiv 1803.07422): ONE network whose shared convolutional
trunk splits into a global (G-GAN) head, one real/fake logit for the whole image, and a PatchGAN head,
one logit per overlapping patch. Both heads' adversarial losses reach the generator.

Trunk: three 4×4 stride-2 convs (``width``, ``2·width``, ``4·width``). Patch head: 4×4 stride-1 conv
(``8·width``) then a 4×4 stride-1 conv to 1 channel (70×70 receptive field with the trunk, as pix2pix).
Global head: two more 4×4 stride-2 convs (``8·width``), global average pooling, a linear layer.
LeakyReLU(0.2); batch norm after every conv but the first and the outputs (pix2pix/DCGAN practice).
Our choices: the global head pools instead of a fully connected layer on a fixed size, so any
training side (a multiple of 32) works.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PGGANDiscriminator"]


def _block(c_in: int, c_out: int, stride: int, norm: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, stride, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    return layers + [nn.LeakyReLU(0.2, inplace=True)]


class PGGANDiscriminator(nn.Module):
    """``forward(x) -> (global_logits B, patch_logits B×1×h×w)`` for ``x`` B×in_ch×H×W (H, W >= 32)."""

    def __init__(self, in_ch: int = 3, width: int = 64) -> None:
        super().__init__()
        w1, w2, w4, w8 = width, 2 * width, 4 * width, 8 * width
        self.in_ch = in_ch
        self.trunk = nn.Sequential(*_block(in_ch, w1, 2, norm=False), *_block(w1, w2, 2), *_block(w2, w4, 2))
        self.patch_head = nn.Sequential(*_block(w4, w8, 1), nn.Conv2d(w8, 1, 4, 1, 1))
        self.global_head = nn.Sequential(*_block(w4, w8, 2), *_block(w8, w8, 2), nn.AdaptiveAvgPool2d(1),
                                         nn.Flatten(), nn.Linear(w8, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != self.in_ch or min(x.shape[-2:]) < 32:
            raise ValueError(f"pggan discriminator: expected B×{self.in_ch}×H×W with H, W >= 32, "
                             f"got {tuple(x.shape)}")
        shared = self.trunk(x)
        return self.global_head(shared).flatten(), self.patch_head(shared)
