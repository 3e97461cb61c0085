"""Scores of a fill: no-reference (for the manifest of every image) and full-reference (for tests
and benchmarks where the true image is known).

No-reference scores compare the fill with the ring of known pixels around it, so they need no
ground truth. They are cheap: computed on the bounding box of the windows around the holes (see
:func:`inpaint_core.windows.hole_windows`) with a few whole-array OpenCV passes, then reduced per
window.

- ``seam``: mean absolute step between a hole pixel and its known 4-neighbour in ``restored``,
  divided by the mean absolute step between neighbouring known pixels of the ring in ``image``.
  About 1 when the boundary is as smooth as the surrounding texture, large for a visible seam.
- ``color_delta``: CIE 1976 ΔE*ab between the mean colour of the fill and of the ring.
- ``texture_ratio``: standard deviation of the 4-neighbour Laplacian inside the fill (away from its
  boundary) over that in the ring (away from the hole). About 1 for matching texture, well below 1
  for an over-smooth, blurry fill.
- ``likely_bad``: the image-level seam, colour or texture score beyond its threshold below, or any
  hole window with at least :data:`MIN_FLAG_PIXELS` hole pixels that has a strong seam of its own
  or is a flat constant (every channel's std < :data:`FLAT_STD`) inside a non-flat ring.

Empty mask, or a mask covering the whole image (no ring to compare with): the neutral values
``seam=1.0, color_delta=0.0, texture_ratio=1.0, likely_bad=False`` ("nothing to complain about").
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.color import rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from inpaint_core.windows import hole_windows, validate_mask

__all__ = ["score_fill", "score_reference", "SEAM_MAX", "COLOR_DELTA_MAX", "TEXTURE_MIN",
           "FLAT_STD", "MIN_FLAG_PIXELS", "NEUTRAL_SCORES"]

# Thresholds of ``likely_bad``, calibrated on skimage's astronaut/chelsea/coffee with blob and
# scratch holes: Telea fills of small holes stay well inside them, constant grey fills do not.
SEAM_MAX = 2.5          # boundary steps 2.5x the ring's typical step are a visible edge
COLOR_DELTA_MAX = 25.0  # ΔE76 ~2 is just noticeable; holes legitimately differ from their ring by ~10
TEXTURE_MIN = 0.1       # under 10 % of the ring's fine texture: a smudge, not a fill
FLAT_STD = 1.0          # a fill whose pixels vary by < 1 grey level (every channel) is a flat constant
MIN_FLAG_PIXELS = 32    # hole windows with fewer hole pixels are judged only within the image totals

NEUTRAL_SCORES = {"seam": 1.0, "color_delta": 0.0, "texture_ratio": 1.0, "likely_bad": False}

# Added to numerators and denominators so flat regions give ratios near 1 instead of 0/0:
# differences under one grey level are invisible anyway.
_EPS = 1.0
_SSIM_HALF_WIN = 3  # scikit-image's default 7x7 window


def _check_pair(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    for what, arr in zip(names, (a, b)):
        if not isinstance(arr, np.ndarray) or arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            got = (arr.shape, arr.dtype) if isinstance(arr, np.ndarray) else type(arr).__name__
            raise ValueError(f"{what}: expected an HxWx3 uint8 RGB array, got {got}")
    if a.shape != b.shape:
        raise ValueError(f"{names[1]}: shape {b.shape} does not match {names[0]}'s {a.shape}")


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _disc_rects(radius: int) -> list[np.ndarray]:
    """Rectangles whose union is the disc of pixels at Euclidean distance <= ``radius``.

    Dilating by each (separable, cheap) and taking the union equals dilating by the disc, i.e.
    thresholding the exact Euclidean distance transform at ``radius``.
    """
    top = int(np.floor(radius))
    half = [int(np.floor(np.sqrt(radius * radius - dy * dy))) for dy in range(top + 1)]
    return [cv2.getStructuringElement(cv2.MORPH_RECT, (2 * half[dy] + 1, 2 * dy + 1))
            for dy in range(top + 1) if dy == top or half[dy + 1] < half[dy]]


def _within(h8: np.ndarray, radius: int) -> np.ndarray:
    """uint8 0/1 mask of the pixels at Euclidean distance <= ``radius`` from a non-zero pixel of ``h8``."""
    kernels = _disc_rects(radius)
    out = cv2.dilate(h8, kernels[0])
    for kernel in kernels[1:]:
        cv2.bitwise_or(out, cv2.dilate(h8, kernel), dst=out)
    return out


def _pairs(op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``op(a, b)``, or an empty mask: OpenCV returns None for an empty array (a 1-pixel-high or
    -wide image has no down or right pairs)."""
    return op(a, b) if a.size else np.zeros(a.shape, np.uint8)


