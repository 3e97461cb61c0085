"""Contextual attention (Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018,
DeepFill v1; https://github.com/JiahuiYu/generative_inpainting).

Background patches of the known region become convolution kernels; each foreground location scores them
by cosine similarity, the scores are fused along diagonals (neighbouring foreground locations prefer
neighbouring background patches), a scaled softmax turns them into attention, and a transposed
convolution with the raw (full-resolution) patches pastes the attended content back (computed here as
the equivalent matmul + ``fold``). Matching runs on features downsampled by ``rate`` for speed;
reconstruction uses the full-resolution patches.

Differences from the reference code, on purpose: each sample uses its own mask (the reference uses the
first sample's); the similarity is a true cosine (foreground patches normalised too, so ``softmax_scale``
does not depend on feature magnitude); masked patches get ``-inf`` before the softmax, and so do weights
below ``e^-30`` of the best (no visible change; avoids subnormals that slow CPU matmuls); fusion is 2-D
(no wrap-around between rows); overlapping pasted patches are averaged by their true overlap count, not
a constant 4; a sample whose every patch touches the hole falls back to all patches (not a zero output).

Example:
    >>> import torch
    >>> x = torch.randn(2, 8, 16, 16); m = torch.zeros(2, 1, 16, 16); m[..., 4:12, 4:12] = 1
    >>> contextual_attention(x, x, m).shape
    torch.Size([2, 8, 16, 16])
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ._utils import check_bchw, check_mask

__all__ = ["contextual_attention", "ContextualAttention"]


def _diagonal_sum(s: torch.Tensor, k: int) -> torch.Tensor:
    """``out[..., i, j] = Σ_d s[..., i + d, j + d]`` for ``|d| <= k // 2``, zero outside."""
    r = k // 2
    padded = F.pad(s, (r, r, r, r))
    n, m = s.shape[-2:]
    return sum(padded[..., r + d:r + d + n, r + d:r + d + m] for d in range(-r, r + 1))


def _fuse(scores: torch.Tensor, hb: int, wb: int, fuse_k: int) -> torch.Tensor:
    """Sum scores along diagonals: ``s'(f, b) = Σ_d s(f + d, b + d)``, first along x, then along y."""
    B, _, h, w = scores.shape
    s = _diagonal_sum(scores.view(B, hb, wb, h, w).transpose(2, 3), fuse_k)  # B×hb×h×wb×w
    s = _diagonal_sum(s.permute(0, 3, 4, 1, 2), fuse_k)  # B×wb×w×hb×h
    return s.permute(0, 3, 1, 4, 2).reshape(B, hb * wb, h, w)


