"""GLCIC post-processing: blend generated content into the image without a visible seam.

S. Iizuka, E. Simo-Serra, H. Ishikawa, "Globally and Locally Consistent Image Completion",
SIGGRAPH 2017, section 3.4: the hole is first filled by the fast marching method (Telea) to give a
background, then the network's output is Poisson-blended over it (``cv2.seamlessClone``,
NORMAL_CLONE), so the colours of the generated content follow the surrounding image.

Work is done per hole window (:func:`~inpaint_core.windows.hole_windows`), so a 6000x4000 image
with a few small holes costs what its windows cost.
"""

from __future__ import annotations

import cv2
import numpy as np

from inpaint_core.windows import Window, hole_windows, validate_mask

__all__ = ["glcic_blend", "BLEND_MARGIN_DOC"]

BLEND_MARGIN_DOC = (
    "glcic_blend changes only the hole and the pixels whose Euclidean distance to the nearest hole "
    "pixel is at most `margin`; every pixel farther than `margin` from the hole equals the input "
    "image bit for bit. Inside that band the generated content's gradients are Poisson-integrated "
    "(cv2.seamlessClone, NORMAL_CLONE) onto a fast-marching fill of the hole, so its colours follow "
    "the surrounding image; at the image border the band is mirrored (zero-derivative condition)."
)

# Reflection padding on sides where a window touches the image border, at most this many pixels.
# seamlessClone zeroes the outer 1-px ring of its mask and needs the clone rectangle inside the
# destination, so a hole touching the border must be moved off it. Mirroring the whole window
# (hole included) also makes the mirrored hole surrounded by mirrored known pixels, so the
# Poisson solution is symmetric: a zero-derivative condition at the image border instead of the
# fast-marching guess. Beyond the cap (very long holes) the boundary falls back to that guess.
_MAX_REFLECT = 256
_UNDO_EROSION = np.ones((7, 7), np.uint8)


def _check(image: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> None:
    for what, arr in (("image", image), ("filled", filled)):
        if not isinstance(arr, np.ndarray) or arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            got = (arr.shape, arr.dtype) if isinstance(arr, np.ndarray) else type(arr).__name__
            raise ValueError(f"{what}: expected an HxWx3 uint8 RGB array, got {got}")
    if filled.shape != image.shape:
        raise ValueError(f"filled: shape {filled.shape} does not match the image's {image.shape}")
    validate_mask(mask, image.shape[:2])


def _border_pads(window: Window, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Reflection widths ``((top, bottom), (left, right))``: only where the window meets the border."""
    h, w = window.y1 - window.y0, window.x1 - window.x0
    top = min(h, _MAX_REFLECT) if window.y0 == 0 else 0
    bottom = min(h, _MAX_REFLECT) if window.y1 == height else 0
    left = min(w, _MAX_REFLECT) if window.x0 == 0 else 0
    right = min(w, _MAX_REFLECT) if window.x1 == width else 0
    return (top, bottom), (left, right)


def _blend_window(image: np.ndarray, filled: np.ndarray, hole: np.ndarray, pads: tuple,
                  margin: int, fmm_radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Blend one window crop; returns ``(blended hxwx3, region hxw bool)`` for the unpadded crop."""
    image_p = np.pad(image, pads + ((0, 0),), mode="symmetric")
    filled_p = np.pad(filled, pads + ((0, 0),), mode="symmetric")
    hole_p = np.pad(hole, pads, mode="symmetric").view(np.uint8)
    background = cv2.inpaint(image_p, hole_p, fmm_radius, cv2.INPAINT_TELEA)
    # Distance to the nearest hole pixel (exact Euclidean), so the margin is a true radius.
    distance = cv2.distanceTransform(1 - hole_p, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    region = distance <= margin
    # OpenCV's NORMAL_CLONE erodes its mask by a 7x7 square before taking the source's gradients
    # (and fails on masks under 3 px); dilating by the same square first makes the generated
    # content drive the whole region, thin scratches included.
    clone_mask = cv2.dilate(region.view(np.uint8) * np.uint8(255), _UNDO_EROSION)
    clone_mask[[0, -1], :] = 0  # what seamlessClone does anyway; done here so the centre below matches
    clone_mask[:, [0, -1]] = 0
    x, y, w, h = cv2.boundingRect(clone_mask)
    # seamlessClone pastes the mask's bounding box with its top-left at centre - size // 2.
    center = (x + w // 2, y + h // 2)
    blended = cv2.seamlessClone(filled_p, background, clone_mask, center, cv2.NORMAL_CLONE)
    (top, bottom), (left, right) = pads
    inner = (slice(top, blended.shape[0] - bottom), slice(left, blended.shape[1] - right))
    return blended[inner], region[inner]


def glcic_blend(image: np.ndarray, filled: np.ndarray, mask: np.ndarray, *,
                margin: int = 8, fmm_radius: int = 3) -> np.ndarray:
    """Poisson-blend generated content into an image around its holes (GLCIC post-process).

    See :data:`BLEND_MARGIN_DOC` for what is guaranteed unchanged.

    Args:
        image: HxWx3 uint8 RGB, the original (hole pixels are ignored).
        filled: HxWx3 uint8 RGB, the generator's output (only the hole and the margin band are read).
        mask: HxW bool or uint8, non-zero = hole.
        margin: width in pixels of the band around the hole that is blended (>= 0); 0 blends the
            hole alone, as in the paper.
        fmm_radius: radius of the fast marching fill that serves as the background (1..100).

    Returns:
        A new HxWx3 uint8 array. Empty mask: a copy of ``image``. Mask covering the whole image:
        a copy of ``filled`` (no known pixel to blend towards).

    Raises:
        ValueError: on mismatched shapes, bad dtypes or parameters.

    Example:
        >>> out = glcic_blend(image, generator_output, mask, margin=8)  # doctest: +SKIP
    """
    _check(image, filled, mask)
    if margin < 0 or not 1 <= fmm_radius <= 100:
        raise ValueError(f"need margin >= 0 and fmm_radius in 1..100, got {margin}, {fmm_radius}")
    hole = mask != 0
    output = image.copy()
    if not hole.any():
        return output
    if hole.all():
        return filled.copy()
    # Context: the blended band, then the larger of FMM's read-set (radius + 1) and the clone
    # mask's dilation (3), plus the ring seamlessClone zeroes (1).
    context = margin + max(fmm_radius + 1, 3) + 1
    for window in hole_windows(hole, margin=context):
        s = window.slices
        pads = _border_pads(window, *hole.shape)
        blended, region = _blend_window(image[s], filled[s], hole[s], pads, margin, fmm_radius)
        output[s][region] = blended[region]
    return output
