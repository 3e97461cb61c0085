"""PGGAN: U. Demir, G. Unal, "Patch-Based Image Inpainting with Generative Adversarial Networks",
arXiv 1803.07422, 2018. https://arxiv.org/abs/1803.07422 (no official code found; the authors'
repository name is unverified, so none is cited as the original).

Generator (ResNet-like, as the paper): 7×7 conv, two stride-2 3×3 downsampling convs, dilated residual
blocks at 1/4 resolution (:class:`~inpaint_core.layers.DilatedResBlock`, dilations 1, 2, 4, 8, 16, 1),
upsampling by nearest interpolation then 3×3 convolution (:class:`~inpaint_core.layers.UpConv`, no
checkerboard artefacts of transposed convolutions), and a long skip from the input: the image with
holes and the mask are concatenated to the last feature map before the 7×7 output conv, so the output
layer sees the known pixels directly. Instance norm and ReLU after every hidden conv; tanh output.
Its discriminator (shared trunk, global head + PatchGAN head) is in :mod:`inpaint_core.models.pggan_train`.

Deviations / our choices where the paper is not specific enough to reproduce from memory offline:
block count and dilation rates, instance norm, the long skip as concatenation (a sum would fight the
tanh); default ``width`` 32 (``4·width`` = 128 channels in the blocks). Inputs smaller than the
largest dilation needs are padded (replicate) and cropped back. No weights are shipped.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from inpaint_core.layers import DilatedResBlock, UpConv
from inpaint_core.models.prefill import prefilled_build
from inpaint_core.models.spec import ModelSpec, register_model

__all__ = ["PGGANGenerator"]


def _norm_act(c: int) -> list[nn.Module]:
    return [nn.InstanceNorm2d(c, track_running_stats=False), nn.ReLU(inplace=True)]


class PGGANGenerator(nn.Module):
    """``forward(image, mask, edges=None) -> B×3×H×W`` in [-1, 1]; H and W multiples of 4."""

    def __init__(self, width: int = 32, dilations: Sequence[int] = (1, 2, 4, 8, 16, 1)) -> None:
        super().__init__()
        if width < 1 or not dilations or min(dilations) < 1:
            raise ValueError(f"pggan: need width >= 1 and dilations >= 1, got {width}, {dilations}")
        w1, w2, w4 = width, 2 * width, 4 * width
        self.dilations = tuple(int(d) for d in dilations)
        # reflection pads of the blocks need more than max(dilation) px at 1/4 scale
        self.min_side = 4 * (max(self.dilations) + 1)
        self.down = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(4, w1, 7, bias=False), *_norm_act(w1),
            nn.Conv2d(w1, w2, 3, 2, 1, bias=False), *_norm_act(w2),
            nn.Conv2d(w2, w4, 3, 2, 1, bias=False), *_norm_act(w4),
        )
        self.blocks = nn.Sequential(*[DilatedResBlock(w4, dilation=d, norm="instance") for d in self.dilations])
        self.up = nn.Sequential(
            UpConv(w4, w2, bias=False), *_norm_act(w2),
            UpConv(w2, w1, bias=False), *_norm_act(w1),
        )
        self.out = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(w1 + 4, 3, 7), nn.Tanh())

    def forward(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None) -> torch.Tensor:
        if image.shape[-1] % 4 or image.shape[-2] % 4:
            raise ValueError(f"pggan: input sides must be multiples of 4, got {tuple(image.shape[-2:])}")
        if mask.shape[0] != image.shape[0] or mask.shape[1] != 1 or mask.shape[-2:] != image.shape[-2:]:
            raise ValueError(f"pggan: mask {tuple(mask.shape)} does not fit image {tuple(image.shape)}")
        h, w = image.shape[-2:]
        x = torch.cat([image * (1 - mask), mask], 1)
        pad = (0, max(0, self.min_side - w), 0, max(0, self.min_side - h))
        if any(pad):
            x = F.pad(x, pad, mode="replicate")
        y = self.up(self.blocks(self.down(x)))
        return self.out(torch.cat([y, x], 1))[..., :h, :w]


SPEC = register_model(ModelSpec(
    name="pggan",
    build=prefilled_build("pggan", PGGANGenerator),
    default_config={"width": 32, "dilations": [1, 2, 4, 8, 16, 1], "prefill": None, "prefill_dilations": None},
    resolution=256,
    multiple=4,
    description="PGGAN (Demir & Unal 2018): dilated residual generator with resize-conv upsampling; one "
                "discriminator with a global and a PatchGAN head.",
    paper="https://arxiv.org/abs/1803.07422",
    repo="https://arxiv.org/abs/1803.07422",
))
