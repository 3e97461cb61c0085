"""Tension-spline fill: the smoothest surface through the known pixels around a hole.

Each channel's hole values ``u`` minimise ``sum (L u)^2 + tension * sum_edges (u_i - u_j)^2`` with the
known pixels fixed, where ``L`` is the image grid's 4-neighbour graph Laplacian (free boundary at the
image border). The minimiser solves ``(L^2 + tension * L) u = 0`` at every hole pixel: the discrete
continuous-curvature spline in tension of Smith & Wessel ("Gridding with continuous curvature
splines in tension", Geophysics 55(3), 1990; Briggs 1974 for tension 0). ``tension`` 0 is the
thin-plate (biharmonic) fill, which continues gradients and overshoots in wide holes; a large
tension tends to the membrane (harmonic, Laplace) fill, which only interpolates values. The default
``tension = 1`` keeps the boundary's slope over a pixel or two and is harmonic beyond.

Why here: of the fills tried that need no learning (Telea, Navier-Stokes, membrane, thin plate, and
this one at tensions 0.1-10), it scores best. On the development
protocol (bsds500/val 256 px centre crops, the shared masks, 100 cases per bin) it beats OpenCV's
Telea in every hole-ratio bin: +0.87 dB in 0.01-0.1 and about +1 dB in each of the 0.3-0.6 bins,
SSIM +0.003 to +0.014 (docs/evaluation.md, docs/models.md). Telea's streaks along its marching
direction are what costs it there. It is slower than Telea (a sparse solve per hole group).

Exact and local: the stencil of ``L^2`` reaches two pixels, so holes more than a few pixels apart
are independent systems; each group is solved on its bounding box plus a 2-pixel ring, which gives
the same values as a solve over the whole frame. A group with at most :data:`DIRECT_MAX` hole pixels
is solved by a sparse LU factorisation (256 x 256 px with a 50-60% hole: ~0.3 s); a larger
one coarse-to-fine (:func:`_solve_tiled`, on a 32-pixel known ring: the group at half resolution,
then overlapping tiles solved directly from it along the known pixels; within 3 grey levels of the
exact solve, a mean of 0.15-0.22, with bounded memory: a 1500 x 1500 hole in 7.5 s).

Which tension suits an image depends on how smooth it is: :func:`choose_tension` measures it on the
image itself, filling copies of the hole moved onto known pixels at each of :data:`AUTO_TENSIONS`
(``SplineInpainter(tension="auto")``, what ``auto`` uses on rasters of values; within 0.1 m of the
best fixed tension on rough and smooth synthetic terrain, docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spl

__all__ = ["AUTO_TENSIONS", "DEFAULT_TENSION", "DIRECT_MAX", "TensionChoice", "choose_tension", "spline_fill"]

DEFAULT_TENSION = 1.0
#: the tensions :func:`choose_tension` tries: the thin plate, the range that suits terrain
#: (``benchmarks/bench_dem.py``), the default (best on average on photos) and a stiffer one
AUTO_TENSIONS = (0.0, 0.1, 0.3, 1.0, 3.0)
#: validation pixels at most that :func:`choose_tension` fills per tension (a 256 x 256 area)
CHOICE_PIXELS = 1 << 16
#: copies of the hole :func:`choose_tension` fills (at different places: one copy of a few large
#: voids is one sample of the terrain, and the choice then varies from tile to tile)
CHOICE_COPIES = 4
#: validation pixels below which :func:`choose_tension` keeps the default (too few to tell)
CHOICE_MIN_PIXELS = 16
#: hole pixels per group above which the solve goes coarse-to-fine (:func:`_solve_tiled`) instead of one
#: sparse LU (measured on 2 cores: 309,403 hole pixels in 6 s; 1.2 M in 36 s and 3.9 GiB)
DIRECT_MAX = 1 << 18
#: side and overlap of the tiles of a coarse-to-fine solve
#: (448 + 2 * 32)^2 = DIRECT_MAX: a tile's solve never exceeds one direct solve
TILE = 448
OVERLAP = 32
#: passes over the tiles
SWEEPS = 2
#: hole pixels farther than this from every known pixel keep the coarse solve's value: the fine grid
#: only adds detail near the known pixels (a wavelength decays within about its own length)
BAND = 32
_RING = 2  # the stencil's reach
COARSE_RING = 32  # the known ring around a group solved coarse-to-fine: 2 px left after four halvings


def _laplacian(h: int, w: int) -> sp.csr_matrix:
    """The 4-neighbour graph Laplacian of an h x w grid (degree minus adjacency; free boundary)."""
    n = h * w
    idx = np.arange(n).reshape(h, w)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:].ravel()])
    adj = sp.csr_matrix((np.ones(2 * len(a)), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n))
    return (sp.diags(np.asarray(adj.sum(1)).ravel()) - adj).tocsr()


@lru_cache(maxsize=8)
def _spline_matrix(h: int, w: int, tension: float) -> sp.csr_matrix:
    """``L^2 + tension * L`` of an h x w grid (cached: training crops and frames repeat their sizes)."""
    lap = _laplacian(h, w)
    return (lap @ lap + tension * lap).tocsr()


def _system(values: np.ndarray, hole: np.ndarray, tension: float):
    """``(A_hh, rhs)`` of the spline equations for the hole pixels of one box (``values`` h x w x c)."""
    h, w = hole.shape
    a = _spline_matrix(h, w, tension)
    flat = hole.ravel()
    rows = a[flat]
    known = values.reshape(h * w, -1)[~flat]
    return rows[:, flat].tocsc(), -(rows[:, ~flat] @ known)


def _solve_box(values: np.ndarray, hole: np.ndarray, tension: float, unknown: np.ndarray | None = None
               ) -> np.ndarray:
    """Hole values (n x c, in ``hole.ravel()`` order) of one box whose border ring is known;
    ``unknown``: every hole pixel in the box (other groups' too, none within the stencil's reach of
    ``hole``), which the coarse start of a large group must not read as known."""
    if int(hole.sum()) <= DIRECT_MAX:
        return _solve_direct(values, hole, tension)
    return _solve_tiled(values, hole, tension, hole if unknown is None else unknown | hole)


def _solve_direct(values: np.ndarray, hole: np.ndarray, tension: float) -> np.ndarray:
    """Hole values by a sparse LU factorisation of the box's system."""
    a_hh, rhs = _system(values, hole, tension)
    # symmetric positive definite: symmetric ordering, no pivoting (1.5x faster than the defaults)
    return spl.splu(a_hh, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                    options={"SymmetricMode": True}).solve(rhs)


