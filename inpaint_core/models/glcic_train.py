"""Training components of :mod:`inpaint_core.models.glcic` (never imported by inference code).

Discriminators of Iizuka et al. 2017 (Table 2; https://github.com/satoshiiizuka/siggraph2017_inpainting):
a global one on the whole image (6 stride-2 5x5 convs, FC to 1024), a local one on a patch centred
on the hole (5 stride-2 5x5 convs, FC to 1024), concatenated and mapped to one logit. Widths scale
with ``width`` (64 in the paper); input sides are configurable (256 and 128 in the paper).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GlobalDiscriminator", "LocalDiscriminator", "GLCICDiscriminator"]


class _ConvFC(nn.Module):
    """Stride-2 5x5 convs (BN, ReLU) then a linear layer to 1024 features."""

    def __init__(self, size: int, width: int, n: int) -> None:
        super().__init__()
        if size % 2 ** n:
            raise ValueError(f"discriminator input side must be a multiple of {2 ** n}, got {size}")
        layers, c_in = [], 3
        for i in range(n):
            c = width * 2 ** min(i, 3)
            layers += [nn.Conv2d(c_in, c, 5, 2, 2, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        self.size = size
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in * (size // 2 ** n) ** 2, 1024)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.size, self.size):
            raise ValueError(f"expected {self.size}x{self.size} inputs, got {tuple(x.shape[-2:])}")
        return torch.relu(self.fc(self.convs(x).flatten(1)))


class GlobalDiscriminator(_ConvFC):
    """Whole image ``B x 3 x S x S`` -> ``B x 1024`` features."""

    def __init__(self, size: int = 256, width: int = 64) -> None:
        super().__init__(size, width, 6)


class LocalDiscriminator(_ConvFC):
    """Hole-centred patch ``B x 3 x S x S`` -> ``B x 1024`` features."""

    def __init__(self, size: int = 128, width: int = 64) -> None:
        super().__init__(size, width, 5)


class GLCICDiscriminator(nn.Module):
    """``forward(image, patch) -> B`` logits from the concatenated global and local features."""

    def __init__(self, global_size: int = 256, local_size: int = 128, width: int = 64) -> None:
        super().__init__()
        self.global_d = GlobalDiscriminator(global_size, width)
        self.local_d = LocalDiscriminator(local_size, width)
        self.head = nn.Linear(2048, 1)

    def forward(self, image: torch.Tensor, patch: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.global_d(image), self.local_d(patch)], dim=1)).flatten()
