"""Partial convolution (Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions",
ECCV 2018; reference code https://github.com/NVIDIA/partialconv, BSD-3-Clause-style NVIDIA licence).

Partial convolutions use a **valid** mask (1 = known pixel, 0 = hole), the opposite of this package's
hole masks: convert with ``valid = 1 - mask_hole`` (:func:`inpaint_core.layers.to_valid`). Per window::

    out  = W^T (X ⊙ M) · sum(1) / sum(M) + b    if sum(M) > 0
         = 0                                    otherwise
    M'   = 1 if sum(M) > 0 else 0

``sum(1)`` is the window size ``k·k`` (single-channel mask) or ``C_in·k·k`` (multi-channel mask, one
valid flag per input channel as NVIDIA's ``multi_channel=True``). Masks are expected to be binary.

Example:
    >>> import torch
    >>> pconv = PartialConv2d(3, 8, 3)
    >>> out, valid = pconv(torch.randn(1, 3, 8, 8), torch.ones(1, 1, 8, 8))
    >>> out.shape, valid.shape
    (torch.Size([1, 8, 8, 8]), torch.Size([1, 1, 8, 8]))
"""

from __future__ import annotations

import math
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ._utils import check_bchw, resolve_padding

__all__ = ["partial_conv2d", "PartialConv2d"]


def partial_conv2d(x: torch.Tensor, valid: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor] = None, stride: int = 1, padding: int = 0,
                   dilation: int = 1) -> Tuple[torch.Tensor, torch.Tensor]:
    """Partial convolution and mask update.

    Args:
        x: ``B×C_in×H×W`` input.
        valid: ``B×1×H×W`` (shared) or ``B×C_in×H×W`` (per channel) **valid** mask, 1 = known.
        weight: ``C_out×C_in×k_h×k_w``.
        bias: ``C_out`` or ``None``.
        stride, padding, dilation: as :func:`torch.nn.functional.conv2d` (zero padding counts as hole).

    Returns:
        ``(out, updated_valid)``: ``B×C_out×H'×W'`` and ``B×1×H'×W'`` (shared mask) or
        ``B×C_out×H'×W'`` (per-channel mask, all channels equal, ready for the next multi-channel layer).
    """
    check_bchw(x, "x")
    check_bchw(valid, "valid")
    if valid.shape[0] != x.shape[0] or valid.shape[2:] != x.shape[2:] or valid.shape[1] not in (1, x.shape[1]):
        raise ValueError(f"valid must be B×1×H×W or B×C×H×W like x {tuple(x.shape)}, got {tuple(valid.shape)}")
    if weight.ndim != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight must be C_out×{x.shape[1]}×k×k, got {tuple(weight.shape)}")
    channels = valid.shape[1]
    ones = torch.ones(1, channels, *weight.shape[-2:], dtype=x.dtype, device=x.device)
    window = float(math.prod(ones.shape))  # sum(1)
    with torch.no_grad():  # the mask is a constant of the layer, as in NVIDIA's code
        valid_count = F.conv2d(valid, ones, None, stride, padding, dilation)
        updated = (valid_count > 0).to(x.dtype)
        ratio = window / valid_count.clamp(min=1e-8) * updated
    raw = F.conv2d(x * valid, weight, None, stride, padding, dilation)
    out = raw * ratio
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    out = out * updated
    if channels > 1:
        updated = updated.expand(-1, weight.shape[0], -1, -1).contiguous()
    return out, updated


class PartialConv2d(nn.Module):
    """Module form of :func:`partial_conv2d`.

    Args:
        in_ch, out_ch, kernel_size, stride, dilation, bias: as :class:`torch.nn.Conv2d`.
        padding: ``'same'`` (odd kernels) or an int.
        multi_channel: one valid flag per input channel (``valid`` may still be ``B×1×H×W``; it is
            broadcast) and the updated mask has ``out_ch`` channels.

    Shape:
        ``x``: ``B×in_ch×H×W``, ``valid``: ``B×1×H×W`` (or ``B×in_ch×H×W`` with ``multi_channel``) ->
        ``(B×out_ch×H'×W', B×1×H'×W' or B×out_ch×H'×W')``.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1,
                 padding: Union[str, int] = "same", dilation: int = 1, bias: bool = True,
                 multi_channel: bool = False) -> None:
        super().__init__()
        self.in_ch, self.multi_channel = in_ch, multi_channel
        self.stride, self.dilation = stride, dilation
        self.padding = resolve_padding(padding, kernel_size, dilation)
        self.weight = nn.Parameter(torch.empty(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        check_bchw(x, "x", channels=self.in_ch)
        check_bchw(valid, "valid")
        if self.multi_channel:
            if valid.shape[1] == 1:
                valid = valid.expand(-1, self.in_ch, -1, -1)
        elif valid.shape[1] != 1:
            raise ValueError(f"valid must have 1 channel (multi_channel=False), got {tuple(valid.shape)}")
        return partial_conv2d(x, valid, self.weight, self.bias, self.stride, self.padding, self.dilation)
