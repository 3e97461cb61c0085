"""The ``bucket-restore`` flow: restore the objects under a watched prefix that no run has handled yet.

Started by the ``bucket-restore`` deployment's trigger on ``inpaint.object.landed`` events (from
the watcher, ``flows/watch.py``, or from S3 notifications). The event only says *that* something
landed: this flow lists the prefix itself and restores every pending object, i.e. every object
whose key and signature are not in the watermark's ``restored.json`` yet. So however many events
a burst of uploads produced and however the trigger grouped them, one run restores them all, and
a later run only what landed since.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from inpaint_core.storage import Location
from inpaint_core.watermark import Watermark, list_objects

from .credentials import check_no_credentials
from .restore import restore


@flow(name="bucket-restore", flow_run_name="bucket-restore {source}")
def bucket_restore(
    source: str,
    dest: str,
    method: str = "telea",
    shard_size: int = 64,
    settle_seconds: float = 10.0,
    restore_options: dict[str, Any] | None = None,
    storage_options: dict[str, Any] | None = None,
    triggered_by: str | None = None,
) -> dict[str, Any]:
    """Restore the pending objects under ``source`` into ``dest`` (a ``restore`` subflow over their keys).

    ``restore_options`` are further keyword arguments of the ``restore`` flow (``masks``,
    ``detectors``, ``output_format``, ...). ``triggered_by`` is informational (the event that
    started the run). Objects are marked handled only after the restore run returns: a crashed
    or failed run leaves them pending for the next one.
    """
    check_no_credentials(storage_options)  # credentials come from the workers' environment or a profile
    logger = get_run_logger()
    opts = storage_options or {}
    src, dst = Location(source, opts), Location(dest, opts)
    watermark = Watermark(dst, src)
    listing = list_objects(src, exclude=(dst,), settle_seconds=settle_seconds)
    pending = watermark.pending(listing)
    if triggered_by:
        logger.info("triggered by %s", triggered_by)
    if not pending:
        logger.info("nothing pending under %s (%d object(s), all handled)", src.uri(), len(listing))
        return {"source": src.uri(), "pending": 0, "restore": None}
    keys = sorted(pending)
    logger.info("%d pending object(s) under %s: %s%s", len(keys), src.uri(), ", ".join(keys[:5]),
                " ..." if len(keys) > 5 else "")
    summary = restore(source, dest, method=method, shard_size=shard_size, storage_options=storage_options,
                      keys=keys, **(restore_options or {}))
    watermark.record_restored(pending, listing)
    return {"source": src.uri(), "pending": len(keys), "keys": keys[:100], "restore": summary}
