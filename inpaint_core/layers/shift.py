"""Shift-connection layer and guidance loss (Yan et al., "Shift-Net: Image Inpainting via Deep Feature
Rearrangement", ECCV 2018; https://github.com/Zhaoyi-Yan/Shift-Net_pytorch).

For every hole location ``y`` of the decoder feature ``Φ_{L-l}`` the layer finds the known location
``x*`` of the encoder feature ``Φ_l`` with the highest cosine similarity and copies ``Φ_l(x*)``:
the shifted map is zero outside the hole and is concatenated to ``[Φ_l, Φ_{L-l}]`` by the network.
Gradients flow back to the copied encoder vectors. A feature location is "hole" when the fraction of
hole pixels in its cell of the (image-resolution) mask exceeds ``threshold`` (Shift-Net: 5/16).
The guidance loss pulls the decoder feature towards the encoder feature of the ground truth in the hole.

Example:
    >>> import torch
    >>> m = torch.zeros(1, 1, 32, 32); m[..., 8:24, 8:24] = 1
    >>> shift_features(torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8), m).shape
    torch.Size([1, 4, 8, 8])
"""

from __future__ import annotations

from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ._utils import check_bchw, check_mask
from .mask_utils import downsample_mask

__all__ = ["feature_hole_mask", "shift_features", "ShiftLayer", "guidance_loss"]


def feature_hole_mask(mask: torch.Tensor, size: Tuple[int, int], threshold: float = 5 / 16) -> torch.Tensor:
    """``B×1×h×w`` float hole mask at feature size: 1 where the cell's hole fraction > ``threshold``."""
    return (downsample_mask(mask, size, mode="avg") > threshold).to(mask.dtype)


def shift_features(decoder_feat: torch.Tensor, encoder_feat: torch.Tensor, mask: torch.Tensor,
                   threshold: float = 5 / 16, patch_size: int = 1, eps: float = 1e-8,
                   return_indices: bool = False) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """Shift known encoder features into the hole by nearest-neighbour search.

    Args:
        decoder_feat: ``B×C×h×w`` decoder feature ``Φ_{L-l}`` (queries).
        encoder_feat: ``B×C×h×w`` encoder feature ``Φ_l`` (copied values).
        mask: ``B×1×H×W`` hole mask (1 = hole) at any resolution >= the features'.
        threshold: hole-fraction threshold for a feature cell to count as hole.
        patch_size: odd; 1 compares single vectors, 3 compares 3×3 neighbourhoods (zero padded). Either
            way the centre vector of the best known patch is copied.
        eps: keeps norms away from 0.
        return_indices: also return the ``B×h×w`` flat index of the source of each location (-1 outside
            the hole).

    Returns:
        ``B×C×h×w`` shifted features, zeros at known locations (and everywhere for a sample without any
        known location); with ``return_indices`` also the indices.
    """
    check_bchw(decoder_feat, "decoder_feat")
    check_bchw(encoder_feat, "encoder_feat")
    if decoder_feat.shape != encoder_feat.shape:
        raise ValueError(f"decoder {tuple(decoder_feat.shape)} and encoder {tuple(encoder_feat.shape)} differ")
    check_mask(mask, decoder_feat, same_size=False)
    if patch_size % 2 != 1 or patch_size < 1:
        raise ValueError(f"patch_size must be odd and positive, got {patch_size}")
    B, C, h, w = decoder_feat.shape
    hole = feature_hole_mask(mask, (h, w), threshold).view(B, h * w) > 0
    pad = patch_size // 2
    queries = F.normalize(F.unfold(decoder_feat, patch_size, padding=pad), dim=1, eps=eps)  # B×(C·p·p)×N
    keys = F.normalize(F.unfold(encoder_feat, patch_size, padding=pad), dim=1, eps=eps)
    similarity = torch.bmm(queries.transpose(1, 2), keys)  # B×N(query)×N(key)
    similarity = similarity.masked_fill(hole.unsqueeze(1), float("-inf"))  # only known keys
    source = similarity.argmax(dim=2)  # B×N
    use = hole & (~hole).any(dim=1, keepdim=True)
    values = encoder_feat.reshape(B, C, h * w)
    shifted = torch.gather(values, 2, source.unsqueeze(1).expand(-1, C, -1))
    shifted = (shifted * use.unsqueeze(1).to(shifted.dtype)).view(B, C, h, w)
    if not return_indices:
        return shifted
    return shifted, torch.where(use, source, torch.full_like(source, -1)).view(B, h, w)


class ShiftLayer(nn.Module):
    """Module form of :func:`shift_features`.

    Args:
        threshold, patch_size: as :func:`shift_features`.
        concat: return ``cat([encoder_feat, decoder_feat, shifted], 1)`` (Shift-Net's layer output,
            ``B×3C×h×w``) instead of the shifted map alone.
    """

    def __init__(self, threshold: float = 5 / 16, patch_size: int = 1, concat: bool = False) -> None:
        super().__init__()
        self.threshold, self.patch_size, self.concat = threshold, patch_size, concat

    def forward(self, decoder_feat: torch.Tensor, encoder_feat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        shifted = shift_features(decoder_feat, encoder_feat, mask, self.threshold, self.patch_size)
        return torch.cat([encoder_feat, decoder_feat, shifted], dim=1) if self.concat else shifted

    def extra_repr(self) -> str:
        return f"threshold={self.threshold:.4g}, patch_size={self.patch_size}, concat={self.concat}"


def guidance_loss(decoder_feat: torch.Tensor, target_encoder_feat: torch.Tensor, mask: torch.Tensor,
                  threshold: float = 5 / 16, reduction: str = "mean") -> torch.Tensor:
    """Shift-Net's guidance loss ``Σ_{y∈Ω} ||Φ_{L-l}(I)_y - Φ_l(I^gt)_y||²``.

    Args:
        decoder_feat: ``B×C×h×w`` decoder feature of the corrupted input.
        target_encoder_feat: ``B×C×h×w`` encoder feature of the ground truth (detach it yourself if the
            encoder should not learn from this loss).
        mask: ``B×1×H×W`` hole mask (1 = hole).
        threshold: as :func:`shift_features`.
        reduction: ``'mean'`` (over hole locations and channels; 0 without hole) or ``'sum'``.

    Returns:
        Scalar loss.
    """
    check_bchw(decoder_feat, "decoder_feat")
    check_bchw(target_encoder_feat, "target_encoder_feat")
    if decoder_feat.shape != target_encoder_feat.shape:
        raise ValueError(f"decoder {tuple(decoder_feat.shape)} and target {tuple(target_encoder_feat.shape)} differ")
    check_mask(mask, decoder_feat, same_size=False)
    hole = feature_hole_mask(mask, decoder_feat.shape[-2:], threshold)
    total = ((decoder_feat - target_encoder_feat).pow(2) * hole).sum()
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / (hole.sum() * decoder_feat.shape[1]).clamp(min=1)
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