def _solve_tiled(values: np.ndarray, hole: np.ndarray, tension: float, unknown: np.ndarray) -> np.ndarray:
    """Hole values of a group too large for one factorisation: coarse start, then overlapping tiles.

    The group at half resolution (a coarse pixel is a hole if any of its four is; recursively) gives
    every hole pixel a start value. The hole pixels within :data:`BAND` pixels of a known one are then
    solved again at full resolution (deeper in, the surface is smooth and the coarse values hold: the
    fine grid adds the detail of the known pixels, which fades within a few of its own wavelengths;
    each level of the recursion does this for wavelengths twice as long). Each :data:`TILE`-pixel tile
    with such pixels is solved directly on itself plus :data:`OVERLAP` pixels around, its outer 2-pixel
    ring and the hole pixels deeper than the band held at the latest values, and keeps its own pixels;
    :data:`SWEEPS` passes, in place (alternating Schwarz): the error left at the cuts shrinks with
    each pass.
    """
    h, w = hole.shape
    ph, pw = h % 2, w % 2
    v = np.pad(values, ((0, ph), (0, pw), (0, 0)), mode="edge")
    m = np.pad(unknown, ((0, ph), (0, pw)), mode="edge")
    known = values[~unknown].mean(0) if (~unknown).any() else values.mean((0, 1))  # if the coarse box is all hole
    # a coarse pixel is known when any of its four is, with their mean: the coarse hole lies within the
    # fine one, whose edge it keeps (an any-of-four hole would grow by a pixel at each halving)
    shape = (v.shape[0] // 2, 2, v.shape[1] // 2, 2)
    counts = (~m).reshape(shape).sum((1, 3))
    sums = np.where(m[..., None], 0.0, v).reshape(shape + (-1,)).sum((1, 3))
    # the same surface on a grid of twice the spacing: L scales by 1/4, L^2 by 1/16, so the tension by 4
    coarse = _fill(sums / np.maximum(counts, 1)[..., None], counts == 0, 4 * tension, known)
    start = cv2.resize(coarse.astype(np.float32), (v.shape[1], v.shape[0]), interpolation=cv2.INTER_LINEAR)
    work = values.copy()
    work[hole] = start.reshape(v.shape)[:h, :w][hole]
    depth = cv2.distanceTransform(np.where(unknown, 255, 0).astype(np.uint8), cv2.DIST_L2, 3)  # to the nearest known
    band = hole & (depth <= BAND)
    for _ in range(SWEEPS):  # each tile starts from its neighbours' latest values (Gauss-Seidel order)
        for ty in range(0, h, TILE):
            for tx in range(0, w, TILE):
                _solve_tile(work, band, ty, tx, tension)
    return work[hole]


def _solve_tile(work: np.ndarray, hole: np.ndarray, ty: int, tx: int, tension: float) -> None:
    """Solve the ``hole`` pixels (the band) of tile (ty, tx) of :func:`_solve_tiled` in place in ``work``."""
    h, w = hole.shape
    core = (slice(ty, min(h, ty + TILE)), slice(tx, min(w, tx + TILE)))
    if not hole[core].any():
        return
    y0, y1 = max(0, ty - OVERLAP), min(h, ty + TILE + OVERLAP)
    x0, x1 = max(0, tx - OVERLAP), min(w, tx + TILE + OVERLAP)
    sub_hole = hole[y0:y1, x0:x1].copy()
    # a cut inside the group: hold a 2-pixel ring at the latest values (the group's own edges stay free)
    if y0 > 0:
        sub_hole[:_RING] = False
    if y1 < h:
        sub_hole[-_RING:] = False
    if x0 > 0:
        sub_hole[:, :_RING] = False
    if x1 < w:
        sub_hole[:, -_RING:] = False
    sub = work[y0:y1, x0:x1].copy()
    sub[sub_hole] = _solve_direct(sub, sub_hole, tension)
    keep = hole[core]
    work[core][keep] = sub[ty - y0:ty - y0 + keep.shape[0], tx - x0:tx - x0 + keep.shape[1]][keep]


def _fill(values: np.ndarray, hole: np.ndarray, tension: float, grey=127.5) -> np.ndarray:
    """``values`` (h x w x c float) with every hole group solved on its own box (module doc);
    ``grey``: the value (or per-channel values) of a frame that is all hole."""
    out = values.copy()
    if not hole.any():
        return out
    if hole.all():  # nothing to interpolate from
        out[:] = grey
        return out
    h, w = hole.shape
    # groups: holes whose stencils can touch (within 2 px) are one system
    grown = cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    holes = np.bincount(labels[hole], minlength=count)  # hole pixels of each group (_solve_box's measure)
    for k in range(1, count):
        x, y, bw, bh = stats[k, :4]
        # a group solved coarse-to-fine gets a wider ring: each halving keeps half of it known, and
        # the coarse solves need the stencil's reach of known pixels as well
        ring = _RING if holes[k] <= DIRECT_MAX else COARSE_RING
        y0, x0 = max(0, y - ring), max(0, x - ring)
        y1, x1 = min(h, y + bh + ring), min(w, x + bw + ring)
        box_hole = hole[y0:y1, x0:x1] & (labels[y0:y1, x0:x1] == k)
        if not box_hole.any():
            continue
        box = out[y0:y1, x0:x1]  # a view: row-major boolean assignment writes through
        box[box_hole] = _solve_box(box, box_hole, tension, hole[y0:y1, x0:x1] if ring > _RING else None)
    return out


def spline_fill(image: np.ndarray, mask: np.ndarray, tension: float = DEFAULT_TENSION) -> np.ndarray:
    """``image`` (H x W or H x W x C, uint8, uint16, or a TIFF of values' int16, int32, uint32, float32
    or float64) with its ``mask`` pixels (bool, True = hole) filled, at the image's own precision
    (integers rounded, within their type's range).

    Known pixels are returned unchanged. A frame that is all hole is filled with the middle of the
    type's range (0 for floats). Of float images, a known pixel with a NaN or infinite sample is
    kept as it is and solved as if it were hole, so it never reaches the fill.

    Raises:
        ValueError: for a mask of another size, an image of another dtype, or a negative tension.
    """
    if image.dtype not in (np.uint8, np.uint16, np.int16, np.int32, np.uint32, np.float32, np.float64):
        raise ValueError(f"spline_fill needs a uint8, uint16, int16, int32, uint32 or float image, got {image.dtype}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match image {image.shape[:2]}")
    if not np.isfinite(tension) or tension < 0:
        raise ValueError(f"tension must be >= 0, got {tension!r}")
    hole = np.asarray(mask, bool)
    values = image.reshape(*image.shape[:2], -1).astype(np.float64)
    if image.dtype.kind == "f":  # known samples with no value are solved around, never read
        bad = ~np.isfinite(values).all(axis=2)
        values[bad] = 0.0
        filled = _fill(values, hole | bad, float(tension), 0.0)[hole]
    else:
        info = np.iinfo(image.dtype)
        filled = _fill(values, hole, float(tension), (float(info.min) + float(info.max)) / 2)[hole]
        filled = np.clip(np.rint(filled), info.min, info.max)
    out = image.reshape(values.shape).copy()
    out[hole] = filled.astype(image.dtype)
    return out.reshape(image.shape)


@dataclass(frozen=True)
class TensionChoice:
    """What :func:`choose_tension` found.

    Attributes:
        tension: the tension to fill with: the candidate with the least error, or
            :data:`DEFAULT_TENSION` when no validation hole fitted (``errors`` empty).
        errors: mean absolute error on the validation pixels per candidate tension, in the units of
            the samples filled (grey levels; in the pipeline, a raster of values' 16-bit proxy levels).
        pixels: validation pixels filled per candidate (all copies).
        shifts: the ``(dy, dx)`` each copy of the hole was moved by (in pixels of the image).
        scale: 1, or 2, 4... when the copies were filled on the image at that fraction of its
            resolution (a hole with a piece too large to copy whole at full resolution).
    """

    tension: float
    errors: dict[float, float] = field(default_factory=dict)
    pixels: int = 0
    shifts: tuple[tuple[int, int], ...] = ()
    scale: int = 1

    def describe(self) -> str:
        """One line for a manifest's ``method_choice``."""
        if not self.errors:
            return f"tension {self.tension:g}, the default: no room for a copy of the hole among known pixels"
        tried = ", ".join(f"{t:g}: {e:.4g}" for t, e in self.errors.items())
        at = f" at 1/{self.scale} resolution" if self.scale > 1 else ""
        return (f"tension {self.tension:g}: least mean error filling {len(self.shifts)} copies of the hole "
                f"moved onto {self.pixels} known pixels{at} ({tried})")


def _shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``mask`` moved by ``(dy, dx)``, with what leaves the frame dropped and False coming in."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = \
        mask[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
    return out


def _validation_holes(hole: np.ndarray, usable: np.ndarray, seed: int) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """Holes of known pixels shaped like ``hole``: the hole moved (by up to :data:`CHOICE_COPIES` of a
    few shifts, those that keep the most of it) onto ``usable`` pixels at least 4 px from any other
    (so a fill never reads an unknown value), cut there, and each thinned to its share of
    :data:`CHOICE_PIXELS` by keeping whole pieces at random."""
    h, w = hole.shape
    room = cv2.erode(usable.astype(np.uint8), np.ones((7, 7), np.uint8), borderType=cv2.BORDER_CONSTANT,
                     borderValue=1).astype(bool)
    ys, xs = np.nonzero(hole)
    bh, bw = int(ys.max() - ys.min()) + 1, int(xs.max() - xs.min()) + 1
    steps = {(bh + 4, bw + 4)} | {(s, s) for s in (16, 32, 64, 128, 256, 512) if s < max(h, w)}
    found = []
    for sy, sx in sorted(steps):
        for uy, ux in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)):
            shift = (uy * sy, ux * sx)
            found.append((int((_shifted(hole, *shift) & room).sum()), -abs(shift[0]) - abs(shift[1]), shift))
    found.sort(reverse=True)  # most pixels kept first; of equals, the nearer copy
    found = [f for f in found[:CHOICE_COPIES] if f[0] >= max(CHOICE_MIN_PIXELS, found[0][0] // 2)]
    rng = np.random.default_rng(seed)
    out = []
    for n, _, shift in found:
        copy = _shifted(hole, *shift) & room
        share = CHOICE_PIXELS // len(found)
        if n > share:
            count, labels, stats, _ = cv2.connectedComponentsWithStats(copy.view(np.uint8), connectivity=8)
            keep, total = [], 0
            for k in rng.permutation(np.arange(1, count)):
                if total + stats[k, cv2.CC_STAT_AREA] <= share:
                    keep.append(k)
                    total += int(stats[k, cv2.CC_STAT_AREA])
            copy = np.isin(labels, keep)
        if copy.sum() >= CHOICE_MIN_PIXELS:
            out.append((copy, shift))
    return out


def _halved(values: np.ndarray, hole: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(values, hole)`` at half resolution (2 x 2 means; odd last rows and columns dropped): a coarse
    pixel is hole when any of its four is, and has no value (NaN) when any other is unusable."""
    h, w = (hole.shape[0] // 2) * 2, (hole.shape[1] // 2) * 2
    shape = (h // 2, 2, w // 2, 2)
    coarse = values[:h, :w].reshape(shape + (-1,)).mean((1, 3))
    coarse_hole = hole[:h, :w].reshape(shape).any((1, 3))
    coarse[~usable[:h, :w].reshape(shape).all((1, 3)) & ~coarse_hole] = np.nan
    return coarse, coarse_hole


def choose_tension(image: np.ndarray, mask: np.ndarray, candidates=AUTO_TENSIONS, seed: int = 0) -> TensionChoice:
    """The tension among ``candidates`` that best fills a copy of the hole placed on known pixels.

    Which tension suits an image depends on how smooth it is (on terrain the thin plate is 23%
    nearer than the default on smooth relief and 30% farther on rough: docs/performance.md). This
    measures it on the image itself: the hole is moved (by the few of a set of shifts that keep the
    most of it, up to :data:`CHOICE_COPIES`) onto known pixels at least 4 px from the hole, each
    candidate fills those copies, and the one nearest the known values there wins. The copies
    share :data:`CHOICE_PIXELS`: a larger copy keeps whole pieces of itself, at random (``seed``),
    up to its share. A hole with a piece larger than a share (a 128 x 128 void) is measured on the
    image at half the resolution (recursively, to 128 px), where the same surface has 4 times the
    tension. When no copy fits (a hole that leaves too little known around it), the result is
    :data:`DEFAULT_TENSION` with no errors.

    Costs fills of up to :data:`CHOICE_PIXELS` pixels in all per candidate.

    Raises:
        ValueError: as :func:`spline_fill`, or for no candidates.
    """
    candidates = tuple(float(t) for t in candidates)
    if not candidates or not all(np.isfinite(t) and t >= 0 for t in candidates):
        raise ValueError(f"candidate tensions must be numbers >= 0, got {candidates!r}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match image {image.shape[:2]}")
    hole = np.asarray(mask, bool)
    values = image.reshape(*image.shape[:2], -1).astype(np.float64)
    usable = ~hole & np.isfinite(values).all(axis=2)
    if not hole.any() or not usable.any():
        return TensionChoice(DEFAULT_TENSION)
    _, _, stats, _ = cv2.connectedComponentsWithStats(hole.view(np.uint8), connectivity=8)
    if stats[1:, cv2.CC_STAT_AREA].max() > CHOICE_PIXELS // CHOICE_COPIES and min(hole.shape) >= 128:
        # a piece too large to copy whole: the same choice at half the resolution, where the same surface
        # has 4 times the tension (L shrinks by 4 on a grid of twice the spacing, L^2 by 16; x4 is exact)
        coarse = choose_tension(*_halved(values, hole, usable), tuple(4 * t for t in candidates), seed)
        if not coarse.errors:
            return TensionChoice(DEFAULT_TENSION)
        return TensionChoice(coarse.tension / 4, {t / 4: e for t, e in coarse.errors.items()}, coarse.pixels,
                             tuple((2 * dy, 2 * dx) for dy, dx in coarse.shifts), 2 * coarse.scale)
    copies = _validation_holes(hole, usable, seed)
    if not copies:
        return TensionChoice(DEFAULT_TENSION)
    values[~usable] = 0.0  # never read: the copies keep 4 px from them, beyond the stencil's reach
    sums = dict.fromkeys(candidates, 0.0)
    for check, _ in copies:
        truth = values[check]
        for t in candidates:
            sums[t] += float(np.abs(_fill(values, check, t)[check] - truth).sum())
    n = sum(int(check.sum()) for check, _ in copies)
    errors = {t: e / (n * values.shape[2]) for t, e in sums.items()}
    return TensionChoice(min(errors, key=errors.get), errors, n, tuple(shift for _, shift in copies))
