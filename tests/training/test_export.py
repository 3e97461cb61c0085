"""Exporting a training checkpoint as shipped weights: evaluated against Telea, fp16 only when lossless."""

import json

import numpy as np
import pytest
import torch
from skimage import data as skdata

from inpaint_core import create_inpainter
from inpaint_core.models import get_model_spec, save_checkpoint
from inpaint_core.errors import CheckpointError
from inpaint_core.training.export import compare_to_baseline, export_weights, training_stages

from ..collections import png_bytes, write


@pytest.fixture
def protocol(tmp_path):
    for i, p in enumerate([skdata.astronaut(), skdata.coffee(), skdata.chelsea()]):
        write(tmp_path, f"images/{i}.png", png_bytes(p))
    rows, n = ["file,hole_ratio_bin,kind,hole_fraction"], 0
    for b, side in (("0.3-0.4", 40), ("0.4-0.5", 46)):
        for kind in ("no_border_holes", "border_holes"):
            m = np.zeros((128, 128), np.uint8)
            y = 0 if kind == "border_holes" else 30
            m[y:y + side * 2, 20:20 + side] = 255
            write(tmp_path, f"masks/{n:05d}.png", png_bytes(m))
            rows.append(f"{n:05d}.png,{b},{kind},0")
            n += 1
    (tmp_path / "masks" / "index.csv").write_text("\n".join(rows) + "\n")
    return str(tmp_path / "images"), str(tmp_path / "masks" / "index.csv")


@pytest.fixture
def training_checkpoint(tmp_path):
    torch.manual_seed(0)
    spec = get_model_spec("glcic")
    config = {**spec.default_config, "width": 4}
    path = tmp_path / "run" / "glcic.safetensors"
    path.parent.mkdir()
    save_checkpoint(spec.build(config), "glcic", config, str(path),
                    {"resolution": 64, "steps": 12, "images_seen": 96, "wall_seconds": 3.5,
                     "hardware": "test cpu", "training_data": ["somewhere/train"]})
    return str(path)


def test_export_writes_weights_with_the_dev_evaluation_in_the_card(protocol, training_checkpoint, tmp_path):
    images, index = protocol
    out = export_weights(training_checkpoint, tmp_path / "shipped", images=images, masks_index=index, size=64,
                         log=lambda *_: None)
    card = json.loads((tmp_path / "shipped" / "glcic.json").read_text())
    # what the training run recorded is kept
    assert (card["steps"], card["images_seen"], card["wall_seconds"], card["hardware"]) == (12, 96, 3.5, "test cpu")
    ev = card["dev_evaluation"]
    assert {(s["bin"], s["method"]) for s in ev["summary"]} == {
        (b, m) for b in ("0.3-0.4", "0.4-0.5") for m in ("telea", "ns", "spline", "glcic")}
    assert set(ev["vs_telea"]) == {"0.3-0.4", "0.4-0.5"} and "ImageNet" in card["licence"]
    assert "left_out" not in ev
    assert card["storage_dtype"] == ("float16" if out["storage_dtype"] == "float16" else "native")
    # the shipped file is a working checkpoint
    model = create_inpainter("glcic", checkpoint=out["weights"], device="cpu")
    img = skdata.astronaut()[:64, :64].copy()
    mask = np.zeros((64, 64), bool)
    mask[20:40, 20:40] = True
    (res,) = model([img], [mask])
    assert res.shape == img.shape and np.array_equal(res[~mask], img[~mask])


def test_an_unreadable_evaluation_image_is_named_in_the_card(protocol, training_checkpoint, tmp_path):
    images, index = protocol
    (tmp_path / "images" / "1.png").write_bytes(b"")
    said = []
    export_weights(training_checkpoint, tmp_path / "shipped", images=images, masks_index=index, size=64,
                   log=said.append)
    ev = json.loads((tmp_path / "shipped" / "glcic.json").read_text())["dev_evaluation"]
    assert [(r["kind"], r["file"].rsplit("/", 1)[-1]) for r in ev["left_out"]] == [("image", "1.png")]
    assert {s["n"] for s in ev["summary"]} == {2}  # the table is over the two readable images
    assert any(line.startswith("glcic: left out: 1 image") for line in said)


def test_fp16_is_refused_when_it_changes_the_figures(protocol, training_checkpoint, tmp_path):
    images, index = protocol
    out = export_weights(training_checkpoint, tmp_path / "shipped", images=images, masks_index=index, size=64,
                         fp16_tolerance_db=-1.0, log=lambda *_: None)  # any drift is too much
    assert out["storage_dtype"] == "native"
    blob = (tmp_path / "shipped" / "glcic.safetensors").read_bytes()
    assert b'"F32"' in blob[:4096] and b'"F16"' not in blob[:4096]


def test_compare_to_baseline_reports_gains_per_bin():
    summary = [{"bin": "0.3-0.4", "method": "telea", "psnr": 22.0, "ssim": 0.79},
               {"bin": "0.3-0.4", "method": "m", "psnr": 23.5, "ssim": 0.84}]
    assert compare_to_baseline(summary, "m") == {"0.3-0.4": {"psnr_gain": 1.5, "ssim_gain": 0.05}}


def test_export_can_ship_another_working_resolution(protocol, training_checkpoint, tmp_path):
    images, index = protocol
    export_weights(training_checkpoint, tmp_path / "shipped", images=images, masks_index=index, size=64,
                   resolution=32, fp16=False, log=lambda *_: None)
    card = json.loads((tmp_path / "shipped" / "glcic.json").read_text())
    assert (card["resolution"], card["training_resolution"]) == (32, 64)
    assert create_inpainter("glcic", checkpoint=str(tmp_path / "shipped" / "glcic.safetensors")).resolution == 32


