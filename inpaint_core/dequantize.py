"""Lift an 8-bit fill to 16 bits without its 8-bit steps.

Every method fills a 16-bit source's holes on its 8-bit view (:mod:`inpaint_core.imageio`). Scaled
as ``v * 257``, such a fill is a staircase of 257-level steps: a smooth sky or a studio backdrop
comes back banded once its curves are pushed, and the fill's edge sits up to 128 levels off the
source's samples around it. An 8-bit value ``v`` only says that the 16-bit value lies in its cell
``[257 v - 128, 257 v + 128]``. Where the fill is flat or banded (within one 8-bit level over 5x5
pixels, so its steps can only be quantisation), :func:`dequantize_fill` picks, per channel, the
smoothest values inside those cells that meet the samples around: the minimum of the Dirichlet
energy subject to the cells, by over-relaxed projected Gauss-Seidel sweeps over those pixels only,
coarse to fine. Elsewhere (texture, edges, a fill that wobbles by two levels or more, as Telea's
does) the cell's centre is kept. Every value stays in its cell, so the 8-bit view of the result is
the 8-bit fill exactly.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["dequantize_fill", "CELL"]

CELL = 128  # a 16-bit value x has the 8-bit view v = (x + 128) // 257 iff 257 v - 128 <= x <= 257 v + 128
_FLAT_RADIUS = 2  # a fill pixel is smoothed where its 5x5 neighbourhood spans at most one 8-bit level
_ITERS = 32  # sweeps per pyramid level (the coarser level's guess leaves mostly short-range error)
_OMEGA = 1.8  # over-relaxation
_TOL = 1.0  # a level stops early once a sweep moves no value by this much (16-bit levels)


def dequantize_fill(fill8: np.ndarray, around16: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """16-bit values for the ``hole`` pixels of an 8-bit fill.

    Args:
        fill8: ``H×W×C`` uint8, the restoration (its hole pixels are the fill).
        around16: ``H×W×C`` uint16, the 16-bit image outside the hole (its hole pixels are ignored).
        hole: ``H×W`` bool.

    Returns:
        ``H×W×C`` uint16: ``around16`` outside the hole. In it, per channel, where the fill spans at
        most one 8-bit level over 5x5 pixels (flat or banded: its steps can only be quantisation),
        the smoothest values within each 8-bit value's cell that meet the pixels around; elsewhere
        (texture, edges) the cell's centre ``257 v``. Always ``(x + 128) // 257 == fill8`` in the hole.
    """
    out = around16.copy()
    if not hole.any():
        return out
    out[hole] = fill8[hole].astype(np.uint16) * 257  # the cells' centres; flat parts are solved below
    kernel = np.ones((2 * _FLAT_RADIUS + 1,) * 2, np.uint8)
    flat = _3d(cv2.subtract(cv2.dilate(fill8, kernel), cv2.erode(fill8, kernel))) <= 1  # per channel
    free = flat & hole[..., None]
    rows, cols = np.nonzero(free.any(axis=2))
    if rows.size == 0:
        return out
    h, w = hole.shape
    box = (slice(max(0, rows.min() - 1), min(h, rows.max() + 2)), slice(max(0, cols.min() - 1), min(w, cols.max() + 2)))
    v = fill8[box].astype(np.float32) * 257
    lo, hi = np.clip(v - CELL, 0, 65535), np.clip(v + CELL, 0, 65535)
    x = _solve(out[box].astype(np.float32), free[box], lo, hi)
    np.copyto(out[box], _clamp(np.rint(x, out=x), lo, hi).astype(np.uint16), where=free[box])
    return out


def _solve(x: np.ndarray, free: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Smoothest ``x`` on ``free`` (``H×W×C``) within ``[lo, hi]``, the other pixels fixed; coarse to
    fine, each level starting from the coarser one's solution."""
    h, w = free.shape[:2]
    if min(h, w) > 2:
        ch, cw = (h + 1) // 2, (w + 1) // 2

        def shrink(a: np.ndarray) -> np.ndarray:
            return _3d(cv2.resize(a, (cw, ch), interpolation=cv2.INTER_AREA))

        # a coarse pixel is free when all its pixels are; otherwise it is fixed, at the mean of its
        # fixed pixels (so the edge keeps the values around, not the fill's cells). A free one's
        # bounds are its pixels' mean bounds
        fixed = shrink((~free).astype(np.float32))
        cfree = fixed < 1e-3
        if cfree.any():
            cx = np.where(cfree, shrink(x), shrink(np.where(free, 0, x)) / np.maximum(fixed, 1e-3))
            coarse = _solve(cx, cfree, shrink(lo), shrink(hi))
            guess = _3d(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR))
            x = np.where(free, _clamp(guess, lo, hi), x)
    return _sor(x, free, lo, hi, _ITERS)


def _sor(x: np.ndarray, free: np.ndarray, lo: np.ndarray, hi: np.ndarray, iters: int) -> np.ndarray:
    """Red-black Gauss-Seidel sweeps, over-relaxed and projected on ``[lo, hi]``, over the ``free``
    pixels only (their 4 neighbours gathered by index; past the edge, the pixel itself)."""
    h, w, c = x.shape
    flat_x = x.reshape(-1, c).copy()
    ys, xs = np.nonzero(free.any(axis=2))
    colours = []
    for parity in (0, 1):
        sel = (ys + xs) % 2 == parity
        y, xx = ys[sel], xs[sel]
        idx = y * w + xx
        nbrs = (np.maximum(y - 1, 0) * w + xx, np.minimum(y + 1, h - 1) * w + xx,
                y * w + np.maximum(xx - 1, 0), y * w + np.minimum(xx + 1, w - 1))
        f = free.reshape(-1, c)[idx]
        colours.append((idx, nbrs, None if f.all() else f, lo.reshape(-1, c)[idx], hi.reshape(-1, c)[idx]))
    for i in range(iters):
        moved = 0.0
        for idx, (a, b, cc, d), f, lo_i, hi_i in colours:
            cur = np.take(flat_x, idx, axis=0)  # several times faster than fancy indexing
            new = np.take(flat_x, a, axis=0)
            new += np.take(flat_x, b, axis=0)
            new += np.take(flat_x, cc, axis=0)
            new += np.take(flat_x, d, axis=0)
            new *= 0.25
            new -= cur
            new *= _OMEGA
            new += cur
            _clamp(new, lo_i, hi_i)
            if f is not None:
                new = np.where(f, new, cur)
            if i % 8 == 7:
                moved = max(moved, float(np.abs(new - cur).max(initial=0.0)))
            flat_x[idx] = new
        if i % 8 == 7 and moved < _TOL:
            break
    return flat_x.reshape(h, w, c)


def _clamp(a: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``a`` clipped to ``[lo, hi]`` in place (``np.clip`` with array bounds is several times slower)."""
    np.maximum(a, lo, out=a)
    return np.minimum(a, hi, out=a)


def _3d(a: np.ndarray) -> np.ndarray:
    """OpenCV drops a single channel's axis: put it back."""
    return a[..., None] if a.ndim == 2 else a
