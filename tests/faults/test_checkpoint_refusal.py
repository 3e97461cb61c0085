"""Checkpoints: only safetensors and JSON are ever read; pickles and lying files are refused first.

The pickles here carry a booby trap: unpickling them creates a marker file (``__reduce__`` calls
``Path.touch``). Every refusal asserts the marker does not exist, so "refused before any code from
it runs" is observed, not assumed. ``test_the_booby_trap_works`` shows the trap does fire when a
file is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
from pathlib import Path

import fsspec
import pytest
import torch

from inpaint_core import create_inpainter
from inpaint_core.errors import CheckpointError
from inpaint_core.models import get_model_spec, save_checkpoint
from inpaint_core.models.checkpoint import MAX_CARD_BYTES, load_checkpoint


class BoobyTrap:
    """Unpickling this touches ``marker``: the proof that code from a file ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _glcic(tmp_path: Path, name: str = "glcic") -> str:
    spec = get_model_spec("glcic")
    config = {**spec.default_config, "width": 4}
    torch.manual_seed(0)
    uri, _ = save_checkpoint(spec.build(config), "glcic", config, str(tmp_path / f"{name}.safetensors"),
                             {"resolution": 64})
    return uri


def _set_card(weights: str, **changes) -> None:
    card_path = Path(weights[: -len(".safetensors")] + ".json")
    card = json.loads(card_path.read_text())
    card.update(changes)
    card_path.write_text(json.dumps(card))


def test_the_booby_trap_works(tmp_path):
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(BoobyTrap(marker)))
    assert marker.exists()


PICKLES = {
    "torch.save zip, .pt name": (".pt", lambda obj, p: torch.save({"w": obj}, p), "refusing a pickled checkpoint"),
    "torch.save zip, .safetensors name": (".safetensors", lambda obj, p: torch.save({"w": obj}, p),
                                          r"this is a zip \(torch.save\) file, not safetensors"),
    "legacy torch.save": (".safetensors", lambda obj, p: torch.save({"w": obj}, p,
                                                                    _use_new_zipfile_serialization=False),
                          r"this is a pickle file, not safetensors"),
    "pickle protocol 5": (".safetensors", lambda obj, p: p.write_bytes(pickle.dumps(obj, protocol=5)),
                          r"this is a pickle file, not safetensors"),
    "pickle protocol 0 (text)": (".safetensors", lambda obj, p: p.write_bytes(pickle.dumps(obj, protocol=0)),
                                 r"not a safetensors file \(bad header\)"),
    "pickle named .ckpt": (".ckpt", lambda obj, p: p.write_bytes(pickle.dumps(obj)), "refusing a pickled checkpoint"),
}


@pytest.mark.parametrize("case", list(PICKLES))
def test_pickles_are_refused_before_any_code_runs(case, tmp_path, monkeypatch):
    suffix, write, message = PICKLES[case]
    marker = tmp_path / "ran"
    path = tmp_path / f"model{suffix}"
    write(BoobyTrap(marker), path)
    (tmp_path / "model.json").write_text(json.dumps({"architecture": "glcic", "config": {},
                                                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}))
    for name in ("load", "loads"):
        monkeypatch.setattr(pickle, name, lambda *a, **k: pytest.fail("pickle was called"))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(str(path))
    with pytest.raises(CheckpointError, match=message):  # the public entry point: same refusal
        create_inpainter("glcic", checkpoint=str(path), device="cpu")
    assert not marker.exists()


def test_a_pickled_card_is_not_json(tmp_path):
    marker = tmp_path / "ran"
    weights = _glcic(tmp_path)
    Path(weights[:-12] + ".json").write_bytes(pickle.dumps(BoobyTrap(marker)))
    with pytest.raises(CheckpointError, match=r"unreadable checkpoint card \(not JSON\)"):
        load_checkpoint(weights)
    assert not marker.exists()


def test_only_safetensors_and_json_are_read(tmp_path, monkeypatch):
    weights = _glcic(tmp_path)
    opened = []
    real_open = fsspec.open
    monkeypatch.setattr(fsspec, "open", lambda uri, *a, **k: opened.append(str(uri)) or real_open(uri, *a, **k))
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, lambda *a, **k: pytest.fail("pickle was called"))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    inpainter = create_inpainter("glcic", checkpoint=weights, device="cpu")
    assert inpainter.params["checkpoint_sha256"] == hashlib.sha256(Path(weights).read_bytes()).hexdigest()
    assert sorted({Path(u).suffix for u in opened}) == [".json", ".safetensors"]


def _rewrite_header(weights: str, edit) -> None:
    """Replace the safetensors JSON header by ``edit(header)`` and make the card's sha256 match, so
    the parser (not the integrity check) is what has to refuse it."""
    blob = Path(weights).read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = edit(json.loads(blob[8:8 + n]))
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    new = struct.pack("<Q", len(text)) + text + blob[8 + n:]
    Path(weights).write_bytes(new)
    _set_card(weights, sha256=hashlib.sha256(new).hexdigest())


