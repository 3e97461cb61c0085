"""The pipeline without an orchestrator: statuses, exactness outside holes, re-runs, untouched inputs."""

import hashlib
import io
import os

import numpy as np
import pytest

from inpaint_core import create_inpainter, manifest
from inpaint_core.discover import discover
from inpaint_core.imageio import decode_image
from inpaint_core.pipeline import RestoreConfig, restore_shard
from inpaint_core.storage import Location, read_uri

from .collections import bad_collection, good_collection


def tree_digest(root) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def run(src, dest, run_id="r1", **cfg):
    source, target = Location(str(src)), Location(str(dest))
    items = list(discover(source, exclude=(target,)))
    return restore_shard(items, RestoreConfig(**cfg), source, target, run_id, 0, "test-worker")


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    expected = bad_collection(str(root / "src"))
    before = tree_digest(root / "src")
    summary = run(root / "src", root / "dest")
    table = manifest.read_manifest(Location(str(root / "dest"))).to_pylist()
    return root, expected, before, summary, {r["image_id"]: r for r in table}


def test_each_bad_input_gets_its_own_row(bad_run):
    _, expected, _, summary, rows = bad_run
    assert {k: rows[k]["status"] for k in expected} == expected
    assert summary["ok"] == sum(v == "ok" for v in expected.values())


@pytest.mark.parametrize("key, words", [
    ("zero-byte.png", "empty"), ("truncated.jpg", "truncated"), ("text.png", "not a decodable image"),
    ("half-float.tif", "16-bit float TIFF samples"), ("wrong-size-mask.png", "mask is 10x10"),
    ("bomb.png", "20000x20000"),
])
def test_failure_reasons_are_readable(bad_run, key, words):
    assert words in bad_run[4][key]["error"]


def test_inputs_are_never_modified(bad_run):
    root, _, before, _, _ = bad_run
    assert tree_digest(root / "src") == before


def test_unusual_modes_restore_and_keep_known_pixels(bad_run):
    root, _, _, _, rows = bad_run
    for key in ("cmyk.jpg", "gray.png", "palette.png", "palette-native.png", "rgba-alpha-hole.png", "exif-rotated.jpg"):
        row = rows[key]
        src = decode_image(open(root / "src" / key, "rb").read())
        out = decode_image(read_uri(row["output_uri"]))
        assert out.size == src.size, key
        assert out.gray == src.gray, key
        hole = row["hole_fraction"]
        assert 0 < hole < 1
        known = np.ones(src.rgb.shape[:2], bool)
        if row["mask_source"] == "alpha":
            known = src.alpha == 255
        else:
            from inpaint_core.imageio import decode_mask
            known = ~decode_mask(open(root / "src" / key.rsplit(".", 1)[0].__add__("_mask.png"), "rb").read())
        assert np.array_equal(out.rgb[known], src.rgb[known]), key
    assert rows["rgba-alpha-hole.png"]["mask_source"] == "alpha"
    assert rows["exif-rotated.jpg"]["width"] == 96 and rows["exif-rotated.jpg"]["height"] == 80


def test_outputs_stay_under_destination(bad_run):
    root, _, _, _, rows = bad_run
    dest = (root / "dest").as_uri()
    for r in rows.values():
        if r["output_uri"]:
            assert r["output_uri"].startswith(dest + "/images/")


def test_known_pixels_are_bit_exact_and_holes_filled(tmp_path):
    masks = good_collection(str(tmp_path / "src"))
    summary = run(tmp_path / "src", tmp_path / "dest", blend="off")
    assert summary["ok"] == len(masks)
    rows = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()}
    for key, mask in masks.items():
        src = decode_image(open(tmp_path / "src" / key, "rb").read()).rgb
        out = decode_image(read_uri(rows[key]["output_uri"])).rgb
        assert np.array_equal(out[~mask], src[~mask])
        assert rows[key]["hole_fraction"] == pytest.approx(mask.mean())
        assert rows[key]["method"] == "telea" and rows[key]["worker"] == "test-worker"
        assert rows[key]["q_seam"] is not None and rows[key]["ms_inpaint"] > 0


def test_blend_changes_only_the_documented_margin(tmp_path):
    import cv2

    masks = good_collection(str(tmp_path / "src"), n=2)
    run(tmp_path / "src", tmp_path / "dest", blend="on", blend_margin=6)
    rows = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()}
    for key, mask in masks.items():
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
        src = decode_image(open(tmp_path / "src" / key, "rb").read()).rgb
        out = decode_image(read_uri(rows[key]["output_uri"])).rgb
        assert rows[key]["blend"] is True
        assert np.array_equal(out[~grown], src[~grown])


def test_blending_poisson_blends_the_models_own_output_around_the_hole(tmp_path):
    """GLCIC's post-process needs the generator's output around the hole, not the composite (whose
    seam would be one of the gradients it keeps: a no-op). On: the hole and its band change, nothing
    beyond the band does."""
    import cv2

    masks = good_collection(str(tmp_path / "src"), n=2)
    run(tmp_path / "src", tmp_path / "on", method="glcic", blend="on", blend_margin=6)
    run(tmp_path / "src", tmp_path / "off", method="glcic", blend="auto")
    on = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / "on"))).to_pylist()}
    off = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / "off"))).to_pylist()}
    for key, mask in masks.items():
        assert (on[key]["blend"], off[key]["blend"]) == (True, False)  # auto: off (benchmarks/bench_blend.py)
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
        a = decode_image(read_uri(on[key]["output_uri"])).rgb
        b = decode_image(read_uri(off[key]["output_uri"])).rgb
        assert np.array_equal(a[~grown], b[~grown])
        assert (a[mask] != b[mask]).any(axis=1).mean() > 0.2  # the blend moved the fill


@pytest.mark.parametrize("blend", ["off", "on"])
def test_16bit_sources_are_restored_at_16_bits_with_known_pixels_exact(tmp_path, blend):
    """A 16-bit scan comes back 16-bit in its own format: every pixel the restoration did not touch
    is the source's sample exactly, and a method that fills at 8 bits only (a learned model) gives
    the fill its 8-bit view gets, lifted to 16 bits."""
    import cv2
    from skimage import data as skdata

    from inpaint_core.imageio import encode_image, to_8bit, widen_to_16bit

    from .collections import hole_mask, png_bytes, write

    low_bits = (np.arange(96 * 96 * 3) * 37 % 256).reshape(96, 96, 3)  # what an 8-bit image cannot hold
    rgb16 = (skdata.astronaut()[100:196, 100:196].astype(np.int64) * 256 + low_bits).astype(np.uint16)
    gray16 = rgb16[..., 1].copy()
    mask = hole_mask(96, 96, seed=7)
    yy, xx = np.mgrid[0:96, 0:96]
    sky16 = np.stack([18000 + 9 * xx + 4 * yy + 3000 * c for c in range(3)], axis=2).astype(np.uint16)
    sky16[:10, :10], sky16[-10:, -10:] = 0, 65535  # black and white corners: the full range (no stretched view)
    sources = {"scan.png": encode_image(rgb16, "png"), "gray-scan.tif": cv2.imencode(".tiff", gray16)[1].tobytes(),
               "as-jpeg.png": encode_image(rgb16, "png"), "sky.png": encode_image(sky16, "png")}
    for key, data in sources.items():
        write(tmp_path / "src16", key, data)
        tif = key.endswith(".tif")
        eight_bit = to_8bit(np.repeat(gray16[..., None], 3, 2) if tif else sky16 if key == "sky.png" else rgb16)
        write(tmp_path / "src8", key, encode_image(eight_bit, "tiff" if tif else "png", gray=tif))
        for root in ("src16", "src8"):
            write(tmp_path / root, key.rsplit(".", 1)[0] + "_mask.png", png_bytes((mask * 255).astype(np.uint8)))
    before = tree_digest(tmp_path / "src16")
    run(tmp_path / "src16", tmp_path / "dest16", blend=blend, output_format="same", method="context_encoder")
    run(tmp_path / "src8", tmp_path / "dest8", blend=blend, output_format="same", method="context_encoder")
    rows = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / "dest16"))).to_pylist()}
    eight = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / "dest8"))).to_pylist()}
    for key, ext in (("scan.png", ".png"), ("gray-scan.tif", ".tiff"), ("sky.png", ".png")):
        assert rows[key]["status"] == "ok" and rows[key]["output_uri"].endswith(ext), key
        assert (rows[key]["bit_depth"], eight[key]["bit_depth"]) == (16, 8), key
        src, out = decode_image(sources[key]), decode_image(read_uri(rows[key]["output_uri"]))
        out8 = decode_image(read_uri(eight[key]["output_uri"])).rgb
        assert out.bit_depth == 16 and out.gray == src.gray, key
        assert np.array_equal(to_8bit(out.rgb16), out8), key  # the 8-bit view's restoration, widened
        untouched = ~mask & (out8 == src.rgb).all(axis=2)
        assert np.array_equal(out.rgb16[untouched], src.rgb16[untouched]), key  # full precision kept
        nudged = ~mask & ~untouched  # a blend's band: the 8-bit change, on the source's own samples
        change = (out8[nudged].astype(np.int64) - src.rgb[nudged]) * 257
        assert np.array_equal(out.rgb16[nudged], np.clip(src.rgb16[nudged] + change, 0, 65535)), key
        lifted = widen_to_16bit(out8, src, mask)  # the fill: lifted to 16 bits, no 8-bit steps in flat parts
        assert np.array_equal(out.rgb16[mask], lifted[mask]), key  # (gray: the fill made gray, then lifted)
        if key == "sky.png":  # a smooth gradient: its fill is less of a staircase, and nearer the truth than one
            staircase = out8[mask].astype(np.float64) * 257
            assert (out.rgb16[mask] != staircase).mean() > 0.3  # (a learned fill has some texture, kept)
            assert np.abs(out.rgb16[mask] - src.rgb16[mask].astype(np.float64)).mean() < \
                np.abs(staircase - src.rgb16[mask]).mean()  # (the spline's fill: tests/test_dequantize.py)
        assert (untouched == ~mask).all() if blend == "off" else untouched.sum() < (~mask).sum(), key
    assert tree_digest(tmp_path / "src16") == before
    # asked for a format without 16-bit samples: the 8-bit restoration, as asked
    run(tmp_path / "src16", tmp_path / "jpeg", blend=blend, output_format="jpeg")
    [row] = [r for r in manifest.read_manifest(Location(str(tmp_path / "jpeg"))).to_pylist()
             if r["image_id"] == "as-jpeg.png"]
    assert row["status"] == "ok" and decode_image(read_uri(row["output_uri"])).bit_depth == 8


