"""The training loop shared by every model: data, steps, logs, samples, resumable checkpoints.

Everything goes under one destination URL (local folder or bucket)::

    <dest>/checkpoints/step-000500.safetensors (+ .json card)   generator weights, model card
    <dest>/<model>.safetensors (+ .json)                         the latest checkpoint, same format
    <dest>/state/step-000500/{discriminators.safetensors, optim.pt}  what resuming needs
    <dest>/state/latest.json                                     written last: which step to resume
    <dest>/log/part-000500.parquet                               losses, images seen, seconds
    <dest>/samples/step-000500.png                               masked input | output | target

A run killed at any point resumes from ``state/latest.json`` (the last complete checkpoint).
Optimiser states are read with ``torch.load(weights_only=True)``, which refuses pickled code.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow.parquet as pq
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch.utils.data import DataLoader, Sampler

from ..errors import CheckpointError
from ..imageio import encode_image
from ..manifest import table_of_rows
from ..models import get_model_spec
from ..models.checkpoint import load_checkpoint, load_state_into, read_card, save_checkpoint
from ..models.prefill import Prefilled
from ..models.wrapper import resolve_device
from ..storage import Location
from .data import InpaintingDataset, seed_everything
from .recipe import get_recipe

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Every setting of a training run; saved in each model card."""

    model: str
    data: list[str]
    dest: str
    steps: int = 1000
    batch_size: int = 8
    crop: int = 128
    lr: float = 2e-4
    lr_d: float | None = None
    seed: int = 0
    device: str = "auto"
    model_config: dict[str, Any] = field(default_factory=dict)
    recipe_options: dict[str, Any] = field(default_factory=dict)
    masks: dict[str, float] | None = None
    #: hole fraction of every training mask, ``[lo, hi]`` (unions of the mix); None = the mix's own sizes
    hole_range: list[float] | None = None
    #: shorter side each training image is downscaled to before the crop (larger images only); None = native
    image_side: int | None = None
    checkpoint_every: int = 500
    log_every: int = 25
    num_workers: int = 2
    fp16_weights: bool = False
    max_minutes: float | None = None
    storage_options: dict[str, Any] = field(default_factory=dict)
    #: a checkpoint (path or URL) whose generator tensors start a new run: every tensor whose name and
    #: shape match is copied (fine-tuning shipped weights on one's own images; a pretrained part).
    init_from: str | None = None


class _EpochSampler(Sampler):
    """Endless shuffled indices; item ``k`` is ``epoch * N + i`` so the dataset can seed per epoch."""

    def __init__(self, n: int, seed: int, start_epoch: int = 0):
        self.n, self.seed, self.epoch = n, seed, start_epoch

    def __iter__(self) -> Iterator[int]:
        while True:
            g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
            for i in torch.randperm(self.n, generator=g).tolist():
                yield self.epoch * self.n + i
            self.epoch += 1


class _EpochDataset(torch.utils.data.Dataset):
    def __init__(self, base: InpaintingDataset):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, k: int):
        epoch, i = divmod(k, len(self.base))
        self.base.epoch = epoch
        return self.base[i]


def hardware() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    return f"{platform.processor() or platform.machine()} CPU x{os.cpu_count()}"


