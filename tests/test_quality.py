"""score_fill separates good fills from bad ones; score_reference agrees with scikit-image."""

import math

import cv2
import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from inpaint_core.quality import NEUTRAL_SCORES, score_fill, score_reference


def _blobs(shape, seed=1):
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    for _ in range(8):
        y, x = rng.integers(20, [shape[0] - 20, shape[1] - 20])
        cv2.circle(mask, (int(x), int(y)), int(rng.integers(3, 12)), 1, -1)
    return mask


@pytest.fixture(scope="module", params=["astronaut", "chelsea", "coffee"])
def case(request):
    image = getattr(data, request.param)()
    return image, _blobs(image.shape[:2])


def _grey_fill(image, mask):
    out = image.copy()
    out[mask > 0] = 128
    return out


def test_telea_fill_scores_better_than_constant_grey(case):
    image, mask = case
    telea = score_fill(image, cv2.inpaint(image, mask, 3, cv2.INPAINT_TELEA), mask)
    grey = score_fill(image, _grey_fill(image, mask), mask)
    assert telea["seam"] < grey["seam"]
    assert abs(1 - telea["texture_ratio"]) < abs(1 - grey["texture_ratio"])
    assert telea["color_delta"] < grey["color_delta"]
    assert grey["likely_bad"] and not telea["likely_bad"]
    assert 0.5 < telea["seam"] < 1.5  # a smooth Telea boundary looks like the surrounding texture


def test_ground_truth_fill_looks_natural(case):
    image, mask = case
    scores = score_fill(image, image, mask)
    assert 0.7 < scores["seam"] < 1.3 and 0.6 < scores["texture_ratio"] < 1.4
    assert not scores["likely_bad"]


def test_colour_cast_and_flat_fill_are_flagged():
    image = data.astronaut()
    mask = _blobs(image.shape[:2], seed=4)
    cast = image.astype(int)
    cast[mask > 0] += 40
    assert score_fill(image, np.clip(cast, 0, 255).astype(np.uint8), mask)["likely_bad"]
    flat = image.copy()
    hole = mask > 0
    flat[hole] = image[~hole].mean(axis=0).astype(np.uint8)  # right mean colour, no texture at all
    assert score_fill(image, flat, mask)["likely_bad"]


def test_scores_are_plain_finite_values(case):
    image, mask = case
    scores = score_fill(image, cv2.inpaint(image, mask, 3, cv2.INPAINT_NS), mask)
    assert set(scores) == {"seam", "color_delta", "texture_ratio", "likely_bad"}
    for key in ("seam", "color_delta", "texture_ratio"):
        assert type(scores[key]) is float and math.isfinite(scores[key])
    assert type(scores["likely_bad"]) is bool


def test_neutral_values_for_empty_full_and_flat_cases():
    image = data.chelsea()
    assert score_fill(image, image, np.zeros(image.shape[:2], bool)) == NEUTRAL_SCORES
    assert score_fill(image, image, np.ones(image.shape[:2], bool)) == NEUTRAL_SCORES
    flat = np.full((64, 64, 3), 90, np.uint8)  # flat ring, flat fill: 0/0 must not give NaN
    mask = np.zeros((64, 64), bool)
    mask[20:40, 20:40] = True
    scores = score_fill(flat, flat, mask)
    assert scores["seam"] == 1.0 and scores["texture_ratio"] == 1.0 and not scores["likely_bad"]


def test_score_fill_bad_inputs():
    image = data.chelsea()
    with pytest.raises(ValueError):
        score_fill(image, image[:-1], np.zeros(image.shape[:2], bool))
    with pytest.raises(ValueError):
        score_fill(image, image, np.zeros(image.shape[:2], bool), ring=1)


def test_score_reference_matches_scikit_image():
    reference = data.coffee()
    mask = _blobs(reference.shape[:2])
    restored = cv2.inpaint(reference, mask, 3, cv2.INPAINT_TELEA)
    scores = score_reference(restored, reference)
    assert scores["psnr"] == pytest.approx(peak_signal_noise_ratio(reference, restored, data_range=255))
    assert scores["ssim"] == pytest.approx(
        structural_similarity(reference, restored, data_range=255, channel_axis=-1))
    # Masked: SSIM computed on windows equals the full SSIM map averaged over the hole.
    masked = score_reference(restored, reference, mask)
    _, ssim_map = structural_similarity(reference, restored, data_range=255, channel_axis=-1, full=True)
    assert masked["ssim"] == pytest.approx(ssim_map[mask > 0].mean(), abs=1e-9)
    assert masked["psnr"] < scores["psnr"]  # errors concentrate in the hole


def test_l1_hand_computed():
    reference = np.zeros((8, 8, 3), np.uint8)
    restored = reference.copy()
    restored[0, 0] = [51, 51, 51]  # 3 samples off by 51 out of 192
    assert score_reference(restored, reference)["l1"] == pytest.approx(3 * 51 / 192 / 255 * 100)
    mask = np.zeros((8, 8), bool)
    mask[0, :2] = True  # 6 samples, 3 of them off by 51
    scores = score_reference(restored, reference, mask)
    assert scores["l1"] == pytest.approx(3 * 51 / 6 / 255 * 100)
    assert scores["psnr"] == pytest.approx(10 * math.log10(255**2 / (3 * 51**2 / 6)))


def test_identical_images_give_infinite_psnr():
    image = data.chelsea()
    scores = score_reference(image, image)
    assert scores == {"psnr": math.inf, "ssim": 1.0, "l1": 0.0}
    empty = score_reference(image, image, np.zeros(image.shape[:2], bool))
    assert empty["psnr"] == math.inf and empty["ssim"] == 1.0


def test_infinite_psnr_survives_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    image = data.chelsea()
    table = pa.Table.from_pylist([score_reference(image, image)])
    pq.write_table(table, tmp_path / "scores.parquet")
    assert pq.read_table(tmp_path / "scores.parquet").to_pylist()[0]["psnr"] == math.inf
