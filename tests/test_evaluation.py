"""The evaluation protocol: which mask each image gets, composited metrics, the summary table."""

import os

import numpy as np
import pytest
from skimage import data as skdata

from inpaint_core import create_inpainter
from inpaint_core.evaluation import (center_crop, evaluate_cases, hole_ratio_bin, left_out_note, markdown_table,
                                     protocol_cases, read_mask_index, summarize)

from .collections import png_bytes, write

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture
def tiny_protocol(tmp_path):
    photos = [skdata.astronaut(), skdata.coffee(), skdata.chelsea()]
    for i, p in enumerate(photos):
        write(tmp_path, f"images/{i}.png", png_bytes(p))
    rows = ["file,hole_ratio_bin,kind,hole_fraction"]
    n = 0
    for b, side in (("0.01-0.1", 12), ("0.1-0.2", 30)):
        for kind in ("no_border_holes", "border_holes"):
            for j in range(2):
                m = np.zeros((128, 128), np.uint8)
                y = 0 if kind == "border_holes" else 40 + j
                m[y:y + side, 40:40 + side] = 255
                write(tmp_path, f"masks/{n:05d}.png", png_bytes(m))
                rows.append(f"{n:05d}.png,{b},{kind},0")
                n += 1
    (tmp_path / "masks" / "index.csv").write_text("\n".join(rows) + "\n")
    return str(tmp_path / "images"), str(tmp_path / "masks" / "index.csv")


def test_masks_alternate_kinds_in_index_order(tiny_protocol):
    cases = list(protocol_cases(*tiny_protocol, size=64))
    assert [c.bin for c in cases] == ["0.01-0.1"] * 3 + ["0.1-0.2"] * 3
    assert [(c.image_id, c.kind, c.mask_file) for c in cases[:3]] == [
        ("0.png", "no_border_holes", "00000.png"), ("1.png", "border_holes", "00002.png"),
        ("2.png", "no_border_holes", "00001.png")]
    assert all(c.image.shape == (64, 64, 3) and c.mask.shape == (64, 64) for c in cases)


def test_hole_fractions_fall_in_the_protocols_bins():
    assert [hole_ratio_bin(f) for f in (0, 0.005, 0.01, 0.05, 0.1, 0.35, 0.5999, 0.6, 1.0)] == [
        None, "0-0.01", "0.01-0.1", "0.01-0.1", "0.1-0.2", "0.3-0.4", "0.5-0.6", "0.6-1", "0.6-1"]


def _own_masks(root, fractions):
    """Masks of a user's own: square holes of the given fractions of a 100x100 frame, no index."""
    for i, f in enumerate(fractions):
        m = np.zeros((100, 100), np.uint8)
        side = int(round((f * 10000) ** 0.5))
        m[10:10 + side, 5:5 + side] = 255
        write(root, f"own/m{i}.png", png_bytes(m))
    return str(root / "own")


def test_a_folder_of_masks_is_binned_by_hole_fraction(tiny_protocol, tmp_path):
    folder = _own_masks(tmp_path, [0.36, 0.04, 0.0, 0.33, 0.81])
    root, index = read_mask_index(folder)
    assert index == {"0.3-0.4": {"all": ["m0.png", "m3.png"]}, "0.01-0.1": {"all": ["m1.png"]},
                     "0.6-1": {"all": ["m4.png"]}}  # the empty m2 has nothing to fill: left out
    images, _ = tiny_protocol
    cases = list(protocol_cases(images, folder, size=64))
    assert [(c.bin, c.image_id, c.mask_file) for c in cases[3:6]] == [
        ("0.3-0.4", "0.png", "m0.png"), ("0.3-0.4", "1.png", "m3.png"), ("0.3-0.4", "2.png", "m0.png")]
    assert 0.3 <= cases[3].mask.mean() < 0.4  # resized to the crop, still in its bin
    rows = evaluate_cases(create_inpainter("telea"), cases)
    assert {r["bin"] for r in summarize(rows)} == {"0.01-0.1", "0.3-0.4", "0.6-1"}


