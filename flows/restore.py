"""The ``restore`` flow: discover a source, restore it shard by shard on Dask, write manifests."""

from __future__ import annotations

import json
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable

import dask
from prefect import flow, get_run_logger
from prefect.context import FlowRunContext

from inpaint_core.discover import discover, read_mask_list
from inpaint_core.pipeline import RestoreConfig
from inpaint_core.report import write_contact_sheet
from inpaint_core.storage import Location, check_source_and_dest
from tasks import finish_shard_task, inpaint_shard_task, prepare_shard_task, restore_shard_task

from .runners import api_for_workers, cluster_has_gpu, make_task_runner

#: Callables ``f(summary_of_one_shard)`` run in the flow process as shards finish (the CLI's progress bar).
PROGRESS_HOOKS: list[Callable[[dict], None]] = []


def new_run_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def _shards(items, size: int):
    shard: list = []
    for item in items:
        shard.append(item)
        if len(shard) >= size:
            yield shard
            shard = []
    if shard:
        yield shard


@flow(name="restore", task_runner=make_task_runner(), log_prints=False)
def restore(
    source: str,
    dest: str,
    method: str = "telea",
    method_options: dict[str, Any] | None = None,
    checkpoint: str | None = None,
    masks: str = "auto",
    masks_root: str | None = None,
    mask_list: str | None = None,
    reference: str | None = None,
    detectors: list[str] | None = None,
    blend: str = "auto",
    blend_margin: int = 8,
    output_format: str = "png",
    write_masks: bool = False,
    write_edges: bool = False,
    shard_size: int = 64,
    score: bool = True,
    force: bool = False,
    storage_options: dict[str, Any] | None = None,
    contact_sheet: bool = True,
    keys: list[str] | None = None,
) -> dict[str, Any]:
    """Restore every image under ``source`` into ``dest`` and record each in the manifest.

    Re-running with the same arguments redoes nothing that is already ``ok`` (``force`` redoes it).
    ``keys`` restricts the run to these relative keys under ``source`` (the bucket trigger's pending objects).
    Returns the run summary (also written to ``<dest>/runs/<run_id>.json``).
    """
    logger = get_run_logger()
    opts = storage_options or {}
    src, dst = Location(source, opts), Location(dest, opts)
    check_source_and_dest(src, dst)
    config = RestoreConfig(method=method, method_options=method_options or {}, checkpoint=checkpoint,
                           masks=masks, detectors=tuple(detectors or ("solid",)), blend=blend,
                           blend_margin=blend_margin, output_format=output_format, write_masks=write_masks,
                           write_edges=write_edges, score=score, force=force)
    run_id = new_run_id()
    runner = FlowRunContext.get().task_runner
    split = cluster_has_gpu(runner)
    n_workers = max(1, len(runner.client.scheduler_info(n_workers=-1)["workers"])) if hasattr(runner, "client") else 1
    logger.info("run %s: %s -> %s, method=%s, shard_size=%d, %s", run_id, src.uri(), dst.uri(), method,
                shard_size, "inpainting on GPU workers" if split else f"{n_workers} CPU worker(s)")

    items = discover(src, masks=Location(masks_root, opts) if masks_root else None,
                     mask_list=read_mask_list(mask_list, opts) if mask_list else None,
                     reference=Location(reference, opts) if reference else None, exclude=(dst,),
                     keys=keys)
    started = time.perf_counter()
    totals: dict[str, Any] = {"images": 0, "up_to_date": 0, "ok": 0, "skipped": 0, "failed": 0}
    stage_ms: dict[str, float] = {}
    failures: list = []
    in_flight: deque = deque()
    max_in_flight = 2 * n_workers + 1  # enough to keep every worker busy, bounded so memory stays flat

    def collect(fut) -> None:
        s = fut.result()
        for k in totals:
            totals[k] += s[k]
        for k, v in s["stage_ms"].items():
            stage_ms[k] = stage_ms.get(k, 0.0) + v
        failures.extend(s["failures"][: max(0, 50 - len(failures))])
        logger.info("shard %d: %d images, %d ok, %d skipped, %d failed, %d up to date", s["shard"],
                    s["images"], s["ok"], s["skipped"], s["failed"], s["up_to_date"])
        for hook in PROGRESS_HOOKS:
            hook(s)

    for shard, items_ in enumerate(_shards(items, shard_size)):
        args = dict(config=config, source=src, dest=dst, run_id=run_id, shard=shard)
        if split:
            prepared = prepare_shard_task.submit(items_, **args)
            with dask.annotate(resources={"GPU": 1}):
                filled = inpaint_shard_task.submit(prepared, config=config, shard=shard)
            in_flight.append(finish_shard_task.submit(filled, **args))
        else:
            in_flight.append(restore_shard_task.submit(items_, **args))
        while len(in_flight) >= max_in_flight:
            collect(in_flight.popleft())
    while in_flight:
        collect(in_flight.popleft())

    summary = {"run_id": run_id, "source": src.uri(), "dest": dst.uri(), "method": method,
               "settings_hash": config.settings_hash(), "seconds": round(time.perf_counter() - started, 3),
               **totals, "stage_ms": stage_ms, "failures": failures,
               "manifest": dst.uri(f"manifest/run={run_id}")}
    if contact_sheet and totals["ok"]:
        summary["contact_sheet"] = write_contact_sheet(dst, run_id)
    dst.write_atomic(f"runs/{run_id}.json", json.dumps(summary, indent=2, default=str).encode())
    logger.info("run %s done in %.1f s: %d ok, %d skipped, %d failed, %d up to date", run_id,
                summary["seconds"], totals["ok"], totals["skipped"], totals["failed"], totals["up_to_date"])
    return summary


def run_restore(source: str, dest: str, *, dask_address: str | None = None, n_workers: int | None = None,
                **kwargs: Any) -> dict[str, Any]:
    """Run :func:`restore` on a chosen Dask cluster (the CLI's and the tests' entry point)."""
    runner = make_task_runner(dask_address, n_workers)
    with api_for_workers():
        return restore.with_options(task_runner=runner)(source, dest, **kwargs)
