"""Storage errors against moto's S3 server, injected for real on the network.

Transient faults (a server restart refusing connections, throttling, 5xx, dropped connections, a
response slower than the read timeout) are retried with backoff and the run completes; permanent
ones (a missing bucket, access denied) fail fast with a message naming the URL, never the
credentials, and leave nothing that claims work was done.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from ..collections import good_collection
from .harness import PartialReader, check_dest, moto, record, s3fs_for, upload  # noqa: F401 - fixture
from .s3proxy import FaultProxy

pytestmark = pytest.mark.slow

SECRET = "TOPSECRETfault7Key"


def _source(tmp_path, moto, bucket: str, n: int) -> set[str]:
    masks = good_collection(str(tmp_path / "src"), n=n, size=64)
    fs = s3fs_for(moto.url)
    fs.mkdir(bucket)
    upload(str(tmp_path / "src"), fs, f"{bucket}/in")
    return set(masks)


def test_retries_back_off_then_give_up_with_a_clear_message(moto, monkeypatch, caplog):
    """The outer retry policy alone (botocore and s3fs set to one try): waits grow, then a typed error."""
    from inpaint_core.errors import StorageUnavailableError
    from inpaint_core.storage import Location

    s3fs_for(moto.url).mkdir("retry-unit")
    with FaultProxy(moto.url) as proxy:
        opts = {"endpoint_url": proxy.url, "key": "AKIAFAULT", "secret": SECRET,
                "config_kwargs": {"retries": {"total_max_attempts": 1}}}
        loc = Location("s3://retry-unit/x", opts)
        loc.fs.retries = 1
        loc.write_atomic("a.bin", b"payload")
        proxy.add("status", method="GET", status=503, times=2)
        proxy.add("status", method="GET", status=500, times=1)
        with caplog.at_level(logging.WARNING, logger="inpaint_core.storage"):
            assert loc.read("a.bin") == b"payload"
        waits = [float(r.getMessage().rsplit(" in ", 1)[1].split()[0]) for r in caplog.records
                 if r.name == "inpaint_core.storage"]
        assert len(waits) == 3 and waits[2] > waits[0]  # exponential: 0.125-0.25, then 0.5-1.0

        monkeypatch.setenv("INPAINT_STORAGE_ATTEMPTS", "3")
        monkeypatch.setenv("INPAINT_STORAGE_BACKOFF_S", "0.05")
        proxy.add("status", method="GET", status=503, times=-1)
        t = time.perf_counter()
        with pytest.raises(StorageUnavailableError) as err:
            loc.read("a.bin")
        msg = str(err.value)
        assert "s3://retry-unit/x/a.bin" in msg and "after 3 attempt" in msg and SECRET not in msg
        assert time.perf_counter() - t < 10
        injected = sum(proxy.injected.values())
    record("storage: transient (library)", "tests/faults/test_storage_faults.py::"
           "test_retries_back_off_then_give_up_with_a_clear_message", injected, 0, 0)


def test_throttling_5xx_drops_and_slow_responses_are_retried(prefect_server, moto, tmp_path, monkeypatch):
    """SlowDown on writes, 500s and dropped connections on reads, two reads slower than the 1 s
    read timeout, and the server restarting mid-run: the run completes, every image once ``ok``."""
    from flows.restore import run_restore

    ids = _source(tmp_path, moto, "faulty", n=10)
    monkeypatch.setenv("INPAINT_STORAGE_BACKOFF_S", "0.1")
    with FaultProxy(moto.url) as proxy:
        proxy.add("status", method="PUT", path=r"/faulty/out/images/", status=503, times=4)
        proxy.add("status", method="PUT", path=r"/faulty/out/manifest/", status=500, times=2)
        proxy.add("status", method="GET", path=r"/faulty/in/set0/", status=500, times=3)
        proxy.add("drop", method="GET", path=r"/faulty/in/set1/", times=2)
        proxy.add("delay", method="GET", path=r"/faulty/in/.*_mask", seconds=2.5, times=2)
        opts = {"endpoint_url": proxy.url, "config_kwargs": {"read_timeout": 1, "connect_timeout": 1}}
        reader = PartialReader("s3://faulty/out", {"endpoint_url": moto.url}, every_s=0.2)
        reader.start()
        restarts = {"n": 0}

        def restart_when_a_part_lands():  # the server goes away for 1.5 s in the middle of the run
            fs = s3fs_for(moto.url)
            deadline = time.time() + 120
            while time.time() < deadline:
                fs.invalidate_cache()
                if fs.exists("faulty/out/manifest") and fs.find("faulty/out/manifest"):
                    moto.stop()
                    proxy.outage(1.5)
                    moto.start()
                    restarts["n"] += 1
                    return
                time.sleep(0.1)

        t = threading.Thread(target=restart_when_a_part_lands, daemon=True)
        t.start()
        s = run_restore("s3://faulty/in", "s3://faulty/out", n_workers=2, shard_size=2, storage_options=opts,
                        contact_sheet=False)
        t.join(60)
        injected = dict(proxy.injected)
    reader.stop()
    assert restarts["n"] == 1, "the run ended before a restart could be injected"
    assert injected["503"] == 4 and injected["500"] == 5 and injected["drop"] == 2 and injected["delay"] == 2
    assert s["ok"] == len(ids) and s["failed"] == 0, s["failures"]
    d = check_dest("s3://faulty/out", {"endpoint_url": moto.url})
    assert set(d.latest_ok) == ids and d.duplicates() == 0 and not d.bad_outputs
    assert not reader.partial and reader.checked > 0
    record("storage: transient", "tests/faults/test_storage_faults.py::"
           "test_throttling_5xx_drops_and_slow_responses_are_retried", sum(injected.values()), 1, d.lost(ids),
           injected=injected)


@pytest.mark.parametrize("fault", ["missing source bucket", "missing bucket", "access denied"])
def test_permanent_errors_fail_fast_and_write_nothing(prefect_server, moto, tmp_path, fault):
    """A destination bucket that does not exist, or that refuses writes: the run fails within
    seconds with a message naming the URL (not the secret), no manifest row and no run summary."""
    from flows.restore import run_restore
    from inpaint_core.errors import StorageAccessError, StorageNotFoundError

    bucket = "perm-" + fault.split()[-2]
    _source(tmp_path, moto, bucket, n=4)
    source = "s3://no-such-source-here/in" if fault == "missing source bucket" else f"s3://{bucket}/in"
    dest = f"s3://{bucket}/out" if fault != "missing bucket" else "s3://no-such-bucket-here/out"
    with FaultProxy(moto.url) as proxy:
        if fault == "access denied":
            proxy.add("status", method="PUT", path=f"/{bucket}/out/", status=403, times=-1)
        opts = {"endpoint_url": proxy.url, "key": "AKIAFAULT", "secret": SECRET}
        t = time.perf_counter()
        with pytest.raises((StorageNotFoundError, StorageAccessError)) as err:
            run_restore(source, dest, n_workers=1, shard_size=2, storage_options=opts)
        seconds = time.perf_counter() - t
        injected = sum(proxy.injected.values())
    msg = str(err.value)
    assert (source if fault == "missing source bucket" else dest) in msg and SECRET not in msg
    assert ("access denied" if fault == "access denied" else "not found") in msg
    fs = s3fs_for(moto.url)
    fs.invalidate_cache()
    if fault != "missing bucket":
        assert not fs.exists(f"{bucket}/out")  # nothing written: no image, no manifest part, no summary
        assert injected <= 2 * 2  # one PUT per shard attempt (task retried once), no retry loop
    assert seconds < 60
    record(f"storage: permanent ({fault})", "tests/faults/test_storage_faults.py::"
           f"test_permanent_errors_fail_fast_and_write_nothing[{fault}]", max(1, injected), 0, 0,
           seconds_to_fail=round(seconds, 1))


def test_a_write_refused_while_later_images_go_on_fails_the_shard_without_a_part(moto, tmp_path):  # noqa: F811
    """Outputs upload while the shard finishes the next images: a refused upload still fails the
    shard (retried whole by the flow) and no manifest part claims any of its images."""
    from inpaint_core.discover import discover
    from inpaint_core.errors import StorageAccessError
    from inpaint_core.pipeline import RestoreConfig, restore_shard
    from inpaint_core.storage import Location

    _source(tmp_path, moto, "behind", 12)
    with FaultProxy(moto.url) as proxy:
        proxy.add("status", method="PUT", path=r"/behind/out/images/set0/img002\.png", status=403, times=-1)
        opts = {"endpoint_url": proxy.url}
        src, dst = Location("s3://behind/in", opts), Location("s3://behind/out", opts)
        with pytest.raises(StorageAccessError, match="img002.png"):
            restore_shard(list(discover(src, exclude=(dst,))), RestoreConfig(), src, dst, "r1", 0, "test")
    fs = s3fs_for(moto.url)
    assert not fs.exists("behind/out/manifest")
    assert len(fs.find("behind/out/images")) >= 3  # images after the refused one were written meanwhile
