"""The ``evaluate`` flow: the project's evaluation protocol for any methods, images and masks."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from inpaint_core.evaluation import BASELINES, markdown_table, summarize
from inpaint_core.storage import Location
from tasks.evaluate import evaluate_method_task

from .restore import new_run_id
from .runners import api_for_workers, make_task_runner


@flow(name="evaluate", task_runner=make_task_runner())
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
) -> dict[str, Any]:
    """Score ``methods`` (plus the classical baselines: Telea, Navier-Stokes, spline) per hole-ratio bin.

    Writes ``<dest>/eval/<run_id>/results.parquet`` (one row per image, mask and method),
    ``summary.parquet`` and ``summary.md``; returns the summary rows and their locations.
    """
    logger = get_run_logger()
    opts = storage_options or {}
    checkpoints, method_options = checkpoints or {}, method_options or {}
    all_methods = list(dict.fromkeys([*BASELINES, *methods]))
    futures = [evaluate_method_task.submit(m, images, masks_index, size, limit, bins, checkpoints.get(m),
                                           BASELINES[m] if m in BASELINES else method_options.get(m, {}), opts)
               for m in all_methods]
    rows = [r for f in futures for r in f.result()]
    summary = summarize(rows)
    notes = [f"images: {images} (centre crop {size}x{size}); masks: {masks_index}",
             "FID and LPIPS: not computed (they need pretrained network weights; none were given)"]
    md = markdown_table(summary, notes)
    run_id = new_run_id()
    out = Location(dest, opts)
    base = f"eval/{run_id}"
    for name, table in (("results", rows), ("summary", summary)):
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(table), buf)
        out.write_atomic(f"{base}/{name}.parquet", buf.getvalue())
    out.write_atomic(f"{base}/summary.md", md.encode())
    out.write_atomic(f"{base}/summary.json", json.dumps(summary, indent=2).encode())
    create_markdown_artifact(markdown=md, key="evaluation-summary", description=f"evaluation {run_id}")
    logger.info("evaluation %s: %d methods, %d scored cases -> %s", run_id, len(all_methods), len(rows),
                out.uri(base))
    return {"run_id": run_id, "summary": summary, "markdown": md, "location": out.uri(base)}


def run_evaluate(methods: list[str], images: str, masks_index: str, dest: str, *, dask_address: str | None = None,
                 n_workers: int | None = None, **kwargs: Any) -> dict[str, Any]:
    runner = make_task_runner(dask_address, n_workers)
    with api_for_workers():
        return evaluate.with_options(task_runner=runner)(methods, images, masks_index, dest, **kwargs)
