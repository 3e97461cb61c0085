"""Training components of :mod:`inpaint_core.models.edgeconnect` (never imported by inference code).

Discriminators of Nazeri et al. 2019 (https://github.com/knazeri/edge-connect, ``networks.Discriminator``):
a 70×70 PatchGAN with spectral norm for each stage (:class:`~inpaint_core.layers.PatchDiscriminator`);
the edge one sees ``cat(gray, edges)``, the image one sees RGB. Widths scale with ``width`` (64 in the repo).

The repo's perceptual and style losses use an ImageNet VGG-19, which cannot be downloaded here;
:class:`RandomFeatureNet` is a small VGG-shaped encoder with fixed, seeded random weights instead
(random conv features still carry useful texture statistics for Gram/style losses, Ustyuzhaninov et
al. 2017, "What does it take to generate natural textures?").
"""

from __future__ import annotations

import torch
from torch import nn

from inpaint_core.layers import PatchDiscriminator

__all__ = ["edge_discriminator", "image_discriminator", "RandomFeatureNet"]


def edge_discriminator(width: int = 64) -> PatchDiscriminator:
    """``B×2×H×W`` (gray, edges) -> PatchGAN logits; ``return_features=True`` for feature matching."""
    return PatchDiscriminator(2, base=width, n_layers=3, spectral_norm=True)


def image_discriminator(width: int = 64) -> PatchDiscriminator:
    """``B×3×H×W`` RGB -> PatchGAN logits."""
    return PatchDiscriminator(3, base=width, n_layers=3, spectral_norm=True)


class RandomFeatureNet(nn.Module):
    """Frozen VGG-shaped encoder with seeded random weights: ``x -> [relu1, relu2, relu3, relu4]``.

    Four levels (3×3 conv + ReLU pairs, 2×2 average pooling between levels) with ``width·2^i`` channels
    (capped at ``8·width``). Weights are ``kaiming_normal`` from ``torch.Generator().manual_seed(seed)``,
    so every run and every resume sees the same network; they are buffers, never trained or saved.

    Shape:
        ``B×3×H×W`` in [-1, 1] -> list of 4 maps at 1, 1/2, 1/4, 1/8 of the input side.
    """

    def __init__(self, width: int = 16, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        shapes, c_in = [], 3
        for i in range(4):
            c = width * min(2 ** i, 8)
            shapes.append([(c, c_in), (c, c)])
            c_in = c
        self.n = len(shapes)
        for i, level in enumerate(shapes):
            for j, (co, ci) in enumerate(level):
                w = torch.randn(co, ci, 3, 3, generator=g) * (2.0 / (ci * 9)) ** 0.5
                self.register_buffer(f"w{i}_{j}", w, persistent=False)
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i in range(self.n):
            if i:
                x = nn.functional.avg_pool2d(x, 2)
            for j in range(2):
                x = torch.relu(nn.functional.conv2d(x, getattr(self, f"w{i}_{j}"), padding=1))
            feats.append(x)
        return feats
