"""Pretrain the pre-fill head alone: the shared starting point of every ``Prefilled`` model.

A :class:`~inpaint_core.models.prefill.PrefillHead` learns what to add to a classical fill (Telea's by
default, ``--prefill spline`` for the tension spline) from the fill and the mask alone (no network):
for Telea, mostly its streaks and its colour drift across wide holes, the same for every model.
Its 13 k parameters train fast on a CPU, so it sees many more crops than a full model would in the
same time. A model run then starts from it with
``inpaint train --init-from HEAD.safetensors``: the head's tensors are named as in every
``Prefilled`` model (``head.net.*``), and the weights it gives to the network's prediction start at
zero, so step 0 of any model is "the fill + this head" and training brings the network in from there;
the model takes the head's fill as its ``prefill`` (another one is refused).

    python -m inpaint_core.training.head --data ../shared/data/imagenette/train \\
        --data ../shared/data/bsds500/train --out runs/prefill-head --minutes 20 --hole-range 0.1,0.6

writes ``OUT/prefill_head.safetensors`` with its card (steps, images seen, wall time, hardware).
A run is not resumable; it is short.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..masks.generators import parse_hole_range
from ..models.checkpoint import save_checkpoint
from ..models.prefill import (DEFAULT_DILATIONS, PREFILL_METHODS, PrefillHead, check_dilations, check_prefill,
                              prefilled_image)
from .data import InpaintingDataset, seed_everything
from .trainer import _EpochDataset, _EpochSampler, hardware

__all__ = ["HeadOnly", "pretrain_head"]


class HeadOnly(nn.Module):
    """``forward(image, mask)``: the fill plus the head's residual, the network's prediction absent (zero)."""

    def __init__(self, method: str = "telea", width: int = 16, dilations: tuple[int, ...] = DEFAULT_DILATIONS) -> None:
        super().__init__()
        check_prefill("prefill_head", method)
        self.method = method
        self.head = PrefillHead(width, dilations)
        with torch.no_grad():  # the prediction's input weights: zero here, learned once a network feeds them
            self.head.net[0].weight[:, :3].zero_()

    def forward(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None) -> torch.Tensor:
        x = prefilled_image(image, mask, self.method)
        return self.head(torch.zeros_like(x), x, mask)


def pretrain_head(data: list[str], out: str, minutes: float = 15.0, steps: int | None = None, batch_size: int = 16,
                  crop: int = 128, lr: float = 1e-3, seed: int = 0, method: str = "telea",
                  num_workers: int = 1, log_every: int = 50, hole_range: tuple[float, float] | None = None,
                  dilations: tuple[int, ...] = DEFAULT_DILATIONS) -> dict:
    """Train :class:`HeadOnly` with L1 in the hole for ``minutes`` (or ``steps``); write ``out``/prefill_head.*."""
    seed_everything(seed)
    dilations = check_dilations(dilations)
    model = HeadOnly(method, dilations=dilations)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ds = InpaintingDataset(list(data), size=crop, seed=seed, hole_range=hole_range)
    loader = DataLoader(_EpochDataset(ds), batch_size=batch_size, sampler=_EpochSampler(len(ds), seed),
                        num_workers=num_workers, drop_last=True, persistent_workers=num_workers > 0)
    t0, step, seen, recent = time.perf_counter(), 0, 0, []
    for batch in loader:
        image, mask = batch["image"], batch["mask"]
        outp = model(image * (1 - mask), mask)
        loss = ((outp - image).abs() * mask).sum() / (mask.sum() * 3).clamp_min(1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            model.head.net[0].weight.grad[:, :3].zero_()
        opt.step()
        step, seen = step + 1, seen + len(image)
        recent.append(loss.item())
        elapsed = time.perf_counter() - t0
        if step % log_every == 0:
            print(f"step {step} ({seen} images, {elapsed:.0f} s): hole L1 {sum(recent) / len(recent):.4f}", flush=True)
            recent = []
        if (steps is not None and step >= steps) or (steps is None and elapsed >= minutes * 60):
            break
    card = {"resolution": crop, "training_data": list(data), "steps": step, "images_seen": seen,
            "wall_seconds": round(time.perf_counter() - t0, 3), "hardware": hardware(),
            "train_config": {"batch_size": batch_size, "crop": crop, "lr": lr, "seed": seed, "method": method,
                             "hole_range": list(hole_range) if hole_range else None, "loss": "L1 in the hole"}}
    path = out.rstrip("/") + "/prefill_head.safetensors"
    config = {"method": method, "width": 16}
    if dilations != DEFAULT_DILATIONS:  # a run started from it takes them as its prefill_dilations
        config["dilations"] = list(dilations)
    save_checkpoint(model, "prefill_head", config, path, card)
    return {"checkpoint": path, **card}


def _arg(parse):
    """An argparse ``type`` from ``parse``: its ValueError message becomes the usage error."""
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return convert


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m inpaint_core.training.head", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", action="append", required=True, help="folder or URL of training images (repeatable)")
    p.add_argument("--out", required=True, help="folder or URL for prefill_head.safetensors and its card")
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--steps", type=int, default=None, help="stop after this many steps instead")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loader-workers", type=int, default=1)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--prefill", choices=sorted(PREFILL_METHODS), default="telea",
                   help="the classical fill the head learns to correct (default telea)")
    p.add_argument("--hole-range", type=_arg(parse_hole_range), metavar="LO,HI",
                   help="hole fraction of the training masks, e.g. 0.1,0.6 (unions of the mask mix)")
    p.add_argument("--dilations", type=_arg(lambda text: check_dilations(text.split(","))), default=DEFAULT_DILATIONS,
                   metavar="D1,D2,...",
                   help="the head's dilations (default 1,2,4,8,16: 63 px receptive field); a model run started "
                        "from it (inpaint train --init-from) takes them from its card")
    a = p.parse_args(argv)
    r = pretrain_head(a.data, a.out, a.minutes, a.steps, a.batch_size, a.crop, a.lr, a.seed, method=a.prefill,
                      num_workers=a.loader_workers, log_every=a.log_every, hole_range=a.hole_range,
                      dilations=a.dilations)
    print(f"prefill head: {r['steps']} steps, {r['images_seen']} images, {r['wall_seconds']:.0f} s -> {r['checkpoint']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
