"""The ``restore`` flow: discover a source, restore it shard by shard on Dask, write manifests.

In the Prefect UI a run is named after its source and date (``restore photos/incoming/ 2026-11-25
22:30 UTC``), its task runs after their shard and image range (``restore shard 3 (images 192-255)``),
and it is tagged ``inpaint`` and ``method:<name>``. It publishes a progress artifact, a summary
table and a quality page (see :mod:`flows.artifacts`), logs one line per shard plus one per failed
image (capped), and ends Failed when more than ``max_failure_rate`` of its images failed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Literal

import dask
from prefect import flow, get_run_logger, tags
from prefect.artifacts import (create_markdown_artifact, create_progress_artifact, create_table_artifact,
                               update_progress_artifact)
from prefect.context import FlowRunContext
from prefect.states import Failed
from pydantic import SecretStr

from inpaint_core.discover import discover, read_mask_list
from inpaint_core.errors import StorageError
from inpaint_core.manifest_index import ManifestIndex, refresh_index
from inpaint_core.pipeline import RestoreConfig, empty_plan, merge_plans
from inpaint_core.redact import install_log_redaction
from inpaint_core.report import write_contact_sheet
from inpaint_core.storage import Location, check_source_and_dest
from tasks import finish_shard_task, inpaint_shard_task, plan_shard_task, prepare_shard_task, restore_shard_task

from . import artifacts
from .credentials import flow_storage_options, hide_credentials
from .runners import api_for_workers, cluster_has_gpu, make_task_runner

#: Callables ``f(summary_of_one_shard)`` run in the flow process as shards finish (the CLI's progress bar).
PROGRESS_HOOKS: list[Callable[[dict], None]] = []

#: Failed images logged one line each, per run; the rest are only in the manifest (no per-image spam).
MAX_LOGGED_FAILURES = 50
#: Seconds between two updates of the progress artifact (one API call each).
PROGRESS_EVERY_S = 1.0


class FailureRateExceeded(RuntimeError):
    """The run restored what it could but more of its images failed than ``max_failure_rate`` allows.

    Raised by a direct call of :func:`restore` (the flow run itself ends in a ``Failed`` state with
    the same message); ``summary`` is the run summary, also written to ``<dest>/runs/<run_id>.json``.
    """

    def __init__(self, message: str, summary: dict[str, Any]):
        super().__init__(message)
        self.summary = summary

    def __reduce__(self):  # pickles with its summary (results may be persisted)
        return (FailureRateExceeded, (str(self), self.summary))


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


def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    when = flow_run.scheduled_start_time or datetime.now(timezone.utc)
    return artifacts.restore_run_name(flow_run.parameters.get("source", "?"), when)


def _named(task, label: str):
    """The task with a run name that says what it does: ``restore shard 3 (images 192-255)``."""
    return task.with_options(task_run_name=f"{task.name.split('-')[0]} {label}")


def _tag_flow_run(run_tags: list[str]) -> None:
    """Add tags to this flow run (also when it was started by a deployment, which set its own)."""
    from prefect.client.orchestration import get_client

    ctx = FlowRunContext.get()
    with get_client(sync_client=True) as client:
        client.update_flow_run(ctx.flow_run.id, tags=sorted(set(ctx.flow_run.tags or []) | set(run_tags)))


#: the run's warnings, by the count in its summary they are about (each takes it and the output format)
_RUN_WARNINGS = {
    "bands_dropped": "%d images had bands past colour and alpha (a near-infrared band, say) that %s outputs cannot "
                     "hold: written without them (manifest column extra_bands); --output-format tiff or same "
                     "keeps them",
    "values_viewed": "%d images were rasters of values (an elevation model, say) that %s outputs cannot hold: "
                     "written as a view of their range, without their values (manifest column sample_format); "
                     "--output-format tiff or same keeps them",
    "pages_dropped": "%d images were multi-page TIFFs (a document's pages) that %s outputs cannot hold: only their "
                     "first page was restored and written (manifest column pages); --output-format tiff or same "
                     "keeps the others",
    "pages_copied": "%d images were multi-page TIFFs (a document's pages): their first page was restored, the others "
                    "copied into the TIFF output as they are, not restored (manifest column pages); split the pages "
                    "into files to restore each%.0s",  # (the output format: tiff, or same)
}


@flow(name="restore", flow_run_name=_flow_run_name, task_runner=make_task_runner(), log_prints=False)
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
    verify: bool = False,
    storage_options: dict[str, Any] | None = None,
    contact_sheet: bool = True,
    max_failure_rate: float | None = 0.5,
    keys: list[str] | None = None,
    storage_secrets: SecretStr | None = None,
    dry_run: bool = False,
    max_fill_distance: float | None = None,
    jpeg_quality: int | Literal["source"] = 95,
    png_compression: int = 1,
) -> dict[str, Any]:
    """Restore every image under ``source`` into ``dest`` and record each in the manifest.

    Re-running with the same arguments redoes nothing that is already ``ok`` (``force`` redoes it).
    An image counts as up to date when its source, mask and output still have the size and change
    tag (S3 ETag, file mtime) recorded in the manifest, so nothing of it is read; ``verify`` reads
    and hashes them instead (for stores whose tags cannot be trusted, or after restoring files
    with preserved timestamps).
    ``keys`` restricts the run to these relative keys under ``source`` (the bucket trigger's pending objects).
    ``max_fill_distance``: leave the hole pixels farther than this (pixels) from every known pixel as
    they were, as GDAL's ``gdal_fillnodata -md`` does (a nodata sea stays missing; its coast is filled).
    ``jpeg_quality``: of JPEG and WebP outputs (and a TIFF's JPEG tiles), 1 to 100; ``"source"``: a
    JPEG output of a JPEG source is compressed with the source's own quantization tables and chroma
    subsampling (about its size; its known pixels change least), other outputs at 95.
    ``png_compression``: zlib level 0 to 9 of PNG outputs (1: several times faster than 6, a few
    percent larger).
    Returns the run summary (also written to ``<dest>/runs/<run_id>.json``).

    ``dry_run``: only say what the run would do (:func:`~inpaint_core.pipeline.plan_shard`: how many
    images are up to date, to restore, to check, with the reasons, the bytes to read and where the
    masks come from), reading no image and writing nothing; returns that plan, also shown as a
    markdown artifact.

    A failed image fails its manifest row, never the run. But when more than ``max_failure_rate``
    (a fraction, 0 to 1) of the objects the run looked at failed, already up-to-date ones counted,
    the run ends in a ``Failed`` state whose message gives the numbers, after every manifest part,
    the summary JSON and the artifacts are written; a direct call then raises
    :class:`FailureRateExceeded` (carrying the summary). ``None`` or ``1.0`` disables the check;
    ``0.0`` fails the run on any failed image.

    Progress artifact: the listing streams, so the total is unknown until it ends. Until then the
    bar shows the share of the images discovered so far that are done (its description says so,
    and it may step back when the listing finds more); after the listing it is exact, and it is
    set to 100 when the run is finished.
    """
    logger = get_run_logger()
    install_log_redaction()
    artifacts.check_max_failure_rate(max_failure_rate)
    opts = flow_storage_options(storage_options, storage_secrets)
    src, dst = Location(source, opts), Location(dest, opts)
    check_source_and_dest(src, dst)
    src.check_reachable()  # a missing or forbidden bucket fails here, not as an empty run
    dst.check_reachable(must_exist=False)
    if keys is None and not dry_run:  # a full run walks the destination once for what killed runs left behind
        swept = dst.sweep_temporaries()
        if swept:
            logger.info("removed %d temporary files that killed runs left under %s", swept, dst.uri())
    config = RestoreConfig(method=method, method_options=method_options or {}, checkpoint=checkpoint,
                           masks=masks, detectors=tuple(detectors or ("solid",)), blend=blend,
                           blend_margin=blend_margin, output_format=output_format, write_masks=write_masks,
                           write_edges=write_edges, score=score, force=force, verify=verify,
                           max_fill_distance=max_fill_distance, jpeg_quality=jpeg_quality,
                           png_compression=png_compression)
    run_id = new_run_id()
    ctx = FlowRunContext.get()
    run_tags = ["inpaint", f"method:{method}"] + (["dry-run"] if dry_run else [])
    _tag_flow_run(run_tags)
    runner = ctx.task_runner
    split = cluster_has_gpu(runner)
    n_workers = max(1, len(runner.client.scheduler_info(n_workers=-1)["workers"])) if hasattr(runner, "client") else 1
    logger.info("run %s: %s -> %s, method=%s, shard_size=%d, %s", run_id, src.uri(), dst.uri(), method,
                shard_size, "inpainting on GPU workers" if split else f"{n_workers} CPU worker(s)")
    progress_id = create_progress_artifact(0.0, key=artifacts.artifact_key(dst.uri(), "progress"),
                                           description=f"restore {src.uri()}: listing")

    index = None if force else _refresh_index(dst, logger, read_only=dry_run)
    items = discover(src, masks=Location(masks_root, opts) if masks_root else None,
                     mask_list=read_mask_list(mask_list, opts) if mask_list else None,
                     reference=Location(reference, opts) if reference else None, exclude=(dst,),
                     keys=keys)
    if dry_run:
        return _dry_run(items, config, src, dst, shard_size, index, progress_id, run_tags, 2 * n_workers + 1)
    started = time.perf_counter()
    totals: dict[str, Any] = {"images": 0, "up_to_date": 0, "ok": 0, "skipped": 0, "failed": 0}
    stage_ms: dict[str, float] = {}
    failures: list = []
    in_flight: deque = deque()
    max_in_flight = 2 * n_workers + 1  # enough to keep every worker busy, bounded so memory stays flat
    labels: dict[int, str] = {}
    seen = {"discovered": 0, "listing_done": False, "logged_failures": 0, "progress_at": 0.0, "bands_dropped": 0,
            "values_viewed": 0, "pages_dropped": 0, "pages_copied": 0}

    def collect(fut) -> None:
        s = fut.result()
        for k in totals:
            totals[k] += s[k]
        for k, v in s["stage_ms"].items():
            stage_ms[k] = stage_ms.get(k, 0.0) + v
        failures.extend(s["failures"][: max(0, 50 - len(failures))])
        seen["bands_dropped"] += s.get("bands_dropped", 0)
        seen["values_viewed"] += s.get("values_viewed", 0)
        seen["pages_dropped"] += s.get("pages_dropped", 0)
        seen["pages_copied"] += s.get("pages_copied", 0)
        logger.info("%s: %d images, %d ok, %d skipped, %d failed, %d up to date", labels.pop(s["shard"]),
                    s["images"], s["ok"], s["skipped"], s["failed"], s["up_to_date"])
        for image_id, error in s["failures"]:
            seen["logged_failures"] += 1
            if seen["logged_failures"] <= MAX_LOGGED_FAILURES:
                logger.warning("failed %s: %s", image_id, error)
            if seen["logged_failures"] == MAX_LOGGED_FAILURES:
                logger.warning("%d failed images logged; further failures are in the manifest only",
                               MAX_LOGGED_FAILURES)
        if time.perf_counter() - seen["progress_at"] >= PROGRESS_EVERY_S:
            seen["progress_at"] = time.perf_counter()
            update_progress_artifact(progress_id, *artifacts.progress(totals["images"], seen["discovered"],
                                                                      seen["listing_done"]))
        for hook in PROGRESS_HOOKS:
            hook(s)

    with tags(*run_tags):
        for shard, items_ in enumerate(_shards(items, shard_size)):
            labels[shard] = artifacts.shard_label(shard, seen["discovered"], len(items_))
            seen["discovered"] += len(items_)
            args = dict(config=config, source=src, dest=dst, run_id=run_id, shard=shard)
            if split:
                prepared = _named(prepare_shard_task, labels[shard]).submit(items_, index=index, **args)
                with dask.annotate(resources={"GPU": 1}):
                    filled = _named(inpaint_shard_task, labels[shard]).submit(prepared, config=config, shard=shard)
                in_flight.append(_named(finish_shard_task, labels[shard]).submit(filled, **args))
            else:
                in_flight.append(_named(restore_shard_task, labels[shard]).submit(items_, index=index, **args))
            while len(in_flight) >= max_in_flight:
                collect(in_flight.popleft())
        seen["listing_done"] = True
        while in_flight:
            collect(in_flight.popleft())

    for key, warning in _RUN_WARNINGS.items():  # what the outputs could not hold, or hold unrestored
        if seen[key]:
            logger.warning(warning, seen[key], output_format)
    summary = {"run_id": run_id, "flow_run_id": str(ctx.flow_run.id), "flow_run_name": ctx.flow_run.name,
               "source": src.uri(), "dest": dst.uri(), "method": method,
               "settings_hash": config.settings_hash(), "seconds": round(time.perf_counter() - started, 3),
               **totals, "bands_dropped": seen["bands_dropped"], "values_viewed": seen["values_viewed"],
               "pages_dropped": seen["pages_dropped"], "pages_copied": seen["pages_copied"],
               "stage_ms": stage_ms, "failures": failures,
               "manifest": dst.uri(f"manifest/run={run_id}")}
    if contact_sheet and totals["ok"]:
        summary["contact_sheet"] = write_contact_sheet(dst, run_id)
    reason = artifacts.failure_verdict(summary, max_failure_rate)
    summary.update(failure_rate=round(artifacts.failure_rate(summary), 4), max_failure_rate=max_failure_rate,
                   state="failed" if reason else "completed", state_message=reason)
    dst.write_atomic(f"runs/{run_id}.json", json.dumps(summary, indent=2, default=str).encode())
    _publish(summary, dst, progress_id, max_failure_rate)
    logger.info("run %s done in %.1f s: %d ok, %d skipped, %d failed, %d up to date", run_id,
                summary["seconds"], totals["ok"], totals["skipped"], totals["failed"], totals["up_to_date"])
    if reason:
        logger.error("run %s failed: %s", run_id, reason)
        return Failed(message=reason, data=FailureRateExceeded(reason, summary))
    return summary


def _dry_run(items, config: RestoreConfig, src: Location, dst: Location, shard_size: int,
             index: ManifestIndex | None, progress_id, run_tags: list[str], max_in_flight: int) -> dict[str, Any]:
    """The plan of a run: one plan task per shard, their plans summed, a markdown artifact."""
    logger = get_run_logger()
    started = time.perf_counter()
    total = empty_plan()
    in_flight: deque = deque()

    def collect(fut) -> None:
        plan = fut.result()
        merge_plans(total, plan)
        for hook in PROGRESS_HOOKS:
            hook({"images": plan["images"], "ok": 0, "failed": 0, "up_to_date": plan["actions"]["up_to_date"]})

    with tags(*run_tags):
        for shard, items_ in enumerate(_shards(items, shard_size)):
            in_flight.append(plan_shard_task.submit(items_, config=config, source=src, dest=dst, shard=shard,
                                                    index=index))
            while len(in_flight) >= max_in_flight:
                collect(in_flight.popleft())
        while in_flight:
            collect(in_flight.popleft())
    ctx = FlowRunContext.get()
    plan = {"dry_run": True, "flow_run_id": str(ctx.flow_run.id), "flow_run_name": ctx.flow_run.name,
            "source": src.uri(), "dest": dst.uri(), "method": config.method,
            "settings_hash": config.settings_hash(), "seconds": round(time.perf_counter() - started, 3), **total}
    update_progress_artifact(progress_id, 100.0, description=f"dry run: {total['images']} images planned")
    create_markdown_artifact(artifacts.plan_markdown(plan), key=artifacts.artifact_key(dst.uri(), "plan"),
                             description=f"dry run of a restore of {src.uri()}: what it would do")
    a = plan["actions"]
    logger.info("dry run: %d listed: %d up to date, %d to restore, %d to check, %d to skip, %d to fail "
                "(nothing read or written)", plan["images"], a["up_to_date"], a["restore"], a["check"], a["skip"],
                a["fail"])
    return plan


def _refresh_index(dst: Location, logger, read_only: bool = False) -> ManifestIndex | None:
    """The manifest index, brought up to date with every earlier run (once per run, not per shard).
    ``read_only``: the index only if it is up to date already (a dry run writes nothing)."""
    try:
        index = refresh_index(dst, read_only=read_only)
    except StorageError:
        raise
    except Exception as exc:  # noqa: BLE001 - a cache: without it the shards read the manifest parts
        logger.warning("manifest index not refreshed (%s: %s): shards read the manifest parts instead",
                       type(exc).__name__, exc)
        return None
    if index is None:
        logger.info("manifest index not up to date: the dry run reads the manifest parts instead")
        return None
    logger.info("manifest index: %d rows in %d chunks, %d parts covered (%d read now) in %.2f s", index.rows,
                len(index.chunks), index.covered_parts, index.parts_read, index.seconds)
    return index


def _publish(summary: dict[str, Any], dst: Location, progress_id, max_failure_rate: float | None) -> None:
    """The run's artifacts: progress to 100, the summary table, the quality page."""
    done = summary["images"]
    update_progress_artifact(progress_id, 100.0, description=f"{done} of {done} images done")
    rows = artifacts.read_run_rows(dst, summary["run_id"])
    create_table_artifact(artifacts.summary_table(summary, rows, max_failure_rate),
                          key=artifacts.artifact_key(dst.uri(), "summary"),
                          description=f"restore run {summary['run_id']}: counts by status, failure reasons, "
                                      "seconds per stage")
    create_markdown_artifact(artifacts.quality_markdown(summary, rows, state_message=summary["state_message"]),
                             key=artifacts.artifact_key(dst.uri(), "quality"),
                             description=f"restore run {summary['run_id']}: quality, worst images, contact sheet")


def run_restore(source: str, dest: str, *, dask_address: str | None = None, n_workers: int | None = None,
                **kwargs: Any) -> dict[str, Any]:
    """Run :func:`restore` on a chosen Dask cluster (the CLI's and the tests' entry point).

    Returns the run summary; a run that ended Failed on its failure rate returns it too, with
    ``summary["state"] == "failed"`` and the reason in ``summary["state_message"]``.
    """
    kwargs = hide_credentials(kwargs)  # never a flow parameter in clear: Prefect would store and show it
    runner = make_task_runner(dask_address, n_workers)
    with api_for_workers():
        try:
            return restore.with_options(task_runner=runner)(source, dest, **kwargs)
        except FailureRateExceeded as exc:
            return exc.summary
