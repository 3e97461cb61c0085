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


def _reference_score_fill(image, restored, mask, ring=8):
    """The straightforward per-window definition of score_fill (distance transform, float64 sums)."""
    from skimage.color import rgb2lab

    from inpaint_core import quality as q
    from inpaint_core.windows import hole_windows

    hole = mask != 0
    if not hole.any() or hole.all():
        return dict(NEUTRAL_SCORES)
    seam_t, ring_t, fill_l, ring_l = [0.0, 0], [0.0, 0], [], []
    delta_w, n_total, bad = 0.0, 0, False

    def steps(img, a, b):
        out = []
        for p, r in (((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
                     ((slice(None, -1), slice(None)), (slice(1, None), slice(None)))):
            pairs = (a[p] & b[r]) | (b[p] & a[r])
            out.append(np.abs(img[p][pairs] - img[r][pairs]).mean(axis=-1))
        return np.concatenate(out)

    def lap(rgb):
        return cv2.Laplacian(cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2GRAY), cv2.CV_32F, ksize=1)

    for w in hole_windows(hole, margin=ring + 2):
        img, res, h = image[w.slices].astype(np.float64), restored[w.slices].astype(np.float64), hole[w.slices]
        dist = cv2.distanceTransform((~h).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        known = (dist > 0) & (dist <= ring)
        if not known.any():
            continue
        s, r = steps(res, h, ~h), steps(img, known, known)
        inner = cv2.erode(h.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))).astype(bool)
        fill_l.append(lap(restored[w.slices])[inner if inner.any() else h])
        ring_l.append(lap(image[w.slices])[known & (dist > 1)])
        lab = rgb2lab(np.stack([res[h].mean(axis=0), img[known].mean(axis=0)])[None] / 255.0)[0]
        n = int(h.sum())
        seam_t[0] += s.sum(); seam_t[1] += s.size
        ring_t[0] += r.sum(); ring_t[1] += r.size
        delta_w += float(np.linalg.norm(lab[0] - lab[1])) * n
        n_total += n
        if n >= q.MIN_FLAG_PIXELS:
            seam = (s.mean() + 1) / ((r.mean() if r.size else 0.0) + 1)
            flat = (res[h].std(axis=0) < q.FLAT_STD).all() and (img[known].std(axis=0) >= q.FLAT_STD).any()
            bad |= bool(seam > q.SEAM_MAX or flat)
    std = lambda v: float(np.concatenate(v).astype(np.float64).std()) if sum(map(len, v)) else 0.0  # noqa: E731
    mean = lambda t: t[0] / t[1] if t[1] else 0.0  # noqa: E731
    seam = (mean(seam_t) + 1) / (mean(ring_t) + 1)
    texture = (std(fill_l) + 1) / (std(ring_l) + 1)
    delta = delta_w / n_total
    bad = bad or seam > q.SEAM_MAX or delta > q.COLOR_DELTA_MAX or texture < q.TEXTURE_MIN
    return {"seam": seam, "color_delta": delta, "texture_ratio": texture, "likely_bad": bool(bad)}


def _random_masks(shape, seed):
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    for _ in range(int(rng.integers(1, 30))):
        y, x = (int(v) for v in rng.integers(0, shape))
        cv2.circle(mask, (x, y), int(rng.integers(0, 14)), 1, -1)
    for _ in range(int(rng.integers(0, 8))):  # thin scratches: no inner pixels; some reach the border
        y, x = (int(v) for v in rng.integers(0, shape))
        dy, dx = (int(v) for v in rng.integers(-120, 120, 2))
        cv2.line(mask, (x, y), (x + dx, y + dy), 1, int(rng.integers(1, 3)))
    return mask


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ring", [2, 5, 8])
def test_score_fill_matches_per_window_definition(seed, ring):
    image = [data.astronaut(), data.chelsea(), data.coffee()][seed % 3]
    mask = _random_masks(image.shape[:2], seed)
    grey = _grey_fill(image, mask)
    for restored in (cv2.inpaint(image, mask, 3, cv2.INPAINT_TELEA), grey, image):
        for m in (mask, mask > 0, mask * np.uint8(200)):
            got, want = score_fill(image, restored, m, ring=ring), _reference_score_fill(image, restored, m, ring)
            assert got["likely_bad"] == want["likely_bad"]
            for key in ("seam", "color_delta", "texture_ratio"):
                assert got[key] == pytest.approx(want[key], rel=1e-6, abs=1e-9), key


def test_score_fill_on_holes_at_the_image_border():
    image = data.chelsea()[:40, :50].copy()
    mask = np.zeros(image.shape[:2], bool)
    mask[:5] = True
    mask[30:, 45:] = True
    restored = cv2.inpaint(image, mask.view(np.uint8), 3, cv2.INPAINT_TELEA)
    got, want = score_fill(image, restored, mask), _reference_score_fill(image, restored, mask)
    assert got == pytest.approx(want, rel=1e-6)
    nearly_full = np.ones(image.shape[:2], bool)
    nearly_full[20, 20] = False
    got, want = score_fill(image, image, nearly_full), _reference_score_fill(image, image, nearly_full)
    assert got == pytest.approx(want, rel=1e-6)
