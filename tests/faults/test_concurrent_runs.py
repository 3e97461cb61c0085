"""Concurrent runs on one destination: a nightly run over the whole source, a triggered run over
the same source started while it works, and a run of another source, all writing the same
destination at once on one Dask cluster.

Each run writes only its own manifest partition (``run=<id>``), so parts never collide; outputs
are keyed by image and written atomically, and the same image with the same settings gives the
same bytes, so whichever run writes last leaves a valid object that matches every ``ok`` row of
it. Reading all runs' rows, each image's latest row is ``ok`` and matches its output.
"""

from __future__ import annotations

import shutil
import threading
import time

import pytest

from ..collections import good_collection
from .harness import PartialReader, check_dest, record

pytestmark = pytest.mark.slow


def test_overlapping_runs_on_one_destination(prefect_server, tmp_path):
    from distributed import LocalCluster

    from flows.restore import run_restore
    from inpaint_core.manifest import read_manifest
    from inpaint_core.storage import Location

    nightly = set(good_collection(str(tmp_path / "photos"), n=16, size=64))
    other = {f"set{k[3]}/other_{k.split('/')[1]}" for k in nightly}  # same pixels, other keys, other source
    for k in nightly:
        for suffix in (".png", "_mask.png"):
            a = tmp_path / "photos" / k.replace(".png", suffix)
            b = tmp_path / "scans" / k.replace("img", "other_img").replace(".png", suffix)
            b.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(a, b)
    dest = str(tmp_path / "restored")
    results: dict = {}

    def run(name: str, source: str, address: str) -> None:
        try:  # the triggered run cuts shards differently: its shards straddle the nightly run's
            results[name] = run_restore(source, dest, dask_address=address, shard_size=3 if name == "triggered" else 2,
                                        contact_sheet=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[name] = exc

    # Make the overlap certain: a run that has recorded a shard waits until every run has recorded
    # one, so all three are in flight at the same time (each has more shards submitted). No lock in
    # the hook: flows.restore's globals travel with its tasks when Dask pickles them by value.
    from flows import restore as restore_flow

    started: set = set()

    def rendezvous(summary: dict) -> None:
        started.add(threading.get_ident())  # each run's flow calls its hooks in its own thread
        deadline = time.time() + 60
        while len(started) < 3 and time.time() < deadline:
            time.sleep(0.02)

    restore_flow.PROGRESS_HOOKS.append(rendezvous)
    reader = PartialReader(dest)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                      preload=["flows.worker_setup"]) as cluster:
        reader.start()
        threads = [threading.Thread(target=run, args=("nightly", str(tmp_path / "photos"), cluster.scheduler_address)),
                   threading.Thread(target=run, args=("triggered", str(tmp_path / "photos"), cluster.scheduler_address)),
                   threading.Thread(target=run, args=("scans", str(tmp_path / "scans"), cluster.scheduler_address))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        reader.stop()
        restore_flow.PROGRESS_HOOKS.remove(rendezvous)
    assert len(started) == 3, "the three runs never were in flight together"

    for name, s in results.items():
        assert isinstance(s, dict), f"{name}: {s!r}"
        assert s["failed"] == 0 and s["ok"] + s["up_to_date"] == s["images"], (name, s)
    assert len({s["run_id"] for s in results.values()}) == 3
    rows = read_manifest(Location(dest)).to_pylist()
    for name, s in results.items():  # each run's partition holds exactly the rows it reported
        mine = [r for r in rows if r["run_id"] == s["run_id"]]
        assert len(mine) == s["ok"] and len({r["image_id"] for r in mine}) == len(mine), name
    expected = nightly | other
    d = check_dest(dest)
    assert set(d.latest_ok) == expected and not d.bad_outputs
    assert not reader.partial and reader.checked >= len(expected)
    overlap = sum(n - 1 for n in d.ok_rows_per_image.values())
    record("concurrent runs", "tests/faults/test_concurrent_runs.py::test_overlapping_runs_on_one_destination",
           2, 3, d.lost(expected), images_done_by_both_overlapping_runs=overlap)  # 2 runs started over a third
