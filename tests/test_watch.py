"""The bucket trigger's durable watermark and the watcher, on local folders (fast) and under a Prefect server."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone

import pytest

from inpaint_core.discover import discover
from inpaint_core.storage import Location
from inpaint_core.watermark import Watermark, list_objects


def _put(root, key: str, data: bytes = b"png-bytes", age: float = 60.0) -> None:
    path = os.path.join(root, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    then = time.time() - age
    os.utime(path, (then, then))


@pytest.fixture
def tree(tmp_path):
    src, dest = tmp_path / "incoming", tmp_path / "incoming" / "restored"
    for key in ("a.png", "b.jpg", "a_mask.png", "notes.txt", ".hidden.png", "sub/c.png", "masks/sub/c.png",
                ".cache/d.png", "restored/images/a.png"):
        _put(src, key)
    return Location(str(src)), Location(str(dest))


def test_listing_keeps_what_a_restore_would_pick_up(tree):
    src, dest = tree
    assert sorted(list_objects(src, exclude=(dest,))) == ["a.png", "b.jpg", "sub/c.png"]


def test_objects_still_being_written_wait_for_a_later_listing(tree):
    src, dest = tree
    _put(src.root, "fresh.png", age=0.0)
    assert "fresh.png" not in list_objects(src, exclude=(dest,), settle_seconds=10)
    assert "fresh.png" in list_objects(src, exclude=(dest,), settle_seconds=10, now=time.time() + 11)


def test_watermark_reports_only_new_objects_and_survives_a_restart(tree):
    src, dest = tree
    first = list_objects(src, exclude=(dest,))
    wm = Watermark(dest, src)
    assert wm.new_objects(first) == first  # nothing seen yet
    wm.record_seen(first)
    _put(src.root, "sub/e.png")
    second = list_objects(src, exclude=(dest,))
    restarted = Watermark(Location(dest.url), Location(src.url))  # a new process: state comes from storage
    assert restarted.new_objects(second) == {"sub/e.png": second["sub/e.png"]}
    restarted.record_seen(second)
    assert Watermark(dest, src).new_objects(list_objects(src, exclude=(dest,))) == {}


def test_an_overwritten_object_counts_as_new(tree):
    src, dest = tree
    wm = Watermark(dest, src)
    wm.record_seen(list_objects(src, exclude=(dest,)))
    _put(src.root, "a.png", b"other content, other size", age=5)
    assert list(wm.new_objects(list_objects(src, exclude=(dest,)))) == ["a.png"]


def test_pending_is_what_no_restore_run_has_handled(tree):
    src, dest = tree
    wm = Watermark(dest, src)
    listing = list_objects(src, exclude=(dest,))
    assert wm.pending(listing) == listing
    wm.record_restored({"a.png": listing["a.png"]}, listing)
    assert sorted(wm.pending(listing)) == ["b.jpg", "sub/c.png"]
    os.remove(os.path.join(src.root, "a.png"))  # gone objects drop out of the state
    wm.record_restored({"b.jpg": listing["b.jpg"]}, list_objects(src, exclude=(dest,)))
    assert sorted(Watermark(dest, src).restored()) == ["b.jpg"]


def test_state_is_written_atomically_in_the_destination(tree, monkeypatch):
    src, dest = tree
    wm = Watermark(dest, src)
    uri = wm.record_seen({"a.png": "1:x"})
    assert uri.startswith("file://") and uri.endswith("seen.json") and dest.root in uri
    state = json.loads(dest.read(f"{wm.folder}/seen.json"))
    assert state["prefix"] == src.uri() and state["objects"] == {"a.png": "1:x"}

    def crash(*a, **k):
        raise OSError("disk gone mid-write")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(Exception, match="disk gone"):  # OSError, or the storage layer's error wrapping it
        wm.record_seen({"a.png": "1:x", "b.jpg": "2:y"})
    monkeypatch.undo()
    assert Watermark(dest, src).seen() == {"a.png": "1:x"}  # the old state, whole
    assert not [n for n in os.listdir(os.path.join(dest.root, wm.folder)) if n.startswith(".tmp")]


def test_two_prefixes_keep_separate_state_in_one_destination(tmp_path):
    dest = Location(str(tmp_path / "dest"))
    a, b = Location(str(tmp_path / "a")), Location(str(tmp_path / "b"))
    Watermark(dest, a).record_seen({"x.png": "1:1"})
    assert Watermark(dest, b).seen() == {} and Watermark(dest, a).seen() == {"x.png": "1:1"}


def test_discovery_restricted_to_keys_pairs_masks_as_a_full_listing(tree):
    src, dest = tree
    full = {i.image_id: i for i in discover(src, exclude=(dest,))}
    some = {i.image_id: i for i in discover(src, exclude=(dest,), keys=["a.png", "sub/c.png", "missing.png"])}
    assert sorted(some) == ["a.png", "sub/c.png"]
    assert some["a.png"] == full["a.png"] and some["a.png"].mask_source == "sibling"
    assert some["sub/c.png"].mask_source == "masks_tree"


def test_event_shape_is_what_the_trigger_matches(tree):
    from deployments.deploy import DeployConfig, bucket_trigger
    from flows.watch import EVENT, landed_event

    src, dest = tree
    ev = landed_event(src.uri(), [f"k{i:03d}.png" for i in range(150)], dest.uri())
    assert ev["event"] == EVENT and ev["payload"]["count"] == 150 and len(ev["payload"]["keys"]) == 100
    trigger = bucket_trigger(DeployConfig(watch_prefix=src.url, dest=dest.url, debounce_s=30))
    assert trigger.match.root["prefect.resource.id"] == ev["resource"]["prefect.resource.id"]
    assert EVENT in trigger.expect and EVENT in trigger.after


@pytest.mark.slow
def test_watch_flow_emits_one_event_per_poll_for_new_objects(prefect_server, tree):
    from flows.watch import watch

    src, dest = tree
    first = watch(src.url, dest.url, settle_seconds=0)
    assert first["new"] == 3
    again = watch(src.url, dest.url, settle_seconds=0)
    assert again["new"] == 0
    _put(src.root, "later.png")
    assert watch(src.url, dest.url, settle_seconds=0)["keys"] == ["later.png"]

    got = _landed_events(src.uri(), 2)
    assert sorted(e.payload["count"] for e in got) == [1, 3]


def _landed_events(prefix_uri: str, n: int, timeout: float = 30.0) -> list:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    from flows.watch import EVENT

    async def read():
        flt = EventFilter(event=EventNameFilter(name=[EVENT]),
                          resource=EventResourceFilter(id=[f"inpaint.prefix.{prefix_uri}"]))
        async with get_client() as client:
            return (await client.read_events(filter=flt, limit=50)).events  # the server allows 50 per page

    deadline, got = time.time() + timeout, []
    while time.time() < deadline:  # events are persisted asynchronously by the server
        got = asyncio.run(read())
        if len(got) >= n:
            break
        time.sleep(0.5)
    return got


@pytest.mark.slow
def test_s3_notifications_become_the_same_events(prefect_server, monkeypatch):
    from prefect.settings import PREFECT_API_URL

    from deployments import s3_notification_lambda as lam

    prefix = "s3://notified-bucket/incoming"
    now = datetime.now(timezone.utc).isoformat()
    rec = lambda key, name="ObjectCreated:Put": {"eventName": name, "eventTime": now,  # noqa: E731
                                                 "s3": {"bucket": {"name": "notified-bucket"},
                                                        "object": {"key": key, "size": 10}}}
    s3_event = {"Records": [rec("incoming/a+b.png"), rec("incoming/sub/c.png"), rec("other/x.png"),
                            rec("incoming/d.png", "ObjectRemoved:Delete")]}
    sqs_event = {"Records": [{"body": json.dumps({"Records": [rec("incoming/e.png")]})}]}
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    monkeypatch.setenv("INPAINT_WATCH_PREFIX", prefix)
    assert lam.handler(s3_event, None) == {"emitted": 2} and lam.handler(sqs_event, None) == {"emitted": 1}
    got = _landed_events(prefix, 3)
    assert sorted(k for e in got for k in e.payload["keys"]) == ["a b.png", "e.png", "sub/c.png"]
