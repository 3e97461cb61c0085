"""Partial Convolutions: G. Liu, F. A. Reda, K. J. Shih, T.-C. Wang, A. Tao, B. Catanzaro, "Image Inpainting
for Irregular Holes Using Partial Convolutions", ECCV 2018. https://arxiv.org/abs/1804.07723
Original code (NVIDIA, BSD-3-Clause-style licence; no inpainting weights released):
https://github.com/NVIDIA/partialconv

What makes it PConv, as implemented here:
    * a U-Net made only of partial convolutions with mask update (:class:`inpaint_core.layers.PartialConv2d`,
      per-channel masks as NVIDIA's ``multi_channel=True``): the known pixels alone drive each output,
      renormalised by the window's valid fraction, and the hole shrinks layer by layer;
    * encoder: stride-2 partial convs with kernels 7, 5, 5, then 3; channels ``w, 2w, 4w, 8w, 8w, ...``;
      batch norm on every layer but the first; ReLU;
    * decoder: nearest-neighbour upsampling of features *and* masks, concatenation with the encoder's
      skip features *and* skip masks, 3x3 partial conv, batch norm, LeakyReLU(0.2); the last layer
      concatenates the input image and mask and is linear (no BN, no activation).

Deviations:
    * ``width`` 16 and ``depth`` 7 by default (paper: 64 and 8 levels at 512x512): 7 levels bring 256 to a
      2x2 bottleneck as 8 do at 512; width 16 gives 1.6 M parameters instead of ~33 M (CPU training);
    * the linear output is clamped to [-1, 1] with a straight-through gradient (our contract wants
      [-1, 1]; the gradient is the paper's linear one);
    * any input size works: upsampling goes to the skip's size (odd sides are rounded up by the stride-2
      layers); ``multiple`` 128 keeps the paper's exact 2x alignment at the default depth;
    * the paper's fine-tuning stage (encoder BN frozen, lr 5e-5) is the recipe option ``freeze_encoder_bn``
      plus the trainer's learning rate; the schedule between the two stages is the user's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpaint_core.layers import PartialConv2d
from inpaint_core.models.prefill import prefilled_build
from inpaint_core.models.spec import ModelSpec, register_model

__all__ = ["PConvBlock", "PConvUNet", "straight_through_clamp"]


def straight_through_clamp(x: torch.Tensor) -> torch.Tensor:
    """``x`` clamped to [-1, 1] in value, identity in gradient."""
    return x + (x.clamp(-1, 1) - x).detach()


class PConvBlock(nn.Module):
    """Partial conv (per-channel masks) -> optional BN -> optional activation; ``(x, valid) -> (x, valid)``."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, bn: bool = True,
                 act: nn.Module | None = None) -> None:
        super().__init__()
        self.conv = PartialConv2d(c_in, c_out, k, stride, padding=k // 2, bias=not bn, multi_channel=True)
        self.bn = nn.BatchNorm2d(c_out) if bn else nn.Identity()
        self.act = act if act is not None else nn.Identity()

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, valid = self.conv(x, valid)
        return self.act(self.bn(x)), valid


def encoder_channels(width: int, depth: int, max_mult: int = 8) -> list[int]:
    return [width * min(2 ** i, max_mult) for i in range(depth)]


def encoder_kernels(depth: int) -> list[int]:
    return [7, 5, 5][:depth] + [3] * max(0, depth - 3)


class PConvUNet(nn.Module):
    """``forward(image, mask, edges=None) -> B x 3 x H x W`` in [-1, 1]; any ``H, W`` (see module doc)."""

    def __init__(self, width: int = 16, depth: int = 7) -> None:
        super().__init__()
        if width < 1 or depth < 2:
            raise ValueError(f"pconv: width must be >= 1 and depth >= 2, got {width}, {depth}")
        chans = encoder_channels(width, depth)
        kernels = encoder_kernels(depth)
        self.enc = nn.ModuleList()
        c_in = 3
        for i, (c, k) in enumerate(zip(chans, kernels)):
            self.enc.append(PConvBlock(c_in, c, k, 2, bn=i > 0, act=nn.ReLU(inplace=True)))
            c_in = c
        # decoder level i takes level i's output (upsampled) + encoder level i-1's skip (input image at i=0)
        skips = [3] + chans[:-1]
        self.dec = nn.ModuleList()
        for i in reversed(range(depth)):
            last = i == 0
            c_out = 3 if last else chans[i - 1]
            act = None if last else nn.LeakyReLU(0.2, inplace=True)
            self.dec.append(PConvBlock(c_in + skips[i], c_out, 3, 1, bn=not last, act=act))
            c_in = c_out

    def forward(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None) -> torch.Tensor:
        valid = (1 - mask).expand(-1, 3, -1, -1)
        x = image * valid
        feats, masks = [x], [valid]
        for block in self.enc:
            x, valid = block(x, valid)
            feats.append(x)
            masks.append(valid)
        for block, skip, skip_valid in zip(self.dec, reversed(feats[:-1]), reversed(masks[:-1])):
            size = skip.shape[-2:]
            x = torch.cat([F.interpolate(x, size=size, mode="nearest"), skip], 1)
            valid = torch.cat([F.interpolate(valid, size=size, mode="nearest"), skip_valid], 1)
            x, valid = block(x, valid)
        return straight_through_clamp(x)


SPEC = register_model(ModelSpec(
    name="pconv",
    build=prefilled_build("pconv", PConvUNet),
    default_config={"width": 16, "depth": 7, "prefill": None, "prefill_dilations": None},
    resolution=256,
    multiple=128,
    description="Partial Convolutions (Liu et al. 2018): U-Net of mask-renormalised convolutions with "
                "mask update; L1 + perceptual/style + TV, no discriminator.",
    paper="https://arxiv.org/abs/1804.07723",
    repo="https://github.com/NVIDIA/partialconv",
))
