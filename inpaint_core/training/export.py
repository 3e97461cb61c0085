"""Turn a training checkpoint into shippable weights: evaluated, fp16 where lossless enough, with a card.

``export_weights`` runs the project's evaluation protocol (:mod:`inpaint_core.evaluation`) on the
checkpoint, with Telea and Navier-Stokes in the same run, then writes ``<dest>/<model>.safetensors``
and its JSON card. The card keeps what the training run recorded (data, steps, images seen, wall
time, hardware, recipe) and adds the development-evaluation table, the comparison with Telea per bin
and the storage precision. Float16 storage is used only when its evaluation differs from float32's
by at most ``fp16_tolerance_db`` PSNR in every bin (it is then "lossless enough"); otherwise float32.

A run started ``--init-from`` weights of its own architecture (training in stages: a GPU run, then
more on a CPU) continues their training, so the card records every stage under ``stages`` and the
totals (steps, images seen, wall time) over all of them: the earlier card is found at the run's
``init_from`` address and must describe the very weights the run started from (same sha256), or be
given with ``prior_card``.

    >>> summary = export_weights("runs/glcic/glcic.safetensors", "inpaint_core/weights",
    ...                          images="data/bsds500/val", masks_index="data/masks/index.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import tempfile
from pathlib import Path
from typing import Any, Sequence

from ..errors import CheckpointError
from ..evaluation import (BASELINES, evaluate_cases, evaluate_method, left_out_note, protocol_cases,
                          reference_features, summarize)
from ..inpainters import create_inpainter
from ..models.checkpoint import load_checkpoint, load_state_into, read_card, save_checkpoint
from ..models.spec import get_model_spec
from ..perceptual import PerceptualScorer

#: The bins every shipped model must win against Telea (issue 4's target bins).
TARGET_BINS = ("0.3-0.4", "0.4-0.5", "0.5-0.6")

#: Card fields copied from the training checkpoint's card.
_TRAINING_FIELDS = ("resolution", "training_data", "training_data_note", "steps", "images_seen", "wall_seconds",
                    "hardware", "train_config", "recipe", "init_from")

LICENCE_NOTE = ("Trained on Imagenette (a subset of ImageNet; ImageNet's terms: non-commercial research) and "
                "BSDS500 train (research use). The weights inherit those terms.")


def _by_bin(summary: Sequence[dict], method: str) -> dict[str, dict]:
    return {s["bin"]: s for s in summary if s["method"] == method}


def compare_to_baseline(summary: Sequence[dict], method: str, baseline: str = "telea",
                        bins: Sequence[str] = TARGET_BINS) -> dict[str, dict[str, float]]:
    """``{bin: {"psnr_gain": dB, "ssim_gain": ...}}`` of ``method`` over ``baseline`` (same run)."""
    m, b = _by_bin(summary, method), _by_bin(summary, baseline)
    return {k: {"psnr_gain": round(m[k]["psnr"] - b[k]["psnr"], 3), "ssim_gain": round(m[k]["ssim"] - b[k]["ssim"], 4)}
            for k in bins if k in m and k in b}


def _stage(card: dict[str, Any]) -> dict[str, Any]:
    """One training stage as the card of its checkpoint records it."""
    tc = card.get("train_config") or {}
    stage = {"hardware": card.get("hardware"), "steps": card.get("steps"), "images_seen": card.get("images_seen"),
             "wall_seconds": card.get("wall_seconds"), "batch_size": tc.get("batch_size"), "lr": tc.get("lr"),
             "training_data": card.get("training_data"), "init_from": card.get("init_from"),
             "sha256": card.get("sha256")}
    if card.get("training_data_note"):
        stage["training_data_note"] = card["training_data_note"]
    return {k: v for k, v in stage.items() if v is not None}


def training_stages(card: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
    """Card fields for a run that continued the weights of ``prior`` (a card; None = a run of one stage).

    Returns ``{}`` for a single stage, else ``stages`` (the prior's own stages, or the prior as one,
    then this run) and the totals over them: ``steps``, ``images_seen``, ``wall_seconds``, ``hardware``
    ("A (360 s), then B (6000 s)"), ``training_data`` (every stage's, in order), the origin's
    ``init_from`` and, when any stage has one, a ``training_data_note`` naming the stage it is about.
    """
    if prior is None:
        return {}
    stages = [dict(s) for s in prior.get("stages") or [_stage(prior)]] + [_stage(card)]
    data: list[str] = []
    for s in stages:
        data += [d for d in s.get("training_data") or [] if d not in data]
    out = {"stages": stages, "steps": sum(int(s.get("steps") or 0) for s in stages),
           "images_seen": sum(int(s.get("images_seen") or 0) for s in stages),
           "wall_seconds": round(sum(float(s.get("wall_seconds") or 0) for s in stages), 1),
           "hardware": ", then ".join(f"{s.get('hardware', 'unknown hardware')} ({float(s.get('wall_seconds') or 0):.0f} s)"
                                      for s in stages),
           "training_data": data}
    if stages[0].get("init_from") is not None:
        out["init_from"] = stages[0]["init_from"]
    notes = [f"stage {i + 1}: {s['training_data_note']}" for i, s in enumerate(stages) if s.get("training_data_note")]
    if notes:
        out["training_data_note"] = " ".join(notes)
    return out


def find_prior_card(card: dict[str, Any], prior_card: str | None = None,
                    storage_options: dict | None = None) -> dict[str, Any] | None:
    """The card of the weights a run continued, or None when it started from another architecture or scratch.

    ``prior_card`` (a checkpoint or card address) overrides the run's ``init_from`` address; ``"none"``
    records the run as a single stage on purpose.

    Raises:
        CheckpointError: the run continued same-architecture weights whose card cannot be read, or
            whose sha256 is not the one the run started from (the weights there have been replaced).
    """
    init = card.get("init_from") if isinstance(card.get("init_from"), dict) else {}
    if prior_card == "none" or (prior_card is None and init.get("architecture") != card.get("architecture")):
        return None
    uri = prior_card or init.get("uri")
    hint = "pass prior_card (--prior-card) with the card of the weights it started from, or 'none'"
    try:
        prior = read_card(uri, storage_options)
    except (CheckpointError, OSError, TypeError) as err:
        raise CheckpointError(f"this run continued {card.get('architecture')} weights ({uri}) whose card cannot "
                              f"be read to record the earlier training ({err}); {hint}") from err
    if init.get("sha256") and prior.get("sha256") != init["sha256"]:
        raise CheckpointError(f"{uri}: its card describes weights {str(prior.get('sha256'))[:12]}..., not the "
                              f"{init['sha256'][:12]}... this run started from; {hint}")
    return prior


def export_weights(checkpoint: str, dest: str | Path, *, images: str, masks_index: str, size: int = 256,
                   limit: int | None = None, resolution: int | None = None, fp16: bool = True, fp16_tolerance_db: float = 0.02,
                   prior_card: str | None = None, data_note: str | None = None,
                   perceptual: dict[str, str] | None = None,
                   storage_options: dict | None = None, log=print) -> dict[str, Any]:
    """Evaluate ``checkpoint`` and write it as ``<dest>/<architecture>.safetensors`` + card.

    Args:
        checkpoint: a training checkpoint (``.safetensors`` with its ``.json`` card), any fsspec URL.
        dest: folder for the shipped weights (``inpaint_core/weights`` for the package's own).
        images, masks_index: the evaluation images and mask index (the development split).
        size, limit: protocol crop side; optional cap on images (smoke runs only: the card says so).
        resolution: working side to ship (the card's ``resolution``); default the training crop's.
            A fully convolutional model trained on 128 px crops may do better run at 256.
        fp16: try float16 storage, kept only when within ``fp16_tolerance_db`` of float32 in every bin.
        prior_card: the card of the weights the run continued, when its ``init_from`` address no longer
            holds them (see :func:`find_prior_card`); ``"none"`` records this run alone.
        data_note: a ``training_data_note`` for this run (e.g. "a subset of the folders train_config names").
        perceptual: FID/LPIPS weight files (:class:`~inpaint_core.perceptual.PerceptualScorer`'s
            ``fid_weights``, ``lpips_backbone``, ``lpips_lin``): the card's evaluation then has them,
            and names the files with their sha256.

    Returns:
        ``{"weights", "card", "summary", "vs_telea", "storage_dtype"}``.
    """
    state, card = load_checkpoint(checkpoint, storage_options)
    if data_note:
        card["training_data_note"] = data_note
    # read before anything is written: the run may have started from the weights this export replaces
    staged = training_stages(card, find_prior_card(card, prior_card, storage_options))
    name = card["architecture"]
    spec = get_model_spec(name)
    model = spec.build(card["config"])
    load_state_into(model, state, checkpoint)
    model.eval()
    scorer = PerceptualScorer(**perceptual, storage_options=storage_options) if perceptual else None
    left_out: list[dict] = []
    cases = list(protocol_cases(images, masks_index, size=size, limit=limit, storage_options=storage_options,
                                left_out=left_out))
    log(f"{name}: {len(cases)} evaluation cases from {images}")
    if left_out:  # the card's table is then over fewer cases: it says which and why
        log(f"{name}: {left_out_note(left_out)}")
    rows, sets = [], []
    refs = reference_features(cases, scorer) if scorer is not None and scorer.inception is not None else None
    for inpainter in [create_inpainter(base, **options) for base, options in BASELINES.items()] + [
            create_inpainter(name, checkpoint=checkpoint, device="cpu", resolution=resolution)]:
        r, s = evaluate_method(inpainter, cases, perceptual=scorer, ref_features=refs)
        rows += r
        sets += s
    extra = {k: card[k] for k in _TRAINING_FIELDS if k in card} | staged
    if resolution:
        extra["training_resolution"], extra["resolution"] = extra.get("resolution"), int(resolution)
    storage_dtype = "native"
    with tempfile.TemporaryDirectory() as tmp:
        if fp16:
            half = f"{tmp}/{name}.safetensors"
            save_checkpoint(model, name, card["config"], half, extra, fp16=True)
            half_rows = evaluate_cases(create_inpainter(name, checkpoint=half, device="cpu"), cases)
            full, halved = _by_bin(summarize(rows), name), _by_bin(summarize(half_rows), name)
            drift = max(abs(full[b]["psnr"] - halved[b]["psnr"]) for b in full)
            log(f"{name}: float16 storage changes per-bin PSNR by at most {drift:.4f} dB")
            if drift <= fp16_tolerance_db:
                storage_dtype = "float16"
    summary = summarize(rows, sets)
    vs = compare_to_baseline(summary, name)
    extra |= {
        "dev_evaluation": {
            "protocol": "shared data README: bsds500/val 256x256 centre crops, nvidia_irregular masks per bin, "
                        "composited output; PSNR/SSIM (scikit-image) and L1 (% of 255)",
            "images": images, "masks_index": masks_index, "size": size, "limit": limit,
            "evaluated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **({"left_out": left_out} if left_out else {}),
            "summary": summary, "vs_telea": vs,
            "perceptual_weights": scorer.files if scorer else "FID and LPIPS not computed",
            "beats_telea_in_target_bins": bool(vs) and all(v["psnr_gain"] > 0 and v["ssim_gain"] > 0
                                                           for v in vs.values()),
        },
        "source_checkpoint": checkpoint,
        "licence": LICENCE_NOTE,
    }
    if "://" not in str(dest):
        Path(dest).mkdir(parents=True, exist_ok=True)
    weights, card_uri = save_checkpoint(model, name, card["config"], f"{str(dest).rstrip('/')}/{name}.safetensors",
                                        extra, fp16=storage_dtype == "float16", storage_options=storage_options)
    for b, v in vs.items():
        log(f"{name} vs telea, {b}: {v['psnr_gain']:+.2f} dB, SSIM {v['ssim_gain']:+.3f}")
    return {"weights": weights, "card": card_uri, "summary": summary, "vs_telea": vs, "storage_dtype": storage_dtype}


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from ..evaluation import markdown_table

    p = argparse.ArgumentParser(prog="python -m inpaint_core.training.export", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="training checkpoint (.safetensors with its .json card)")
    p.add_argument("--dest", default=str(Path(__file__).resolve().parent.parent / "weights"),
                   help="folder for the shipped weights (default: the package's weights/)")
    p.add_argument("--images", required=True)
    p.add_argument("--masks", required=True, help="mask index.csv or a folder of masks (docs/evaluation.md)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--resolution", type=int, default=None, help="working side to ship (default: training crop)")
    p.add_argument("--no-fp16", action="store_true")
    p.add_argument("--prior-card", default=None,
                   help="card of the weights the run continued (default: its init_from address); 'none' = one stage")
    p.add_argument("--data-note", default=None, help="training_data_note for this run's data")
    p.add_argument("--fid-weights", help="FID Inception file: FID per bin in the card (docs/evaluation.md)")
    p.add_argument("--lpips-backbone", help="LPIPS backbone file (torchvision AlexNet/VGG16), with --lpips-lin")
    p.add_argument("--lpips-lin", help="LPIPS linear layers (lpips's weights/v0.1/alex.pth or vgg.pth)")
    a = p.parse_args(argv)
    perceptual = {k: v for k, v in (("fid_weights", a.fid_weights), ("lpips_backbone", a.lpips_backbone),
                                    ("lpips_lin", a.lpips_lin)) if v}
    out = export_weights(a.checkpoint, a.dest, images=a.images, masks_index=a.masks, limit=a.limit,
                         resolution=a.resolution, fp16=not a.no_fp16, prior_card=a.prior_card, data_note=a.data_note,
                         perceptual=perceptual or None)
    print(markdown_table(out["summary"]))
    print(f"wrote {out['weights']} ({out['storage_dtype']}) and {out['card']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
