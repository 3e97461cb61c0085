"""AWS Lambda handler (standard library only): S3 event notifications -> ``inpaint.object.landed`` events.

An alternative to the watcher flow for buckets that can send notifications: configure the
bucket to notify this function on ``s3:ObjectCreated:*`` for the watched prefix (directly, or
through SQS with the function as the queue's consumer), and set

    PREFECT_API_URL       e.g. https://prefect.internal.example.com/api (reachable from the Lambda)
    PREFECT_API_KEY       only for Prefect Cloud / an authenticating proxy (sent as a Bearer token)
    INPAINT_WATCH_PREFIX  the watched prefix exactly as the deployment names it, e.g. s3://my-bucket/incoming

Each new object becomes one event of the same shape the watcher emits (``flows/watch.py``); the
``bucket-restore`` trigger debounces them into one run per burst, and the run itself lists the
prefix and restores every pending object, so a lost or duplicated notification costs nothing but
a later (or an empty) run. Copy this file as the Lambda's code; it needs no dependencies.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone

EVENT = "inpaint.object.landed"  # same as flows.watch.EVENT


def events_for(notification: dict, prefix_uri: str) -> list[dict]:
    """Prefect events for the S3 records (or SQS-wrapped S3 records) of one notification."""
    records = []
    for rec in notification.get("Records", []):
        if "body" in rec:  # SQS message carrying an S3 notification
            records.extend(json.loads(rec["body"]).get("Records", []))
        else:
            records.append(rec)
    bucket_prefix = prefix_uri.removeprefix("s3://").rstrip("/") + "/"
    out = []
    for rec in records:
        if not rec.get("eventName", "").startswith("ObjectCreated"):
            continue
        path = f"{rec['s3']['bucket']['name']}/{urllib.parse.unquote_plus(rec['s3']['object']['key'])}"
        if not path.startswith(bucket_prefix):
            continue
        key = path[len(bucket_prefix):]
        out.append({
            "id": str(uuid.uuid4()),
            "occurred": rec.get("eventTime") or datetime.now(timezone.utc).isoformat(),
            "event": EVENT,
            "resource": {"prefect.resource.id": f"inpaint.prefix.{prefix_uri}", "prefect.resource.name": prefix_uri,
                         "inpaint.prefix": prefix_uri},
            "payload": {"count": 1, "keys": [key], "truncated": False, "size": rec["s3"]["object"].get("size")},
        })
    return out


def post_events(events: list[dict], api_url: str, api_key: str | None = None) -> None:
    """``POST {api_url}/events``: the Prefect server's endpoint for a batch of events."""
    if not events:
        return
    req = urllib.request.Request(f"{api_url.rstrip('/')}/events", data=json.dumps(events).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {api_key}"} if api_key else {})})
    with urllib.request.urlopen(req, timeout=10) as resp:
        if resp.status >= 300:
            raise RuntimeError(f"Prefect API answered {resp.status}")


def handler(event: dict, context: object) -> dict:
    prefix = os.environ["INPAINT_WATCH_PREFIX"].rstrip("/")
    events = events_for(event, prefix)
    post_events(events, os.environ["PREFECT_API_URL"], os.environ.get("PREFECT_API_KEY"))
    return {"emitted": len(events)}
