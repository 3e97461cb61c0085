"""The event source of the bucket trigger: a watcher flow that reports new objects under a prefix.

The open-source Prefect server has no webhooks, so this flow, run on an interval schedule (the
``watch-incoming`` deployment), lists the watched prefix, compares the listing with the durable
watermark in the destination (:class:`inpaint_core.watermark.Watermark`) and emits ONE event per
poll for everything that landed since the last one::

    event:    inpaint.object.landed
    resource: {"prefect.resource.id": "inpaint.prefix.<prefix URI>", "inpaint.prefix": "<prefix URI>"}
    payload:  {"count": N, "keys": [first 100 keys], "truncated": bool, "dest": "<dest URI>"}

The ``bucket-restore`` deployment's trigger debounces these (docs/operations.md). S3 event
notifications can send the same event instead of this flow (:func:`landed_event` is its shape).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.events import emit_event

from inpaint_core.storage import Location
from inpaint_core.watermark import Watermark, list_objects

from .credentials import check_no_credentials

EVENT = "inpaint.object.landed"
MAX_KEYS_IN_EVENT = 100  # events are small messages; the flow that acts on one lists the prefix itself


def prefix_resource(prefix_uri: str) -> dict[str, str]:
    """The Prefect resource an ``inpaint.object.landed`` event is about: the watched prefix."""
    return {"prefect.resource.id": f"inpaint.prefix.{prefix_uri}", "prefect.resource.name": prefix_uri,
            "inpaint.prefix": prefix_uri}


def landed_event(prefix_uri: str, keys: list[str], dest_uri: str | None = None) -> dict[str, Any]:
    """Keyword arguments of :func:`prefect.events.emit_event` for objects that landed under a prefix."""
    keys = sorted(keys)
    payload: dict[str, Any] = {"count": len(keys), "keys": keys[:MAX_KEYS_IN_EVENT],
                               "truncated": len(keys) > MAX_KEYS_IN_EVENT}
    if dest_uri:
        payload["dest"] = dest_uri
    return {"event": EVENT, "resource": prefix_resource(prefix_uri), "payload": payload}


@flow(name="watch-prefix", flow_run_name="watch {prefix}", log_prints=False)
def watch(prefix: str, dest: str, settle_seconds: float = 10.0,
          storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """List ``prefix``, emit one ``inpaint.object.landed`` event for objects not seen before, remember them.

    Objects modified less than ``settle_seconds`` ago wait for the next poll (a copy in progress).
    The event is sent before the watermark is written: a crash in between reports the objects
    again (at least once), never loses them.
    """
    check_no_credentials(storage_options)  # credentials come from the workers' environment or a profile
    logger = get_run_logger()
    opts = storage_options or {}
    src, dst = Location(prefix, opts), Location(dest, opts)
    watermark = Watermark(dst, src)
    listing = list_objects(src, exclude=(dst,), settle_seconds=settle_seconds)
    seen = watermark.seen()
    new = watermark.new_objects(listing, seen)
    if new:
        emit_event(**landed_event(src.uri(), list(new), dst.uri()))
        logger.info("%d new object(s) under %s (e.g. %s): event %s sent", len(new), src.uri(),
                    ", ".join(sorted(new)[:3]), EVENT)
    else:
        logger.info("nothing new under %s (%d object(s) known)", src.uri(), len(listing))
    if new or seen.keys() != listing.keys():
        watermark.record_seen(listing)
    return {"prefix": src.uri(), "listed": len(listing), "new": len(new), "keys": sorted(new)[:MAX_KEYS_IN_EVENT]}