def check_settings(model: str, model_config: dict[str, Any] | None = None,
                   recipe_options: dict[str, Any] | None = None, crop: int | None = None) -> None:
    """A ValueError naming what is known, for an unknown model, model option or training option
    (the CLI calls it before it starts a Prefect server; the :class:`Trainer` calls it first).

    With ``crop``, the generator and its discriminators are also built once on the CPU with the
    model's default config and these options, so a crop side they cannot take is refused here too.
    """
    from .recipe import list_recipes

    if model not in list_recipes():
        raise ValueError(f"no trainable model named {model!r}; known: {', '.join(list_recipes())}")
    spec = get_model_spec(model)
    known = spec.default_config
    unknown = sorted(set(model_config or {}) - set(known))
    if unknown:
        raise ValueError(f"{model}: unknown model option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    get_recipe(model).check_options(recipe_options)
    if crop is not None:
        config = {**known, **(model_config or {})}
        side = int(config["resolution"]) if spec.fixed_size else crop
        _build_recipe(model, spec.build(dict(config)), recipe_options, side)


def _build_recipe(model: str, generator: torch.nn.Module, recipe_options: dict[str, Any] | None, crop: int):
    """The model's training recipe around ``generator``, or a ValueError saying which setting it refuses."""
    try:
        return get_recipe(model)(generator, recipe_options, resolution=crop)
    except ValueError as exc:  # e.g. a discriminator that needs a crop side divisible by 2^layers
        fixed = get_model_spec(model).fixed_size
        raise ValueError(f"{model} cannot train with these settings (crop {crop} px"
                         f"{', from its resolution option' if fixed else ''}): {exc}") from exc


class Trainer:
    """Builds the generator, its recipe and optimisers; resumes from ``dest`` when it can."""

    def __init__(self, cfg: TrainConfig):
        check_settings(cfg.model, cfg.model_config, cfg.recipe_options)
        self.cfg = cfg
        seed_everything(cfg.seed)
        self.device = resolve_device(cfg.device)
        self.spec = get_model_spec(cfg.model)
        # --init-from a checkpoint of the same architecture: its config is the base the options override
        # (its card alone here: the tensors are read only when this is a new run, not a resume)
        init_card = read_card(cfg.init_from, cfg.storage_options) if cfg.init_from else None
        base = init_card["config"] if init_card and init_card["architecture"] == cfg.model else {}
        if init_card and init_card["architecture"] == "prefill_head" \
                and "prefill_dilations" in self.spec.default_config:
            # a pretrained head: its shape and the fill it learned to correct
            head_fill = init_card["config"].get("method", "telea")
            base = {"prefill_dilations": init_card["config"].get("dilations"), "prefill": head_fill}
            asked = cfg.model_config.get("prefill", head_fill)
            if asked != head_fill:
                raise ValueError(f"--init-from {cfg.init_from}: that head was trained over the {head_fill!r} fill; "
                                 f"a model with prefill={asked!r} cannot start from it")
        self.config = {**self.spec.default_config,
                       **{k: v for k, v in base.items() if k in self.spec.default_config}, **cfg.model_config}
        self.crop = int(self.config["resolution"]) if self.spec.fixed_size else cfg.crop
        self.generator = self.spec.build(dict(self.config)).to(self.device).train()
        self.recipe = _build_recipe(cfg.model, self.generator, cfg.recipe_options, self.crop)
        for d in self.recipe.discriminators.values():
            d.to(self.device).train()
        # GAN practice (DCGAN onwards) is beta1 = 0.5; a recipe may choose another (GLCIC's MSE-only warm-up).
        betas = (float(self.recipe.opt.get("beta1", 0.5)), 0.999)
        self.g_opt = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=betas)
        d_params = [p for d in self.recipe.discriminators.values() for p in d.parameters()]
        self.d_opt = torch.optim.Adam(d_params, lr=cfg.lr_d or cfg.lr, betas=betas) if d_params else None
        self.dest = Location(cfg.dest, cfg.storage_options)
        self.step, self.images_seen, self.wall_seconds = 0, 0, 0.0
        self._log: list[dict[str, Any]] = []  # rows not yet written to the Parquet log
        self.recent_log: list[dict[str, Any]] = []  # the last rows, for progress displays
        self.init_report: dict[str, Any] | None = None
        #: training images that could not be read (URL -> reason): each item took another image instead
        self.unreadable: dict[str, str] = {}
        if not self._resume(betas) and cfg.init_from:
            self.init_report = self._init_from(cfg.init_from)

    # ---------------------------------------------------------------- resume / checkpoints
    def _init_from(self, uri: str) -> dict[str, Any]:
        """Copy the tensors of checkpoint ``uri`` whose names and shapes match into the new generator."""
        state, card = load_checkpoint(uri, self.cfg.storage_options)
        own = self.generator.state_dict()
        matched = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
        if not matched:
            raise CheckpointError(f"--init-from {uri}: none of its {len(state)} tensors ({card.get('architecture')}) "
                                  f"matches a {self.cfg.model} generator with this config")
        with torch.no_grad():
            for k, v in matched.items():
                own[k].copy_(v.to(own[k].dtype))
        return {"uri": uri, "architecture": card.get("architecture"), "sha256": card.get("sha256"),
                "tensors": len(matched), "of": len(own), "steps": card.get("steps")}

    def _resume(self, betas: tuple[float, float]) -> bool:
        """Load the run in ``dest`` if there is one; True when it did."""
        if not self.dest.exists("state/latest.json"):
            return False
        latest = json.loads(self.dest.read("state/latest.json"))
        if latest["model"] != self.cfg.model:
            raise ValueError(f"{self.dest.uri()} holds a {latest['model']} run, not {self.cfg.model}")
        state, _ = load_checkpoint(self.dest.uri(latest["checkpoint"]), self.cfg.storage_options)
        load_state_into(self.generator, state, latest["checkpoint"])
        base = f"state/step-{latest['step']:06d}"
        d_state = st_load(self.dest.read(f"{base}/discriminators.safetensors"))
        for name, d in self.recipe.discriminators.items():
            d.load_state_dict({k.split(".", 1)[1]: v for k, v in d_state.items() if k.split(".", 1)[0] == name})
        optim = torch.load(io.BytesIO(self.dest.read(f"{base}/optim.pt")), map_location=self.device,
                           weights_only=True)
        self.g_opt.load_state_dict(optim["g"])
        if self.d_opt is not None and optim.get("d") is not None:
            self.d_opt.load_state_dict(optim["d"])
        # The learning rates are the ones given now (a resumed run may change them), the moments are kept.
        for opt, lr in ((self.g_opt, self.cfg.lr), (self.d_opt, self.cfg.lr_d or self.cfg.lr)):
            for group in (opt.param_groups if opt is not None else []):
                group["lr"], group["betas"] = lr, betas
        self.step, self.images_seen, self.wall_seconds = latest["step"], latest["images_seen"], latest["wall_seconds"]
        self.init_report = latest.get("init_from")
        self.unreadable = dict(latest.get("unreadable", {}))
        return True

    def card(self) -> dict[str, Any]:
        recipe = self.recipe
        return {"resolution": self.crop, "training_data": list(self.cfg.data), "steps": self.step,
                "images_seen": self.images_seen, "wall_seconds": round(self.wall_seconds, 1),
                "hardware": hardware(), "train_config": asdict(self.cfg) | {"storage_options": "<redacted>"},
                "recipe": {"name": recipe.name, "options": recipe.opt, "adversarial": recipe.adversarial,
                           "notes": recipe.notes},
                **({"init_from": self.init_report} if self.init_report else {}),
                **({"unreadable_images": {"count": len(self.unreadable), "examples": [
                    f"{url}: {why}" for url, why in list(self.unreadable.items())[:10]]}} if self.unreadable else {})}

    def save(self) -> str:
        """Write a complete checkpoint for the current step; ``state/latest.json`` last."""
        ck = f"checkpoints/step-{self.step:06d}.safetensors"
        save_checkpoint(self.generator, self.cfg.model, self.config, self.dest.uri(ck), self.card(),
                        fp16=self.cfg.fp16_weights, storage_options=self.cfg.storage_options)
        save_checkpoint(self.generator, self.cfg.model, self.config, self.dest.uri(f"{self.cfg.model}.safetensors"),
                        self.card(), fp16=self.cfg.fp16_weights, storage_options=self.cfg.storage_options)
        base = f"state/step-{self.step:06d}"
        d_state = {f"{n}.{k}": v.detach().cpu().contiguous().clone()
                   for n, d in self.recipe.discriminators.items() for k, v in d.state_dict().items()}
        self.dest.write_atomic(f"{base}/discriminators.safetensors", st_save(d_state))
        buf = io.BytesIO()
        torch.save({"g": self.g_opt.state_dict(), "d": self.d_opt.state_dict() if self.d_opt else None}, buf)
        self.dest.write_atomic(f"{base}/optim.pt", buf.getvalue())
        if self._log:
            out = io.BytesIO()
            pq.write_table(table_of_rows(self._log), out)
            self.dest.write_atomic(f"log/part-{self.step:06d}.parquet", out.getvalue())
            self._log = []
        latest = {"model": self.cfg.model, "step": self.step, "checkpoint": ck, "images_seen": self.images_seen,
                  "wall_seconds": self.wall_seconds, "init_from": self.init_report,
                  **({"unreadable": self.unreadable} if self.unreadable else {})}
        self.dest.write_atomic("state/latest.json", json.dumps(latest).encode())
        return self.dest.uri(ck)

    # ---------------------------------------------------------------- the loop
    def _loader(self) -> DataLoader:
        ds = InpaintingDataset(self.cfg.data, size=self.crop, masks=self.cfg.masks, seed=self.cfg.seed,
                               hole_range=self.cfg.hole_range, image_side=self.cfg.image_side,
                               with_edges=self.spec.needs_edges, storage_options=self.cfg.storage_options,
                               # a Prefilled generator's classical fill is made in the loader's workers
                               prefill=self.generator.method if isinstance(self.generator, Prefilled) else None)
        epoch = self.images_seen // max(1, len(ds))
        return DataLoader(_EpochDataset(ds), batch_size=self.cfg.batch_size,
                          sampler=_EpochSampler(len(ds), self.cfg.seed, epoch), num_workers=self.cfg.num_workers,
                          drop_last=True, persistent_workers=self.cfg.num_workers > 0)

    def _autocast(self):
        if self.device.startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def train_step(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        self.recipe.step = self.step  # schedules (e.g. GLCIC's MSE-only phase) read it
        for d in self.recipe.discriminators.values():
            d.requires_grad_(False)
        self.g_opt.zero_grad(set_to_none=True)
        with self._autocast():
            loss, logs, out = self.recipe.generator_step(batch)
        loss.backward()
        self.g_opt.step()
        logs = {"g_loss": float(loss.item()), **logs}
        if self.d_opt is not None:
            for d in self.recipe.discriminators.values():
                d.requires_grad_(True)
            self.d_opt.zero_grad(set_to_none=True)
            with self._autocast():
                res = self.recipe.discriminator_step(batch, out)
            if res is not None:
                d_loss, d_logs = res
                d_loss.backward()
                self.d_opt.step()
                logs |= {"d_loss": float(d_loss.item()), **d_logs}
        if not all(math.isfinite(v) for v in logs.values()):
            raise FloatingPointError(f"non-finite loss at step {self.step + 1}: {logs}")
        return logs, {"batch": batch, **out}

    def run(self, on_log: Callable[[dict[str, Any]], None] | None = None,
            on_checkpoint: Callable[[dict[str, Any]], None] | None = None,
            on_unreadable: Callable[[dict[str, str]], None] | None = None) -> dict[str, Any]:
        """Train until ``steps`` (or ``max_minutes``); checkpoint at intervals and at the end.

        ``on_log(row)`` gets every logged row; ``on_checkpoint({"step", "checkpoint", "samples"})``
        gets the URIs of each checkpoint and sample grid once both are written. A training image that
        cannot be read (corrupt, unsupported, a failed read) is replaced by another and recorded in
        :attr:`unreadable`, the card and ``state/latest.json``; ``on_unreadable({URL: reason})`` gets
        those new in each batch (default: a warning on this module's logger).
        """
        cfg = self.cfg
        deadline = time.monotonic() + cfg.max_minutes * 60 if cfg.max_minutes else None
        last_saved = self.step
        if self.step >= cfg.steps:
            return {"step": self.step, "checkpoint": None, "resumed": True}
        t_last = time.perf_counter()
        for raw in self._loader():
            self._note_unreadable(raw.pop("unreadable", ()), on_unreadable)
            logs, out = self.train_step(raw)
            self.step += 1
            self.images_seen += cfg.batch_size
            now = time.perf_counter()
            self.wall_seconds += now - t_last
            t_last = now
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                row = {"step": self.step, "images_seen": self.images_seen, "wall_seconds": self.wall_seconds, **logs}
                self._log.append(row)
                self.recent_log = (self.recent_log + [row])[-50:]
                if on_log:
                    on_log(row)
            done = self.step >= cfg.steps or (deadline is not None and time.monotonic() > deadline)
            if self.step % cfg.checkpoint_every == 0 or done:
                samples = self._write_samples(out)
                checkpoint = self.save()
                last_saved = self.step
                if on_checkpoint:
                    on_checkpoint({"step": self.step, "checkpoint": checkpoint, "samples": samples})
            if done:
                break
        return {"step": self.step, "checkpoint": self.dest.uri(f"checkpoints/step-{last_saved:06d}.safetensors"),
                "images_seen": self.images_seen, "wall_seconds": self.wall_seconds}

    def _note_unreadable(self, lines, on_unreadable) -> None:
        new = {}
        for line in (x for text in lines for x in text.split("\n") if x):
            url, _, why = line.partition("\t")
            if url not in self.unreadable:
                self.unreadable[url] = new[url] = why
        if new:
            if on_unreadable is not None:
                on_unreadable(new)
            else:
                for url, why in new.items():
                    log.warning("training image %s cannot be read, another is used: %s", url, why)

    def _write_samples(self, out: dict[str, torch.Tensor], n: int = 4) -> str:
        b = out["batch"]
        image, mask = b["image"][:n].float(), b["mask"][:n].float()
        pred = out["output"][:n].detach().float()
        comp = pred * mask + image * (1 - mask)
        masked = image * (1 - mask) + mask  # holes shown white
        rows = [torch.cat([masked[i], comp[i], image[i]], dim=2) for i in range(image.shape[0])]
        grid = torch.cat(rows, dim=1).clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 0).cpu().numpy()
        key = f"samples/step-{self.step:06d}.png"
        self.dest.write_atomic(key, encode_image(np.ascontiguousarray(grid), "png"))
        return self.dest.uri(key)
