"""The hostile-input corpus (tests/faults/hostile_corpus.py) through the library and the real flow.

Every file must be restored or fail its own row with a specific reason; no worker may die, no
image may take long, nothing may be written outside the destination and no input may change.
"""

from __future__ import annotations

import hashlib
import os
import re
import time

import pandas as pd
import pytest

from inpaint_core.discover import discover
from inpaint_core.pipeline import RestoreConfig, restore_shard
from inpaint_core.storage import Location

from .hostile_corpus import Case, build_corpus, hostile_s3_keys, mask_png, png, _HOLE, _PHOTO

PER_IMAGE_MS = 10_000  # generous on a loaded 2-core machine; a healthy image takes 2-20 ms here


def _snapshot(root, skip: str) -> dict[str, str]:
    """sha256 of every file under ``root`` except those under ``skip``."""
    out = {}
    for dirpath, _, files in os.walk(root):
        if dirpath == skip or dirpath.startswith(skip + os.sep):
            continue
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as fh:
                out[path] = hashlib.sha256(fh.read()).hexdigest()
    return out


def _check_rows(df: pd.DataFrame, expected: dict[str, tuple[str, str]]) -> None:
    rows = {r["image_id"]: r for r in df.to_dict("records")}
    assert df["image_id"].is_unique
    wrong = []
    for key, (status, reason) in expected.items():
        row = rows.get(key)
        got = ("absent", "") if row is None else (row["status"], row["error"] or "")
        if got[0] != status or (reason and not re.search(reason, got[1])):
            wrong.append(f"{key!r}: expected {status} /{reason}/, got {got}")
    assert not wrong, "\n".join(wrong)
    assert set(rows) <= set(expected), f"rows nobody expected: {set(rows) - set(expected)}"
    slow = df[df["ms_total"] > PER_IMAGE_MS]
    assert slow.empty, slow[["image_id", "ms_total"]]
    for row in rows.values():
        if row["status"] == "ok":
            with open(row["output_uri"].removeprefix("file://"), "rb") as fh:
                assert hashlib.sha256(fh.read()).hexdigest() == row["output_sha256"]


def _expected(cases: list[Case]) -> dict[str, tuple[str, str]]:
    return {c.key: (c.status, c.reason) for c in cases}


def test_corpus_through_the_library(tmp_path):
    src, dest = tmp_path / "in" / "src", tmp_path / "out" / "dest"
    cases = build_corpus(str(src))
    before = _snapshot(tmp_path, str(dest))
    source, target = Location(str(src)), Location(str(dest))
    items = list(discover(source, exclude=(target,)))
    for shard, start in enumerate(range(0, len(items), 16)):
        t = time.perf_counter()
        restore_shard(items[start:start + 16], RestoreConfig(), source, target, "lib", shard, "here")
        assert time.perf_counter() - t < 60, f"shard {shard} took too long"
    assert _snapshot(tmp_path, str(dest)) == before  # inputs unchanged, nothing new outside dest
    _check_rows(pd.read_parquet(dest / "manifest"), _expected(cases))


@pytest.mark.slow
def test_corpus_through_the_flow(prefect_server, tmp_path):
    from distributed import Client, LocalCluster

    from flows.restore import run_restore

    src, dest = tmp_path / "in" / "src", tmp_path / "out" / "dest"
    cases = build_corpus(str(src))
    before = _snapshot(tmp_path, str(dest))
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        pids = client.run(os.getpid)
        t = time.perf_counter()
        s = run_restore(str(src), str(dest), dask_address=cluster.scheduler_address, shard_size=10,
                        contact_sheet=False)
        elapsed = time.perf_counter() - t
        assert client.run(os.getpid) == pids, "a worker died or was restarted"
    assert elapsed < 180
    assert _snapshot(tmp_path, str(dest)) == before
    expected = _expected(cases)
    listed = {k: v for k, v in expected.items() if v[0] != "absent"}
    assert s["images"] == len(listed)
    for status in ("ok", "skipped", "failed"):
        assert s[status] == sum(v[0] == status for v in listed.values()), status
    _check_rows(pd.read_parquet(dest / "manifest"), expected)


@pytest.mark.slow
def test_object_store_keys_that_escape_fail_their_rows(prefect_server, s3_server, tmp_path, monkeypatch):
    """Keys with '..', '.', '//' and a leading '/' (only an object store holds them), read from S3 and
    written to a local folder: each fails its own row, nothing lands outside the destination."""
    import boto3

    from flows.restore import run_restore

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)  # the flow's workers inherit it
    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.create_bucket(Bucket="hostile-keys")
    keys = hostile_s3_keys()
    for key in keys:
        s3.put_object(Bucket="hostile-keys", Key=f"src/{key}", Body=png(_PHOTO))
        if not key.startswith("/"):
            s3.put_object(Bucket="hostile-keys", Key=f"src/{key[:-4]}_mask.png", Body=mask_png(_HOLE))
    before = _snapshot(tmp_path, str(tmp_path / "out"))

    source, target = Location("s3://hostile-keys/src"), Location(str(tmp_path / "out" / "lib"))
    restore_shard(list(discover(source)), RestoreConfig(), source, target, "lib", 0, "here")
    _check_rows(pd.read_parquet(tmp_path / "out" / "lib" / "manifest"), keys)

    s = run_restore("s3://hostile-keys/src", str(tmp_path / "out" / "flow"), n_workers=1, contact_sheet=False)
    assert s["failed"] == sum(v[0] == "failed" for v in keys.values()) and s["ok"] == 1
    _check_rows(pd.read_parquet(tmp_path / "out" / "flow" / "manifest"), keys)
    assert _snapshot(tmp_path, str(tmp_path / "out")) == before
    written = {os.path.relpath(os.path.join(d, f), tmp_path / "out") for d, _, fs in os.walk(tmp_path / "out")
               for f in fs}
    assert {p for p in written if "/images/" in p} == {"lib/images/plain/ok.png", "flow/images/plain/ok.png"}