def test_auto_fills_its_classical_windows_of_a_16bit_scan_at_16_bits(tmp_path):
    """``auto`` on a 16-bit scan: the window it routes to the spline (a scratch) is
    the spline's fill at 16 bits, the window it routes to the learned model (a large hole) is that
    model's fill of the 8-bit view, lifted; known pixels stay exact."""
    import cv2

    from inpaint_core.imageio import encode_image, to_8bit
    from inpaint_core.spline import spline_fill
    from inpaint_core.windows import hole_windows

    from .collections import png_bytes, write

    yy, xx = np.mgrid[0:192, 0:448]
    sky16 = np.stack([15000 + 31 * xx + 17 * yy + 2000 * c for c in range(3)], axis=2).astype(np.uint16)
    sky16[:8, :8], sky16[-8:, -8:] = 0, 65535  # the full range: the plain 8-bit view
    hole = np.zeros((192, 448), np.uint8)
    cv2.circle(hole, (70, 96), 22, 1, -1)  # large: the learned model
    cv2.line(hole, (340, 40), (400, 150), 1, 2)  # a scratch: the spline
    mask = hole.astype(bool)
    for root, pixels in (("src16", sky16), ("src8", to_8bit(sky16))):
        write(tmp_path / root, "sky.png", encode_image(pixels, "png"))
        write(tmp_path / root, "sky_mask.png", png_bytes(hole * 255))
    run(tmp_path / "src16", tmp_path / "dest16", blend="off", output_format="same", method="auto")
    run(tmp_path / "src8", tmp_path / "dest8", blend="off", output_format="same", method="auto")
    [row] = manifest.read_manifest(Location(str(tmp_path / "dest16"))).to_pylist()
    [row8] = manifest.read_manifest(Location(str(tmp_path / "dest8"))).to_pylist()
    out, out8 = decode_image(read_uri(row["output_uri"])).rgb16, decode_image(read_uri(row8["output_uri"])).rgb
    assert row["status"] == "ok" and np.array_equal(out[~mask], sky16[~mask])
    auto = create_inpainter("auto")
    assert auto.learned is not None, "needs the shipped weights"
    windows = hole_windows(mask, margin=auto.window_margin, min_side=auto.window_min_side,
                           multiple=auto.window_multiple)
    at16 = [auto.fills_at_16_bits(mask[w.slices]) for w in windows]
    assert sorted(at16) == [False, True] and row["method_choice"].count("spline") == 1
    for win, sixteen in zip(windows, at16):
        wmask = np.zeros_like(mask)
        wmask[win.slices] = mask[win.slices]
        error16 = np.abs(out[wmask].astype(float) - sky16[wmask]).mean()
        error8 = np.abs(out8[wmask].astype(float) * 257 - sky16[wmask]).mean()
        if sixteen:  # the spline at 16 bits: its own fill, far nearer the truth than the 8-bit one
            assert np.array_equal(out[wmask], spline_fill(sky16[win.slices], mask[win.slices])[mask[win.slices]])
            assert error16 < 0.2 * error8, (error16, error8)
        else:  # the learned model's 8-bit fill, lifted within its 8-bit cells
            assert np.array_equal(to_8bit(out[wmask]), out8[wmask])
            assert error16 <= error8


@pytest.mark.parametrize("method", ["telea", "ns", "spline"])
def test_classical_methods_fill_16bit_scans_at_16_bits(tmp_path, method):
    """Telea, NS and the spline fill a 16-bit scan's windows at 16 bits: the output's hole is the
    method's own 16-bit fill of the whole frame, its known pixels the source's, and an 8-bit output
    is that fill's 8-bit view."""
    import cv2

    from inpaint_core.imageio import encode_image, to_8bit
    from inpaint_core.spline import spline_fill

    from .collections import hole_mask, png_bytes, write

    yy, xx = np.mgrid[0:96, 0:96]
    sky16 = np.stack([18000 + 9 * xx + 4 * yy + 3000 * c for c in range(3)], axis=2).astype(np.uint16)
    mask = hole_mask(96, 96, seed=7)
    write(tmp_path / "src", "sky.png", encode_image(sky16, "png"))
    write(tmp_path / "src", "sky_mask.png", png_bytes((mask * 255).astype(np.uint8)))
    run(tmp_path / "src", tmp_path / "png", blend="off", output_format="png", method=method)
    run(tmp_path / "src", tmp_path / "bmp", blend="off", output_format="bmp", method=method)
    [row] = manifest.read_manifest(Location(str(tmp_path / "png"))).to_pylist()
    out = decode_image(read_uri(row["output_uri"]))
    if method == "spline":
        whole = spline_fill(sky16, mask)
    else:
        flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
        whole = np.dstack([cv2.inpaint(np.ascontiguousarray(sky16[..., c]), mask.astype(np.uint8), 3, flag)
                           for c in range(3)])
    assert row["status"] == "ok" and out.bit_depth == 16
    assert np.array_equal(out.rgb16[~mask], sky16[~mask])
    assert np.array_equal(out.rgb16[mask], whole[mask])  # windowed at 16 bits = the whole frame at 16 bits
    [row8] = manifest.read_manifest(Location(str(tmp_path / "bmp"))).to_pylist()
    assert np.array_equal(decode_image(read_uri(row8["output_uri"])).rgb, to_8bit(out.rgb16))
    # nearer the truth than the same method on the 8-bit view, even in 8 bits
    eight = create_inpainter(method)([to_8bit(sky16)], [mask])[0]
    assert np.abs(to_8bit(out.rgb16)[mask].astype(int) - to_8bit(sky16)[mask]).mean() < \
        np.abs(eight[mask].astype(int) - to_8bit(sky16)[mask]).mean()


