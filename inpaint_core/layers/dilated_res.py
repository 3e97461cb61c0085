"""Dilated convolutions for the low-resolution middle of inpainting generators.

* :class:`DilatedResBlock`: the residual block of EdgeConnect (Nazeri et al., "EdgeConnect: Generative
  Image Inpainting with Adversarial Edge Learning", 2019; https://github.com/knazeri/edge-connect) and the
  dilated residual blocks of PGGAN (Demir & Unal, "Patch-Based Image Inpainting with Generative
  Adversarial Networks", 2018): reflect-pad, dilated 3×3 conv, norm, activation, reflect-pad, 3×3 conv,
  norm, plus the identity. No activation after the sum (EdgeConnect).
* :func:`dilated_stack`: the chain of dilated convolutions with rates 2, 4, 8, 16 of GLCIC (Iizuka et al.,
  "Globally and Locally Consistent Image Completion", SIGGRAPH 2017) and DeepFill v1/v2 (gated variant).

Example:
    >>> import torch
    >>> block = DilatedResBlock(8, dilation=2)
    >>> block(torch.randn(2, 8, 16, 16)).shape
    torch.Size([2, 8, 16, 16])
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ._utils import ActivationArg, check_bchw, make_activation, make_norm, maybe_spectral_norm
from .gated_conv import GatedConv2d

__all__ = ["DilatedResBlock", "dilated_stack"]


class DilatedResBlock(nn.Module):
    """``x + body(x)`` with a dilated first convolution (EdgeConnect ``ResnetBlock``).

    Args:
        ch: channels (in = out).
        dilation: dilation of the first 3×3 convolution (EdgeConnect: 2; PGGAN: 1, 2, 4, ...).
        norm: ``'instance'`` (EdgeConnect), ``'batch'`` or ``'none'``.
        activation: between the two convolutions (default ReLU).
        spectral_norm: spectral normalisation on both convolutions (EdgeConnect's edge generator).
        kernel_size: odd kernel size of both convolutions.

    Shape:
        ``B×ch×H×W`` -> ``B×ch×H×W``.
    """

    def __init__(self, ch: int, dilation: int = 2, norm: str = "instance", activation: ActivationArg = nn.ReLU,
                 spectral_norm: bool = False, kernel_size: int = 3) -> None:
        super().__init__()
        if kernel_size % 2 != 1 or dilation < 1:
            raise ValueError(f"need an odd kernel_size and dilation >= 1, got {kernel_size}, {dilation}")
        half = (kernel_size - 1) // 2
        bias = norm == "none"  # a bias before a normalisation is redundant
        self.ch = ch
        self.body = nn.Sequential(
            nn.ReflectionPad2d(dilation * half),
            maybe_spectral_norm(nn.Conv2d(ch, ch, kernel_size, dilation=dilation, bias=bias), spectral_norm),
            make_norm(norm, ch),
            make_activation(activation),
            nn.ReflectionPad2d(half),
            maybe_spectral_norm(nn.Conv2d(ch, ch, kernel_size, bias=bias), spectral_norm),
            make_norm(norm, ch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_bchw(x, "x", channels=self.ch)
        return x + self.body(x)


def dilated_stack(ch: int, dilations: Sequence[int] = (2, 4, 8, 16), kernel_size: int = 3,
                  norm: str = "none", activation: ActivationArg = nn.ELU, block: str = "conv",
                  spectral_norm: bool = False) -> nn.Sequential:
    """A chain of dilated layers that keep ``B×ch×H×W``.

    Args:
        ch: channels (in = out).
        dilations: one layer per rate; GLCIC and DeepFill use ``(2, 4, 8, 16)``.
        kernel_size: odd kernel size.
        norm: after each plain convolution (GLCIC: ``'batch'``); ignored for ``'gated'``.
        activation: class/factory for each layer (GLCIC: ReLU; DeepFill: ELU).
        block: ``'conv'`` (conv + norm + act, GLCIC/DeepFill v1), ``'gated'`` (:class:`GatedConv2d`,
            DeepFill v2) or ``'residual'`` (:class:`DilatedResBlock`).
        spectral_norm: on every convolution.

    Returns:
        ``nn.Sequential`` mapping ``B×ch×H×W`` -> ``B×ch×H×W``.
    """
    if not dilations:
        raise ValueError("dilations must not be empty")
    half = (kernel_size - 1) // 2
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}")
    layers = []
    for d in dilations:
        if block == "conv":
            conv = nn.Conv2d(ch, ch, kernel_size, padding=d * half, dilation=d, bias=norm == "none")
            layers += [maybe_spectral_norm(conv, spectral_norm), make_norm(norm, ch), make_activation(activation)]
        elif block == "gated":
            layers.append(GatedConv2d(ch, ch, kernel_size, dilation=d, activation=activation,
                                      spectral_norm=spectral_norm))
        elif block == "residual":
            layers.append(DilatedResBlock(ch, d, norm, activation, spectral_norm, kernel_size))
        else:
            raise ValueError(f"block must be 'conv', 'gated' or 'residual', got {block!r}")
    return nn.Sequential(*layers)