def test_an_index_without_bins_is_binned_by_its_fractions_and_bad_ones_are_refused(tiny_protocol, tmp_path):
    folder = _own_masks(tmp_path, [0.36, 0.15])
    (tmp_path / "own" / "index.csv").write_text("file,hole_fraction\nm0.png,0.36\nm1.png,0.15\n")
    _, index = read_mask_index(str(tmp_path / "own" / "index.csv"))
    assert index == {"0.3-0.4": {"all": ["m0.png"]}, "0.1-0.2": {"all": ["m1.png"]}}
    (tmp_path / "own" / "bad.csv").write_text("mask,bin\nm0.png,0.3-0.4\n")
    with pytest.raises(ValueError, match=r"needs a 'file' column .* it has mask, bin"):
        read_mask_index(str(tmp_path / "own" / "bad.csv"))
    with pytest.raises(ValueError, match=r"no masks in bin\(s\) 0.5-0.6 .* its bins: 0.1-0.2, 0.3-0.4"):
        list(protocol_cases(tiny_protocol[0], folder, size=64, bins=["0.5-0.6"]))
    with pytest.raises(FileNotFoundError, match="no mask files under"):
        read_mask_index(str(tmp_path / "nothing"))


def test_unreadable_images_and_masks_are_left_out_with_their_reason_and_change_no_other_case(tiny_protocol,
                                                                                              tmp_path):
    images, masks = tiny_protocol
    clean = {(c.bin, c.image_id): c for c in protocol_cases(images, masks, size=64)}
    (tmp_path / "images" / "1.png").write_bytes(png_bytes(skdata.coffee())[:300])  # truncated
    write(tmp_path, "images/3.png", png_bytes(np.zeros((40, 40, 3), np.uint8)))  # smaller than the crop
    (tmp_path / "masks" / "00001.png").write_bytes(b"not a png")  # image 2's mask in the first bin
    before = {p.name: p.read_bytes() for p in (tmp_path / "images").iterdir()}
    left_out = []
    cases = list(protocol_cases(images, masks, size=64, left_out=left_out))
    assert [(c.bin, c.image_id) for c in cases] == [("0.01-0.1", "0.png"), ("0.1-0.2", "0.png"),
                                                    ("0.1-0.2", "2.png")]
    for c in cases:  # the same masks as without the broken files: leaving 1.png out moved no other image's
        assert c.mask_file == clean[(c.bin, c.image_id)].mask_file
        assert np.array_equal(c.mask, clean[(c.bin, c.image_id)].mask)
    assert [(r["kind"], r["file"].rsplit("/", 1)[-1]) for r in left_out] == [
        ("image", "1.png"), ("image", "3.png"), ("mask", "00001.png")]
    assert "truncated PNG" in left_out[0]["reason"]
    assert left_out[1]["reason"] == "image 40x40 is smaller than the 64x64 crop"
    assert "not a decodable image" in left_out[2]["reason"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "images").iterdir()} == before  # inputs untouched
    note = left_out_note(left_out)
    assert note.startswith("left out: 2 images and 1 mask") and "1.png: truncated PNG" in note
    # nothing usable is an error that says why
    for name in ("0.png", "2.png"):
        (tmp_path / "images" / name).write_bytes(b"")
    with pytest.raises(ValueError, match=r"no usable image under .*all 4 were left out, e.g. 0.png: "):
        list(protocol_cases(images, masks, size=64))


def test_an_image_with_nodata_or_transparency_in_its_crop_is_left_out_saying_so(tiny_protocol, tmp_path):
    """A PNG with a transparent corner inside the centre crop has no truth there to score against: it is
    left out with the count; one whose transparency lies outside the crop is scored as before."""
    images, masks = tiny_protocol
    photo = np.dstack([skdata.coffee()[:100, :100], np.full((100, 100), 255, np.uint8)])
    inside, outside = photo.copy(), photo.copy()
    inside[30:40, 30:40, 3] = 0  # in the 64 px centre crop (18..82)
    outside[:10, :10, 3] = 0
    write(tmp_path, "images/1.png", png_bytes(inside))
    write(tmp_path, "images/2.png", png_bytes(outside))
    left_out = []
    cases = list(protocol_cases(images, masks, size=64, left_out=left_out))
    assert "1.png" not in {c.image_id for c in cases} and "2.png" in {c.image_id for c in cases}
    assert [(r["file"].rsplit("/", 1)[-1], r["reason"]) for r in left_out] == [
        ("1.png", "100 pixels of its 64x64 crop are nodata or transparent: no truth to score a fill against "
                  "there (evaluate on complete images or tiles)")]