def test_narrow_16bit_data_are_stretched_for_methods_that_fill_at_8_bits(tmp_path, monkeypatch):
    """12-bit data in a 16-bit file: their plain 8-bit view has 16 levels. ``auto`` (a learned model
    for the large hole) fills a stretched view instead, and its fill goes back into the data's range:
    a third nearer the truth than on the plain view."""
    import cv2
    from skimage import data as skdata

    from inpaint_core import imageio
    from inpaint_core.imageio import encode_image

    from .collections import hole_mask, png_bytes, write

    truth = cv2.resize(skdata.astronaut(), (128, 128), interpolation=cv2.INTER_AREA).astype(np.uint16) * 16 + 7
    mask = hole_mask(128, 128, seed=3)
    write(tmp_path / "src", "tile.png", encode_image(truth, "png"))
    write(tmp_path / "src", "tile_mask.png", png_bytes((mask * 255).astype(np.uint8)))
    errors = {}
    for name, narrow in (("stretched", imageio.NARROW_RANGE), ("plain", 0)):
        monkeypatch.setattr(imageio, "NARROW_RANGE", narrow)
        run(tmp_path / "src", tmp_path / name, method="auto", output_format="same")
        [row] = manifest.read_manifest(Location(str(tmp_path / name))).to_pylist()
        out = decode_image(read_uri(row["output_uri"])).rgb16
        assert row["status"] == "ok" and np.array_equal(out[~mask], truth[~mask])
        assert out[mask].max() <= truth.max() + 200  # the fill stays in the data's range
        errors[name] = np.abs(out[mask].astype(float) - truth[mask]).mean()
    assert errors["stretched"] < 0.8 * errors["plain"], errors


def test_scratches_of_narrow_16bit_data_are_found_on_the_stretched_view(tmp_path):
    """A scratch 1,500 levels bright on 12-bit data is 6 levels on the plain 8-bit view (below the
    detector's contrast) and about 90 on the stretched one."""
    import cv2
    from skimage import data as skdata

    from inpaint_core.imageio import encode_image

    from .collections import write

    scan = cv2.resize(skdata.camera(), (160, 160), interpolation=cv2.INTER_AREA).astype(np.uint16) * 16
    scan = cv2.GaussianBlur(scan, (0, 0), 2)
    scratch = np.zeros_like(scan, np.uint8)
    cv2.line(scratch, (20, 30), (140, 60), 1, 2)
    scan[scratch > 0] = np.minimum(scan[scratch > 0] + 1500, 4095)
    write(tmp_path / "src", "scan.tif", encode_image(scan[..., None].repeat(3, 2), "tiff", gray=True))
    run(tmp_path / "src", tmp_path / "dest", masks="detect", detectors=("scratches",), output_format="same")
    [row] = manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()
    assert (row["status"], row["mask_source"], row["bit_depth"]) == ("ok", "detect:scratches", 16)
    found = cv2.dilate(scratch, np.ones((5, 5), np.uint8)).astype(bool)
    assert row["hole_fraction"] <= found.mean() and row["hole_fraction"] >= 0.5 * scratch.mean()