def _step_sum(img: np.ndarray, pairs: tuple[np.ndarray, np.ndarray], ys: slice, xs: slice) -> tuple[float, int]:
    """Sum of the mean-over-channels |img[p] - img[q]| over the selected right and down 4-neighbour
    pairs ``pairs`` (masks of their left/top pixel) inside rows ``ys`` x cols ``xs``, and their count."""
    total, count = 0, 0
    for (dy, dx), sel in zip(((0, 1), (1, 0)), pairs):
        rows, cols = slice(ys.start, ys.stop - dy), slice(xs.start, xs.stop - dx)
        sel = sel[rows, cols]
        n = cv2.countNonZero(sel) if sel.size else 0
        if n:
            # Exact: an integer sum of absolute differences over pairs and channels.
            total += int(cv2.norm(img[rows, cols], img[rows.start + dy:rows.stop + dy, cols.start + dx:cols.stop + dx],
                                  cv2.NORM_L1, mask=sel))
            count += n
    return total / 3.0, count


def _gray_laplacian(rgb: np.ndarray) -> np.ndarray:
    """4-neighbour Laplacian (float32) of the float32 grey image of ``rgb``."""
    return cv2.Laplacian(cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2GRAY), cv2.CV_32F, ksize=1)


def _moments(values: np.ndarray, mask: np.ndarray) -> tuple[float, float, int]:
    """Sum, sum of squares and count of ``values`` (float32, one channel) where ``mask`` is non-zero."""
    n = cv2.countNonZero(mask)
    if n == 0:
        return 0.0, 0.0, 0
    mean, std = (float(v[0, 0]) for v in cv2.meanStdDev(values, mask=mask))
    return mean * n, (std * std + mean * mean) * n, n


class _Sums:
    """Running sums over windows, so image-level scores pool all holes' samples."""

    def __init__(self) -> None:
        self.seam = [0.0, 0]       # sum, count of boundary steps
        self.ring_step = [0.0, 0]
        self.lap_fill = [0.0, 0.0, 0]  # sum, sum of squares, count
        self.lap_ring = [0.0, 0.0, 0]
        self.delta_weighted = 0.0
        self.hole_pixels = 0


def _std(s: list) -> float:
    total, squares, n = s
    if n == 0:
        return 0.0
    mean = total / n
    return float(np.sqrt(max(squares / n - mean * mean, 0.0)))


def _ratio(a: float, b: float) -> float:
    return float((a + _EPS) / (b + _EPS))


def _is_bad(seam: float, color_delta: float, texture_ratio: float) -> bool:
    return seam > SEAM_MAX or color_delta > COLOR_DELTA_MAX or texture_ratio < TEXTURE_MIN


