"""Scores of a fill: no-reference (for the manifest of every image) and full-reference (for tests
and benchmarks where the true image is known).

No-reference scores compare the fill with the ring of known pixels around it, so they need no
ground truth. They are cheap: computed on windows around the holes, never on the full frame.

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


def _neighbour_steps(img: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean-over-channels |img[p] - img[q]| for right and down 4-neighbour pairs with a[p] & b[q] or b[p] & a[q]."""
    steps = []
    for p, q in (((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
                 ((slice(None, -1), slice(None)), (slice(1, None), slice(None)))):
        pairs = (a[p] & b[q]) | (b[p] & a[q])
        steps.append(np.abs(img[p][pairs] - img[q][pairs]).mean(axis=-1))
    return np.concatenate(steps)


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


def _window_scores(image: np.ndarray, restored: np.ndarray, hole: np.ndarray, ring: int, sums: _Sums) -> bool:
    """Accumulate one window into ``sums``; return whether this window alone looks bad."""
    distance = cv2.distanceTransform((~hole).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    known_ring = (distance > 0) & (distance <= ring)
    if not known_ring.any():
        return False
    img = image.astype(np.float32)
    res = restored.astype(np.float32)
    seam_steps = _neighbour_steps(res, hole, ~hole)
    ring_steps = _neighbour_steps(img, known_ring, known_ring)
    # Laplacian samples whose 4-neighbour stencil stays on one side of the boundary.
    inner = cv2.erode(hole.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))).astype(bool)
    inner = inner if inner.any() else hole
    outer = known_ring & (distance > 1)
    lap_fill = cv2.Laplacian(cv2.cvtColor(res, cv2.COLOR_RGB2GRAY), cv2.CV_32F, ksize=1)[inner]
    lap_ring = cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_32F, ksize=1)[outer]
    fill_pixels, ring_pixels = res[hole], img[known_ring]
    lab = rgb2lab(np.stack([fill_pixels.mean(axis=0), ring_pixels.mean(axis=0)])[None] / 255.0)[0]
    delta = float(np.linalg.norm(lab[0] - lab[1]))

    n_hole = int(hole.sum())
    for acc, values in ((sums.seam, seam_steps), (sums.ring_step, ring_steps)):
        acc[0] += float(values.sum())
        acc[1] += values.size
    for acc, values in ((sums.lap_fill, lap_fill), (sums.lap_ring, lap_ring)):
        acc[0] += float(values.sum(dtype=np.float64))
        acc[1] += float(np.square(values, dtype=np.float64).sum())
        acc[2] += values.size
    sums.delta_weighted += delta * n_hole
    sums.hole_pixels += n_hole

    if n_hole < MIN_FLAG_PIXELS:
        return False
    # Only the local, structural failures are judged per hole: a single true hole can differ from
    # its ring in colour or smoothness (measured: ΔE up to ~29, texture ratio down to 0.1 on
    # ground-truth fills), so those are judged on the image totals only.
    seam = _ratio(float(seam_steps.mean()) if seam_steps.size else 0.0,
                  float(ring_steps.mean()) if ring_steps.size else 0.0)
    flat = bool((fill_pixels.std(axis=0) < FLAT_STD).all() and (ring_pixels.std(axis=0) >= FLAT_STD).any())
    return seam > SEAM_MAX or flat


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
    hole = mask != 0
    if not hole.any() or hole.all():
        return dict(NEUTRAL_SCORES)
    sums = _Sums()
    any_window_bad = False
    for window in hole_windows(hole, margin=ring + 2):
        s = window.slices
        any_window_bad |= _window_scores(image[s], restored[s], hole[s], ring, sums)
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