def test_nodata_of_a_16bit_tile_is_found_at_full_depth(tmp_path):
    """A 16-bit tile whose data sit low in the range (12-bit sensor values, dark water): samples of
    100 are 0 on the 8-bit view, yet image content; only the exact 0 nodata block is a hole."""
    from inpaint_core.imageio import encode_image
    from inpaint_core.masks import detect_solid_fill

    from .collections import write

    rng = np.random.default_rng(4)
    tile = rng.integers(200, 4096, (96, 96, 3)).astype(np.uint16)
    tile[10:40, 10:40] = rng.integers(60, 120, (30, 30, 3))  # dark water
    tile[60:80, 50:90] = 0  # nodata
    assert detect_solid_fill((tile // 257).astype(np.uint8))[10:40, 10:40].all()  # what the 8-bit view would say
    write(tmp_path / "src", "tile.tif", encode_image(tile, "tiff"))
    run(tmp_path / "src", tmp_path / "dest", output_format="same")
    [row] = manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()
    assert (row["status"], row["mask_source"], row["bit_depth"]) == ("ok", "detect:solid", 16)
    assert row["hole_fraction"] == pytest.approx(20 * 40 / 96 ** 2)
    out = decode_image(read_uri(row["output_uri"])).rgb16
    assert np.array_equal(out[10:40, 10:40], tile[10:40, 10:40]) and (out[60:80, 50:90] > 0).all()


def test_a_16bit_alpha_marks_holes_at_full_depth(tmp_path):
    """Alpha 65500 is 255 on the 8-bit view, yet not opaque: the hole is read from the 16-bit alpha."""
    from inpaint_core.imageio import encode_image

    from .collections import write

    rgb16 = (np.random.default_rng(2).integers(0, 256, (64, 64, 3)) * 257).astype(np.uint16)
    alpha = np.full((64, 64), 65535, np.uint16)
    alpha[8:16, 8:16] = 65500
    alpha[40:48, 30:50] = 0
    write(tmp_path / "src", "cutout.png", encode_image(rgb16, "png", alpha=alpha))
    run(tmp_path / "src", tmp_path / "dest", output_format="same")
    [row] = manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()
    assert (row["status"], row["mask_source"], row["bit_depth"]) == ("ok", "alpha", 16)
    assert row["hole_fraction"] == pytest.approx((64 + 160) / 64 ** 2)


@pytest.mark.parametrize("depth", [8, 16])
def test_a_tiles_near_infrared_band_is_kept_and_filled_in_a_tiff_output(tmp_path, depth):
    """An RGB + NIR satellite tile (planar, as GIS tools often write them) comes back as RGB + NIR:
    the colour restored by the method, the NIR band's known samples exact and its hole filled by the
    spline (close to a smooth field, nothing like the zeros under the hole), and its georeferencing
    kept. A PNG output cannot
    hold the band: it is dropped there, and the manifest says the source had it."""
    tifffile = pytest.importorskip("tifffile")
    from .collections import hole_mask, png_bytes, write

    yy, xx = np.mgrid[0:96, 0:128].astype(np.float64)
    scale = 257 if depth == 16 else 1
    colour = np.stack([60 + xx, 90 + yy, 120 + (xx + yy) / 2], axis=2) * scale
    nir = (100 + 0.8 * xx + 0.5 * yy + 10 * np.sin(xx / 9)) * scale
    tile = np.dstack([colour, nir]).astype(np.uint16 if depth == 16 else np.uint8)
    mask = hole_mask(96, 128, seed=3)
    damaged = tile.copy()
    damaged[mask] = 0
    for name in ("tile.tif", "tile2.tif"):
        buf = io.BytesIO()
        tifffile.imwrite(buf, np.moveaxis(damaged, -1, 0), photometric="rgb", planarconfig="separate",
                         extrasamples=["unspecified"], extratags=[(33922, "d", 6, (0, 0, 0, 5e5, 4e6, 0), True),
                                                                  (34735, "H", 8, (1, 1, 0, 1, 3072, 0, 1, 32633), True)])
        write(tmp_path / "src", name, buf.getvalue())
        write(tmp_path / "src", name.replace(".tif", "_mask.png"), png_bytes((mask * 255).astype(np.uint8)))
    before = tree_digest(tmp_path / "src")
    kept = run(tmp_path / "src", tmp_path / "tiff", output_format="same")
    dropped = run(tmp_path / "src", tmp_path / "png")
    assert (kept["bands_dropped"], dropped["bands_dropped"]) == (0, 2)  # what the run's summary warns of
    assert tree_digest(tmp_path / "src") == before
    [row, _] = manifest.read_manifest(Location(str(tmp_path / "tiff"))).to_pylist()
    [png, _] = manifest.read_manifest(Location(str(tmp_path / "png"))).to_pylist()
    assert (row["status"], row["extra_bands"], row["bit_depth"]) == ("ok", 1, depth)
    assert (png["status"], png["extra_bands"]) == ("ok", 1)
    with tifffile.TiffFile(__import__("io").BytesIO(read_uri(row["output_uri"]))) as tif:
        out = tif.pages[0].asarray()
        assert [int(c) for c in tif.pages[0].extrasamples] == [0]
        assert tif.pages[0].geotiff_tags["ProjectedCSTypeGeoKey"] == 32633  # still on the map
    assert out.shape == tile.shape and out.dtype == tile.dtype
    assert np.array_equal(out[~mask], tile[~mask])  # every known sample of every band, exact
    restored = decode_image(read_uri(row["output_uri"]))
    assert np.array_equal((restored.rgb16 if depth == 16 else restored.rgb)[mask], out[mask][:, :3])
    error = np.abs(out[..., 3].astype(float) - tile[..., 3])[mask] / scale
    assert error.mean() < 3 and (out[..., 3][mask] > 0).all(), error.mean()
    plain = decode_image(read_uri(png["output_uri"]))
    assert plain.extra is None and plain.format == "PNG"


def test_a_tiles_declared_nodata_value_marks_exactly_its_holes(tmp_path):
    """A GeoTIFF that declares nodata (GDAL_NODATA "0") gets exactly those pixels as its hole, single
    ones too (the solid detector keeps regions of 64 px or more), and a pixel with only some bands at
    0 is content. A value no sample can hold ("-9999" in uint16) declares nothing: detection runs."""
    tifffile = pytest.importorskip("tifffile")
    from .collections import write

    rng = np.random.default_rng(8)
    tile = rng.integers(300, 4000, (80, 96, 3)).astype(np.uint16)
    tile[20:30, 40:60] = 0  # a missing strip
    tile[5, 7] = tile[70, 90] = 0  # dead pixels
    tile[50, 50] = (0, 0, 900)  # dark, but not missing
    for name, nodata in (("tile.tif", "0"), ("other.tif", "-9999")):
        buf = io.BytesIO()
        tifffile.imwrite(buf, tile, photometric="rgb", extratags=[(42113, "s", 0, nodata, True)])
        write(tmp_path / "src", name, buf.getvalue())
    run(tmp_path / "src", tmp_path / "dest", output_format="same")
    rows = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()}
    row = rows["tile.tif"]
    assert (row["status"], row["mask_source"]) == ("ok", "nodata")
    assert row["hole_fraction"] == pytest.approx(202 / (80 * 96)) and row["hole_components"] == 3
    out = decode_image(read_uri(row["output_uri"])).rgb16
    assert (out[20:30, 40:60] > 0).all() and (out[5, 7] > 0).all() and (out[70, 90] > 0).all()
    assert tuple(out[50, 50]) == (0, 0, 900)
    assert rows["other.tif"]["mask_source"] == "detect:solid"


@pytest.mark.parametrize("blend", ["off", "on"])
def test_an_elevation_models_voids_are_filled_in_its_own_float_values(tmp_path, blend):
    """A float32 DEM with -9999 voids (GDAL_NODATA) and a NaN pixel: the voids are the hole, filled
    with terrain heights (within metres of the surface, nowhere near -9999), every other sample
    written back exactly as float32, the NaN pixel filled too (it holds no value, whatever the tag
    declares), the georeferencing kept. With the GLCIC blend, only the pixels it changed leave their source values
    (its band around the voids, by a level of the 8-bit view it works on). A PNG output is the
    16-bit view of the known range."""
    tifffile = pytest.importorskip("tifffile")
    from inpaint_core.imageio import values_to_16bit, to_8bit
    from inpaint_core.quality import score_reference

    from .collections import write

    yy, xx = np.mgrid[0:96, 0:128].astype(np.float64)
    terrain = (812.25 + 40 * np.sin(xx / 17) + 25 * np.cos(yy / 13) + 0.3 * xx).astype(np.float32)
    terrain[38:48, 55:65] -= 90  # a pit under the void: the reference's own range is not the DEM's
    dem = terrain.copy()
    dem[30:55, 40:80] = -9999
    dem[3, 100:104] = -9999
    dem[70, 10] = np.nan  # a sample with no value, beside the declared voids: missing too
    buf = io.BytesIO()
    tifffile.imwrite(buf, dem, extratags=[(42113, "s", 0, "-9999", True), (33550, "d", 3, (30.0, 30.0, 0.0), True)])
    write(tmp_path / "src", "dem.tif", buf.getvalue())
    truth = io.BytesIO()
    tifffile.imwrite(truth, terrain)  # the clean model, for --reference scores
    write(tmp_path / "ref", "dem.tif", truth.getvalue())
    before = tree_digest(tmp_path / "src")
    source, dest = Location(str(tmp_path / "src")), Location(str(tmp_path / "dest"))
    restore_shard(list(discover(source, reference=Location(str(tmp_path / "ref")))),
                  RestoreConfig(output_format="same", method="spline", blend=blend), source, dest, "r1", 0, "test")
    viewed = run(tmp_path / "src", tmp_path / "png", method="spline")
    assert viewed["values_viewed"] == 1  # what the run's summary warns of
    assert tree_digest(tmp_path / "src") == before
    [row] = manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()
    assert (row["status"], row["mask_source"], row["bit_depth"]) == ("ok", "nodata", 32), row["error"]
    hole = (dem == -9999) | np.isnan(dem)
    assert row["hole_fraction"] == pytest.approx(hole.mean())
    with tifffile.TiffFile(io.BytesIO(read_uri(row["output_uri"]))) as tif:
        out = tif.pages[0].asarray()
        assert tif.pages[0].tags[33550].value == (30.0, 30.0, 0.0) and tif.pages[0].tags[42113].value == "-9999"
    assert out.dtype == np.float32 and out.shape == dem.shape
    span = decode_image(buf.getvalue()).value_span  # the reference is scored on the restoration's proxy
    expected = score_reference(*(np.repeat(to_8bit(values_to_16bit(a, span))[..., None], 3, 2) for a in (out, terrain)))
    assert row["error"] is None and row["ref_psnr"] == pytest.approx(expected["psnr"], abs=0.05)
    assert np.isfinite(out[hole]).all() and np.abs(out[hole] - terrain[hole]).mean() < 25
    assert out[hole].min() > terrain.min() - 20 and out[hole].max() < terrain.max() + 20
    unchanged = ~hole if blend == "off" else ~hole & (out == dem)
    assert np.array_equal(out[unchanged], dem[unchanged], equal_nan=True)
    if blend == "on":  # the blend band is a few pixels wide, and what it changed is still terrain
        band = ~unchanged & ~hole
        assert band.sum() < 0.2 * (~hole).sum() and np.abs(out[band] - terrain[band]).max() < 5
    assert abs(out[70, 10] - terrain[70, 10]) < 5
    [png] = manifest.read_manifest(Location(str(tmp_path / "png"))).to_pylist()
    view = decode_image(read_uri(png["output_uri"]))
    assert view.format == "PNG" and view.bit_depth == 16 and view.rgb16[..., 0].max() == 65535


def test_an_srtm_tiles_voids_are_filled_in_whole_signed_metres(tmp_path):
    """An SRTM tile (int16 metres, a coast below sea level, voids at -32768 as its GDAL_NODATA says):
    written back as int16, every known height exact, the voids filled with whole metres near the
    surface (negative where the land is), the manifest saying int, 16 bits."""
    tifffile = pytest.importorskip("tifffile")
    from .collections import write

    yy, xx = np.mgrid[0:80, 0:112].astype(np.float64)
    surface = (-40 + 2.5 * xx + 15 * np.sin(yy / 9)).astype(np.int16)  # -55 m .. 252 m
    tile = surface.copy()
    tile[25:45, 5:35] = -32768  # a void over the depression
    tile[50:60, 70:100] = -32768
    buf = io.BytesIO()
    tifffile.imwrite(buf, tile, extratags=[(42113, "s", 0, "-32768", True)])
    write(tmp_path / "src", "n00e000.tif", buf.getvalue())
    run(tmp_path / "src", tmp_path / "dest", output_format="same", method="spline")
    [row] = manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()
    assert (row["status"], row["mask_source"], row["bit_depth"], row["sample_format"]) == ("ok", "nodata", 16, "int")
    out = tifffile.imread(io.BytesIO(read_uri(row["output_uri"])))
    hole = tile == -32768
    assert out.dtype == np.int16 and np.array_equal(out[~hole], tile[~hole])
    error = np.abs(out[hole].astype(int) - surface[hole])
    below = hole & (surface < -5)
    assert error.mean() < 8 and below.sum() > 50 and (out[below] < 0).all(), error.mean()


def test_an_srtm_hgt_tiles_voids_are_filled_and_it_is_written_back_as_hgt(tmp_path):
    """An SRTM ``.hgt`` tile (3 arc-seconds: 1201 x 1201 int16, voids -32768) under ``auto``: its voids are
    the hole (the format's nodata), filled in whole metres near the surface; ``--output-format same``
    writes a ``.hgt`` of the same name and size, every known height exact; ``tiff`` an int16 TIFF
    with the nodata tag, georeferenced from the tile's name. The source is not touched."""
    tifffile = pytest.importorskip("tifffile")
    from .collections import write

    yy, xx = np.mgrid[0:1201, 0:1201].astype(np.float64)
    surface = (300 + 200 * np.sin(xx / 90) + 150 * np.cos(yy / 70) + 0.1 * xx).astype(np.int16)
    tile = surface.copy()
    tile[400:460, 500:600] = -32768
    tile[900:905, 100:300] = -32768
    write(tmp_path / "src", "N37W122.hgt", tile.astype(">i2").tobytes())
    before = tree_digest(tmp_path / "src")
    hole = tile == -32768
    for fmt in ("same", "tiff"):
        run(tmp_path / "src", tmp_path / fmt, output_format=fmt, method="auto")
        [row] = manifest.read_manifest(Location(str(tmp_path / fmt))).to_pylist()
        assert (row["status"], row["mask_source"], row["bit_depth"], row["sample_format"]) == \
            ("ok", "nodata", 16, "int"), row["error"]
        assert row["hole_fraction"] == pytest.approx(hole.mean()) and "tension" in row["method_choice"]
        data = read_uri(row["output_uri"])
        if fmt == "same":
            assert row["output_uri"].endswith("/images/N37W122.hgt") and len(data) == 2 * 1201 * 1201
            out = np.frombuffer(data, ">i2").reshape(1201, 1201)
        else:
            with tifffile.TiffFile(io.BytesIO(data)) as tif:
                out, tags = tif.pages[0].asarray(), tif.pages[0].tags
                assert out.dtype == np.int16 and tags[42113].value == "-32768"
                # placed by its name: the north-west sample at 38 N 122 W, 1/1200 degree apart, WGS 84
                assert tags[33922].value == (0, 0, 0, -122, 38, 0) and tags[33550].value == (1 / 1200, 1 / 1200, 0)
                assert tif.geotiff_metadata["GeographicTypeGeoKey"] == 4326
                assert tif.geotiff_metadata["GTRasterTypeGeoKey"] == 2
                assert tif.geotiff_metadata["VerticalCSTypeGeoKey"] == 5773  # heights above EGM96
        assert np.array_equal(out[~hole], tile[~hole]) and np.abs(out[hole].astype(int) - surface[hole]).mean() < 3
    assert tree_digest(tmp_path / "src") == before


def test_auto_fills_a_raster_of_values_with_the_spline_and_a_photo_beside_it_as_before(tmp_path):
    """Under auto, one shard with a DEM and a photo, each with a large hole: the DEM goes whole to the
    spline (the shipped models learned photos) choosing its tension (its fill is the spline's own with
    ``tension=auto``, and the manifest says which tension and why), the photo's large hole still to
    the learned model."""
    tifffile = pytest.importorskip("tifffile")
    from skimage import data as skdata

    from .collections import png_bytes, write

    yy, xx = np.mgrid[0:96, 0:128].astype(np.float64)
    dem = (500 + 30 * np.sin(xx / 11) + 20 * np.cos(yy / 7)).astype(np.float32)
    dem[30:70, 40:90] = -9999
    buf = io.BytesIO()
    tifffile.imwrite(buf, dem, extratags=[(42113, "s", 0, "-9999", True)])
    write(tmp_path / "src", "dem.tif", buf.getvalue())
    write(tmp_path / "src", "photo.png", png_bytes(skdata.astronaut()[:96, :128]))
    hole = np.zeros((96, 128), bool)
    hole[30:70, 40:90] = True
    write(tmp_path / "src", "photo_mask.png", png_bytes((hole * 255).astype(np.uint8)))
    run(tmp_path / "src", tmp_path / "auto", method="auto", output_format="same")
    run(tmp_path / "src", tmp_path / "spline", method="spline", output_format="same",
        method_options={"tension": "auto"})
    rows = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / "auto"))).to_pylist()}
    spline = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / "spline"))).to_pylist()}
    assert rows["dem.tif"]["status"] == "ok" and "a raster of values" in rows["dem.tif"]["method_choice"]
    assert rows["dem.tif"]["method_choice"].startswith("spline (a raster of values")
    assert "; tension " in rows["dem.tif"]["method_choice"] and "copies of the hole" in rows["dem.tif"]["method_choice"]
    assert spline["dem.tif"]["method_choice"].startswith("spline (tension ")
    assert rows["dem.tif"]["output_sha256"] == spline["dem.tif"]["output_sha256"]
    choice = rows["photo.png"]["method_choice"]
    learned = create_inpainter("auto").learned  # the best shipped model
    assert rows["photo.png"]["status"] == "ok" and choice.startswith(f"{learned.name} (large"), choice