def score_fill(image: np.ndarray, restored: np.ndarray, mask: np.ndarray, *, ring: int = 8) -> dict:
    """No-reference scores of how well the hole of ``restored`` fits its surroundings.

    Args:
        image: HxWx3 uint8 RGB, the input (only its known pixels around the hole are read).
        restored: HxWx3 uint8 RGB, the output (its hole and the hole's boundary are read).
        mask: HxW bool or uint8, non-zero = hole.
        ring: width in pixels of the known ring around the hole used as reference (>= 2).

    Returns:
        ``{"seam": float, "color_delta": float, "texture_ratio": float, "likely_bad": bool}``, all
        finite (see the module docstring for definitions and the neutral values).

    Raises:
        ValueError: on mismatched shapes or dtypes, or ``ring < 2``.
    """
    _check_pair(image, restored, ("image", "restored"))
    validate_mask(mask, image.shape[:2])
    if ring < 2:
        raise ValueError(f"ring must be >= 2, got {ring}")
    h8 = mask.view(np.uint8) if mask.dtype == np.bool_ else (mask != 0).view(np.uint8)
    n_hole = cv2.countNonZero(h8)
    if n_hole == 0 or n_hole == h8.size:
        return dict(NEUTRAL_SCORES)
    windows = hole_windows(h8, margin=ring + 2)
    # Every score reads only pixels within ``ring + 1`` of a hole, and each window holds its holes
    # with ``ring + 2`` pixels of context (windows are disjoint; a window's border is an image
    # border or lies farther than the ring from any hole), so the masks and filters below are
    # computed once on the windows' bounding box and only reduced window by window: the samples
    # and their values are those of computing them on each window separately.
    y0, y1 = min(w.y0 for w in windows), max(w.y1 for w in windows)
    x0, x1 = min(w.x0 for w in windows), max(w.x1 for w in windows)
    img, res, h8 = image[y0:y1, x0:x1], restored[y0:y1, x0:x1], h8[y0:y1, x0:x1]
    # Known pixels at Euclidean distance <= ring of the hole (the former distance transform);
    # the Laplacian's reference ring also leaves out the hole's 4-neighbours (distance 1).
    known_ring = cv2.subtract(_within(h8, ring), h8)
    outer = cv2.subtract(known_ring, cv2.dilate(h8, _CROSS))
    inner = cv2.erode(h8, _CROSS)
    # Masks of the left/top pixel of the right/down 4-neighbour pairs: across the hole's boundary
    # (seam), and both in the ring.
    seam_pairs = (_pairs(cv2.bitwise_xor, h8[:, :-1], h8[:, 1:]), _pairs(cv2.bitwise_xor, h8[:-1], h8[1:]))
    ring_pairs = (_pairs(cv2.bitwise_and, known_ring[:, :-1], known_ring[:, 1:]),
                  _pairs(cv2.bitwise_and, known_ring[:-1], known_ring[1:]))
    # One Laplacian serves fill and ring: the fill samples' stencils lie in the hole, the ring
    # samples' outside it, so a copy of the image with the restored hole pasted in gives both.
    composite = np.array(img)
    cv2.copyTo(res, h8, composite)
    lap = _gray_laplacian(composite)

    sums = _Sums()
    any_window_bad = False
    means = []  # fill and ring RGB means, hole pixels: of each window with a ring
    for w in windows:
        ys, xs = slice(w.y0 - y0, w.y1 - y0), slice(w.x0 - x0, w.x1 - x0)
        if cv2.countNonZero(known_ring[ys, xs]) == 0:  # only when all pixels are holes, handled above
            inner[ys, xs] = 0
            outer[ys, xs] = 0
            continue
        n_hole = cv2.countNonZero(h8[ys, xs])
        if cv2.countNonZero(inner[ys, xs]) == 0:
            # A hole too thin for any inner pixel: the fill's Laplacian is taken on all of it, with
            # the stencil reading ``restored`` across the boundary.
            s1, s2, n = _moments(_gray_laplacian(res[ys, xs]), h8[ys, xs])
            sums.lap_fill[0] += s1
            sums.lap_fill[1] += s2
            sums.lap_fill[2] += n
        fill_mean, fill_std = cv2.meanStdDev(res[ys, xs], mask=h8[ys, xs])
        ring_mean, ring_std = cv2.meanStdDev(img[ys, xs], mask=known_ring[ys, xs])
        means.append((fill_mean[:, 0], ring_mean[:, 0], n_hole))
        seam_sum, seam_n = _step_sum(res, seam_pairs, ys, xs)
        ring_sum, ring_n = _step_sum(img, ring_pairs, ys, xs)
        sums.seam[0] += seam_sum
        sums.seam[1] += seam_n
        sums.ring_step[0] += ring_sum
        sums.ring_step[1] += ring_n
        sums.hole_pixels += n_hole
        if n_hole < MIN_FLAG_PIXELS:
            continue
        # Only the local, structural failures are judged per hole: a single true hole can differ
        # from its ring in colour or smoothness (measured: ΔE up to ~29, texture ratio down to 0.1
        # on ground-truth fills), so those are judged on the image totals only.
        seam = _ratio(seam_sum / seam_n if seam_n else 0.0, ring_sum / ring_n if ring_n else 0.0)
        flat = bool((fill_std < FLAT_STD).all() and (ring_std >= FLAT_STD).any())
        any_window_bad |= seam > SEAM_MAX or flat
    if means:
        rgb = np.array([[f, r] for f, r, _ in means], np.float64).reshape(1, -1, 3) / 255.0
        lab = rgb2lab(rgb)[0].reshape(-1, 2, 3)
        deltas = np.linalg.norm(lab[:, 0] - lab[:, 1], axis=-1)
        sums.delta_weighted = float(np.dot(deltas, [n for _, _, n in means]))
        # Laplacian samples whose 4-neighbour stencil stays on one side of the boundary.
        for acc, sel in ((sums.lap_fill, inner), (sums.lap_ring, outer)):
            for i, v in enumerate(_moments(lap, sel)):
                acc[i] += v
    mean = lambda acc: acc[0] / acc[1] if acc[1] else 0.0  # noqa: E731
    seam = _ratio(mean(sums.seam), mean(sums.ring_step))
    texture = _ratio(_std(sums.lap_fill), _std(sums.lap_ring))
    color_delta = sums.delta_weighted / sums.hole_pixels if sums.hole_pixels else 0.0
    bad = any_window_bad or _is_bad(seam, color_delta, texture)
    return {"seam": float(seam), "color_delta": float(color_delta), "texture_ratio": float(texture),
            "likely_bad": bool(bad)}


