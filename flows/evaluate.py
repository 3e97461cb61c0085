"""The ``evaluate`` flow: the project's evaluation protocol for any methods, images and masks."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pyarrow.parquet as pq
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import SecretStr

from inpaint_core import inpainter_info
from inpaint_core.evaluation import BASELINES, left_out_note, markdown_table, summarize
from inpaint_core.manifest import table_of_rows
from inpaint_core.perceptual import PerceptualScorer
from inpaint_core.redact import install_log_redaction
from inpaint_core.storage import Location
from tasks.evaluate import evaluate_method_task, reference_features_task

from .credentials import flow_storage_options, hide_credentials
from .restore import new_run_id
from .runners import api_for_workers, make_task_runner


_SPEC = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(?:\[(.*)\])?\s*$")


def method_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"spline[tension=auto]"`` -> ``("spline", {"tension": "auto"})``: a method and its options
    (comma-separated ``KEY=VALUE`` in brackets, values read as JSON where they are JSON, as
    ``--method-option`` does), so one evaluation compares settings of one method side by side.

    Raises:
        ValueError: for text that is not ``NAME`` or ``NAME[KEY=VALUE,...]``.
    """
    match = _SPEC.match(spec)
    if not match:
        raise ValueError(f"a method is NAME or NAME[KEY=VALUE,...], got {spec!r}")
    options: dict[str, Any] = {}
    for kv in (match.group(2) or "").split(","):
        if not kv.strip():
            continue
        key, sep, value = kv.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"a method's options are KEY=VALUE, got {kv!r} in {spec!r}")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value.strip()
    return match.group(1), options


def split_methods(text: str) -> list[str]:
    """``"ctsdg,spline[tension=auto,window_margin=32]"`` -> the two specs (commas in brackets kept)."""
    return [m.strip() for m in re.findall(r"[^,\[]+(?:\[[^\]]*\])?", text) if m.strip()]