def test_jpeg_quality_source_compresses_a_jpeg_output_as_its_source(tmp_path):
    """`jpeg_quality="source"`: a JPEG photo (quality 70, 4:2:0) restored to a JPEG output is
    compressed with its own quantization tables and subsampling: its output is about its size, not
    twice it as at quality 95, and its known pixels change several times less. A PNG source's JPEG
    output is at 95. The setting enters the settings hash; a bad quality is refused."""
    from PIL import Image
    from skimage import data as skdata

    from .collections import hole_mask, png_bytes, write

    photo = skdata.astronaut()[::2, ::2].copy()
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG", quality=70)
    write(tmp_path / "src", "photo.jpg", buf.getvalue())
    write(tmp_path / "src", "drawing.png", png_bytes(photo))
    mask = hole_mask(256, 256, seed=3)
    for name in ("photo", "drawing"):
        write(tmp_path / "src", f"{name}_mask.png", png_bytes((mask * 255).astype(np.uint8)))
    source = decode_image(buf.getvalue())
    got = {}
    for quality in (95, "source"):
        run(tmp_path / "src", tmp_path / str(quality), output_format="jpeg", jpeg_quality=quality)
        rows = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / str(quality)))).to_pylist()}
        assert {r["status"] for r in rows.values()} == {"ok"}
        got[quality] = {name: read_uri(rows[name]["output_uri"]) for name in rows}
    kept, high = got["source"]["photo.jpg"], got[95]["photo.jpg"]
    assert Image.open(io.BytesIO(kept)).quantization == Image.open(buf).quantization
    assert len(kept) < 1.1 * len(buf.getvalue()) < 0.7 * len(high)
    import cv2

    far = cv2.dilate(mask.astype(np.uint8), np.ones((33, 33), np.uint8)) == 0  # (blocks the fill did not touch)
    change = {q: np.abs(decode_image(out).rgb.astype(int) - source.rgb)[far].mean()
              for q, out in (("source", kept), (95, high))}
    assert change["source"] < change[95] / 2
    assert got["source"]["drawing.png"] == got[95]["drawing.png"]  # (no tables of its own: 95)
    assert RestoreConfig(jpeg_quality="source").settings_hash() != RestoreConfig().settings_hash()
    for bad in (0, 101, "best", True):
        with pytest.raises(ValueError, match="jpeg_quality="):
            RestoreConfig(jpeg_quality=bad)


@pytest.mark.parametrize("blend", ["off", "on"])
def test_max_fill_distance_fills_a_coast_and_leaves_the_nodata_sea(tmp_path, blend):
    """A coastal DEM whose sea is nodata (-9999), with a small void on land: with a maximum fill
    distance of 6 px (gdal_fillnodata's -md), the void and the sea's strip along the coast are filled,
    the open sea stays -9999 exactly, and the row says how much was left. Without it, all is filled.
    The GLCIC blend's band does not reach into the sea left unfilled. The setting leaves the settings
    hash of a run without it as it was, so no earlier output goes stale."""
    tifffile = pytest.importorskip("tifffile")
    import cv2

    from .collections import write

    yy, xx = np.mgrid[0:64, 0:96].astype(np.float64)
    land = (120 + 2 * xx + 10 * np.sin(yy / 6)).astype(np.float32)
    dem = land.copy()
    dem[:, :40] = -9999  # the sea
    dem[20:28, 60:68] = -9999  # a void on land
    buf = io.BytesIO()
    tifffile.imwrite(buf, dem, extratags=[(42113, "s", 0, "-9999", True)])
    write(tmp_path / "src", "coast.tif", buf.getvalue())
    run(tmp_path / "src", tmp_path / "md", output_format="same", method="spline", max_fill_distance=6, blend=blend)
    run(tmp_path / "src", tmp_path / "all", output_format="same", method="spline")
    [row] = manifest.read_manifest(Location(str(tmp_path / "md"))).to_pylist()
    [every] = manifest.read_manifest(Location(str(tmp_path / "all"))).to_pylist()
    hole = dem == -9999
    far = hole & (cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 5) > 6)
    assert far[:, :30].all() and not far[:, 36:].any()  # the open sea; the coast's strip and the void are near
    out = tifffile.imread(io.BytesIO(read_uri(row["output_uri"])))
    assert row["status"] == "ok" and row["left_unfilled"] == pytest.approx(far.mean())
    assert (out[far] == -9999).all()
    if blend == "off":
        assert np.array_equal(out[~hole], dem[~hole])
    near = hole & ~far
    assert (out[near] > 0).all() and np.abs(out[20:28, 60:68] - land[20:28, 60:68]).mean() < 5
    assert every["left_unfilled"] is None and (tifffile.imread(io.BytesIO(read_uri(every["output_uri"]))) > 0).all()
    assert RestoreConfig().settings_hash() == "e5afa6a70b1b2236"  # the hash before the setting existed
    assert RestoreConfig(max_fill_distance=6).settings_hash() != RestoreConfig().settings_hash()
    with pytest.raises(ValueError, match="max_fill_distance=0"):
        RestoreConfig(max_fill_distance=0)


