"""Detect damage that needs no human to mask it: nodata fill and scratches/dust of scans.

Every detector takes an RGB ``H×W×3`` uint8 image and returns an ``H×W`` bool hole mask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np
_HYSTERESIS = 0.8  # grow seeds into pixels this fraction as strong


def detect_solid_fill(
    rgb: np.ndarray,
    *,
    colors: Iterable[tuple[int, int, int]] = ((255, 255, 255), (0, 0, 0)),
    tolerance: int = 0,
    min_area: int = 64,
) -> np.ndarray:
    """Regions filled with a nodata colour (scanner borders, missing tiles, blanked areas).

    Args:
        rgb: ``H×W×3`` uint8, or uint16 (a 16-bit source at full depth: colours and tolerance are
            then scaled by 257, so with tolerance 0 only samples of exactly 0 or 65535 match, and a
            dark pixel at 100 of 65535, which is 0 on the 8-bit view, is image content).
        colors: Fill colours to look for, RGB, in 8-bit levels.
        tolerance: A pixel matches when every channel is within this many (8-bit) levels of a colour
            (JPEG blurs a flat fill by a few levels; 0 for lossless sources).
        min_area: Connected regions (8-connectivity, all colours together) smaller than this are
            kept as image content: a few pure-white highlight pixels are not missing data.

    Returns:
        ``H×W`` bool, ``True`` = fill region.
    """
    _check_rgb(rgb, sixteen_bit=True)
    scale = 257 if rgb.dtype == np.uint16 else 1
    top = 255 * scale
    match = np.zeros(rgb.shape[:2], np.uint8)
    for color in colors:
        low = np.clip((np.asarray(color, np.int64) - tolerance) * scale, 0, top).astype(float)
        high = np.clip((np.asarray(color, np.int64) + tolerance) * scale, 0, top).astype(float)
        match |= cv2.inRange(rgb, low, high)  # 255 where all three channels are in range
    return _keep_components(match, lambda stats: stats[:, cv2.CC_STAT_AREA] >= min_area)


def detect_scratches(
    rgb: np.ndarray,
    *,
    max_width: int = 5,
    min_length: int = 15,
    speck_max_area: int = 30,
    contrast: float = 60.0,
    percentile: float = 99.0,
    isolation: float = 3.0,
) -> np.ndarray:
    """Thin bright/dark scratches and dust specks of scanned photos.

    White and black top-hats with a disc a bit wider than ``max_width`` keep only structures too
    narrow for the disc (scratches, specks) and flatten object edges and shading. Seeds are pixels
    whose response is at least ``contrast`` gray levels and at least the ``percentile``-th
    percentile of the response (textured photos raise their own bar); components are grown from
    seeds down to 0.8 × that threshold (hysteresis: a scratch fading along its length stays one
    piece). A component is kept when it stands out from a ring around it (mean response >=
    ``isolation`` × ring mean + 1: texture is surrounded by texture, a scratch by the photo) and is

    * line-shaped: its minimum-area rectangle is >= ``min_length`` long, <= ``max_width`` + 1 wide
      and its mean width (area / length) <= ``max_width``; any orientation, or
    * a speck: area <= ``speck_max_area``, and response >= 2 × the threshold (a lone dot is weaker
      evidence than a line).

    Limits: thin real structures (whiskers, wires, seams, straight rims) look exactly like
    scratches to this test; crossing scratches form one star-shaped component that is not a line.

    Args:
        rgb: ``H×W×3`` uint8.
        max_width: Widest scratch to find, pixels.
        min_length: Shortest scratch to find, pixels.
        speck_max_area: Largest dust speck, pixels.
        contrast: Minimum top-hat response of a seed, gray levels.
        percentile: Seeds must also reach this percentile of the response.
        isolation: How much a component must stand out from its surroundings.

    Returns:
        ``H×W`` bool, dilated by 1 px so holes also cover the defects' anti-aliased edges.
    """
    _check_rgb(rgb)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    size = max_width + 2 + (max_width + 1) % 2  # odd and > max_width: the disc must not fit inside
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    shape = _Shape(max_width, min_length, speck_max_area, isolation)
    hole = np.zeros(gray.shape, bool)
    for op, signed in ((cv2.MORPH_TOPHAT, gray), (cv2.MORPH_BLACKHAT, 255 - gray)):  # bright, dark
        response = cv2.morphologyEx(gray, op, disc)
        seed = max(contrast, float(np.percentile(response, percentile)))
        hole |= _thin_components(response, signed, seed, shape)
    return cv2.dilate(hole.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


@dataclass(frozen=True)
class _Shape:
    max_width: int
    min_length: int
    speck_max_area: int
    isolation: float


def _thin_components(response: np.ndarray, signed: np.ndarray, seed: float, shape: _Shape) -> np.ndarray:
    """Line- or speck-shaped, isolated components of one top-hat response (``H×W`` uint8).

    ``signed`` is the gray image with the defect polarity made bright (inverted for dark defects).
    """
    grown = (response >= _HYSTERESIS * seed).view(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    flat_labels, flat_resp = labels.ravel(), response.ravel().astype(np.float32)
    area = stats[:, cv2.CC_STAT_AREA]
    peak = np.zeros(count, np.float32)
    np.maximum.at(peak, flat_labels, flat_resp)
    mean = np.bincount(flat_labels, weights=flat_resp, minlength=count) / np.maximum(area, 1)
    isolated = mean >= shape.isolation * _ring_mean(response, labels, count, shape.max_width) + 1.0
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    speck = isolated & (area <= shape.speck_max_area) & (peak >= 2 * seed)
    speck &= _stands_above_rim(signed, labels, count, 0.5 * seed)
    keep = speck.copy()
    for i in np.flatnonzero(isolated & (peak >= seed) & (area > shape.speck_max_area) & (extent >= shape.min_length)):
        keep[i] = _is_line(labels, stats[i], i, shape)
    keep[0] = False  # background
    return keep[labels]


def _ring_mean(response: np.ndarray, labels: np.ndarray, count: int, max_width: int) -> np.ndarray:
    """Mean response in a ring around each component, skipping 2 px of anti-aliased fringe."""
    as_float = labels.astype(np.float32)  # cv2.dilate has no int32; labels < 2**24 are exact
    far = 2 * max_width + 5
    outer = cv2.dilate(as_float, np.ones((far, far), np.uint8)).astype(np.int32)
    inner = cv2.dilate(as_float, np.ones((5, 5), np.uint8)).astype(np.int32)
    ring = (outer > 0) & (inner == 0)
    owner = outer[ring]
    total = np.bincount(owner, weights=response[ring].astype(np.float64), minlength=count)
    return total / np.maximum(np.bincount(owner, minlength=count), 1)


def _stands_above_rim(signed: np.ndarray, labels: np.ndarray, count: int, margin: float) -> np.ndarray:
    """A speck is brighter than every pixel around it; the corner the round disc leaves of a
    bright rectangle is not (the rectangle next to it is as bright)."""
    rim = cv2.dilate(labels.astype(np.float32), np.ones((5, 5), np.uint8)).astype(np.int32)
    ring = (rim > 0) & (labels == 0)
    brightest_rim = np.zeros(count, np.int32)
    np.maximum.at(brightest_rim, rim[ring], signed[ring].astype(np.int32))
    brightest_in = np.zeros(count, np.int32)
    np.maximum.at(brightest_in, labels.ravel(), signed.ravel().astype(np.int32))
    return brightest_in - brightest_rim >= margin


def _is_line(labels: np.ndarray, stat: np.ndarray, label: int, shape: _Shape) -> bool:
    x, y, w, h = (int(v) for v in stat[:4])
    ys, xs = np.nonzero(labels[y : y + h, x : x + w] == label)
    _, (rw, rh), _ = cv2.minAreaRect(np.column_stack([xs, ys]).astype(np.float32))
    length, width = max(rw, rh), min(rw, rh)
    return length >= shape.min_length and width <= shape.max_width + 1 and len(xs) / length <= shape.max_width


def _keep_components(binary: np.ndarray, keep: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Components (8-connectivity) of a uint8 0/255 image whose stats pass ``keep``."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    kept = keep(stats)
    kept[0] = False  # background
    return kept[labels]


def _check_rgb(rgb: np.ndarray, sixteen_bit: bool = False) -> None:
    dtypes = (np.uint8, np.uint16) if sixteen_bit else (np.uint8,)
    if not isinstance(rgb, np.ndarray) or rgb.dtype not in dtypes or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an H×W×3 {' or '.join(np.dtype(d).name for d in dtypes)} array, "
                         f"got {getattr(rgb, 'shape', type(rgb))} {getattr(rgb, 'dtype', '')}")


DETECTORS: dict[str, Callable[..., np.ndarray]] = {
    "solid": detect_solid_fill,
    "scratches": detect_scratches,
}


def detect_mask(
    rgb: np.ndarray,
    names: Iterable[str] = ("solid", "scratches"),
    options: Mapping[str, Mapping[str, object]] | None = None,
    rgb16: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Union of several detectors.

    Args:
        rgb: ``H×W×3`` uint8.
        rgb16: the same image's 16-bit samples, if it has them: ``solid`` then matches at full depth.
        names: Keys of :data:`DETECTORS` to run, in order.
        options: Keyword arguments per detector name, e.g. ``{"solid": {"tolerance": 3}}``.

    Returns:
        ``(mask, found)``: ``H×W`` bool union, and the names of the detectors that marked anything.

    Raises:
        ValueError: An unknown detector name (the message lists the known ones), or options for a
            detector that is not run (a silently ignored option is a bug waiting to happen).
    """
    names = list(names)
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; known: {sorted(DETECTORS)}")
    options = dict(options or {})
    unused = sorted(set(options) - set(names))
    if unused:
        raise ValueError(f"options given for detector(s) not run: {unused}; running {names}")
    _check_rgb(rgb)
    mask = np.zeros(rgb.shape[:2], bool)
    found = []
    for name in names:
        full = rgb16 if name == "solid" and rgb16 is not None else rgb
        detected = DETECTORS[name](full, **options.get(name, {}))
        if detected.any():
            found.append(name)
            mask |= detected
    return mask, found
