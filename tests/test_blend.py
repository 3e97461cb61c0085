"""glcic_blend: pixels beyond the margin untouched, colours follow the image, borders and edge cases."""

import time

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import data

from inpaint_core.blend import BLEND_MARGIN_DOC, glcic_blend


@pytest.fixture(scope="module")
def image():
    return data.coffee()


@pytest.fixture(scope="module")
def biased(image):
    """A 'generator output' with the right structure but a +40 colour cast."""
    return np.clip(image.astype(int) + 40, 0, 255).astype(np.uint8)


def _box_mask(shape, rows, cols):
    mask = np.zeros(shape, bool)
    mask[rows, cols] = True
    return mask


def _assert_far_pixels_unchanged(out, image, mask, margin):
    far = ndi.distance_transform_edt(~mask) > margin
    assert np.array_equal(out[far], image[far])


def test_doc_states_the_guarantee():
    assert "margin" in BLEND_MARGIN_DOC and "bit for bit" in BLEND_MARGIN_DOC


@pytest.mark.parametrize("margin", [0, 4, 8])
def test_pixels_beyond_margin_unchanged_and_cast_removed(image, biased, margin):
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.circle(mask, (200, 150), 20, 1, -1)
    cv2.line(mask, (300, 50), (550, 300), 1, 3)  # a thin scratch too
    hole = mask > 0
    out = glcic_blend(image, biased, mask, margin=margin)
    assert out.dtype == np.uint8 and out.shape == image.shape
    _assert_far_pixels_unchanged(out, image, hole, margin)
    error_blended = np.abs(out[hole].astype(int) - image[hole]).mean()
    error_raw = np.abs(biased[hole].astype(int) - image[hole]).mean()
    assert error_blended < error_raw / 4  # Poisson blending follows the surrounding colours


H, W = 400, 600
BORDER_CASES = {
    "top": (slice(0, 20), slice(100, 160)),
    "bottom": (slice(H - 15, H), slice(300, 340)),
    "left": (slice(150, 200), slice(0, 12)),
    "right": (slice(50, 90), slice(W - 6, W)),
    "top-left": (slice(0, 30), slice(0, 30)),
    "top-right": (slice(0, 25), slice(W - 25, W)),
    "bottom-left": (slice(H - 18, H), slice(0, 40)),
    "bottom-right": (slice(H - 1, H), slice(W - 1, W)),
    "full-height": (slice(0, H), slice(280, 290)),
    "full-width": (slice(200, 205), slice(0, W)),
}


@pytest.mark.parametrize("case", sorted(BORDER_CASES))
def test_holes_touching_borders_and_corners(image, biased, case):
    mask = _box_mask(image.shape[:2], *BORDER_CASES[case])
    out = glcic_blend(image, biased, mask, margin=8)
    _assert_far_pixels_unchanged(out, image, mask, 8)
    assert np.abs(out[mask].astype(int) - image[mask]).mean() < 20  # the +40 cast is mostly gone


def test_empty_and_full_masks(image, biased):
    empty = np.zeros(image.shape[:2], bool)
    out = glcic_blend(image, biased, empty)
    assert np.array_equal(out, image) and out is not image
    full = np.ones(image.shape[:2], np.uint8)
    out = glcic_blend(image, biased, full)
    assert np.array_equal(out, biased) and out is not biased


def test_tiny_holes_do_not_crash(image, biased):
    mask = np.zeros(image.shape[:2], bool)
    mask[100, 100] = mask[0, 0] = mask[5, W - 1] = True
    for margin in (0, 1, 8):
        out = glcic_blend(image, biased, mask, margin=margin)
        _assert_far_pixels_unchanged(out, image, mask, margin)


def test_inputs_are_not_modified(image, biased):
    mask = _box_mask(image.shape[:2], slice(10, 40), slice(10, 40))
    img_copy, filled_copy = image.copy(), biased.copy()
    glcic_blend(image, biased, mask)
    assert np.array_equal(image, img_copy) and np.array_equal(biased, filled_copy)


def test_bad_inputs_raise(image, biased):
    mask = np.zeros(image.shape[:2], bool)
    with pytest.raises(ValueError):
        glcic_blend(image, biased[:-1], mask)
    with pytest.raises(ValueError):
        glcic_blend(image.astype(np.float32), biased, mask)
    with pytest.raises(ValueError):
        glcic_blend(image, biased, mask[:-1])
    with pytest.raises(ValueError):
        glcic_blend(image, biased, mask, margin=-1)


def test_large_image_with_small_holes_is_cheap():
    image = cv2.resize(data.chelsea(), (6000, 4000))
    filled = np.clip(image.astype(int) + 20, 0, 255).astype(np.uint8)
    mask = np.zeros(image.shape[:2], np.uint8)
    for x, y in [(100, 100), (3000, 2000), (5990, 3990), (10, 3000)]:
        cv2.circle(mask, (x, y), 10, 1, -1)
    start = time.perf_counter()
    out = glcic_blend(image, filled, mask, margin=8)
    elapsed = time.perf_counter() - start
    print(f"glcic_blend 6000x4000, 4 small holes: {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0
    hole = mask > 0
    changed = (out != image).any(axis=-1)
    assert changed.sum() < 4 * np.pi * 18**2 * 1.2  # only the holes and their 8-px bands
