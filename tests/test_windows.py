"""hole_windows: every hole pixel covered with its margin, windows disjoint, fast on big masks."""

import time

import cv2
import numpy as np
import pytest

from inpaint_core.windows import Window, hole_windows


def _random_mask(shape, n, seed, max_r=12):
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    for _ in range(n):
        y, x = rng.integers(0, shape)
        cv2.circle(mask, (int(x), int(y)), int(rng.integers(1, max_r)), 255, -1)
    return mask


def _assert_disjoint(windows):
    for i, a in enumerate(windows):
        for b in windows[i + 1:]:
            overlap = a.y0 < b.y1 and b.y0 < a.y1 and a.x0 < b.x1 and b.x0 < a.x1
            assert not overlap, (a, b)


def test_window_slices_and_area():
    w = Window(2, 5, 10, 14)
    image = np.zeros((20, 20, 3))
    assert image[w.slices].shape == (3, 4, 3)
    assert w.area == 12


def test_empty_mask_gives_no_window():
    assert hole_windows(np.zeros((50, 60), bool), margin=5) == []


def test_single_hole_grown_by_margin_and_clipped():
    mask = np.zeros((100, 200), bool)
    mask[10:20, 30:40] = True
    assert hole_windows(mask, margin=5) == [Window(5, 25, 25, 45)]
    mask[:] = False
    mask[0:3, 195:200] = True  # top-right corner: clipped, not shifted
    assert hole_windows(mask, margin=5) == [Window(0, 8, 190, 200)]


def test_min_side_and_multiple_where_image_allows():
    mask = np.zeros((100, 50), np.uint8)
    mask[0:3, 20:23] = 1
    (w,) = hole_windows(mask, margin=2, min_side=30, multiple=8)
    assert (w.y1 - w.y0, w.x1 - w.x0) == (32, 32)
    assert w.y0 == 0 and w.x0 <= 18 and w.x1 >= 25  # shifted off the top edge, still covers the hole
    (w,) = hole_windows(mask, margin=2, min_side=80, multiple=8)
    assert (w.y1 - w.y0, w.x1 - w.x0) == (80, 50)  # width limited by the image


def test_close_holes_merge_far_holes_do_not():
    mask = np.zeros((100, 100), bool)
    mask[10:12, 10:12] = True
    mask[10:12, 20:22] = True  # 8 px apart: boxes grown by 5 overlap
    mask[80:82, 80:82] = True
    windows = hole_windows(mask, margin=5)
    assert windows == [Window(5, 17, 5, 27), Window(75, 87, 75, 87)]


def test_chained_merges_are_resolved():
    # A merge that grows a box must trigger further merges (repeated until disjoint).
    mask = np.zeros((200, 200), bool)
    for k in range(8):
        mask[20 + 12 * k, 20 + 12 * k] = True
    mask[20, 110] = True
    mask[110, 20] = True
    windows = hole_windows(mask, margin=6, min_side=16)
    _assert_disjoint(windows)
    assert len(windows) == 1


@pytest.mark.parametrize("margin,min_side,multiple", [(0, 0, 1), (7, 0, 1), (4, 64, 8), (20, 0, 16)])
def test_random_masks_cover_every_hole_with_margin(margin, min_side, multiple):
    mask = _random_mask((300, 400), 60, seed=margin + min_side)
    windows = hole_windows(mask, margin=margin, min_side=min_side, multiple=multiple)
    _assert_disjoint(windows)
    covered = np.zeros(mask.shape, bool)
    for w in windows:
        covered[w.slices] = True
    grown = cv2.dilate(mask, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)) > 0
    assert covered[grown].all()
    for w in windows:
        h, wd = w.y1 - w.y0, w.x1 - w.x0
        assert h % multiple == 0 or h == mask.shape[0]
        assert wd % multiple == 0 or wd == mask.shape[1]
        assert wd >= min(min_side, mask.shape[1])
        assert h >= min(min_side, mask.shape[0])
    assert sum(w.area for w in windows) <= mask.size


def test_large_mask_with_hundreds_of_components_is_fast():
    mask = _random_mask((4000, 6000), 500, seed=3)
    hole_windows(mask, margin=8)  # warm-up (OpenCV initialises lazily)
    start = time.perf_counter()
    windows = hole_windows(mask, margin=8, min_side=32, multiple=8)
    elapsed = time.perf_counter() - start
    print(f"hole_windows 6000x4000, 500 blobs: {len(windows)} windows in {elapsed * 1000:.0f} ms")
    assert elapsed < 0.5
    _assert_disjoint(windows)


def test_bad_mask_raises():
    with pytest.raises(ValueError):
        hole_windows(np.zeros((10, 10, 3), np.uint8), margin=1)
    with pytest.raises(ValueError):
        hole_windows(np.zeros((10, 10), np.float32), margin=1)
    with pytest.raises(ValueError):
        hole_windows(np.zeros((10, 10), bool), margin=-1)
