"""Hole-mask helpers shared by every inpainting network.

Convention of this package: masks are ``B×1×H×W`` float tensors with **1 = hole** (pixels to fill) and
0 = known. Partial convolutions (Liu et al. 2018) want the opposite, a *valid* mask; :func:`to_valid`
is the one place that converts. :func:`composite` is the final paste used by every method
(e.g. Iizuka et al. 2017, GLCIC; Yu et al. 2018, DeepFill): prediction inside the hole, input elsewhere.

Example:
    >>> import torch
    >>> m = torch.zeros(1, 1, 8, 8); m[..., 2:4, 2:4] = 1
    >>> downsample_mask(m, 4).shape
    torch.Size([1, 1, 2, 2])
"""

from __future__ import annotations

from typing import Tuple, Union

import torch
import torch.nn.functional as F

from ._utils import check_bchw, check_mask

__all__ = ["downsample_mask", "to_valid", "composite"]


def downsample_mask(mask: torch.Tensor, size_or_factor: Union[int, Tuple[int, int]],
                    mode: str = "max") -> torch.Tensor:
    """Resize a hole mask to a feature map's resolution.

    Args:
        mask: ``B×1×H×W`` hole mask (1 = hole).
        size_or_factor: an ``int`` is a downsampling factor (output ``H // f × W // f``, at least 1);
            a ``(h, w)`` tuple is the output size.
        mode: ``'max'``: a cell is hole if any of its pixels is (conservative, what attention layers
            need to exclude patches touching the hole); ``'avg'``: the hole fraction of the cell
            (Shift-Net thresholds it).

    Returns:
        ``B×1×h×w`` mask with values in [0, 1].
    """
    check_bchw(mask, "mask", channels=1)
    if isinstance(size_or_factor, bool):
        raise ValueError("size_or_factor must be an int factor or an (h, w) tuple")
    if isinstance(size_or_factor, int):
        if size_or_factor < 1:
            raise ValueError(f"factor must be >= 1, got {size_or_factor}")
        size = (max(1, mask.shape[2] // size_or_factor), max(1, mask.shape[3] // size_or_factor))
    else:
        if len(size_or_factor) != 2 or min(size_or_factor) < 1:
            raise ValueError(f"size must be a positive (h, w) pair, got {size_or_factor!r}")
        size = (int(size_or_factor[0]), int(size_or_factor[1]))
    if mode == "max":
        return F.adaptive_max_pool2d(mask, size)
    if mode == "avg":
        return F.adaptive_avg_pool2d(mask, size)
    raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")


def to_valid(mask_hole: torch.Tensor) -> torch.Tensor:
    """Hole mask (1 = hole) -> valid mask (1 = known), as partial convolutions expect. ``B×1×H×W``."""
    check_bchw(mask_hole, "mask_hole", channels=1)
    return 1.0 - mask_hole


def composite(pred: torch.Tensor, image: torch.Tensor, mask_hole: torch.Tensor) -> torch.Tensor:
    """``pred`` inside the hole, ``image`` elsewhere: ``pred * m + image * (1 - m)``.

    Args:
        pred: ``B×C×H×W`` network output.
        image: ``B×C×H×W`` input image (same range as ``pred``).
        mask_hole: ``B×1×H×W`` hole mask (1 = hole); soft values blend.

    Returns:
        ``B×C×H×W`` composite.
    """
    check_bchw(pred, "pred")
    check_bchw(image, "image")
    if pred.shape != image.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and image {tuple(image.shape)} differ in shape")
    check_mask(mask_hole, image, "mask_hole")
    return pred * mask_hole + image * (1.0 - mask_hole)
