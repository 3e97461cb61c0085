"""Training components of :mod:`inpaint_core.models.msnps` (never imported by inference code).

The content network's adversarial partner, after Context Encoder's discriminator (Pathak et al. 2016,
whose network Yang et al. 2017 adopt for their content stage): stride-2 4x4 convolutions, batch norm
(not on the first), LeakyReLU(0.2), then a 1-channel convolution averaged over space, so any input
side that is a multiple of ``2^n_layers`` works (the original ends in a fixed-size layer).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MSNPSDiscriminator"]


class MSNPSDiscriminator(nn.Module):
    """``forward(image B x 3 x H x W in [-1, 1]) -> B`` real/fake logits."""

    def __init__(self, width: int = 64, n_layers: int = 4) -> None:
        super().__init__()
        if width < 1 or n_layers < 1:
            raise ValueError(f"need width >= 1 and n_layers >= 1, got {width}, {n_layers}")
        layers, c_in = [], 3
        for i in range(n_layers):
            c = width * 2 ** min(i, 3)
            layers += [nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0), *([nn.BatchNorm2d(c)] if i else []),
                       nn.LeakyReLU(0.2, inplace=True)]
            c_in = c
        layers += [nn.Conv2d(c_in, 1, 3, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image).mean(dim=(1, 2, 3))
