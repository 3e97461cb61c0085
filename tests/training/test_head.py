"""The pretrained pre-fill head and ``--init-from``: a model started from the head is Telea + head."""

import json
import shutil

import numpy as np
import pytest
import torch
from skimage import data as skdata

from inpaint_core.errors import CheckpointError
from inpaint_core.models import get_model_spec, save_checkpoint
from inpaint_core.models.prefill import classical_fill
from inpaint_core.training.head import HeadOnly, pretrain_head
from inpaint_core.training.trainer import TrainConfig, Trainer

from ..collections import png_bytes, write


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for i, p in enumerate([skdata.astronaut(), skdata.coffee(), skdata.chelsea()]):
        write(root, f"{i}.png", png_bytes(p[:128, :128]))
    return str(root)


@pytest.fixture(scope="module")
def head_ckpt(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("head")
    r = pretrain_head([photos], str(out), steps=3, batch_size=2, crop=64, num_workers=0)
    return r["checkpoint"]


def _batch():
    img = torch.from_numpy(skdata.astronaut()[100:164, 150:214].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 20:44] = 1
    return img * (1 - mask), mask


def test_an_untrained_head_returns_the_fill():
    img, mask = _batch()
    out = HeadOnly()(img, mask)
    assert torch.allclose(out, img * (1 - mask) + classical_fill(img, mask) * mask)


def test_pretraining_writes_a_card_with_its_cost(head_ckpt):
    card = json.loads(open(head_ckpt.replace(".safetensors", ".json")).read())
    assert card["architecture"] == "prefill_head" and card["steps"] == 3 and card["images_seen"] == 6
    assert card["wall_seconds"] > 0 and card["hardware"]


def test_a_model_started_from_the_head_is_telea_plus_the_head(head_ckpt, photos, tmp_path):
    (tmp_path / "h").mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(head_ckpt.replace(".safetensors", suffix), tmp_path / "h")
    head_ckpt = str(tmp_path / "h" / "prefill_head.safetensors")
    cfg = TrainConfig(model="pconv", data=[photos], dest=str(tmp_path / "run"), steps=1, batch_size=2, crop=64,
                      model_config={"width": 8, "prefill": "telea"}, num_workers=0, init_from=head_ckpt)
    trainer = Trainer(cfg)
    assert trainer.init_report["tensors"] == len(HeadOnly().state_dict())
    head = HeadOnly()
    head.load_state_dict({k: v for k, v in trainer.generator.state_dict().items() if k.startswith("head.")})
    assert head.head.net[-1].weight.abs().sum() > 0  # the pretrained head, not a new one
    img, mask = _batch()
    g = trainer.generator.eval()
    with torch.no_grad():
        assert torch.allclose(g(img, mask), head.eval()(img, mask), atol=1e-6)
    trainer.run()
    card = json.loads((tmp_path / "run" / "pconv.json").read_text())
    assert card["init_from"]["uri"] == head_ckpt and card["init_from"]["tensors"] == trainer.init_report["tensors"]
    # resuming keeps the record and does not load the head again over the trained weights
    # (nor read its weights at all: a resume reads the card alone, for the config)
    (tmp_path / "h" / "prefill_head.safetensors").unlink()
    again = Trainer(TrainConfig(**{**cfg.__dict__, "steps": 2}))
    assert again.step == 1 and again.init_report["uri"] == head_ckpt
    assert torch.equal(again.generator.state_dict()["head.net.0.weight"],
                       trainer.generator.state_dict()["head.net.0.weight"])


def test_init_from_a_checkpoint_that_shares_nothing_is_refused(photos, tmp_path):
    spec = get_model_spec("glcic")
    other = str(tmp_path / "glcic.safetensors")
    save_checkpoint(spec.build({"width": 4}), "glcic", {"width": 4}, other, {})
    cfg = TrainConfig(model="pconv", data=[photos], dest=str(tmp_path / "run"), steps=1, batch_size=2, crop=64,
                      model_config={"width": 8}, num_workers=0, init_from=other)
    with pytest.raises(CheckpointError, match="none of its"):
        Trainer(cfg)


def test_init_from_the_same_architecture_takes_its_config(photos, tmp_path):
    spec = get_model_spec("shiftnet")
    config = {**spec.default_config, "width": 8, "prefill": "telea"}
    src = str(tmp_path / "shiftnet.safetensors")
    save_checkpoint(spec.build(config), "shiftnet", config, src, {})
    t = Trainer(TrainConfig(model="shiftnet", data=[photos], dest=str(tmp_path / "run"), steps=1, crop=64,
                            num_workers=0, init_from=src))
    assert t.config["width"] == 8 and t.config["prefill"] == "telea"
    assert t.init_report["tensors"] == t.init_report["of"]


def test_the_shipped_head_starts_any_prefilled_model(photos, tmp_path):
    from inpaint_core.models.wrapper import WEIGHTS_DIR

    shipped = str(WEIGHTS_DIR / "parts" / "prefill_head.safetensors")
    t = Trainer(TrainConfig(model="deepfill_v2", data=[photos], dest=str(tmp_path / "run"), steps=1, crop=64,
                            model_config={"width": 4, "prefill": "telea"}, num_workers=0, init_from=shipped))
    card = json.loads(open(shipped.replace(".safetensors", ".json")).read())
    dilations = card["config"].get("dilations", (1, 2, 4, 8, 16))
    assert t.init_report["architecture"] == "prefill_head"
    assert t.init_report["tensors"] == len(HeadOnly(dilations=dilations).state_dict())


def test_a_head_with_other_dilations_gives_its_shape_to_the_models_started_from_it(photos, tmp_path):
    r = pretrain_head([photos], str(tmp_path / "head"), steps=1, batch_size=2, crop=64, num_workers=0,
                      dilations=(1, 4, 32), hole_range=(0.3, 0.5))
    card = json.loads(open(r["checkpoint"].replace(".safetensors", ".json")).read())
    assert card["config"]["dilations"] == [1, 4, 32] and card["train_config"]["hole_range"] == [0.3, 0.5]
    t = Trainer(TrainConfig(model="glcic", data=[photos], dest=str(tmp_path / "run"), steps=1, crop=64,
                            model_config={"width": 4, "prefill": "telea"}, num_workers=0, init_from=r["checkpoint"]))
    assert t.config["prefill_dilations"] == [1, 4, 32]
    assert t.init_report["tensors"] == len(HeadOnly(dilations=(1, 4, 32)).state_dict())  # the whole head
    # the model's card keeps the shape, so the trained model loads as it was trained
    t.run()
    from inpaint_core.models.wrapper import TorchInpainter

    gen = TorchInpainter(get_model_spec("glcic"), checkpoint=str(tmp_path / "run" / "glcic.safetensors")).model
    assert [m.dilation[0] for m in gen.head.net if isinstance(m, torch.nn.Conv2d)][1:-1] == [1, 4, 32]


@pytest.mark.parametrize("bad", [[], [0, 2], [1.5], "abc"])
def test_bad_head_dilations_are_refused(bad):
    spec = get_model_spec("glcic")
    with pytest.raises(ValueError, match="prefill_dilations"):
        spec.build({**spec.default_config, "prefill": "telea", "prefill_dilations": bad})


def test_a_spline_head_starts_spline_models_and_refuses_telea_ones(photos, tmp_path):
    r = pretrain_head([photos], str(tmp_path / "head"), steps=1, batch_size=2, crop=64, num_workers=0,
                      method="spline")
    card = json.loads(open(r["checkpoint"].replace(".safetensors", ".json")).read())
    assert card["config"]["method"] == "spline"
    # without a prefill option the model takes the head's fill
    t = Trainer(TrainConfig(model="glcic", data=[photos], dest=str(tmp_path / "run"), steps=1, crop=64,
                            model_config={"width": 4}, num_workers=0, init_from=r["checkpoint"]))
    assert t.config["prefill"] == "spline" and t.generator.method == "spline"
    with pytest.raises(ValueError, match="trained over the 'spline' fill"):
        Trainer(TrainConfig(model="glcic", data=[photos], dest=str(tmp_path / "run2"), steps=1, crop=64,
                            model_config={"width": 4, "prefill": "telea"}, num_workers=0, init_from=r["checkpoint"]))