def score_reference(restored: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """Full-reference scores of ``restored`` against the true image.

    Without a mask these are scikit-image's ``peak_signal_noise_ratio`` and ``structural_similarity``
    (``data_range=255``, ``channel_axis=-1``, default 7x7 window) on the whole image. With a mask,
    PSNR and L1 use the hole pixels only and SSIM is the mean of the full SSIM map over the hole.

    Args:
        restored: HxWx3 uint8 RGB.
        reference: HxWx3 uint8 RGB, the ground truth (both sides at least 7x7 for SSIM).
        mask: optional HxW bool or uint8, non-zero = hole.

    Returns:
        ``{"psnr": dB, "ssim": [-1, 1], "l1": mean absolute error in % of 255}`` as floats.
        Identical pixels give ``psnr = inf`` (kept: Parquet and JSON-via-pyarrow store it; a large
        finite stand-in would bias averages silently). An empty mask gives ``inf, 1.0, 0.0``.

    Raises:
        ValueError: on mismatched shapes or dtypes, or images smaller than 7x7.
    """
    _check_pair(reference, restored, ("reference", "restored"))
    ref, res = reference, restored
    if mask is None:
        with np.errstate(divide="ignore"):
            psnr = peak_signal_noise_ratio(ref, res, data_range=255)
        ssim = structural_similarity(ref, res, data_range=255, channel_axis=-1)
        l1 = np.abs(ref.astype(np.float64) - res).mean() / 255 * 100
        return {"psnr": float(psnr), "ssim": float(ssim), "l1": float(l1)}
    validate_mask(mask, reference.shape[:2])
    hole = mask != 0
    if not hole.any():
        return {"psnr": float("inf"), "ssim": 1.0, "l1": 0.0}
    diff = ref[hole].astype(np.float64) - res[hole]
    mse = float(np.mean(diff**2))
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
    # The SSIM map at a pixel depends on its 7x7 neighbourhood only, so windows with 3 px of context
    # give the full-image map's values at hole pixels without computing it on the full frame.
    ssim_sum = 0.0
    for window in hole_windows(hole, margin=_SSIM_HALF_WIN, min_side=2 * _SSIM_HALF_WIN + 1):
        s = window.slices
        _, ssim_map = structural_similarity(ref[s], res[s], data_range=255, channel_axis=-1, full=True)
        ssim_sum += float(ssim_map[hole[s]].sum())
    ssim = ssim_sum / (hole.sum() * ref.shape[2])
    return {"psnr": float(psnr), "ssim": float(ssim), "l1": float(np.abs(diff).mean() / 255 * 100)}
