"""Runs any registered generator on the crops the base class cuts around holes.

Per crop: resize so the longer side is the model's working ``resolution`` (INTER_AREA down; a
smaller crop is not upscaled), pad by reflection to a multiple of the spec's ``multiple`` (or to
``resolution x resolution`` for fixed-size models), zero the holes, run the generator in batches
of equal padded shape, and bring the prediction back to the crop's size. The base class pastes only
hole pixels, so known pixels are untouched bit for bit. The mask is resized with nearest neighbour
and dilated by one pixel so that resizing never drops a hole pixel from the model's view.

A crop larger than the working resolution (a large hole in a large photo) comes back as the
classical fill at full size plus the model's correction to it, upscaled (``upscale="residual"``,
the default): ``fill(crop) + resize(prediction - fill(small crop))``, the fill being the model's
own pre-fill (the spline for models without one). Resizing the whole prediction back
(``upscale="resize"``) blurs the fill where it meets the known pixels: on whole ``bsds500/val``
photos (481x321) it put every shipped model below the spline fill alone
(``benchmarks/bench_upscale.py``). The full-size fill costs what the classical method costs (the
spline: 3.3 s for a 400x400 hole, 8.6 s for 1500x1500, 15 s for 2500x2500, as large holes are
solved coarse-to-fine), so a crop with more hole pixels than :data:`RESIDUAL_MAX_HOLE` is resized
back instead, which bounds the time and memory of one window.

Weights, in order: ``checkpoint`` (path or fsspec URL), else the shipped
``inpaint_core/weights/<name>.safetensors``, else an error explaining how to get some;
``weights="random"`` opts in to random initialisation (tests, training from scratch).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from inpaint_core.errors import CheckpointError
from inpaint_core.inpainters.base import Inpainter
from inpaint_core.models.checkpoint import load_checkpoint, load_state_into
from inpaint_core.models.prefill import PREFILL_METHODS
from inpaint_core.models.spec import ModelSpec
from inpaint_core.spline import DIRECT_MAX

__all__ = ["TorchInpainter", "WEIGHTS_DIR", "resolve_device"]

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
_WEIGHTS_CHOICES = ("auto", "random")
_PRECISIONS = ("auto", "float32", "bfloat16")
_UPSCALES = ("residual", "resize")
#: hole pixels of a crop above which ``upscale="residual"`` resizes instead: 32 times the spline's direct
#: solve (a 2896x2896 hole); a 2500x2500 hole's full-size fill took 15 s on 2 cores
RESIDUAL_MAX_HOLE = 32 * DIRECT_MAX
_DILATE = np.ones((3, 3), np.uint8)


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available else ``"cpu"``; other names are checked.

    Raises:
        ValueError: for an unknown device string or CUDA asked for but not available.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}: {exc}") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available (use 'cpu' or 'auto')")
    return str(parsed)


def _resolve_config(spec: ModelSpec, base: dict, overrides: dict) -> dict:
    unknown = sorted(set(overrides) - set(spec.default_config))
    if unknown:
        raise TypeError(f"inpainter {spec.name!r} got unknown option(s) {unknown}; config keys: "
                        f"{sorted(spec.default_config)}; options: checkpoint, device, weights, batch_size, resolution, "
                        "precision, upscale")
    return {**spec.default_config, **base, **overrides}


class TorchInpainter(Inpainter):
    """A registered PyTorch generator behind the :class:`Inpainter` interface.

    Attributes (besides the base class's):
        spec: the :class:`ModelSpec`.
        config: the resolved architecture config.
        resolution: working side in pixels.
        model: the ``nn.Module`` in eval mode on ``device``, gradients off.
        checkpoint_sha256: sha256 of the weights file, None for random weights.
    """

    kind = "learned"

    def __init__(self, spec: ModelSpec, *, checkpoint: str | None = None, device: str = "auto",
                 weights: str = "auto", batch_size: int = 8, resolution: int | None = None,
                 precision: str = "auto", upscale: str = "residual", **config_overrides: Any) -> None:
        """
        Args:
            spec: the model to run.
            checkpoint: ``.safetensors`` path or fsspec URL with its ``.json`` card beside it.
            device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
            weights: ``"auto"`` (checkpoint, else shipped weights, else error) or ``"random"``.
            batch_size: crops per forward pass (>= 1).
            resolution: working side; default the card's ``resolution``, else the spec's. For a
                fixed-size model it is its ``resolution`` config key.
            precision: arithmetic of the forward pass: ``"auto"`` (bfloat16 autocast on CUDA, float32
                elsewhere), ``"float32"`` (no autocast: the CPU's arithmetic on CUDA too, slower there,
                with TF32 convolutions where PyTorch's settings allow them) or ``"bfloat16"`` (autocast,
                on a CPU too). Recorded in ``params``.
            upscale: how a crop larger than ``resolution`` gets its fill back at full size:
                ``"residual"`` (the classical pre-fill at full size plus the model's correction,
                upscaled; up to :data:`RESIDUAL_MAX_HOLE` hole pixels a crop, resized above) or
                ``"resize"`` (the prediction resized). Recorded in ``params``.
            **config_overrides: architecture config keys (``spec.default_config``).

        Raises:
            CheckpointError: no weights found, a refused or corrupt checkpoint, or one of another
                architecture or with mismatched tensors.
            TypeError: unknown config keys (named). ValueError: bad option values.
        """
        super().__init__()
        if weights not in _WEIGHTS_CHOICES:
            raise ValueError(f"weights must be one of {_WEIGHTS_CHOICES}, got {weights!r}")
        if checkpoint is not None and weights == "random":
            raise ValueError("weights='random' and a checkpoint exclude each other")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.spec = spec
        self.needs_edges = spec.needs_edges
        self.device = resolve_device(device)
        self.batch_size = batch_size
        if precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {_PRECISIONS}, got {precision!r}")
        if precision == "auto":
            precision = "bfloat16" if self.device.startswith("cuda") else "float32"
        self.precision = precision
        if upscale not in _UPSCALES:
            raise ValueError(f"upscale must be one of {_UPSCALES}, got {upscale!r}")
        self.upscale = upscale

        state, card, source = self._find_weights(spec, checkpoint, weights)
        if spec.fixed_size and resolution is not None:
            config_overrides = {**config_overrides, "resolution": resolution}
        self.config = _resolve_config(spec, card.get("config", {}) if card else {}, config_overrides)
        if spec.fixed_size:
            self.resolution = int(self.config["resolution"])
        else:
            self.resolution = int(resolution or (card or {}).get("resolution") or spec.resolution)
        if self.resolution < 8:
            raise ValueError(f"resolution must be >= 8, got {self.resolution}")

        self.model = spec.build(dict(self.config))
        if state is not None:
            load_state_into(self.model, state, source)
        self.model.to(self.device).eval().requires_grad_(False)
        self.checkpoint_sha256 = card.get("sha256") if card else None

        self.window_margin = self.resolution // 4
        self.window_min_side = self.resolution // 2
        self.window_multiple = 1 if spec.fixed_size else spec.multiple
        self.params = {"model": spec.name, "resolution": self.resolution, "config": self.config,
                       "weights": source, "checkpoint_sha256": self.checkpoint_sha256,
                       "batch_size": batch_size, "window_margin": self.window_margin,
                       "precision": self.precision, "upscale": self.upscale}

    @staticmethod
    def _find_weights(spec: ModelSpec, checkpoint: str | None, weights: str):
        if checkpoint is not None:
            uri = str(checkpoint)
        elif weights == "random":
            return None, None, "random"
        elif (WEIGHTS_DIR / f"{spec.name}.safetensors").exists():
            uri = str(WEIGHTS_DIR / f"{spec.name}.safetensors")
        else:
            raise CheckpointError(
                f"no weights for {spec.name!r}: none are shipped in {WEIGHTS_DIR} and no checkpoint was given. "
                f"Train some with `inpaint train --model {spec.name} ...`, or pass --checkpoint PATH_OR_URL "
                f"(checkpoint= in Python); weights='random' builds an untrained model (tests, training)")
        state, card = load_checkpoint(uri)
        if card["architecture"] != spec.name:
            raise CheckpointError(f"{uri}: a {card['architecture']!r} checkpoint cannot load into {spec.name!r}")
        return state, card, uri

    # ---- per-crop geometry ------------------------------------------------------------------

    def _target(self, h: int, w: int) -> tuple[int, int, int, int]:
        """``(resized_h, resized_w, padded_h, padded_w)`` for an ``h x w`` crop."""
        scale = self.resolution / max(h, w)
        if scale < 1:
            h, w = max(1, round(h * scale)), max(1, round(w * scale))
        if self.spec.fixed_size:
            return h, w, self.resolution, self.resolution
        m = self.spec.multiple
        return h, w, -(-h // m) * m, -(-w // m) * m

    def _prepare(self, crop: np.ndarray, mask: np.ndarray, edge: np.ndarray | None):
        """``(image, hole, edges)`` arrays for the network, and the resized ``(crop, hole)`` uint8."""
        h, w = crop.shape[:2]
        rh, rw, ph, pw = self._target(h, w)
        hole = mask.view(np.uint8)
        if (rh, rw) != (h, w):
            crop = cv2.resize(crop, (rw, rh), interpolation=cv2.INTER_AREA)
            hole = cv2.dilate(cv2.resize(hole, (rw, rh), interpolation=cv2.INTER_NEAREST), _DILATE)
            if edge is not None:
                edge = cv2.resize(edge.view(np.uint8), (rw, rh), interpolation=cv2.INTER_NEAREST)
        small = (crop, hole)
        pad = ((0, ph - rh), (0, pw - rw))
        # symmetric, not cv2's reflect: it also works when the pad is larger than the crop.
        crop = np.pad(crop, pad + ((0, 0),), mode="symmetric")
        hole = np.pad(hole, pad, mode="symmetric")
        image = crop.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
        holef = (hole != 0).astype(np.float32)[None]
        image *= 1.0 - holef
        edgef = None
        if edge is not None:
            edgef = (np.pad(edge.view(np.uint8), pad, mode="symmetric") != 0).astype(np.float32)[None]
        return image, holef, edgef, small

    def _restore(self, pred: np.ndarray, crop: np.ndarray, mask: np.ndarray, small) -> np.ndarray:
        """The prediction for ``crop`` at its own size (module doc: ``upscale``)."""
        (h, w), (rh, rw) = crop.shape[:2], small[0].shape[:2]
        rgb = (pred[:, :rh, :rw].transpose(1, 2, 0) + 1.0) * 127.5
        if (rh, rw) == (h, w):
            return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        if self.upscale == "resize" or np.count_nonzero(mask) > RESIDUAL_MAX_HOLE:
            return cv2.resize(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
        fill = PREFILL_METHODS[self.config.get("prefill") or "spline"]
        correction = rgb - fill(np.ascontiguousarray(small[0]), small[1]).astype(np.float32)
        full = fill(crop, mask.view(np.uint8)).astype(np.float32)
        return np.clip(full + cv2.resize(correction, (w, h), interpolation=cv2.INTER_LINEAR) + 0.5, 0, 255
                       ).astype(np.uint8)

    # ---- the hook ---------------------------------------------------------------------------

    def _autocast(self):
        if self.precision == "bfloat16":
            return torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _inpaint_batch(self, crops, crop_masks, crop_edges):
        edges = crop_edges if self.needs_edges else [None] * len(crops)
        prepared = [self._prepare(c, m, e) for c, m, e in zip(crops, crop_masks, edges)]
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, (image, *_) in enumerate(prepared):
            groups[image.shape[1:]].append(i)
        results: list[np.ndarray | None] = [None] * len(crops)
        with torch.inference_mode(), self._autocast():
            for indices in groups.values():
                for start in range(0, len(indices), self.batch_size):
                    chunk = indices[start:start + self.batch_size]
                    preds = self._forward([prepared[i] for i in chunk])
                    for i, pred in zip(chunk, preds):
                        results[i] = self._restore(pred, crops[i], crop_masks[i], prepared[i][3])
        return results

    def _forward(self, items) -> np.ndarray:
        def stack(k):
            return torch.from_numpy(np.stack([it[k] for it in items])).to(self.device)

        edges = stack(2) if self.needs_edges else None
        pred = self.model(stack(0), stack(1), edges)
        return pred.float().cpu().numpy()
