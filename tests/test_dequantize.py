"""Lifting an 8-bit fill to 16 bits: smooth where the 8-bit steps can only be quantisation, the
texture kept, the 8-bit view exact, the pixels around untouched."""

from __future__ import annotations

import numpy as np
import pytest

from inpaint_core import dequantize
from inpaint_core.dequantize import dequantize_fill
from inpaint_core.imageio import to_8bit


def sky(h: int = 120, w: int = 300, channels: int = 3) -> np.ndarray:
    """A 16-bit sky: a slow gradient, a few 8-bit levels across the frame, different per channel."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 20000 + 900 * xx / w + 700 * (yy / h) ** 2  # a slope and a gentle curve, like a sky's
    return np.rint(np.stack([base + 2500 * c for c in range(channels)], axis=2)).astype(np.uint16)


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a.astype(np.float64) - b) ** 2).mean()))


def test_a_banded_fill_comes_back_smooth_and_its_8bit_view_exact():
    truth = sky()
    hole = np.zeros(truth.shape[:2], bool)
    hole[20:100, 60:240] = True
    fill8 = to_8bit(truth)  # the best an 8-bit fill can be: the truth's own 8-bit view
    out = dequantize_fill(fill8, truth, hole)
    staircase = fill8.astype(np.int64) * 257
    assert np.array_equal(to_8bit(out), fill8)
    assert np.array_equal(out[~hole], truth[~hole])
    assert rms(out[hole], truth[hole]) < 0.35 * rms(staircase[hole], truth[hole])
    steps = np.abs(np.diff(out.astype(np.int64), axis=1))[hole[:, 1:] & hole[:, :-1]]
    assert np.abs(np.diff(staircase, axis=1)).max() == 257 and steps.max() < 64  # no 8-bit steps left


def test_a_flat_fill_meets_the_samples_around_it():
    """The samples around sit 100 levels above their 8-bit value: a flat fill lifted as ``257 v``
    would leave a 100-level seam, the lifted one continues them."""
    around = np.full((40, 50, 3), 120 * 257 + 100, np.uint16)
    hole = np.zeros((40, 50), bool)
    hole[10:30, 12:40] = True
    out = dequantize_fill(np.full((40, 50, 3), 120, np.uint8), around, hole)
    assert np.abs(out[hole].astype(np.int64) - (120 * 257 + 100)).max() <= 2
    assert np.array_equal(out[~hole], around[~hole])


def test_texture_and_edges_keep_their_8bit_values_at_the_cells_centre():
    rng = np.random.default_rng(3)
    fill8 = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)  # texture: 8-bit steps larger than a level
    fill8[:, 32:] = np.where(rng.random((48, 32, 3)) < 0.5, 100, 160).astype(np.uint8)  # hard edges
    around = fill8.astype(np.uint16) * 257 + 77
    hole = np.zeros((48, 64), bool)
    hole[8:40, 8:56] = True
    out = dequantize_fill(fill8, around, hole)
    assert np.array_equal(out[hole], fill8[hole].astype(np.uint16) * 257)
    assert np.array_equal(out[~hole], around[~hole])


def test_specks_and_holes_at_the_border_are_lifted_too():
    """Specks meet the sky around them; at the frame's edge there is nothing to meet on that side,
    so the lift is flatter than the truth there, yet still nearer to it than the staircase."""
    truth = sky(200, 400)
    rng = np.random.default_rng(0)
    specks = np.zeros(truth.shape[:2], bool)
    for y, x in rng.integers((0, 40), (146, 296), (60, 2)):
        specks[y:y + 4, x:x + 3] = True
    edges = np.zeros_like(specks)
    edges[:, :30] = True  # along the left edge
    edges[150:, 300:] = True  # a corner
    hole = specks | edges
    fill8 = to_8bit(truth)
    out = dequantize_fill(fill8, truth, hole)
    assert np.array_equal(to_8bit(out), fill8) and np.array_equal(out[~hole], truth[~hole])
    staircase = fill8.astype(np.int64) * 257
    assert rms(out[specks], truth[specks]) < 0.05 * rms(staircase[specks], truth[specks])
    assert rms(out[edges], truth[edges]) < 0.8 * rms(staircase[edges], truth[edges])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dequantize, "_ITERS", 400)  # run to convergence: the early stop costs little
        converged = dequantize_fill(fill8, truth, hole)
    assert np.abs(converged.astype(np.int64) - out)[specks].max() <= 8


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (7, 5), (33, 2)])
def test_tiny_and_single_channel_images(shape):
    truth = sky(*shape, channels=1)
    hole = np.ones(shape, bool)
    hole[0, 0] = False
    fill8 = to_8bit(truth)
    out = dequantize_fill(fill8, truth, hole)
    assert out.shape == truth.shape and out.dtype == np.uint16
    assert np.array_equal(to_8bit(out), fill8) and out[0, 0, 0] == truth[0, 0, 0]


def test_no_hole_returns_the_samples_around():
    truth = sky(10, 10)
    out = dequantize_fill(to_8bit(truth), truth, np.zeros((10, 10), bool))
    assert np.array_equal(out, truth) and out is not truth
