"""Checkpoints: safetensors weights plus a JSON card beside them; nothing is ever unpickled.

Layout (any fsspec URL: a path, ``file://``, ``s3://``, ``memory://``)::

    glcic.safetensors   the tensors (safetensors: an 8-byte header length, a JSON header, raw data)
    glcic.json          the card: architecture, config, sha256 of the weights, parameter count,
                        torch version, date, storage dtype, plus training data, steps, metrics...

Loading checks the file name and the first bytes before parsing anything: a pickle (``.pt``,
``.pth``, ``.ckpt``, or any file starting with the pickle or zip magic, whatever its name) is
refused with :class:`~inpaint_core.errors.CheckpointError`. The card's sha256 must match the weights.

Example:
    >>> weights_uri, card_uri = save_checkpoint(model, "glcic", config, "s3://bucket/glcic.safetensors",
    ...                                         {"steps": 100000, "training_data": "places2"})  # doctest: +SKIP
    >>> state, card = load_checkpoint("s3://bucket/glcic.safetensors")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import struct
from typing import Any

import fsspec
import torch
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save
from torch import nn

from inpaint_core.errors import CheckpointError

__all__ = ["save_checkpoint", "load_checkpoint", "read_card", "checkpoint_sha256", "card_uri_for",
           "load_state_into", "CARD_FORMAT"]

CARD_FORMAT = "inpaint-core-checkpoint/1"
_SUFFIX = ".safetensors"
_PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin", ".tar", ".zip")
_RESERVED = ("format", "architecture", "config", "weights", "sha256", "parameters", "torch",
             "created", "storage_dtype")
# safetensors caps its header at 100 MB; a larger length field means this is not safetensors.
_MAX_HEADER = 100_000_000
# A card is a few KB of JSON (config, training data, metrics); anything this large is not one.
MAX_CARD_BYTES = 8 << 20


def _weights_uri(path_or_url: str) -> str:
    path_or_url = str(path_or_url)
    lower = path_or_url.lower()
    if lower.endswith(_PICKLE_SUFFIXES):
        raise CheckpointError(
            f"{path_or_url}: refusing a pickled checkpoint (it can run arbitrary code when loaded); "
            f"convert it to safetensors once, in a trusted environment")
    if lower.endswith(".json"):
        return path_or_url[: -len(".json")] + _SUFFIX
    if not lower.endswith(_SUFFIX):
        raise CheckpointError(f"{path_or_url}: a checkpoint must be a '{_SUFFIX}' file (with its .json card)")
    return path_or_url


def card_uri_for(weights_uri: str) -> str:
    """``.../name.safetensors`` -> ``.../name.json``."""
    return weights_uri[: -len(_SUFFIX)] + ".json"


def _check_magic(head: bytes, total: int, uri: str) -> None:
    """Refuse anything but a safetensors file from its first bytes, before parsing it.

    A safetensors file opens with its header length (8 little-endian bytes) and then ``{``; its
    first byte may be 0x80 like a pickle's, so the safetensors shape is recognised first.
    """
    if len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] <= min(_MAX_HEADER, total - 8):
        return
    if head[:1] == b"\x80" or head[:4] == b"PK\x03\x04":
        kind = "zip (torch.save)" if head[:2] == b"PK" else "pickle"
        raise CheckpointError(f"{uri}: this is a {kind} file, not safetensors; refusing to unpickle it "
                              f"(it can run arbitrary code). Convert it to safetensors in a trusted environment")
    if len(head) < 9:
        raise CheckpointError(f"{uri}: too short to be a safetensors file ({total} bytes)")
    (header_len,) = struct.unpack("<Q", head[:8])
    if header_len > min(_MAX_HEADER, total - 8) or head[8:9] != b"{":
        raise CheckpointError(f"{uri}: not a safetensors file (bad header)")


def _read(uri: str, storage_options: dict | None) -> bytes:
    try:
        with fsspec.open(uri, "rb", **(storage_options or {})) as f:
            head = f.read(16)
            rest = f.read() if len(head) == 16 else b""
    except FileNotFoundError:
        raise CheckpointError(f"{uri}: checkpoint not found") from None
    except OSError as exc:
        raise CheckpointError(f"{uri}: cannot read checkpoint: {exc}") from exc
    _check_magic(head, len(head) + len(rest), uri)
    return head + rest


def checkpoint_sha256(path_or_url: str, storage_options: dict | None = None) -> str:
    """Hex sha256 of a checkpoint's weights file (what the card and the manifest record)."""
    uri = _weights_uri(path_or_url)
    with fsspec.open(uri, "rb", **(storage_options or {})) as f:
        digest = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(model: nn.Module, spec_name: str, config: dict, path_or_url: str,
                    card_extra: dict | None = None, *, fp16: bool = False,
                    storage_options: dict | None = None) -> tuple[str, str]:
    """Write ``model``'s state dict as safetensors and its card beside it.

    Args:
        model: the generator (its ``state_dict()`` is saved; buffers included).
        spec_name: architecture name, a registered model name.
        config: the resolved architecture config (JSON-serialisable); rebuilds the model.
        path_or_url: ``.../<name>.safetensors`` (or a ``.json`` card path), any fsspec URL.
        card_extra: more card fields: ``training_data``, ``steps``, ``metrics``, ``resolution``...
        fp16: store floating tensors as float16 (half the size; loaded back into float32 models).
        storage_options: fsspec options (e.g. ``{"endpoint_url": ...}`` for S3).

    Returns:
        ``(weights_uri, card_uri)``.

    Raises:
        CheckpointError: for a pickle-style name; ValueError if ``card_extra`` overrides a reserved key.
    """
    weights_uri = _weights_uri(path_or_url)
    card_uri = card_uri_for(weights_uri)
    extra = dict(card_extra or {})
    clash = sorted(set(extra) & set(_RESERVED))
    if clash:
        raise ValueError(f"card_extra may not set reserved card keys {clash}")
    storage = torch.float16 if fp16 else None
    # clone(): safetensors refuses tensors sharing storage (tied weights, views).
    tensors = {k: (v.detach().to("cpu", storage) if storage and v.is_floating_point() else v.detach().cpu())
               .contiguous().clone() for k, v in model.state_dict().items()}
    blob = _st_save(tensors, metadata={"format": CARD_FORMAT, "architecture": spec_name,
                                       "config": json.dumps(config, sort_keys=True)})
    card = {
        "format": CARD_FORMAT,
        "architecture": spec_name,
        "config": config,
        "weights": weights_uri.rsplit("/", 1)[-1],
        "sha256": hashlib.sha256(blob).hexdigest(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "storage_dtype": "float16" if fp16 else "native",
        **extra,
    }
    text = json.dumps(card, indent=2, sort_keys=True)  # before writing: fail on a bad config early
    with fsspec.open(weights_uri, "wb", **(storage_options or {})) as f:
        f.write(blob)
    with fsspec.open(card_uri, "w", **(storage_options or {})) as f:
        f.write(text + "\n")
    return weights_uri, card_uri


def load_checkpoint(path_or_url: str, storage_options: dict | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint and its card, refusing anything that is not safetensors.

    Args:
        path_or_url: ``.../<name>.safetensors`` or its ``.json`` card, any fsspec URL.

    Returns:
        ``(state_dict, card)``; tensors on CPU.

    Raises:
        CheckpointError: pickle/zip file or name (refused before reading), missing weights or card,
            bad header, unparsable card, or a card whose sha256 does not match the weights.
    """
    weights_uri = _weights_uri(path_or_url)
    blob = _read(weights_uri, storage_options)
    card = read_card(weights_uri, storage_options)
    sha = hashlib.sha256(blob).hexdigest()
    if card.get("sha256") != sha:
        raise CheckpointError(f"{weights_uri}: sha256 {sha[:12]}... does not match its card's "
                              f"{str(card.get('sha256'))[:12]}... (corrupt or mismatched files)")
    try:
        state = _st_load(blob)
    except Exception as exc:  # safetensors raises its own SafetensorError on malformed data
        raise CheckpointError(f"{weights_uri}: malformed safetensors file: {exc}") from exc
    return state, card


def read_card(path_or_url: str, storage_options: dict | None = None) -> dict:
    """A checkpoint's card alone (architecture, config, training record), without reading its weights.

    Raises:
        CheckpointError: pickle name, missing or unparsable card, or one without 'architecture' and 'config'.
    """
    weights_uri = _weights_uri(path_or_url)
    card_uri = card_uri_for(weights_uri)
    card = _read_card(card_uri, weights_uri, storage_options)
    if not isinstance(card, dict) or not isinstance(card.get("architecture"), str) \
            or not isinstance(card.get("config"), dict):
        raise CheckpointError(f"{card_uri}: the card needs 'architecture' (str) and 'config' (object)")
    return card


def _read_card(card_uri: str, weights_uri: str, storage_options: dict | None) -> Any:
    """The card's JSON, read with a size cap (a card is never megabytes) and parsed as JSON only."""
    try:
        with fsspec.open(card_uri, "rb", **(storage_options or {})) as f:
            raw = f.read(MAX_CARD_BYTES + 1)
    except FileNotFoundError:
        raise CheckpointError(f"{weights_uri}: its card {card_uri} is missing (architecture and config "
                              f"are read from it)") from None
    except OSError as exc:
        raise CheckpointError(f"{card_uri}: unreadable checkpoint card: {exc}") from exc
    if len(raw) > MAX_CARD_BYTES:
        raise CheckpointError(f"{card_uri}: the checkpoint card is larger than {MAX_CARD_BYTES >> 20} MiB; "
                              "refusing to parse it (a card is a few KB of JSON)")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError; deep nesting recurses
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise CheckpointError(f"{card_uri}: unreadable checkpoint card (not JSON): {why}") from exc


def load_state_into(model: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Copy ``state`` into ``model``, refusing missing, unexpected, mis-shaped or mis-typed tensors.

    Floating tensors stored as float16/bfloat16 (``fp16`` checkpoints) load into float models;
    any other dtype difference is refused.

    Raises:
        CheckpointError: naming the first offending tensor(s).
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{source}: tensors do not match the model: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}")
    for key, want in expected.items():
        got = state[key]
        if tuple(got.shape) != tuple(want.shape):
            raise CheckpointError(f"{source}: tensor {key!r} has shape {tuple(got.shape)}, "
                                  f"the model expects {tuple(want.shape)}")
        half_ok = want.is_floating_point() and got.dtype in (torch.float16, torch.bfloat16)
        if got.dtype != want.dtype and not half_ok:
            raise CheckpointError(f"{source}: tensor {key!r} has dtype {got.dtype}, the model expects {want.dtype}")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)