@flow(name="evaluate", flow_run_name="evaluate {images}", task_runner=make_task_runner())
def evaluate(
    methods: list[str],
    images: str,
    masks_index: str,
    dest: str,
    size: int = 256,
    limit: int | None = None,
    bins: list[str] | None = None,
    checkpoints: dict[str, str] | None = None,
    method_options: dict[str, dict[str, Any]] | None = None,
    storage_options: dict[str, Any] | None = None,
    fid_weights: str | None = None,
    lpips_backbone: str | None = None,
    lpips_lin: str | None = None,
    storage_secrets: SecretStr | None = None,
) -> dict[str, Any]:
    """Score ``methods`` (plus the classical baselines: Telea, Navier-Stokes, spline) per hole-ratio bin.

    A method may carry options, ``"spline[tension=auto]"`` (:func:`method_spec`), and is named so in
    the results; ``method_options`` and ``checkpoints`` are keyed by that name or by the method's.

    FID and LPIPS are computed when their network weights are given (``fid_weights``: the FID
    Inception, ``pt_inception-2015-12-05-6726825d.pth``; ``lpips_backbone`` + ``lpips_lin``:
    torchvision AlexNet/VGG16 and the lpips linear layers; see :mod:`inpaint_core.perceptual`);
    the report says which were not. Weight files are checked before any method runs.

    Writes ``<dest>/eval/<run_id>/results.parquet`` (one row per image, mask and method),
    ``summary.parquet`` and ``summary.md``; returns the summary rows and their locations. Images and
    masks that cannot be read are left out of every method's cases, named with their reason in the
    report and in ``left_out.parquet``; the evaluation goes on without them.
    Credentials go in ``storage_secrets`` (:mod:`flows.credentials`; ``run_evaluate`` moves them there).
    """
    logger = get_run_logger()
    install_log_redaction()
    opts = flow_storage_options(storage_options, storage_secrets)
    checkpoints, method_options = checkpoints or {}, method_options or {}
    perceptual = {k: v for k, v in (("fid_weights", fid_weights), ("lpips_backbone", lpips_backbone),
                                    ("lpips_lin", lpips_lin)) if v}
    specs = {m: method_spec(m) for m in methods}  # a malformed or unknown method fails here, before any task
    for name, _ in specs.values():
        inpainter_info(name)
    if perceptual:  # a wrong file fails here, once, not in every method's task
        PerceptualScorer(**perceptual, device="cpu", storage_options=opts)
    all_methods = list(dict.fromkeys([*BASELINES, *methods]))
    refs = (reference_features_task.submit(images, masks_index, size, limit, bins, opts, perceptual)
            if perceptual.get("fid_weights") else None)  # the originals' features: once, not per method

    def task(m: str):
        if m in BASELINES:
            return evaluate_method_task.submit(m, images, masks_index, size, limit, bins, None, BASELINES[m], opts,
                                               perceptual or None, refs)
        name, options = specs[m]
        options = {**method_options.get(name, {}), **method_options.get(m, {}), **options}
        return evaluate_method_task.submit(name, images, masks_index, size, limit, bins,
                                           checkpoints.get(m, checkpoints.get(name)), options, opts,
                                           perceptual or None, refs, label=m)

    futures = [task(m) for m in all_methods]
    results = [f.result() for f in futures]
    rows = [r for res in results for r in res["rows"]]
    summary = summarize(rows, [s for res in results for s in res["sets"]])
    # every task read the same files: the same ones are left out of each (a file once, however many saw it)
    left_out = list({(r["kind"], r["file"]): r for res in results for r in res["left_out"]}.values())
    skipped = left_out_note(left_out)
    if skipped:
        logger.warning("evaluation goes on without %d unreadable file(s): %s", len(left_out), skipped)
    notes = [f"images: {images} (centre crop {size}x{size}); masks: {masks_index}", *perceptual_notes(perceptual),
             *([skipped] if skipped else [])]
    md = markdown_table(summary, notes)
    run_id = new_run_id()
    out = Location(dest, opts)
    base = f"eval/{run_id}"
    for name, table in (("results", rows), ("summary", summary), ("left_out", left_out)):
        if not table and name == "left_out":
            continue
        buf = io.BytesIO()
        pq.write_table(table_of_rows(table), buf)
        out.write_atomic(f"{base}/{name}.parquet", buf.getvalue())
    out.write_atomic(f"{base}/summary.md", md.encode())
    out.write_atomic(f"{base}/summary.json", json.dumps(summary, indent=2).encode())
    create_markdown_artifact(markdown=md, key="evaluation-summary", description=f"evaluation {run_id}")
    logger.info("evaluation %s: %d methods, %d scored cases -> %s", run_id, len(all_methods), len(rows),
                out.uri(base))
    return {"run_id": run_id, "summary": summary, "markdown": md, "location": out.uri(base), "left_out": left_out}


def perceptual_notes(perceptual: dict[str, str]) -> list[str]:
    """What the report says of FID and LPIPS: the weights used, or that they were not computed."""
    notes = []
    if perceptual.get("lpips_backbone"):
        notes.append(f"LPIPS (v0.1) per image on the composited image: backbone {perceptual['lpips_backbone']}, "
                     f"linear layers {perceptual['lpips_lin']}; lower is closer")
    else:
        notes.append("LPIPS: not computed (it needs pretrained network weights: --lpips-backbone and --lpips-lin)")
    if perceptual.get("fid_weights"):
        notes.append(f"FID per bin between the composited images and the originals, FID Inception "
                     f"{perceptual['fid_weights']}; with fewer images than its 2048 features the estimate is "
                     "biased upwards: compare FIDs only at equal n")
    else:
        notes.append("FID: not computed (it needs pretrained network weights: --fid-weights)")
    return notes


def run_evaluate(methods: list[str], images: str, masks_index: str, dest: str, *, dask_address: str | None = None,
                 n_workers: int | None = None, **kwargs: Any) -> dict[str, Any]:
    runner = make_task_runner(dask_address, n_workers)
    with api_for_workers():
        return evaluate.with_options(task_runner=runner)(methods, images, masks_index, dest,
                                                         **hide_credentials(kwargs))