def contextual_attention(foreground: torch.Tensor, background: torch.Tensor,
                         mask: Optional[torch.Tensor] = None, ksize: int = 3, stride: int = 1, rate: int = 2,
                         fuse_k: int = 3, softmax_scale: float = 10.0, fuse: bool = True,
                         return_flow: bool = False,
                         eps: float = 1e-4) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """Fill ``foreground`` with attended patches of ``background``'s known region.

    Args:
        foreground: ``B×C×H×W`` features to be filled (queries).
        background: ``B×C×H×W`` features to copy from (keys and values); often the same tensor.
        mask: ``B×1×h×w`` hole mask (1 = hole), resized to ``H×W`` (max-pooled when larger) if needed;
            ``None``: everything is known. Background patches touching the hole are never used.
        ksize: odd patch size for matching (at the downsampled resolution).
        stride: background patch stride (at the downsampled resolution); fusion assumes 1.
        rate: matching runs at ``1/rate`` resolution; ``H`` and ``W`` must be divisible by it. Pasted
            patches are ``ksize·rate`` full-resolution patches.
        fuse_k: odd size of the identity kernel of the attention fusion.
        softmax_scale: multiplies the (fused) cosine similarities before the softmax.
        fuse: apply the attention fusion.
        return_flow: also return the displacement to the best-matching patch.
        eps: keeps the patch norms away from 0.

    Returns:
        ``B×C×H×W`` reconstruction; with ``return_flow`` also a ``B×2×(H/rate)×(W/rate)`` flow
        ``(dy, dx)`` in full-resolution pixels from each location to its best background patch.
    """
    check_bchw(foreground, "foreground")
    check_bchw(background, "background")
    if foreground.shape != background.shape:
        raise ValueError(f"foreground {tuple(foreground.shape)} and background {tuple(background.shape)} differ")
    if ksize % 2 != 1 or fuse_k % 2 != 1 or ksize < 1 or fuse_k < 1:
        raise ValueError(f"ksize and fuse_k must be odd and positive, got {ksize}, {fuse_k}")
    if rate < 1 or stride < 1:
        raise ValueError(f"rate and stride must be >= 1, got {rate}, {stride}")
    B, C, H, W = foreground.shape
    if H % rate or W % rate:
        raise ValueError(f"H and W must be divisible by rate={rate}, got {H}×{W}")
    if mask is None:
        mask = foreground.new_zeros(B, 1, H, W)
    else:
        check_mask(mask, foreground, same_size=False)
        if mask.shape[-2:] != (H, W):
            larger = mask.shape[-2] >= H and mask.shape[-1] >= W
            mask = F.adaptive_max_pool2d(mask, (H, W)) if larger else F.interpolate(mask, size=(H, W))
    h, w, pad = H // rate, W // rate, ksize // 2
    f = F.interpolate(foreground, size=(h, w), mode="nearest") if rate > 1 else foreground
    b = F.interpolate(background, size=(h, w), mode="nearest") if rate > 1 else background
    m = F.max_pool2d(mask, rate) if rate > 1 else mask
    hb, wb = (h - 1) // stride + 1, (w - 1) // stride + 1
    L = hb * wb

    keys = F.unfold(b, ksize, padding=pad, stride=stride)  # B×(C·k·k)×L
    keys = keys / (keys.pow(2).sum(1, keepdim=True) + eps).sqrt()
    queries = F.unfold(f, ksize, padding=pad)  # B×(C·k·k)×(h·w)
    queries = queries / (queries.pow(2).sum(1, keepdim=True) + eps).sqrt()
    scores = torch.bmm(keys.transpose(1, 2), queries).view(B, L, h, w)  # cosine similarities
    if fuse:
        scores = _fuse(scores, hb, wb, fuse_k)

    known = F.unfold(m, ksize, padding=pad, stride=stride).sum(1) == 0  # B×L
    known = known | ~known.any(dim=1, keepdim=True)
    scores = (scores * softmax_scale).masked_fill(~known.view(B, L, 1, 1), float("-inf"))
    # weights below e^-30 of the best change nothing visible, but their subnormals slow CPU matmuls 10-50×
    negligible = scores < scores.detach().amax(dim=1, keepdim=True) - 30.0
    attention = torch.softmax(scores.masked_fill(negligible, float("-inf")), dim=1)  # B×L×h×w

    kr = ksize * rate
    values = F.unfold(background, kr, padding=rate * pad, stride=rate * stride)  # B×(C·kr·kr)×L
    pasted = torch.bmm(values, attention.view(B, L, h * w))  # B×(C·kr·kr)×(h·w)
    fold = {"output_size": (H, W), "kernel_size": kr, "padding": rate * pad, "stride": rate}
    count = F.fold(f.new_ones(1, kr * kr, h * w), **fold)  # how many pasted patches cover each pixel
    out = F.fold(pasted, **fold) / count
    if not return_flow:
        return out
    best = attention.argmax(dim=1)  # B×h×w
    ys = torch.arange(h, device=best.device).view(1, h, 1)
    xs = torch.arange(w, device=best.device).view(1, 1, w)
    flow = torch.stack([(best // wb) * stride - ys, (best % wb) * stride - xs], dim=1) * rate
    return out, flow.to(foreground.dtype)


class ContextualAttention(nn.Module):
    """Module form of :func:`contextual_attention` (no parameters; stores the options).

    Shape:
        ``foreground``, ``background``: ``B×C×H×W``, ``mask``: ``B×1×H×W`` -> ``B×C×H×W``
        (and ``B×2×(H/rate)×(W/rate)`` flow with ``return_flow``).
    """

    def __init__(self, ksize: int = 3, stride: int = 1, rate: int = 2, fuse_k: int = 3,
                 softmax_scale: float = 10.0, fuse: bool = True, return_flow: bool = False) -> None:
        super().__init__()
        self.ksize, self.stride, self.rate, self.fuse_k = ksize, stride, rate, fuse_k
        self.softmax_scale, self.fuse, self.return_flow = softmax_scale, fuse, return_flow

    def forward(self, foreground: torch.Tensor, background: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        return contextual_attention(foreground, background, mask, self.ksize, self.stride, self.rate,
                                    self.fuse_k, self.softmax_scale, self.fuse, self.return_flow)

    def extra_repr(self) -> str:
        return (f"ksize={self.ksize}, stride={self.stride}, rate={self.rate}, fuse_k={self.fuse_k}, "
                f"softmax_scale={self.softmax_scale}, fuse={self.fuse}")