def _continued(tmp_path, shipped_card: dict, **card) -> str:
    """A training checkpoint that continued the shipped glcic weights (``inpaint train --init-from``)."""
    spec = get_model_spec("glcic")
    path = tmp_path / "run2" / "glcic.safetensors"
    path.parent.mkdir(exist_ok=True)
    init = {"uri": str(tmp_path / "shipped" / "glcic.safetensors"), "architecture": "glcic",
            "sha256": shipped_card["sha256"], "steps": shipped_card["steps"]}
    save_checkpoint(spec.build(shipped_card["config"]), "glcic", shipped_card["config"], str(path),
                    {"resolution": 64, "steps": 30, "images_seen": 480, "wall_seconds": 60.0, "hardware": "test gpu",
                     "training_data": ["gpu/subset"], "init_from": init, "train_config": {"batch_size": 16, "lr": 2e-4}}
                    | card)
    return str(path)


def test_a_run_that_continued_shipped_weights_records_every_stage(protocol, training_checkpoint, tmp_path):
    images, index = protocol
    export_weights(training_checkpoint, tmp_path / "shipped", images=images, masks_index=index, size=64,
                   fp16=False, log=lambda *_: None)
    first = json.loads((tmp_path / "shipped" / "glcic.json").read_text())
    # the second run started from the shipped file, which its own export then replaces
    second = _continued(tmp_path, first)
    export_weights(second, tmp_path / "shipped", images=images, masks_index=index, size=64, fp16=False,
                   data_note="a subset", log=lambda *_: None)
    card = json.loads((tmp_path / "shipped" / "glcic.json").read_text())
    assert [(s["hardware"], s["steps"], s["images_seen"]) for s in card["stages"]] == [
        ("test cpu", 12, 96), ("test gpu", 30, 480)]
    assert (card["steps"], card["images_seen"], card["wall_seconds"]) == (42, 576, 63.5)
    assert card["hardware"] == "test cpu (4 s), then test gpu (60 s)"
    assert card["training_data"] == ["somewhere/train", "gpu/subset"]
    assert card["stages"][1]["init_from"]["sha256"] == first["sha256"] == card["stages"][0]["sha256"]
    assert card["training_data_note"] == "stage 2: a subset" and card["stages"][1]["lr"] == 2e-4
    # a third stage over a card that already has stages appends to them
    third = json.loads((tmp_path / "shipped" / "glcic.json").read_text())
    assert len(training_stages({"steps": 5, "hardware": "cpu"}, third)["stages"]) == 3


def test_continuing_weights_that_were_since_replaced_is_refused_before_anything_is_written(
        protocol, training_checkpoint, tmp_path):
    images, index = protocol
    export_weights(training_checkpoint, tmp_path / "shipped", images=images, masks_index=index, size=64,
                   fp16=False, log=lambda *_: None)
    shipped = json.loads((tmp_path / "shipped" / "glcic.json").read_text())
    run = _continued(tmp_path, shipped | {"sha256": "0" * 64})  # started from other weights than those shipped
    before = (tmp_path / "shipped" / "glcic.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="prior-card"):
        export_weights(run, tmp_path / "shipped", images=images, masks_index=index, size=64, log=lambda *_: None)
    assert (tmp_path / "shipped" / "glcic.safetensors").read_bytes() == before
    # told to, it records the run alone
    export_weights(run, tmp_path / "out", images=images, masks_index=index, size=64, fp16=False,
                   prior_card="none", log=lambda *_: None)
    card = json.loads((tmp_path / "out" / "glcic.json").read_text())
    assert "stages" not in card and card["steps"] == 30


def test_export_can_add_fid_and_lpips_to_the_card(protocol, training_checkpoint, tmp_path):
    """Given the networks' files (random weights here, the real files' layout), the card's evaluation has
    FID per bin and LPIPS per bin for every method and names the files with their sha256."""
    import hashlib

    from inpaint_core.perceptual import LPIPS, FIDInception

    torch.manual_seed(0)
    torch.save(FIDInception().state_dict(), tmp_path / "fid.pth")
    net = LPIPS("alex")
    torch.save({f"features.{k}": v for k, v in net.features.state_dict().items()}, tmp_path / "alex.pth")
    torch.save({f"lin{k}": v.abs() for k, v in net.lins.state_dict().items()}, tmp_path / "lin.pth")
    files = {"fid_weights": str(tmp_path / "fid.pth"), "lpips_backbone": str(tmp_path / "alex.pth"),
             "lpips_lin": str(tmp_path / "lin.pth")}
    images, index = protocol
    export_weights(training_checkpoint, tmp_path / "shipped", images=images, masks_index=index, size=64, fp16=False,
                   perceptual=files, log=lambda *_: None)
    ev = json.loads((tmp_path / "shipped" / "glcic.json").read_text())["dev_evaluation"]
    assert all(s["fid_n"] == 3 and s["fid"] >= 0 and s["lpips"] > 0 for s in ev["summary"])
    assert ev["perceptual_weights"] == {k: {"uri": v, "sha256": hashlib.sha256(open(v, "rb").read()).hexdigest()}
                                        for k, v in files.items()}
    export_weights(training_checkpoint, tmp_path / "plain", images=images, masks_index=index, size=64, fp16=False,
                   log=lambda *_: None)
    ev = json.loads((tmp_path / "plain" / "glcic.json").read_text())["dev_evaluation"]
    assert ev["perceptual_weights"] == "FID and LPIPS not computed" and "fid" not in ev["summary"][0]