def _first(header: dict) -> str:
    """The first float32 tensor with more than one element."""
    return next(k for k, v in header.items() if k != "__metadata__" and v["dtype"] == "F32"
                and v["data_offsets"][1] - v["data_offsets"][0] > 4)


LIES = {
    "shape larger than its bytes": (lambda h: {**h, _first(h): {**h[_first(h)], "shape": [4096, 4096]}},
                                    r"malformed safetensors file: .*invalid shape, data type, or offset"),
    "shape overflowing": (lambda h: {**h, _first(h): {**h[_first(h)], "shape": [2**40, 2**40]}},
                          r"malformed safetensors file: .*overflow"),
    "dtype wider than its bytes": (lambda h: {**h, _first(h): {**h[_first(h)], "dtype": "F64"}},
                                   r"malformed safetensors file: .*invalid shape, data type, or offset"),
    "unknown dtype": (lambda h: {**h, _first(h): {**h[_first(h)], "dtype": "PY_OBJECT"}},
                      r"malformed safetensors file: .*unknown variant `PY_OBJECT`"),
    "offsets past the end": (lambda h: {**h, _first(h): {**h[_first(h)], "data_offsets": [0, 10**12]}},
                             r"malformed safetensors file: .*invalid"),
    "overlapping offsets": (lambda h: {k: ({**v, "data_offsets": [0, v["data_offsets"][1] - v["data_offsets"][0]]}
                                           if k != "__metadata__" else v) for k, v in h.items()},
                            r"malformed safetensors file: .*invalid offset"),
    "negative offset": (lambda h: {**h, _first(h): {**h[_first(h)], "data_offsets": [-8, 8]}},
                        r"malformed safetensors file: .*invalid JSON in header"),
    "header not JSON": (lambda h: b"{" + b"[" * 10_000, r"malformed safetensors file: .*invalid JSON in header"),
    "header a list": (lambda h: b"[" + b"1," * 100 + b"1]", r"not a safetensors file \(bad header\)"),
}


@pytest.mark.parametrize("case", list(LIES))
def test_a_safetensors_header_that_lies_is_refused(case, tmp_path):
    weights = _glcic(tmp_path)
    edit, message = LIES[case]
    _rewrite_header(weights, edit)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(weights)


def test_a_header_length_past_the_end_is_refused(tmp_path):
    weights = _glcic(tmp_path)
    blob = Path(weights).read_bytes()
    Path(weights).write_bytes(struct.pack("<Q", len(blob) * 10) + blob[8:])
    _set_card(weights, sha256=hashlib.sha256(Path(weights).read_bytes()).hexdigest())
    with pytest.raises(CheckpointError, match=r"not a safetensors file \(bad header\)"):
        load_checkpoint(weights)


def test_tensors_of_the_wrong_shape_or_dtype_for_the_model_are_refused(tmp_path):
    weights = _glcic(tmp_path)
    _set_card(weights, config={**json.loads(Path(weights[:-12] + ".json").read_text())["config"], "width": 8})
    with pytest.raises(CheckpointError, match=r"tensor '.+' has shape \(\d+(, \d+)*\), the model expects"):
        create_inpainter("glcic", checkpoint=weights, device="cpu")

    weights = _glcic(tmp_path, "as-int")
    _rewrite_header(weights, lambda h: {**h, _first(h): {**h[_first(h)], "dtype": "I32"}})
    with pytest.raises(CheckpointError, match=r"tensor '.+' has dtype torch.int32, the model expects torch.float32"):
        create_inpainter("glcic", checkpoint=weights, device="cpu")


CARDS = {
    "huge": (lambda: b'{"architecture": "glcic", "config": {}, "pad": "' + b"x" * (MAX_CARD_BYTES + 1) + b'"}',
             r"the checkpoint card is larger than 8 MiB; refusing to parse it"),
    "nested too deeply": (lambda: b"[" * 200_000 + b"]" * 200_000, r"not JSON\): nested too deeply"),
    "binary": (lambda: bytes(range(256)) * 4, r"unreadable checkpoint card \(not JSON\)"),
    "not JSON": (lambda: b"architecture: glcic\n", r"unreadable checkpoint card \(not JSON\)"),
    "a JSON list": (lambda: b"[1, 2, 3]", r"the card needs 'architecture' \(str\) and 'config' \(object\)"),
}


@pytest.mark.parametrize("case", list(CARDS))
def test_bad_cards_are_refused(case, tmp_path):
    weights = _glcic(tmp_path)
    content, message = CARDS[case]
    Path(weights[:-12] + ".json").write_bytes(content())
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(weights)
