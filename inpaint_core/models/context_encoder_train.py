"""Training components of :mod:`inpaint_core.models.context_encoder` (never imported by inference code).

Discriminator after Pathak et al. 2016 (https://github.com/pathak22/context-encoder): stride-2 4x4
convolutions, batch norm, LeakyReLU(0.2), one logit. The original judges the 64x64 centre only; our
generator predicts the full frame, so this one judges the whole ``resolution x resolution`` image.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ContextEncoderDiscriminator"]


class ContextEncoderDiscriminator(nn.Module):
    """``forward(image B x 3 x R x R in [-1, 1]) -> B`` real/fake logits."""

    def __init__(self, resolution: int = 128, width: int = 64, max_channels: int = 512) -> None:
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
        layers, c_in = [], 3
        for i in range(int(math.log2(resolution)) - 2):  # down to 4x4
            c = min(width * 2 ** i, max_channels)
            layers += [nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0)]
            layers += [nn.BatchNorm2d(c)] if i else []
            layers += [nn.LeakyReLU(0.2, inplace=True)]
            c_in = c
        layers += [nn.Conv2d(c_in, 1, 4)]
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image).flatten()