def test_a_mask_files_hole_beside_nan_samples_is_filled_from_the_terrain(tmp_path):
    """A DEM whose mask file covers a void but not the NaN line beside it: the NaN samples stay as
    they were (the mask file decides what is filled), yet the fill next to them follows the terrain,
    not the proxy's 0 that NaN becomes (the raster's least value, 300 m below here)."""
    tifffile = pytest.importorskip("tifffile")
    from .collections import png_bytes, write

    yy, xx = np.mgrid[0:64, 0:96].astype(np.float64)
    terrain = (500 + 3 * xx + 2 * yy).astype(np.float32)
    dem = terrain.copy()
    dem[20:40, 30:60] = -1  # the void the mask file marks (its value does not matter)
    dem[20:40, 60] = np.nan  # no value, right beside it
    buf = io.BytesIO()
    tifffile.imwrite(buf, dem)
    write(tmp_path / "src", "dem.tif", buf.getvalue())
    hole = np.zeros((64, 96), bool)
    hole[20:40, 30:60] = True
    write(tmp_path / "src", "dem_mask.png", png_bytes((hole * 255).astype(np.uint8)))
    run(tmp_path / "src", tmp_path / "dest", output_format="same", method="spline")
    [row] = manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()
    assert (row["status"], row["mask_source"]) == ("ok", "sibling")
    out = tifffile.imread(io.BytesIO(read_uri(row["output_uri"])))
    assert np.isnan(out[20:40, 60]).all() and np.array_equal(out[~hole & ~np.isnan(dem)], dem[~hole & ~np.isnan(dem)])
    error = np.abs(out[hole] - terrain[hole])
    assert error.max() < 3, error.max()


def test_a_float_raster_without_nodata_is_not_searched_for_black_and_white(tmp_path):
    """A coastal DEM with the sea at exactly 0 m and no nodata tag: the sea is its least value, so the
    proxy's 0, yet it is data; the solid detector would take it for a black nodata fill and fill the
    sea with terrain. With no tag, no NaN and no mask file, the raster is copied through, every value
    kept, and the row says why. NaN voids with no tag are its nodata."""
    tifffile = pytest.importorskip("tifffile")
    from .collections import write

    yy, xx = np.mgrid[0:64, 0:96].astype(np.float32)
    coast = np.maximum(0.0, 3.5 * (xx - 40) + 5 * np.sin(yy / 5)).astype(np.float32)  # the sea: 0 m
    voided = coast.copy()
    voided[20:30, 60:80] = np.nan
    for name, arr in (("coast.tif", coast), ("voided.tif", voided)):
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr)
        write(tmp_path / "src", name, buf.getvalue())
    run(tmp_path / "src", tmp_path / "dest", output_format="same")
    rows = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()}
    row = rows["coast.tif"]
    assert (row["status"], row["mask_source"]) == ("skipped", "none")
    assert "no nodata value, NaN or mask file" in row["error"]
    assert np.array_equal(tifffile.imread(io.BytesIO(read_uri(row["output_uri"]))), coast)
    row = rows["voided.tif"]
    assert (row["status"], row["mask_source"], row["hole_fraction"]) == ("ok", "nodata", 200 / (64 * 96))
    out = tifffile.imread(io.BytesIO(read_uri(row["output_uri"])))
    assert np.isfinite(out).all() and np.array_equal(out[~np.isnan(voided)], coast[~np.isnan(voided)])


def test_a_photos_colour_profile_and_exif_reach_its_restored_output(tmp_path):
    """A wide-gamut photo's ICC profile and its EXIF (camera, capture time) come through a restore
    run to the PNG output, the EXIF's orientation set to 1 as the pixels are written turned, and to
    a TIFF output (its camera as TIFF tags, its capture time in its Exif IFD)."""
    from PIL import Image, ImageCms

    from .collections import hole_mask, png_bytes, write

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "Camera Co"
    exif.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"
    photo = np.random.default_rng(1).integers(0, 256, (64, 96, 3)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG", quality=95, exif=exif, icc_profile=profile)
    write(tmp_path / "src", "p3.jpg", buf.getvalue())
    mask = hole_mask(96, 64, seed=2)  # the mask is drawn on the photo as it is shown: turned
    write(tmp_path / "src", "p3_mask.png", png_bytes((mask * 255).astype(np.uint8)))
    run(tmp_path / "src", tmp_path / "dest")
    [row] = manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()
    assert row["status"] == "ok", row["error"]
    out = Image.open(io.BytesIO(read_uri(row["output_uri"])))
    assert out.info.get("icc_profile") == profile and out.size == (64, 96)
    tags = out.getexif()
    assert tags[0x0112] == 1 and tags[0x010F] == "Camera Co"
    assert tags.get_ifd(0x8769)[0x9003] == "2020:01:02 03:04:05"
    run(tmp_path / "src", tmp_path / "tiff", output_format="tiff")
    [row] = manifest.read_manifest(Location(str(tmp_path / "tiff"))).to_pylist()
    out = Image.open(io.BytesIO(read_uri(row["output_uri"])))
    assert out.format == "TIFF" and out.info.get("icc_profile") == profile and out.size == (64, 96)
    tags = out.getexif()
    assert 0x0112 not in tags and tags[0x010F] == "Camera Co"
    assert tags.get_ifd(0x8769)[0x9003] == "2020:01:02 03:04:05"


def test_a_photos_captions_and_rights_reach_its_restored_output(tmp_path):
    """An archive's JPEG with its XMP (rights) and IPTC-IIM (caption, copyright notice) in Photoshop's
    APP13: both come through a restore run to a JPEG output, and the XMP to a PNG one."""
    from PIL import Image, IptcImagePlugin

    from .collections import hole_mask, png_bytes, write
    from .test_imageio import IIM, XMP, _with_app13

    photo = np.random.default_rng(3).integers(0, 256, (64, 96, 3)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG", quality=95, xmp=XMP.replace(b'Orientation="6"', b'Orientation="1"'))
    write(tmp_path / "src", "scan.jpg", _with_app13(buf.getvalue(), IIM))
    write(tmp_path / "src", "scan_mask.png", png_bytes((hole_mask(64, 96, seed=4) * 255).astype(np.uint8)))
    source = tree_digest(tmp_path / "src")
    for fmt in ("same", "png"):
        run(tmp_path / "src", tmp_path / fmt, output_format=fmt)
        [row] = manifest.read_manifest(Location(str(tmp_path / fmt))).to_pylist()
        assert row["status"] == "ok", row["error"]
        out = Image.open(io.BytesIO(read_uri(row["output_uri"])))
        assert out.format == ("JPEG" if fmt == "same" else "PNG") and b"(c) The Archive" in out.info["xmp"]
        if fmt == "same":
            assert IptcImagePlugin.getiptcinfo(out)[(2, 120)] == b"Harbour!!"
    assert tree_digest(tmp_path / "src") == source


def test_a_scans_dpi_and_description_reach_its_restored_output(tmp_path):
    """An archive's 600 dpi TIFF scan with its description and copyright, and a 300 dpi JPEG: restored
    to their own formats, to TIFF and to JPEG, each output keeps its print size (dpi) and the scan's
    text (TIFF tags, or EXIF in a JPEG); the sources are untouched."""
    import tifffile
    from PIL import Image

    from .collections import hole_mask, png_bytes, write

    rng = np.random.default_rng(5)
    buf = io.BytesIO()
    tifffile.imwrite(buf, rng.integers(0, 256, (64, 96, 3)).astype(np.uint8), photometric="rgb", metadata=None,
                     resolution=(600, 600), resolutionunit="INCH",
                     extratags=[(270, "s", 0, "Kirchenbuch 1843, S. 12", True), (33432, "s", 0, "Stadtarchiv", True)])
    write(tmp_path / "src", "scan.tif", buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 96, 3)).astype(np.uint8)).save(buf, "JPEG", dpi=(300, 300))
    write(tmp_path / "src", "print.jpg", buf.getvalue())
    for name in ("scan", "print"):
        write(tmp_path / "src", f"{name}_mask.png", png_bytes((hole_mask(64, 96, seed=4) * 255).astype(np.uint8)))
    source = tree_digest(tmp_path / "src")
    for fmt in ("same", "tiff", "jpeg"):
        run(tmp_path / "src", tmp_path / fmt, output_format=fmt, method="telea")
        table = manifest.read_manifest(Location(str(tmp_path / fmt))).to_pylist()
        rows = {r["image_id"].split(".")[0]: r for r in table}
        assert {r["status"] for r in rows.values()} == {"ok"}, [r["error"] for r in rows.values()]
        for name, dpi in (("scan", 600), ("print", 300)):
            out = Image.open(io.BytesIO(read_uri(rows[name]["output_uri"])))
            assert out.info["dpi"] == pytest.approx((dpi, dpi)), (fmt, name)
        scan = Image.open(io.BytesIO(read_uri(rows["scan"]["output_uri"])))
        text = scan.tag_v2 if scan.format == "TIFF" else scan.getexif()
        assert (text[270], text[33432]) == ("Kirchenbuch 1843, S. 12", "Stadtarchiv"), fmt
    assert tree_digest(tmp_path / "src") == source


