"""Gated convolution (Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019,
DeepFill v2; https://github.com/JiahuiYu/generative_inpainting).

One convolution produces ``2 * out_ch`` channels: the first half are features, the second half a soft
gate, ``y = act(features) * sigmoid(gate)``. The gate learns a dynamic, per-channel, per-pixel mask in
place of the hard mask update of partial convolutions. :class:`GatedDeconv2d` is DeepFill v2's
upsampling: nearest-neighbour x2 then a stride-1 gated convolution.

Example:
    >>> import torch
    >>> layer = GatedConv2d(4, 8, 3, stride=2)
    >>> layer(torch.randn(2, 4, 16, 16)).shape
    torch.Size([2, 8, 8, 8])
"""

from __future__ import annotations

from typing import Callable, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from ._utils import ActivationArg, check_bchw, make_activation, maybe_spectral_norm, resolve_padding

__all__ = ["gated_conv2d", "GatedConv2d", "GatedDeconv2d"]


def gated_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                 stride: int = 1, padding: int = 0, dilation: int = 1,
                 activation: Optional[Callable[[torch.Tensor], torch.Tensor]] = F.elu) -> torch.Tensor:
    """Gated convolution: ``act(conv(x)[:, :out]) * sigmoid(conv(x)[:, out:])``.

    Args:
        x: ``B×C_in×H×W`` input.
        weight: ``2·C_out×C_in×k×k``; rows ``[:C_out]`` make features, ``[C_out:]`` the gate.
        bias: ``2·C_out`` bias (same split) or ``None``.
        stride, padding, dilation: as :func:`torch.nn.functional.conv2d`.
        activation: applied to the features only; ``None`` keeps them linear (DeepFill v2's output layer).

    Returns:
        ``B×C_out×H'×W'``.
    """
    check_bchw(x, "x")
    if weight.ndim != 4 or weight.shape[0] % 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight must be 2*C_out×{x.shape[1]}×k×k, got {tuple(weight.shape)}")
    features, gate = F.conv2d(x, weight, bias, stride, padding, dilation).chunk(2, dim=1)
    if activation is not None:
        features = activation(features)
    return features * torch.sigmoid(gate)


class GatedConv2d(nn.Module):
    """Module form of :func:`gated_conv2d`; ``self.conv`` holds the fused feature+gate convolution.

    Args:
        in_ch, out_ch: channels in and out.
        kernel_size, stride, dilation: of the convolution.
        padding: ``'same'`` (odd kernels: ``dilation·(k-1)/2``, keeps ``H×W`` at stride 1,
            ``ceil(H/stride)`` otherwise) or an int.
        activation: class/factory/module for the features, or ``None`` (linear, e.g. the RGB output).
        spectral_norm: wrap the convolution in spectral normalisation.

    Shape:
        ``B×in_ch×H×W`` -> ``B×out_ch×H'×W'``.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 padding: Union[str, int] = "same", activation: ActivationArg = nn.ELU,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        self.in_ch, self.out_ch = in_ch, out_ch
        self.stride, self.dilation = stride, dilation
        self.padding = resolve_padding(padding, kernel_size, dilation)
        self.conv = maybe_spectral_norm(
            nn.Conv2d(in_ch, 2 * out_ch, kernel_size, stride, self.padding, dilation), spectral_norm)
        self.activation = None if activation is None else make_activation(activation)

    @property
    def gate_bias(self) -> torch.Tensor:
        """The gate half of the bias (a view: writing to it changes the layer)."""
        return self.conv.bias[self.out_ch:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_bchw(x, "x", channels=self.in_ch)
        return gated_conv2d(x, self.conv.weight, self.conv.bias, self.stride, self.padding,
                            self.dilation, self.activation)


class GatedDeconv2d(nn.Module):
    """Nearest-neighbour ``scale``-times upsampling then a stride-1 :class:`GatedConv2d` (DeepFill v2).

    Shape:
        ``B×in_ch×H×W`` -> ``B×out_ch×(scale·H)×(scale·W)``.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, dilation: int = 1,
                 padding: Union[str, int] = "same", activation: ActivationArg = nn.ELU,
                 spectral_norm: bool = False, scale: int = 2) -> None:
        super().__init__()
        self.in_ch, self.scale = in_ch, scale
        self.conv = GatedConv2d(in_ch, out_ch, kernel_size, 1, dilation, padding, activation, spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_bchw(x, "x", channels=self.in_ch)
        return self.conv(F.interpolate(x, scale_factor=self.scale, mode="nearest"))
