"""Masks fit their image: exact size, raw (pre-EXIF) size, or a readable failure."""

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from inpaint_core.errors import MaskError
from inpaint_core.imageio import decode_image
from inpaint_core.masks import classify_mask, fit_mask, mask_from_alpha, mask_from_nodata, mask_stats

RGB = data.astronaut()[:60, :100].copy()


def decoded(orientation: int):
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.fromarray(RGB).save(out, "PNG", exif=exif)
    return decode_image(out.getvalue())


def test_mask_from_alpha():
    alpha = np.array([[0, 128, 254, 255]], np.uint8)
    assert mask_from_alpha(alpha).tolist() == [[True, True, True, False]]
    assert mask_from_alpha(alpha, threshold=128).tolist() == [[True, False, False, False]]
    alpha16 = np.array([[0, 32896, 65500, 65535]], np.uint16)  # at full depth: 65500 is not opaque
    assert mask_from_alpha(alpha16).tolist() == [[True, True, True, False]]
    assert mask_from_alpha(alpha16, threshold=128).tolist() == [[True, False, False, False]]


def test_mask_from_nodata_of_float_samples():
    """A float raster's nodata is compared as the samples store it: GDAL's text for float32's least
    value is not a float32 number, yet names the samples that hold it; a value is a hole only where
    every sample holds it; a pixel with a NaN sample is a hole whatever the value ("nan": those alone)."""
    least = np.finfo(np.float32).min
    samples = np.array([[[least, least, least], [least, 5, least], [np.nan, 1, 2], [0.1, 0.1, 0.1]]], np.float32)
    assert mask_from_nodata(samples, "-3.4028234663852886e+38").tolist() == [[True, False, True, False]]
    assert mask_from_nodata(samples, "nan").tolist() == [[False, False, True, False]]
    assert mask_from_nodata(samples, "0.1").tolist() == [[False, False, True, True]]
    assert mask_from_nodata(samples.astype(np.float64), "0.1").tolist() == [[False, False, True, False]]
    assert mask_from_nodata(samples, "none") is None
    assert mask_from_nodata(np.zeros((1, 2, 3), np.uint16), "nan") is None


def test_fit_mask_same_size_unchanged():
    mask = np.zeros((60, 100), bool)
    mask[5:10, 20:30] = True
    assert fit_mask(mask, decoded(1)) is mask


def test_fit_mask_raw_orientation_is_transposed():
    image = decoded(6)  # displayed 60 wide, 100 high
    raw = np.zeros((60, 100), bool)
    raw[0, 0] = True  # top-left of the stored pixels ends top-right after a 90° clockwise turn
    fitted = fit_mask(raw, image)
    assert fitted.shape == (100, 60) and fitted[0, 59] and fitted.sum() == 1


def test_fit_mask_wrong_size_fails_with_sizes():
    with pytest.raises(MaskError, match="mask is 50x40 but image is 100x60"):
        fit_mask(np.zeros((40, 50), bool), decoded(1))


def test_fit_mask_resize_nearest():
    small = np.zeros((30, 50), bool)
    small[:, 25:] = True
    fitted = fit_mask(small, decoded(1), on_mismatch="resize")
    assert fitted.shape == (60, 100) and fitted[:, 50:].all() and not fitted[:, :50].any()


def test_fit_mask_bad_option():
    with pytest.raises(ValueError, match="on_mismatch"):
        fit_mask(np.zeros((60, 100), bool), decoded(1), on_mismatch="crop")


def test_stats_and_classify():
    mask = np.zeros((10, 10), bool)
    assert classify_mask(mask) == "empty" and mask_stats(mask) == {"hole_fraction": 0.0, "components": 0}
    mask[0, 0] = mask[1, 1] = True  # diagonal neighbours: one component with 8-connectivity
    mask[5:7, 5:7] = True
    assert mask_stats(mask) == {"hole_fraction": 0.06, "components": 2}
    assert classify_mask(mask) == "partial"
    assert classify_mask(np.ones((3, 3), bool)) == "full"