def test_a_mask_folder_with_an_unreadable_mask_is_binned_without_it(tiny_protocol, tmp_path):
    folder = _own_masks(tmp_path, [0.36, 0.33])
    (tmp_path / "own" / "m1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    left_out = []
    _, index = read_mask_index(folder, left_out=left_out)
    assert index == {"0.3-0.4": {"all": ["m0.png"]}}
    assert [r["file"].rsplit("/", 1)[-1] for r in left_out] == ["m1.png"] and left_out[0]["kind"] == "mask"
    (tmp_path / "own" / "m0.png").write_bytes(b"")
    with pytest.raises(ValueError, match="nothing to evaluate: no mask of .* could be read"):
        list(protocol_cases(tiny_protocol[0], folder, size=64))


def test_center_crop_does_not_resize():
    img = np.arange(10 * 12 * 3, dtype=np.uint8).reshape(10, 12, 3)
    assert np.array_equal(center_crop(img, 4), img[3:7, 4:8])
    with pytest.raises(ValueError):
        center_crop(img, 11)


def test_metrics_are_on_the_composited_output(tiny_protocol):
    cases = list(protocol_cases(*tiny_protocol, size=64))

    class Garbage:  # writes junk everywhere: compositing must keep the known pixels
        name = "garbage"

        def __call__(self, images, masks):
            return [np.full_like(i, 255) for i in images]

    rows = evaluate_cases(Garbage(), cases)
    for r, c in zip(rows, cases):
        expected_l1 = np.abs(255 - c.image[c.mask].astype(float)).sum() / c.image.size / 255 * 100
        assert r["l1"] == pytest.approx(expected_l1)
    summary = summarize(rows + evaluate_cases(create_inpainter("telea"), cases))
    assert [(s["bin"], s["method"]) for s in summary] == [
        ("0.01-0.1", "garbage"), ("0.01-0.1", "telea"), ("0.1-0.2", "garbage"), ("0.1-0.2", "telea")]
    by = {(s["bin"], s["method"]): s for s in summary}
    assert by[("0.1-0.2", "telea")]["psnr"] > by[("0.1-0.2", "garbage")]["psnr"]
    assert "| 0.1-0.2 | telea | 3 |" in markdown_table(summary)


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "bsds500", "val")), reason="shared evaluation data absent")
def test_telea_reproduces_the_reference_figures_on_the_dev_split():
    """Issue 4 quotes Telea at about 22.7 dB / 0.790 SSIM in the 0.3-0.4 bin of this protocol."""
    cases = list(protocol_cases(os.path.join(SHARED, "bsds500", "val"),
                                os.path.join(SHARED, "masks", "nvidia_irregular", "index.csv"), bins=["0.3-0.4"]))
    (s,) = summarize(evaluate_cases(create_inpainter("telea", radius=3), cases))
    assert s["n"] == 100
    assert s["psnr"] == pytest.approx(22.7, abs=0.3) and s["ssim"] == pytest.approx(0.790, abs=0.01)


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "bsds500", "val")), reason="shared evaluation data absent")
def test_spline_beats_telea_by_about_a_decibel_on_the_dev_split():
    """The figure docs/models.md reports for the untrained tension spline in the 0.5-0.6 bin."""
    cases = list(protocol_cases(os.path.join(SHARED, "bsds500", "val"),
                                os.path.join(SHARED, "masks", "nvidia_irregular", "index.csv"), bins=["0.5-0.6"]))
    (telea,) = summarize(evaluate_cases(create_inpainter("telea", radius=3), cases))
    (ours,) = summarize(evaluate_cases(create_inpainter("spline"), cases))
    assert ours["psnr"] - telea["psnr"] == pytest.approx(1.15, abs=0.05)
    assert ours["ssim"] - telea["ssim"] == pytest.approx(0.013, abs=0.002)


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "masks", "nvidia_irregular")),
                    reason="shared evaluation data absent")
def test_binning_masks_by_their_pixels_agrees_with_the_shared_index():
    """Binned from their pixels as a plain folder, the shared masks land where their index puts them."""
    import csv

    folder = os.path.join(SHARED, "masks", "nvidia_irregular")
    _, index = read_mask_index(folder)
    with open(os.path.join(folder, "index.csv")) as f:
        given = {r["file"]: r["hole_ratio_bin"] for r in csv.DictReader(f)}
    got = {name: b for b, kinds in index.items() for names in kinds.values() for name in names}
    assert got == given


def test_result_tables_keep_columns_only_some_rows_have():
    """A bin without FID (one image) first, bins with FID after: the column stays, null where absent
    (the same holds for training-log rows with a discriminator loss only on some steps)."""
    from inpaint_core.manifest import table_of_rows

    t = table_of_rows([{"bin": "0.1-0.2", "psnr": 30.0}, {"bin": "0.2-0.3", "psnr": 25.0, "fid": 41.5}])
    assert t.column_names == ["bin", "psnr", "fid"]
    assert t.column("fid").to_pylist() == [None, 41.5]