def test_a_pngs_text_and_a_jpegs_comment_reach_their_restored_outputs(tmp_path):
    """A PNG with a Title and a UTF-8 Author, and a JPEG with a comment, restored to their own
    formats: the PNG output has the same text, the JPEG output the same comment."""
    from PIL import Image, PngImagePlugin

    from .collections import hole_mask, png_bytes, write

    rng = np.random.default_rng(6)
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Hafen")
    info.add_itxt("Author", "Jürgen Müller")
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 96, 3)).astype(np.uint8)).save(buf, "PNG", pnginfo=info)
    write(tmp_path / "src", "harbour.png", buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 96, 3)).astype(np.uint8)).save(buf, "JPEG", comment=b"Box 12, No. 4")
    write(tmp_path / "src", "box.jpg", buf.getvalue())
    for name in ("harbour", "box"):
        write(tmp_path / "src", f"{name}_mask.png", png_bytes((hole_mask(64, 96, seed=2) * 255).astype(np.uint8)))
    run(tmp_path / "src", tmp_path / "dest", output_format="same", method="telea")
    table = manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()
    rows = {r["image_id"].split(".")[0]: r for r in table}
    assert {r["status"] for r in rows.values()} == {"ok"}, [r["error"] for r in rows.values()]
    with Image.open(io.BytesIO(read_uri(rows["harbour"]["output_uri"]))) as png:
        png.load()
        assert (png.text["Title"], png.text["Author"]) == ("Hafen", "Jürgen Müller")
    assert Image.open(io.BytesIO(read_uri(rows["box"]["output_uri"]))).info["comment"] == b"Box 12, No. 4"


def test_an_orthophoto_with_an_internal_mask_is_filled_there_and_stored_as_it_was(tmp_path):
    """An orthophoto COG's layout: JPEG tiles, two overviews and GDAL's internal nodata mask over a
    missing strip and block, whose pixels are black-ish JPEG noise. The mask is the hole (exactly, with
    no detection); the output keeps JPEG tiles and overviews made from the restored pixels, and has
    no mask left; with --max-fill-distance the pixels left unfilled are its mask."""
    import tifffile

    yy, xx = np.mgrid[0:256, 0:320]
    photo = np.dstack([128 + 60 * np.sin(xx / 20), 128 + 60 * np.cos(yy / 15), 100 + 40 * np.sin((xx + yy) / 25)])
    valid = np.ones((256, 320), bool)
    valid[50:90, 100:165], valid[200:210, :] = False, False
    truth, photo = photo, np.where(valid[..., None], photo, 3)
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        tif.write(photo.astype(np.uint8), photometric="rgb", tile=(128, 128), compression="jpeg", metadata=None)
        tif.write(valid, subfiletype=4, photometric=4, compression="zlib", metadata=None)
        for level in (2, 4):
            tif.write(photo[::level, ::level].astype(np.uint8), photometric="rgb", tile=(128, 128), compression="jpeg",
                      subfiletype=1, metadata=None)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ortho.tif").write_bytes(buf.getvalue())
    source = tree_digest(tmp_path / "src")
    for name, extra in (("filled", {}), ("near", {"max_fill_distance": 4})):
        run(tmp_path / "src", tmp_path / name, output_format="same", method="telea", **extra)
        [row] = manifest.read_manifest(Location(str(tmp_path / name))).to_pylist()
        assert (row["status"], row["mask_source"]) == ("ok", "nodata"), row["error"]
        assert row["hole_fraction"] == pytest.approx((~valid).mean())
        with tifffile.TiffFile(io.BytesIO(read_uri(row["output_uri"]))) as tif:
            images = [p for p in tif.pages if not p.subfiletype & 4]
            masks = [p for p in tif.pages if p.subfiletype & 4]
            assert [(p.compression, p.tilelength, p.shape[:2]) for p in images] == \
                [(7, 128, (256, 320)), (7, 128, (128, 160)), (7, 128, (64, 80))]
            out = images[0].asarray()
            if name == "filled":
                assert np.abs(out[~valid].astype(int) - truth[~valid]).mean() < 25  # filled, not left black
                assert masks == []
            else:
                left = ~masks[0].asarray()
                assert row["left_unfilled"] == pytest.approx(left.mean()) and 0 < left.sum() < (~valid).sum()
                assert not (left & valid).any() and len(masks) == 3 and np.abs(out[left].astype(int) - 3).mean() < 6
    assert tree_digest(tmp_path / "src") == source


def test_a_multi_page_tiff_is_restored_by_its_first_page_and_carries_the_others(tmp_path):
    """A three-page TIFF document (with an overview of its first page) beside a one-page scan: the
    first page is restored; a TIFF output carries the other two as they were stored (the first
    page's overview is made again, not copied); the row's `pages` counts the document's three (not
    the overview); the run counts it among documents whose pages were copied, not restored. A copy
    cut off in its last page fails its row saying so. A PNG output holds the first page only, and the
    run counts it among documents whose pages were dropped."""
    import tifffile

    from .collections import hole_mask, png_bytes, write

    rng = np.random.default_rng(7)
    pages = [rng.integers(0, 256, (64, 96, 3)).astype(np.uint8) for _ in range(3)]
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        tif.write(pages[0], photometric="rgb", metadata=None, compression="zlib", tile=(32, 32))
        tif.write(pages[0][::2, ::2].copy(), photometric="rgb", subfiletype=1, metadata=None)
        for page in pages[1:]:
            tif.write(page, photometric="rgb", subfiletype=2, metadata=None, compression="zlib")
    letter = buf.getvalue()
    write(tmp_path / "src", "letter.tif", letter)
    write(tmp_path / "src", "scan.tif", _tiff_bytes(pages[1]))
    with tifffile.TiffFile(io.BytesIO(letter)) as tif:  # a copy cut off in its last page's data
        write(tmp_path / "src", "cut.tif", letter[:tif.pages[3].dataoffsets[0] + 100])
    mask = hole_mask(64, 96, seed=1)
    for name in ("letter", "scan", "cut"):
        write(tmp_path / "src", f"{name}_mask.png", png_bytes((mask * 255).astype(np.uint8)))
    source = tree_digest(tmp_path / "src")
    summary = run(tmp_path / "src", tmp_path / "dest", output_format="same", method="telea")
    rows = {r["image_id"]: r for r in manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()}
    assert (rows["letter.tif"]["status"], rows["scan.tif"]["status"], rows["cut.tif"]["status"]) == \
        ("ok", "ok", "failed")
    assert rows["cut.tif"]["error"].startswith("truncated TIFF: the image data of IFD 3 lie past the end of the file")
    assert (rows["letter.tif"]["pages"], rows["scan.tif"]["pages"]) == (3, None)
    assert (summary["pages_copied"], summary["pages_dropped"]) == (1, 0)
    with tifffile.TiffFile(io.BytesIO(read_uri(rows["letter.tif"]["output_uri"]))) as tif:
        first, overview, *others = tif.pages
        assert first.shape == (64, 96, 3) and (first.asarray()[mask] != pages[0][mask]).any()  # restored
        assert (first.asarray()[~mask] == pages[0][~mask]).all() and overview.subfiletype == 1
        assert [(p.subfiletype, p.compression) for p in others] == [(2, 8), (2, 8)]
        assert all((p.asarray() == page).all() for p, page in zip(others, pages[1:]))
    summary = run(tmp_path / "src", tmp_path / "png", method="telea")
    assert (summary["pages_copied"], summary["pages_dropped"]) == (0, 2)  # (the cut copy's first page too)
    assert tree_digest(tmp_path / "src") == source


