"""Training components of :mod:`inpaint_core.models.deepfill_v1` (never imported by inference code).

The WGAN-GP critics of Yu et al. 2018 (reference ``build_wgan_local_discriminator`` /
``build_wgan_global_discriminator``; https://github.com/JiahuiYu/generative_inpainting, v1.0.0): four
5x5 stride-2 convolutions (``width``, 2x, 4x, 4x for the global critic; up to 8x for the local one;
LeakyReLU 0.2, no normalisation, as a WGAN-GP critic needs) flattened into one linear score. The
global critic sees the whole image, the local one a patch around the hole.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["WGANCritic", "global_critic", "local_critic"]


class WGANCritic(nn.Module):
    """``B x 3 x S x S -> B`` scores; ``S`` a multiple of 16, fixed at construction (linear head)."""

    def __init__(self, size: int, width: int = 64, multipliers: tuple[int, ...] = (1, 2, 4, 4)) -> None:
        super().__init__()
        n = len(multipliers)
        if size % 2 ** n:
            raise ValueError(f"critic input side must be a multiple of {2 ** n}, got {size}")
        layers, c_in = [], 3
        for m in multipliers:
            layers += [nn.Conv2d(c_in, width * m, 5, 2, 2), nn.LeakyReLU(0.2)]
            c_in = width * m
        self.size = size
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in * (size // 2 ** n) ** 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.size, self.size):
            raise ValueError(f"expected {self.size}x{self.size} inputs, got {tuple(x.shape[-2:])}")
        return self.fc(self.convs(x).flatten(1)).flatten()


def global_critic(size: int = 256, width: int = 64) -> WGANCritic:
    """The whole-image critic: ``width`` x (1, 2, 4, 4) channels."""
    return WGANCritic(size, width, (1, 2, 4, 4))


def local_critic(size: int = 128, width: int = 64) -> WGANCritic:
    """The hole-patch critic: ``width`` x (1, 2, 4, 8) channels."""
    return WGANCritic(size, width, (1, 2, 4, 8))
