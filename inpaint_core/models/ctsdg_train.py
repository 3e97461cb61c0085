"""Training components of :mod:`inpaint_core.models.ctsdg` (never imported by inference code).

The discriminator of Guo et al. 2021 (``models/discriminator`` of https://github.com/Xiefan-Guo/CTSDG):

* a texture branch: spectral-norm PatchGAN (4x4 convs, LeakyReLU 0.2) on the RGB image;
* an edge detector: a small residual conv net (conv, [conv-BN-ReLU-conv-BN] + skip, ReLU, 1x1 conv,
  sigmoid) that turns the judged image into an edge map;
* a structure branch: the same PatchGAN on ``[edge map, gray image]``. Real samples use their Canny
  edges, generated ones the detector's edges of the generated image; the gray image is the ground
  truth's in both, as in the original training loop.

``forward`` returns the two logit maps concatenated along channels and the detector's edge map.
Widths scale with ``width`` (64 in the original; the detector's middle width is ``width // 4``).
"""

from __future__ import annotations

import torch
from torch import nn

from inpaint_core.layers import PatchDiscriminator

__all__ = ["EdgeDetector", "CTSDGDiscriminator"]


class EdgeDetector(nn.Module):
    """``B x 3 x H x W`` image -> ``B x 1 x H x W`` edge probabilities."""

    def __init__(self, mid: int = 16) -> None:
        super().__init__()
        self.projection = nn.Sequential(nn.Conv2d(3, mid, 3, 1, 1), nn.ReLU(inplace=True))
        self.res = nn.Sequential(nn.Conv2d(mid, mid, 3, 1, 1), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                                 nn.Conv2d(mid, mid, 3, 1, 1), nn.BatchNorm2d(mid))
        self.out = nn.Sequential(nn.Conv2d(mid, 1, 1), nn.Sigmoid())

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.projection(image)
        return self.out(torch.relu(x + self.res(x)))


class CTSDGDiscriminator(nn.Module):
    """``forward(image, gray, edges=None) -> (logits B x 2 x h x w, detected edges B x 1 x H x W)``.

    ``edges`` given (real samples): the structure branch judges them; ``None`` (generated samples): it
    judges the detector's edges of ``image``. ``H, W`` divisible by 8.
    """

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.texture_branch = PatchDiscriminator(3, base=width, n_layers=3, spectral_norm=True)
        self.structure_branch = PatchDiscriminator(2, base=width, n_layers=3, spectral_norm=True)
        self.edge_detector = EdgeDetector(max(4, width // 4))

    def forward(self, image: torch.Tensor, gray: torch.Tensor,
                edges: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        detected = self.edge_detector(image)
        structure = torch.cat([detected if edges is None else edges, gray], 1)
        logits = torch.cat([self.texture_branch(image), self.structure_branch(structure)], 1)
        return logits, detected
