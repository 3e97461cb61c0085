"""Checkpoint files: safetensors + card, refusals before deserialising, integrity, fsspec URLs."""

import hashlib
import json
import pickle

import fsspec
import pytest
import torch
from torch import nn

from inpaint_core.errors import CheckpointError, InpaintError
from inpaint_core.models.checkpoint import (card_uri_for, checkpoint_sha256, load_checkpoint, load_state_into,
                                            save_checkpoint)


class Tiny(nn.Module):
    def __init__(self, width=3):
        super().__init__()
        self.conv = nn.Conv2d(4, width, 3)
        self.bn = nn.BatchNorm2d(width)
        self.tied = self.conv  # shared tensors must not break saving


def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    model = Tiny(**kw)
    model.bn.running_mean.uniform_()
    return model


def test_round_trip_is_exact_and_card_is_complete(tmp_path):
    model = tiny()
    uri = str(tmp_path / "tiny.safetensors")
    weights_uri, card_uri = save_checkpoint(model, "tiny", {"width": 3}, uri,
                                            {"training_data": "places2-val", "steps": 12, "metrics": {"psnr": 20.5}})
    assert (weights_uri, card_uri) == (uri, str(tmp_path / "tiny.json"))
    state, card = load_checkpoint(uri)
    assert state.keys() == model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(state[k], v) and state[k].dtype == v.dtype
    assert card["architecture"] == "tiny" and card["config"] == {"width": 3}
    assert card["sha256"] == hashlib.sha256((tmp_path / "tiny.safetensors").read_bytes()).hexdigest()
    assert card["sha256"] == checkpoint_sha256(uri)
    assert card["parameters"] == sum(p.numel() for p in model.parameters())
    assert card["torch"] == torch.__version__ and card["created"][:2] == "20"
    assert card["steps"] == 12 and card["metrics"] == {"psnr": 20.5} and card["storage_dtype"] == "native"
    fresh = Tiny()
    load_state_into(fresh, state)
    assert torch.equal(fresh.conv.weight, model.conv.weight)


def test_card_path_also_accepted(tmp_path):
    save_checkpoint(tiny(), "tiny", {}, str(tmp_path / "tiny.safetensors"))
    state, card = load_checkpoint(str(tmp_path / "tiny.json"))
    assert card["architecture"] == "tiny"


def test_fp16_storage_halves_the_file_and_loads(tmp_path):
    model = tiny(width=64)
    save_checkpoint(model, "tiny", {}, str(tmp_path / "a.safetensors"))
    save_checkpoint(model, "tiny", {}, str(tmp_path / "b.safetensors"), fp16=True)
    full, half = (tmp_path / "a.safetensors").stat().st_size, (tmp_path / "b.safetensors").stat().st_size
    assert half < 0.6 * full
    state, card = load_checkpoint(str(tmp_path / "b.safetensors"))
    assert card["storage_dtype"] == "float16" and state["conv.weight"].dtype == torch.float16
    assert state["bn.num_batches_tracked"].dtype == torch.int64
    fresh = Tiny(width=64)
    load_state_into(fresh, state)
    assert fresh.conv.weight.dtype == torch.float32
    assert torch.allclose(fresh.conv.weight, model.conv.weight, atol=1e-3)


def test_memory_url(tmp_path):
    uri = "memory://ckpt-test/deep/tiny.safetensors"
    save_checkpoint(tiny(), "tiny", {"width": 3}, uri)
    assert fsspec.filesystem("memory").exists("/ckpt-test/deep/tiny.json")
    state, card = load_checkpoint(uri)
    assert card["config"] == {"width": 3}


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt", ".PT", ".pkl", ".bin"])
def test_pickle_names_refused_without_reading(suffix, tmp_path):
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(str(tmp_path / f"does-not-exist{suffix}"))  # refused by name: never opened
    with pytest.raises(CheckpointError, match="pickle"):
        save_checkpoint(tiny(), "tiny", {}, str(tmp_path / f"out{suffix}"))


@pytest.mark.parametrize("payload", [
    lambda m, p: torch.save(m.state_dict(), p),
    lambda m, p: torch.save(m.state_dict(), p, _use_new_zipfile_serialization=False),
    lambda m, p: p.write_bytes(pickle.dumps({"w": [1, 2]})),
    lambda m, p: p.write_bytes(pickle.dumps({"w": [1, 2]}, protocol=0)),  # text protocol: no magic byte
])
def test_pickle_content_under_a_safetensors_name_is_refused(payload, tmp_path, monkeypatch):
    path = tmp_path / "sneaky.safetensors"
    payload(tiny(), path)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load called"))
    with pytest.raises(CheckpointError):
        load_checkpoint(str(path))


@pytest.mark.parametrize("content", [b"", b"1234", b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":", b"\xff" * 64])
def test_garbage_and_truncated_files_are_refused(content, tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(content)
    with pytest.raises(CheckpointError):
        load_checkpoint(str(tmp_path / "bad.safetensors"))


def test_missing_files_and_bad_cards(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(str(tmp_path / "none.safetensors"))
    with pytest.raises(CheckpointError, match="safetensors"):
        load_checkpoint(str(tmp_path / "weights.npz"))
    uri = str(tmp_path / "t.safetensors")
    save_checkpoint(tiny(), "tiny", {}, uri)
    card_path = tmp_path / "t.json"
    card = json.loads(card_path.read_text())
    card_path.unlink()
    with pytest.raises(CheckpointError, match="card"):
        load_checkpoint(uri)
    card_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="card"):
        load_checkpoint(uri)
    card_path.write_text(json.dumps({**card, "sha256": "0" * 64}))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(uri)
    card_path.write_text(json.dumps({k: v for k, v in card.items() if k != "architecture"}))
    with pytest.raises(CheckpointError, match="architecture"):
        load_checkpoint(uri)


def test_state_mismatches_name_the_tensor():
    state = tiny().state_dict()
    with pytest.raises(CheckpointError, match="'conv.weight'.*shape"):
        load_state_into(Tiny(width=5), state)
    with pytest.raises(CheckpointError, match="'conv.bias'.*dtype"):
        load_state_into(Tiny(), {**state, "conv.bias": state["conv.bias"].double()})
    with pytest.raises(CheckpointError, match="missing.*bn.weight"):
        load_state_into(Tiny(), {k: v for k, v in state.items() if k != "bn.weight"})
    with pytest.raises(CheckpointError, match="unexpected.*extra"):
        load_state_into(Tiny(), {**state, "extra": torch.zeros(1)})


def test_reserved_card_keys_and_typed_error(tmp_path):
    with pytest.raises(ValueError, match="sha256"):
        save_checkpoint(tiny(), "tiny", {}, str(tmp_path / "t.safetensors"), {"sha256": "x"})
    assert issubclass(CheckpointError, InpaintError)
    assert card_uri_for("s3://b/k/m.safetensors") == "s3://b/k/m.json"


def test_a_safetensors_header_length_starting_with_0x80_is_not_a_pickle(tmp_path):
    """The header length's first byte can be 0x80 (a pickle's first byte): still safetensors."""
    import struct

    from inpaint_core.models.checkpoint import _check_magic

    head = struct.pack("<Q", 0x1280) + b'{"'
    _check_magic(head + b"x" * 6, 0x1280 + 8 + 100, "x.safetensors")  # accepted
    with pytest.raises(CheckpointError, match="pickle"):
        _check_magic(b"\x80\x04\x95" + b"\x00" * 13, 1000, "x.safetensors")
