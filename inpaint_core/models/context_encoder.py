"""Context Encoder: D. Pathak, P. Krähenbühl, J. Donahue, T. Darrell, A. A. Efros, "Context Encoders:
Feature Learning by Inpainting", CVPR 2016. https://arxiv.org/abs/1604.07379
Original code (Torch/Lua, BSD licence): https://github.com/pathak22/context-encoder

Architecture: stride-2 4x4 convolutions with batch norm and LeakyReLU(0.2) down to a 4x4 map, a
channel-wise fully connected bottleneck (each channel's 4x4 map -> 4x4 map through its own dense
layer, no mixing between channels), a 1x1 convolution mixing channels, then stride-2 4x4
transposed convolutions with batch norm and ReLU back up, tanh output.

Deviations from the paper, on purpose:
- The decoder predicts the full frame (``resolution x resolution``), which the wrapper composites
  into the holes; the original predicts only the 64x64 centre of a 128x128 input.
- The input is the image with holes zeroed plus the mask as a fourth channel (the original fills
  the centre with the dataset mean and has no mask channel), so arbitrary holes work.
- The bottleneck's dense layers make the network fixed-size: inputs are exactly
  ``resolution x resolution`` (128 by default); the wrapper resizes and pads crops to that.
No weights are shipped (the original's are Torch7 files for a different task setting).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from inpaint_core.models.prefill import prefilled_build
from inpaint_core.models.spec import ModelSpec, register_model

__all__ = ["ContextEncoder", "ChannelWiseFC"]


class ChannelWiseFC(nn.Module):
    """Per-channel dense layer over the spatial map: ``B x C x H x W -> B x C x H x W``.

    Costs ``C * (HW)^2`` weights instead of ``(C HW)^2`` for a full dense layer.
    """

    def __init__(self, channels: int, side: int) -> None:
        super().__init__()
        n = side * side
        self.weight = nn.Parameter(torch.randn(channels, n, n) / math.sqrt(n))
        self.bias = nn.Parameter(torch.zeros(channels, n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = torch.einsum("bci,cij->bcj", x.reshape(b, c, h * w), self.weight) + self.bias
        return y.reshape(b, c, h, w)


def _channels(width: int, max_channels: int, n: int) -> list[int]:
    return [min(width * 2 ** i, max_channels) for i in range(n)]


class ContextEncoder(nn.Module):
    """Generator: ``forward(image, mask, edges=None) -> B x 3 x R x R`` in [-1, 1] (``R = resolution``)."""

    def __init__(self, resolution: int = 128, width: int = 64, max_channels: int = 512) -> None:
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise ValueError(f"context_encoder: resolution must be a power of two >= 8, got {resolution}")
        if width < 1 or max_channels < width:
            raise ValueError(f"context_encoder: need 1 <= width <= max_channels, got {width}, {max_channels}")
        self.resolution = resolution
        n = int(math.log2(resolution)) - 2  # down to a 4x4 map
        chans = _channels(width, max_channels, n)
        enc, c_in = [], 4
        for i, c in enumerate(chans):
            enc += [nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0)]
            enc += [nn.BatchNorm2d(c)] if i else []
            enc += [nn.LeakyReLU(0.2, inplace=True)]
            c_in = c
        self.encoder = nn.Sequential(*enc)
        self.bottleneck = nn.Sequential(ChannelWiseFC(c_in, 4), nn.Conv2d(c_in, c_in, 1),
                                        nn.LeakyReLU(0.2, inplace=True))
        dec = []
        for c in reversed(chans[:-1]):
            dec += [nn.ConvTranspose2d(c_in, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        dec += [nn.ConvTranspose2d(c_in, 3, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None) -> torch.Tensor:
        if image.shape[-2:] != (self.resolution, self.resolution):
            raise ValueError(f"context_encoder takes {self.resolution}x{self.resolution} inputs, "
                             f"got {tuple(image.shape[-2:])}")
        x = torch.cat([image * (1 - mask), mask], dim=1)
        return self.decoder(self.bottleneck(self.encoder(x)))


SPEC = register_model(ModelSpec(
    name="context_encoder",
    build=prefilled_build("context_encoder", ContextEncoder),
    default_config={"resolution": 128, "width": 64, "max_channels": 512, "prefill": None, "prefill_dilations": None},
    resolution=128,
    multiple=32,
    fixed_size=True,
    description="Context Encoder (Pathak et al. 2016): conv encoder, channel-wise FC bottleneck, deconv "
                "decoder; 128x128, full-frame variant.",
    paper="https://arxiv.org/abs/1604.07379",
    repo="https://github.com/pathak22/context-encoder",
))
