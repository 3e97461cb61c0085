"""Crash and resume: ``inpaint restore`` killed (SIGKILL of its whole process group: the flow and
its Dask workers, as a machine losing power) at several points, then started again with the same
arguments until it finishes.

Kill points: during the listing (the proxy in front of moto makes each list request take 1 s, the
kill lands a random fraction of a second into it), mid-shard (a random time after the run's first
manifest part), and, deterministically, while a manifest part is being written (``INPAINT_FAULT_AT``:
the temporary file is complete, the rename has not happened).

"Processed once" means, reading every manifest part of every run the way users do: each image has
exactly one ``ok`` row, and that row's output object exists with the recorded sha256. A re-run
writes no row for an image that is already up to date.
"""

from __future__ import annotations

import glob
import hashlib
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from ..collections import good_collection
from .harness import PartialReader, check_dest, moto, record, s3fs_for, upload  # noqa: F401 - fixture
from .s3proxy import FaultProxy

pytestmark = pytest.mark.slow


def _parts(dest) -> list[str]:
    return sorted(glob.glob(f"{dest}/manifest/*/part-*.parquet"))


def _kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def test_killed_at_random_points_resumes_to_one_ok_row_per_image(prefect_server, moto, tmp_path):
    from prefect.settings import PREFECT_API_URL

    rng = random.Random(int(os.environ.get("INPAINT_FAULT_SEED", "6")))
    ids = set(good_collection(str(tmp_path / "src"), n=24, size=64))
    fs = s3fs_for(moto.url)
    fs.mkdir("crash")
    upload(str(tmp_path / "src"), fs, "crash/in")
    dest = tmp_path / "dest"
    kills: list[str] = []
    with FaultProxy(moto.url) as proxy:
        cmd = [sys.executable, "-m", "flows.cli", "restore", "s3://crash/in", str(dest), "--shard-size", "2",
               "--workers", "1", "--no-progress", "--s3-endpoint-url", proxy.url]
        env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   DO_NOT_TRACK="1")
        env.pop("INPAINT_FAULT_AT", None)

        def start(**extra) -> subprocess.Popen:
            return subprocess.Popen(cmd, env={**env, **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    start_new_session=True)

        def invariants() -> None:  # what a reader finds after each crash
            d = check_dest(str(dest))
            assert not d.bad_outputs and d.duplicates() == 0, (kills, d.bad_outputs)

        # 1. during the listing: every list request of the source takes 1 s
        listing = proxy.add("delay", method="GET", path=r"list-type=2", seconds=1.0, times=-1)
        proc = start()
        deadline = time.time() + 120
        while not listing.hits and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.1, 0.9))
        _kill_group(proc)
        proxy.clear()
        assert listing.hits and not _parts(dest), "the first kill was meant to land during the listing"
        kills.append("listing")
        invariants()

        # 2. mid-shard, a random time after the run's first manifest part
        proc = start()
        deadline = time.time() + 120
        while not _parts(dest) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.0))
        _kill_group(proc)
        n_after_2 = len(_parts(dest))
        assert 0 < n_after_2 < len(ids) // 2, "the second kill was meant to land mid-run"
        kills.append("mid-shard")
        invariants()

        # 3. while a manifest part is written: temporary file complete, not yet renamed
        proc = start(INPAINT_FAULT_AT="publish:manifest/")
        assert proc.wait(120) == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
        leftovers = glob.glob(f"{dest}/manifest/*/.part-*.tmp")
        assert leftovers and len(_parts(dest)) == n_after_2
        kills.append("manifest-part")
        invariants()

        # 4. the same command again, undisturbed: it finishes the rest
        reader = PartialReader(str(dest))
        reader.start()
        proc = start()
        _, err = proc.communicate(timeout=300)
        reader.stop()
        assert proc.returncode == 0, err.decode()[-3000:]

    d = check_dest(str(dest))
    assert set(d.ok_rows_per_image) == ids and d.duplicates() == 0  # each image exactly one ok row
    assert set(d.latest_ok) == ids and not d.bad_outputs
    assert not reader.partial
    import pandas as pd

    df = pd.read_parquet(dest / "manifest")  # readers skip the dead run's hidden temporary file
    assert len(df[df.status == "ok"]) == len(ids)
    record("crash and resume", "tests/faults/test_crash_resume.py::"
           "test_killed_at_random_points_resumes_to_one_ok_row_per_image", len(kills), 1, d.lost(ids),
           kills=kills, runs_started=len(kills) + 1, manifest_runs=d.runs)


def test_resume_redoes_an_output_that_is_missing_or_changed(tmp_path):
    """An ``ok`` row is trusted on a re-run only while its output exists with the recorded sha256."""
    from inpaint_core.discover import discover
    from inpaint_core.pipeline import RestoreConfig, restore_shard
    from inpaint_core.storage import Location

    ids = sorted(good_collection(str(tmp_path / "src"), n=4, size=64))
    src, dst = Location(str(tmp_path / "src")), Location(str(tmp_path / "dest"))
    items = list(discover(src, exclude=(dst,)))
    config = RestoreConfig()
    first = restore_shard(items, config, src, dst, "run-a", 0, "test")
    assert first["ok"] == 4
    os.remove(tmp_path / "dest" / "images" / ids[0])  # deleted by hand
    with open(tmp_path / "dest" / "images" / ids[1], "ab") as fh:  # changed by someone else
        fh.write(b"x")
    again = restore_shard(items, config, src, dst, "run-b", 0, "test")
    assert again["ok"] == 2 and again["up_to_date"] == 2
    d = check_dest(str(tmp_path / "dest"))
    assert set(d.latest_ok) == set(ids) and not d.bad_outputs
    for image_id in ids[:2]:
        data = open(tmp_path / "dest" / "images" / image_id, "rb").read()
        assert hashlib.sha256(data).hexdigest() == d.latest_ok[image_id][1]
