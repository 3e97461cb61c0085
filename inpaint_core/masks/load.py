"""Turn mask files and alpha channels into hole masks that fit their image.

Masks are ``H×W`` bool with ``True`` = hole, in the image's display (EXIF-applied) orientation.
"""

from __future__ import annotations

import cv2
import numpy as np

from inpaint_core.errors import MaskError
from inpaint_core.imageio import DecodedImage, apply_orientation, nodata_sample

_ON_MISMATCH = ("fail", "resize")


def mask_from_alpha(alpha: np.ndarray, threshold: int = 255) -> np.ndarray:
    """Holes where the image is (partly) transparent.

    Args:
        alpha: ``H×W`` alpha channel, uint8, or uint16 (a 16-bit source's, read at full depth).
        threshold: A pixel is a hole when ``alpha < threshold`` (on 8 bits; ``threshold * 257`` on
            16 bits); the default 255 makes every pixel that is not fully opaque a hole
            (anti-aliased edges of a cut-out included).

    Returns:
        ``H×W`` bool, ``True`` = hole.

    Example:
        >>> mask_from_alpha(np.array([[0, 128, 255]], np.uint8)).tolist()
        [[True, True, False]]
        >>> mask_from_alpha(np.array([[65500, 65535]], np.uint16)).tolist()  # 65500 rounds to 255 on 8 bits
        [[True, False]]
    """
    if not isinstance(alpha, np.ndarray) or alpha.ndim != 2 or alpha.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"alpha must be an H×W uint8 or uint16 array, got {getattr(alpha, 'shape', type(alpha))}")
    return alpha < (threshold * 257 if alpha.dtype == np.uint16 else threshold)


def mask_from_nodata(samples: np.ndarray, nodata: str | float | None) -> np.ndarray | None:
    """Holes where every sample of a pixel equals a tile's declared nodata value (GDAL_NODATA).

    Args:
        samples: ``H×W×C`` (or ``H×W``): the colour samples at the source's depth and type (uint8,
            uint16, or a TIFF of values' own: int16 for an SRTM tile). Of float samples, a finite
            value is compared in their own type (GDAL writes float32's least value as
            ``-3.4028234663852886e+38``); every pixel with a NaN sample is a hole whatever the
            value (``"nan"`` marks those alone).
        nodata: the tag's text (``"0"``, ``"65535"``, ``"-9999"``, ``"nan"``) or a number.

    Returns:
        ``H×W`` bool, ``True`` = hole; ``None`` when the value cannot occur in these samples (not a
        number; for integer samples, not a whole number or outside the dtype's range), so there is no
        nodata to find.

    Example:
        >>> mask_from_nodata(np.array([[[0, 0, 0], [0, 5, 0]]], np.uint8), "0").tolist()
        [[True, False]]
        >>> mask_from_nodata(np.zeros((1, 2, 3), np.uint8), "-9999") is None
        True
    """
    value = nodata_sample(nodata, samples.dtype)
    if value is None:
        return None
    planes = samples if samples.ndim == 3 else samples[..., None]
    # a NaN sample holds no value, whatever value the tag declares: it is missing too (and would reach
    # the fill beside it as the proxy's 0)
    missing = np.isnan(planes).any(axis=2) if samples.dtype.kind == "f" else None
    if np.isnan(value):
        return missing
    with np.errstate(invalid="ignore"):  # (comparing a signalling NaN)
        equal = (planes == value).all(axis=2)
    return equal if missing is None else equal | missing


def fit_mask(mask: np.ndarray, image: DecodedImage, *, on_mismatch: str = "fail") -> np.ndarray:
    """Make a mask match its decoded image.

    A mask of the oriented size is returned as is. A mask of the raw (pre-EXIF) size was drawn on
    the stored pixels, so it gets the image's EXIF transpose. For orientations that keep the size
    (2, 3, 4) or square images the two cannot be told apart; the mask is then taken as oriented,
    which is what a person drawing on the displayed photo produces.

    Args:
        mask: ``H×W`` bool.
        image: The decoded image the mask belongs to.
        on_mismatch: ``"fail"`` raises on any other size; ``"resize"`` scales the mask with
            nearest neighbour (no new grey values to threshold).

    Returns:
        ``H×W`` bool with ``(W, H) == image.size``.

    Raises:
        MaskError: Size mismatch with ``on_mismatch="fail"``.
        ValueError: ``mask`` is not 2-D or ``on_mismatch`` is unknown.
    """
    if on_mismatch not in _ON_MISMATCH:
        raise ValueError(f"on_mismatch must be one of {_ON_MISMATCH}, got {on_mismatch!r}")
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ValueError(f"mask must be an H×W array, got {getattr(mask, 'shape', type(mask))}")
    mask = mask.astype(bool, copy=False)
    width, height = image.size
    if mask.shape == (height, width):
        return mask
    raw_w, raw_h = image.raw_size
    if mask.shape == (raw_h, raw_w) and image.orientation != 1:
        return apply_orientation(mask, image.orientation)
    if on_mismatch == "fail":
        raise MaskError(f"mask is {mask.shape[1]}x{mask.shape[0]} but image is {width}x{height}")
    resized = cv2.resize(mask.view(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    return resized.astype(bool)


def mask_stats(mask: np.ndarray) -> dict:
    """Summary numbers for a manifest row.

    Args:
        mask: ``H×W`` bool.

    Returns:
        ``{"hole_fraction": float in [0, 1], "components": int}``; components are counted with
        8-connectivity, so a diagonal scratch is one component.
    """
    if mask.size == 0:
        return {"hole_fraction": 0.0, "components": 0}
    count, _ = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return {"hole_fraction": float(mask.mean()), "components": int(count) - 1}  # minus background


def classify_mask(mask: np.ndarray) -> str:
    """``"empty"`` (nothing to do), ``"full"`` (nothing to inpaint from) or ``"partial"``."""
    if not mask.any():
        return "empty"
    return "full" if mask.all() else "partial"


def nodata_pixels(image: DecodedImage) -> np.ndarray | None:
    """``H×W`` bool, ``True`` where a TIFF says a pixel is nodata: its nodata value
    (:func:`mask_from_nodata`, NaN included) and its internal mask, together; ``None`` when it
    declares neither (or a value its samples cannot hold)."""
    missing = None if image.nodata is None else mask_from_nodata(image.samples, image.nodata)
    if image.nodata_mask is not None:
        missing = image.nodata_mask if missing is None else missing | image.nodata_mask
    return missing


def missing_pixels(image: DecodedImage) -> np.ndarray | None:
    """``H×W`` bool, ``True`` where an image holds no picture, as a restore would take it:
    its nodata (a TIFF's value, NaN samples, its internal mask) and its transparent pixels (alpha
    below 255: a cut-out's background, whose colour is whatever the file stored); ``None`` when
    every pixel holds one. A model trained on such pixels as ground truth learns to paint voids, and
    a score against them measures nothing."""
    missing = nodata_pixels(image)
    if image.alpha is not None:
        clear = mask_from_alpha(image.alpha if image.alpha16 is None else image.alpha16)
        missing = clear if missing is None else missing | clear
    return missing if missing is not None and missing.any() else None