def _tiff_bytes(rgb: np.ndarray) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, rgb, photometric="rgb", metadata=None)
    return buf.getvalue()


def test_a_bilevel_scan_is_not_taken_for_a_hole_by_the_solid_detector(tmp_path):
    """A fax page (1-bit, CCITT G4) is all pure black and white: under --masks auto the solid detector
    used to mark every pixel and fail the row ("mask covers the whole image"). It is now copied
    through with a reason that says why, with solid's options given or not; with a mask file it is
    restored, and its TIFF output is a 1-bit G4 fax again."""
    from PIL import Image

    from .collections import hole_mask, png_bytes, write

    page = np.full((96, 128), 255, np.uint8)
    page[10:90:8, 8:120] = 0  # lines of text
    buf = io.BytesIO()
    Image.fromarray(page).convert("1").save(buf, "TIFF", compression="group4")
    write(tmp_path / "src", "fax.tif", buf.getvalue())
    for name, cfg in (("auto", {}), ("opts", {"detector_options": {"solid": {"tolerance": 2}}})):
        run(tmp_path / "src", tmp_path / name, **cfg)
        [row] = manifest.read_manifest(Location(str(tmp_path / name))).to_pylist()
        assert (row["status"], row["mask_source"]) == ("skipped", "none"), row["error"]
        assert row["error"].startswith("a bilevel (1-bit) image: its pure black and white are its content")
    write(tmp_path / "src", "fax_mask.png", png_bytes((hole_mask(96, 128, seed=2) * 255).astype(np.uint8)))
    run(tmp_path / "src", tmp_path / "masked", output_format="same")
    [row] = manifest.read_manifest(Location(str(tmp_path / "masked"))).to_pylist()
    assert (row["status"], row["mask_source"]) == ("ok", "sibling"), row["error"]
    import tifffile

    with tifffile.TiffFile(io.BytesIO(read_uri(row["output_uri"]))) as tif:  # a fax again: 1-bit, G4
        [out] = tif.pages
        assert (out.bitspersample, out.compression) == (1, 4)
        assert (out.asarray()[~hole_mask(96, 128, seed=2)] == (page == 255)[~hole_mask(96, 128, seed=2)]).all()


def test_rerun_does_no_repeated_work_and_force_redoes(tmp_path):
    good_collection(str(tmp_path / "src"), n=4)
    first = run(tmp_path / "src", tmp_path / "dest", run_id="r1")
    assert first["ok"] == 4
    second = run(tmp_path / "src", tmp_path / "dest", run_id="r2")
    assert second["ok"] == 0 and second["up_to_date"] == 4
    # A changed source is redone; the rest stays up to date.
    (tmp_path / "src" / "set0" / "img000.png").write_bytes(
        (tmp_path / "src" / "set1" / "img001.png").read_bytes())
    third = run(tmp_path / "src", tmp_path / "dest", run_id="r3")
    assert third["ok"] == 1 and third["up_to_date"] == 3
    # A deleted output is redone.
    os.unlink(tmp_path / "dest" / "images" / "set1" / "img003.png")
    fourth = run(tmp_path / "src", tmp_path / "dest", run_id="r4")
    assert fourth["ok"] == 1
    forced = run(tmp_path / "src", tmp_path / "dest", run_id="r5", force=True)
    assert forced["ok"] == 4
    # Other settings are other work.
    assert run(tmp_path / "src", tmp_path / "dest", run_id="r6", method="ns")["ok"] == 4


def test_detection_is_named_in_the_manifest(tmp_path):
    from skimage import data as skdata

    from .collections import png_bytes, write

    img = skdata.coffee()[:128, :128].copy()
    img[20:50, 30:70] = 255
    write(tmp_path / "src", "white-hole.png", png_bytes(img))
    run(tmp_path / "src", tmp_path / "dest")
    (row,) = manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()
    assert row["status"] == "ok" and row["mask_source"] == "detect:solid"
    assert row["hole_fraction"] == pytest.approx(30 * 40 / 128 ** 2, rel=0.2)


def test_split_steps_match_the_fused_shard(tmp_path):
    """prepare -> (only windows travel) -> inpaint -> finish gives the same bytes as one process."""
    from inpaint_core.pipeline import finish_shard, inpaint_shard, prepare_shard

    good_collection(str(tmp_path / "src"), n=3)
    (tmp_path / "src" / "set0" / "img002_mask.png").write_bytes(
        __import__("tests.collections", fromlist=["png_bytes"]).png_bytes(np.zeros((96, 96), np.uint8)))
    fused = run(tmp_path / "src", tmp_path / "fused", write_edges=True)
    source, dest = Location(str(tmp_path / "src")), Location(str(tmp_path / "split"))
    cfg = RestoreConfig(write_edges=True)
    works = [w.without_frames() for w in prepare_shard(list(discover(source)), cfg, source, dest, "r", 0)]
    rows = finish_shard(inpaint_shard(works, cfg, "gpu-worker"), cfg, source, dest)
    assert fused["ok"] == 2 and fused["skipped"] == 1
    for row in rows:
        key = row["output_uri"].split("/split/", 1)[1]
        assert (tmp_path / "split" / key).read_bytes() == (tmp_path / "fused" / key).read_bytes()
        assert row["status"] == ("skipped" if "img002" in key else "ok")
        if row["status"] == "ok":
            assert row["edges_output_uri"] and row["worker"] == "gpu-worker"


def test_split_rerun_leaves_finished_outputs_alone(tmp_path):
    """On GPU clusters the shard is prepared on one worker and finished on another: an image that is
    already up to date must stay so across that hop, not be written again as an unrestored copy."""
    from inpaint_core.pipeline import finish_shard, inpaint_shard, prepare_shard, write_shard_manifest

    good_collection(str(tmp_path / "src"), n=3)
    assert run(tmp_path / "src", tmp_path / "dest", run_id="r1")["ok"] == 3
    before = tree_digest(tmp_path / "dest" / "images")
    source, dest = Location(str(tmp_path / "src")), Location(str(tmp_path / "dest"))
    cfg = RestoreConfig()
    works = [w.without_frames() for w in prepare_shard(list(discover(source, exclude=(dest,))), cfg, source, dest,
                                                       "r2", 0)]
    rows = finish_shard(inpaint_shard(works, cfg, "gpu-worker"), cfg, source, dest)
    summary = write_shard_manifest(rows, works, dest, "r2", 0)
    assert rows == [] and summary["up_to_date"] == 3 and summary["ok"] == 0
    assert tree_digest(tmp_path / "dest" / "images") == before


def test_a_shard_redone_in_the_same_run_keeps_its_rows_and_counts(tmp_path):
    """A worker lost after it wrote a shard: Dask runs the shard again in the same run. Its rows stay
    in the run's manifest, its outputs keep their bytes, and its images count as done by this run."""
    from tests.collections import png_bytes

    good_collection(str(tmp_path / "src"), n=4)
    (tmp_path / "src" / "set0" / "img002_mask.png").write_bytes(png_bytes(np.zeros((96, 96), np.uint8)))
    (tmp_path / "src" / "set1" / "img003.png").write_bytes(b"not an image")
    first = run(tmp_path / "src", tmp_path / "dest", run_id="r1")
    assert (first["ok"], first["skipped"], first["failed"]) == (2, 1, 1)
    before = tree_digest(tmp_path / "dest" / "images")
    again = run(tmp_path / "src", tmp_path / "dest", run_id="r1")
    assert (again["ok"], again["skipped"], again["failed"], again["up_to_date"]) == (2, 1, 1, 0)
    assert tree_digest(tmp_path / "dest" / "images") == before
    rows = manifest.read_manifest(Location(str(tmp_path / "dest"))).to_pylist()
    assert sorted((r["image_id"], r["status"]) for r in rows) == [
        ("set0/img000.png", "ok"), ("set0/img002.png", "skipped"), ("set1/img001.png", "ok"),
        ("set1/img003.png", "failed")]
    # A later run still finds them up to date.
    later = run(tmp_path / "src", tmp_path / "dest", run_id="r2")
    assert later["up_to_date"] == 3 and later["failed"] == 1
