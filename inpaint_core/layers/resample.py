"""Interpolation-then-convolution upsampling ("resize-convolution").

Transposed convolutions with a kernel not divisible by the stride leave checkerboard artefacts (Odena
et al., "Deconvolution and Checkerboard Artifacts", Distill 2016); PGGAN (Demir & Unal, "Patch-Based
Image Inpainting with Generative Adversarial Networks", 2018) and DeepFill v2 upsample by interpolation
and then convolve instead.

Example:
    >>> import torch
    >>> UpConv(8, 4)(torch.randn(2, 8, 5, 7)).shape
    torch.Size([2, 4, 10, 14])
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ._utils import ActivationArg, check_bchw, make_activation, maybe_spectral_norm, resolve_padding

__all__ = ["up_conv", "UpConv"]

_MODES = ("nearest", "bilinear")


def up_conv(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None, scale: int = 2,
            mode: str = "nearest", padding: int = 1) -> torch.Tensor:
    """Upsample ``x`` by ``scale`` (``mode`` interpolation), then a stride-1 convolution.

    Args:
        x: ``B×C_in×H×W``.
        weight: ``C_out×C_in×k×k``; ``padding`` should be ``(k - 1) / 2`` to keep the upsampled size.
        bias: ``C_out`` or ``None``.
        scale: integer factor >= 1.
        mode: ``'nearest'`` or ``'bilinear'`` (``align_corners=False``).

    Returns:
        ``B×C_out×(scale·H)×(scale·W)`` for ``padding = (k - 1) / 2``.
    """
    check_bchw(x, "x")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be an int >= 1, got {scale!r}")
    if weight.ndim != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight must be C_out×{x.shape[1]}×k×k, got {tuple(weight.shape)}")
    if scale > 1:
        kwargs = {"align_corners": False} if mode == "bilinear" else {}
        x = F.interpolate(x, scale_factor=scale, mode=mode, **kwargs)
    return F.conv2d(x, weight, bias, 1, padding)


class UpConv(nn.Module):
    """Module form of :func:`up_conv` with an optional activation after the convolution.

    Shape:
        ``B×in_ch×H×W`` -> ``B×out_ch×(scale·H)×(scale·W)``.
    """

    def __init__(self, in_ch: int, out_ch: int, scale: int = 2, mode: str = "nearest", kernel_size: int = 3,
                 activation: ActivationArg = None, spectral_norm: bool = False, bias: bool = True) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        self.in_ch, self.scale, self.mode = in_ch, scale, mode
        self.padding = resolve_padding("same", kernel_size)
        self.conv = maybe_spectral_norm(nn.Conv2d(in_ch, out_ch, kernel_size, padding=self.padding, bias=bias),
                                        spectral_norm)
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_bchw(x, "x", channels=self.in_ch)
        y = up_conv(x, self.conv.weight, self.conv.bias, self.scale, self.mode, self.padding)
        return self.activation(y)
