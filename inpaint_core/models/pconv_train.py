"""Training components of :mod:`inpaint_core.models.pconv` (never imported by inference code).

PConv has no discriminator. Its perceptual and style losses use VGG-16 ``pool1..pool3`` features of an
ImageNet-trained network; none can be downloaded here, so :class:`RandomFeatureNet` stands in: a fixed,
seeded, random-init VGG-shaped encoder (three conv-conv-pool stages, outputs after each pool). Random
conv features keep much of what the perceptual/style terms do on texture statistics (Gram matrices of
random features are a known texture descriptor, Ustyuzhaninov et al. 2017), not VGG's semantics.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["RandomFeatureNet"]


class RandomFeatureNet(nn.Module):
    """Fixed random VGG-shaped encoder: ``B x 3 x H x W`` in [-1, 1] -> list of 3 feature maps (1/2, 1/4, 1/8).

    Args:
        width: channels of the first stage (doubled per stage).
        seed: the weights are drawn from this seed, so every run sees the same network.
    """

    def __init__(self, width: int = 32, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        stages, c_in = [], 3
        for i in range(3):
            c = width * 2 ** i
            convs = [nn.Conv2d(c_in, c, 3, 1, 1), nn.Conv2d(c, c, 3, 1, 1)]
            for conv in convs:
                fan_in = conv.in_channels * 9
                with torch.no_grad():
                    conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                    conv.bias.zero_()
            stages.append(nn.Sequential(convs[0], nn.ReLU(), convs[1], nn.ReLU(), nn.MaxPool2d(2)))
            c_in = c
        self.stages = nn.ModuleList(stages)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "RandomFeatureNet":
        return super().train(False)  # fixed network: no mode to switch

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats
