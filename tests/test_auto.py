"""``--method auto``: thin and small defects go to the spline fill, large holes to the learned model."""

import numpy as np
import pytest
import torch
from skimage import data as skdata

from inpaint_core import create_inpainter
from inpaint_core.models import get_model_spec, save_checkpoint


def _photo_with_holes():
    img = skdata.astronaut()[:256, :256].copy()
    mask = np.zeros(img.shape[:2], bool)
    mask[30:32, 10:200] = True  # a 2-px scratch
    mask[150:200, 140:210] = True  # a large hole
    return img, mask


@pytest.fixture(scope="module")
def glcic_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    spec = get_model_spec("glcic")
    config = {**spec.default_config, "width": 4}
    path = tmp_path_factory.mktemp("ck") / "glcic.safetensors"
    save_checkpoint(spec.build(config), "glcic", config, str(path), {"resolution": 64})
    return str(path)


def test_routes_by_hole_shape(glcic_checkpoint):
    auto = create_inpainter("auto", learned="glcic", checkpoint=glcic_checkpoint)
    img, mask = _photo_with_holes()
    (out,) = auto([img], [mask])
    assert np.array_equal(out[~mask], img[~mask])
    assert sorted(c.split(" ")[0] for c in auto.last_choices) == ["glcic", "spline"]
    assert any(c.startswith("spline (thin") for c in auto.last_choices)
    telea = create_inpainter("auto", classical="telea", learned="glcic", checkpoint=glcic_checkpoint)
    telea([img], [mask])
    assert any(c.startswith("telea (thin") for c in telea.last_choices)
    assert auto.params["learned"] == "glcic"


def _dust(mask: np.ndarray, box: tuple[int, int, int, int], n: int, seed: int = 0) -> np.ndarray:
    """``n`` specks (radius 2-5 px, 2 px apart at least) inside ``box`` (y0, y1, x0, x1)."""
    import cv2

    rng = np.random.default_rng(seed)
    dust = np.zeros(mask.shape, np.uint8)
    while int(cv2.connectedComponents(dust)[0]) - 1 < n:
        y, x, r = int(rng.integers(box[0], box[1])), int(rng.integers(box[2], box[3])), int(rng.integers(2, 6))
        if not cv2.dilate(dust | mask, np.ones((5, 5), np.uint8))[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].any():
            cv2.circle(dust, (x, y), r, 1, -1)
    return dust.astype(bool)


def test_each_hole_is_routed_on_its_own_so_dust_beside_a_large_hole_gets_the_spline(glcic_checkpoint):
    """Dust in the same window as a large hole (or dense enough that its windows merge) is still
    filled by the classical method; only the large hole goes to the learned model."""
    img, _ = _photo_with_holes()
    large = np.zeros(img.shape[:2], bool)
    large[100:150, 100:170] = True
    dust = _dust(large, (60, 200, 60, 220), 40)
    mask = large | dust
    auto = create_inpainter("auto", learned="glcic", checkpoint=glcic_checkpoint)
    (out,) = auto([img], [mask])
    [choice] = auto.last_choices  # one window
    assert choice.startswith("glcic (large: 3500 px") and "+ spline (thin or small: " in choice and "40 holes" in choice
    assert np.array_equal(out[~mask], img[~mask])
    (learned,) = create_inpainter("glcic", checkpoint=glcic_checkpoint)([img], [mask])
    (spline,) = create_inpainter("spline")([np.where(large[..., None], out, img)], [dust])

    def error(a, where):
        return np.abs(a[where].astype(float) - img[where]).mean()

    assert np.array_equal(out[dust], spline[dust])  # the spline's fill, around the learned fill
    assert error(out, dust) < 0.5 * error(learned, dust)  # (an untrained model's fill is far off)
    (spline_only,) = create_inpainter("spline")([img], [mask])
    assert np.abs(out[large].astype(float) - spline_only[large]).mean() > 5  # the large hole: the model's
    # dust alone, dense (its windows merge; 40 specks, well over small_area pixels): the spline only
    (out,) = auto([img], [dust])
    assert auto.last_choices == [auto.last_choices[0]] and auto.last_choices[0].startswith("spline (thin or small: ")
    assert dust.sum() > auto.small_area and auto.fills_at_16_bits(dust)


def test_a_16bit_image_gets_the_spline_at_16_bits_and_the_model_on_its_8_bit_view(glcic_checkpoint):
    """Given uint16, ``auto`` fills the scratch's window with the spline at 16 bits and the large
    hole's with the learned model on the 8-bit view, lifted back within its 8-bit cells."""
    from inpaint_core.imageio import to_8bit
    from inpaint_core.windows import hole_windows

    auto = create_inpainter("auto", learned="glcic", checkpoint=glcic_checkpoint)
    img, mask = _photo_with_holes()
    img16 = img.astype(np.uint16) * 257 + 100
    (out16,) = auto([img16], [mask])
    (out8,) = auto([to_8bit(img16)], [mask])
    assert out16.dtype == np.uint16 and np.array_equal(out16[~mask], img16[~mask])
    windows = hole_windows(mask, margin=auto.window_margin, min_side=auto.window_min_side,
                           multiple=auto.window_multiple)
    routes = {auto.fills_at_16_bits(mask[w.slices]): w for w in windows}
    assert sorted(routes) == [False, True]
    spline = create_inpainter("spline")
    win = routes[True].slices
    crop16 = spline.inpaint_windows([img16[win]], [mask[win]])[0]
    assert np.array_equal(out16[win][mask[win]], crop16[mask[win]])  # the spline's own 16-bit fill
    win = routes[False].slices
    assert np.array_equal(to_8bit(out16[win][mask[win]]), out8[win][mask[win]])  # the model's 8-bit fill


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """An empty shipped-weights folder in place of the package's own (and no inpainter the
    pipeline built earlier from the package's own)."""
    from inpaint_core import pipeline
    from inpaint_core.models import wrapper

    monkeypatch.setattr(wrapper, "WEIGHTS_DIR", tmp_path)
    pipeline._cached_inpainter.cache_clear()
    yield tmp_path
    pipeline._cached_inpainter.cache_clear()


def _ship(weights_dir, name, gains):
    spec = get_model_spec(name)
    config = {**spec.default_config, "width": 4}
    card = {"resolution": 64}
    if gains is not None:
        card["dev_evaluation"] = {"vs_telea": {b: {"psnr_gain": g, "ssim_gain": 0.01} for b, g in gains.items()}}
    save_checkpoint(spec.build(config), name, config, str(weights_dir / f"{name}.safetensors"), card)


def test_auto_picks_the_shipped_model_with_the_best_recorded_gain(weights_dir):
    from inpaint_core.inpainters.auto import shipped_ranking

    _ship(weights_dir, "glcic", {"0.3-0.4": 0.9, "0.4-0.5": 0.8, "0.5-0.6": 0.7})
    _ship(weights_dir, "pconv", {"0.3-0.4": 0.2, "0.4-0.5": 0.1, "0.5-0.6": 0.0})
    _ship(weights_dir, "shiftnet", None)  # no figures: after those with figures
    assert shipped_ranking() == ["glcic", "pconv", "shiftnet"]
    auto = create_inpainter("auto", device="cpu")
    assert auto.params["learned"] == "glcic"
    img, mask = _photo_with_holes()
    auto([img], [mask])
    assert any(c.startswith("glcic (large") for c in auto.last_choices)


def test_without_learned_weights_large_holes_get_the_spline_and_say_why(weights_dir):
    auto = create_inpainter("auto")
    img, mask = _photo_with_holes()
    (out,) = auto([img], [mask])
    assert sorted(c.split(" ")[0] for c in auto.last_choices) == ["spline", "spline"]
    assert any(c.startswith("spline (large") and "no learned weights available" in c for c in auto.last_choices)
    assert np.array_equal(out[~mask], img[~mask])


def _ship_scored(weights_dir, name, model_psnr, spline_psnr=None):
    """A shipped model whose card's dev evaluation has ``model_psnr`` (and the spline's) in every target bin."""
    _ship(weights_dir, name, {"0.3-0.4": 0.5, "0.4-0.5": 0.5, "0.5-0.6": 0.5})
    card_path = weights_dir / f"{name}.json"
    import json

    card = json.loads(card_path.read_text())
    rows = [{"bin": b, "method": name, "psnr": model_psnr} for b in ("0.3-0.4", "0.4-0.5", "0.5-0.6")]
    if spline_psnr is not None:
        rows += [{"bin": b, "method": "spline", "psnr": spline_psnr} for b in ("0.3-0.4", "0.4-0.5", "0.5-0.6")]
    card["dev_evaluation"]["summary"] = rows
    card_path.write_text(json.dumps(card))


def test_a_shipped_model_the_spline_beats_is_not_used(weights_dir):
    _ship_scored(weights_dir, "glcic", 21.0, spline_psnr=21.5)
    auto = create_inpainter("auto", device="cpu")
    assert auto.params["learned"] is None
    img, mask = _photo_with_holes()
    auto([img], [mask])
    assert any(c.startswith("spline (large") and "scores above the best shipped model (glcic)" in c
               for c in auto.last_choices)
    # one that beats it is used; so is one whose card has no spline figures (nothing to compare)
    _ship_scored(weights_dir, "glcic", 21.6, spline_psnr=21.5)
    assert create_inpainter("auto", device="cpu").params["learned"] == "glcic"
    _ship_scored(weights_dir, "glcic", 21.0)
    assert create_inpainter("auto", device="cpu").params["learned"] == "glcic"


def test_manifest_records_the_choice(tmp_path, weights_dir):
    from inpaint_core import manifest
    from inpaint_core.discover import discover
    from inpaint_core.pipeline import RestoreConfig, restore_shard
    from inpaint_core.storage import Location

    from .collections import png_bytes, write

    img, mask = _photo_with_holes()
    write(tmp_path / "src", "a.png", png_bytes(img))
    write(tmp_path / "src", "a_mask.png", png_bytes(mask.astype(np.uint8) * 255))
    src, dst = Location(str(tmp_path / "src")), Location(str(tmp_path / "dst"))
    restore_shard(list(discover(src)), RestoreConfig(method="auto"), src, dst, "r", 0, "w")
    (row,) = manifest.read_manifest(dst).to_pylist()
    assert row["status"] == "ok" and row["method"] == "auto" and "spline (thin" in row["method_choice"]
