"""Worker loss: the Dask worker process running a shard is killed (SIGKILL) in the middle of it.

To hit the middle of a shard every time, the proxy in front of moto holds the read of one source
image; the test finds the worker process that sent it (by its TCP port) and kills it. The
scheduler gives the shard to the other worker, the nanny starts a new process, the run completes.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

from ..collections import good_collection
from .harness import PartialReader, check_dest, moto, record, s3fs_for, upload  # noqa: F401 - fixture
from .s3proxy import FaultProxy

pytestmark = pytest.mark.slow


def _pid_with_port(pids, port: int) -> int | None:
    for pid in pids:
        try:
            if any(c.laddr and c.laddr.port == port for c in psutil.Process(pid).net_connections(kind="tcp")):
                return pid
        except psutil.Error:
            continue
    return None


def test_worker_killed_mid_shard(prefect_server, moto, tmp_path):
    from distributed import Client, LocalCluster

    from flows.restore import run_restore

    ids = set(good_collection(str(tmp_path / "src"), n=8, size=64))
    fs = s3fs_for(moto.url)
    fs.mkdir("workerloss")
    upload(str(tmp_path / "src"), fs, "workerloss/in")
    killed: dict = {}
    with FaultProxy(moto.url) as proxy, \
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                         preload=["flows.worker_setup"]) as cluster, Client(cluster) as client:
        pids = client.run(os.getpid)
        victim_rule = proxy.add("block", method="GET", path=r"/workerloss/in/set1/img003\.png", times=1)

        def kill_the_reader():
            if not proxy.blocked.wait(120):
                return
            port = victim_rule.senders[0][1]
            pid = _pid_with_port(pids.values(), port)
            if pid is not None:
                killed["address"] = next(a for a, p in pids.items() if p == pid)
                os.kill(pid, signal.SIGKILL)
                killed["pid"] = pid
            proxy.release()  # the held request's socket is gone with its process

        t = threading.Thread(target=kill_the_reader, daemon=True)
        t.start()
        reader = PartialReader("s3://workerloss/out", {"endpoint_url": moto.url}, every_s=0.2)
        reader.start()
        s = run_restore("s3://workerloss/in", "s3://workerloss/out", dask_address=cluster.scheduler_address,
                        shard_size=2, storage_options={"endpoint_url": proxy.url}, contact_sheet=False)
        reader.stop()
        t.join(30)
        deadline = time.time() + 30  # the nanny brings the worker back
        while time.time() < deadline and len(client.scheduler_info(n_workers=-1)["workers"]) < 2:
            time.sleep(0.2)
        workers_after = len(client.scheduler_info(n_workers=-1)["workers"])
    assert "pid" in killed, "no worker was found holding the blocked read"
    assert not psutil.pid_exists(killed["pid"]) or psutil.Process(killed["pid"]).status() == psutil.STATUS_ZOMBIE
    assert workers_after == 2
    assert s["ok"] == len(ids) and s["failed"] == 0, s["failures"]
    d = check_dest("s3://workerloss/out", {"endpoint_url": moto.url})
    assert set(d.latest_ok) == ids and d.duplicates() == 0 and not d.bad_outputs
    assert not reader.partial and reader.checked >= len(ids)
    from inpaint_core.manifest import read_manifest
    from inpaint_core.storage import Location

    rows = read_manifest(Location("s3://workerloss/out", {"endpoint_url": moto.url})).to_pylist()
    held = [r for r in rows if r["image_id"] == "set1/img003.png"]
    assert len(held) == 1 and held[0]["worker"] != killed["address"]  # redone by another worker
    record("worker loss", "tests/faults/test_worker_loss.py::test_worker_killed_mid_shard", 1, 1, d.lost(ids),
           killed_worker=killed["address"])
