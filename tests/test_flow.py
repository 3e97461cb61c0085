"""The restore flow with real components: a Prefect server, a Dask LocalCluster, moto's S3 server."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from .collections import bad_collection, good_collection

pytestmark = pytest.mark.slow


def _rows(dest, **storage_options):
    import pandas as pd

    df = pd.read_parquet(f"{dest}/manifest", storage_options=storage_options or None)
    return df


def test_restore_folder_end_to_end(prefect_server, tmp_path):
    from flows.restore import run_restore

    masks = good_collection(str(tmp_path / "src"), n=8)
    expected = bad_collection(str(tmp_path / "src" / "bad"))
    s = run_restore(str(tmp_path / "src"), str(tmp_path / "dest"), n_workers=2, shard_size=5)
    assert s["ok"] == len(masks) + sum(v == "ok" for v in expected.values())
    assert s["failed"] == sum(v == "failed" for v in expected.values())
    assert os.path.exists(tmp_path / "dest" / "manifest" / f"run={s['run_id']}")
    assert os.path.exists(s["contact_sheet"].replace("file://", ""))

    df = _rows(tmp_path / "dest")
    assert len(df) == len(masks) + len(expected) and df["image_id"].is_unique
    assert set(df["worker"].dropna()) and df.loc[df.status == "ok", "device"].eq("cpu").all()

    import duckdb

    n_ok = duckdb.sql(f"select count(*) from read_parquet('{tmp_path}/dest/manifest/*/*.parquet', "
                      "hive_partitioning=true) where status = 'ok'").fetchall()[0][0]
    assert n_ok == s["ok"]

    again = run_restore(str(tmp_path / "src"), str(tmp_path / "dest"), n_workers=2, shard_size=5)
    assert again["ok"] == 0 and again["up_to_date"] == s["ok"] + s["skipped"]
    assert again["failed"] == s["failed"]  # failures are retried (and fail again), never hidden


def test_restore_s3_end_to_end(prefect_server, s3_server, tmp_path):
    import s3fs

    from flows.restore import run_restore

    fs = s3fs.S3FileSystem(endpoint_url=s3_server)
    fs.mkdir("photos")
    masks = good_collection(str(tmp_path / "src"), n=5)
    fs.put(str(tmp_path / "src") + "/", "photos/incoming/", recursive=True)
    opts = {"endpoint_url": s3_server}
    s = run_restore("s3://photos/incoming", "s3://photos/restored", n_workers=2, shard_size=2, storage_options=opts)
    assert s["ok"] == len(masks) and s["failed"] == 0
    assert len(fs.find("photos/restored/images")) == len(masks)

    df = _rows("s3://photos/restored", client_kwargs={"endpoint_url": s3_server})
    assert set(df["image_id"]) == set(masks) and df["output_uri"].str.startswith("s3://photos/restored/images/").all()

    import duckdb

    con = duckdb.connect()
    con.register_filesystem(s3fs.S3FileSystem(endpoint_url=s3_server))
    got = con.sql("select count(*) from read_parquet('s3://photos/restored/manifest/*/*.parquet') "
                  "where status = 'ok'").fetchall()[0][0]
    assert got == len(masks)

    again = run_restore("s3://photos/incoming", "s3://photos/restored", n_workers=1, shard_size=2,
                        storage_options=opts)
    assert again["up_to_date"] == len(masks) and again["ok"] == 0


def test_inpainting_runs_only_on_the_gpu_worker(prefect_server, tmp_path):
    from distributed import Client, LocalCluster

    from flows.restore import run_restore

    masks = good_collection(str(tmp_path / "src"), n=6)
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        gpu = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
                                "--nthreads", "1", "--resources", "GPU=1", "--no-dashboard", "--name", "gpu-worker"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with Client(cluster) as client:
                client.wait_for_workers(2, timeout=60)
                gpu_addr = [a for a, w in client.scheduler_info(n_workers=-1)["workers"].items()
                            if w.get("resources", {}).get("GPU")][0]
            s = run_restore(str(tmp_path / "src"), str(tmp_path / "dest"), dask_address=cluster.scheduler_address,
                            shard_size=2)
            outputs = {p: p.read_bytes() for p in (tmp_path / "dest" / "images").rglob("*.png")}
            # Run again: prepared on one worker, finished on another, the up-to-date images stay untouched.
            again = run_restore(str(tmp_path / "src"), str(tmp_path / "dest"),
                                dask_address=cluster.scheduler_address, shard_size=2)
        finally:
            gpu.terminate()
            gpu.wait(30)
    assert s["ok"] == len(masks)
    df = _rows(tmp_path / "dest")
    assert (df["worker"] == gpu_addr).all(), df["worker"].tolist()
    assert again["up_to_date"] == len(masks) and again["ok"] == 0 and len(df) == len(masks)
    assert len(outputs) == len(masks) and all(p.read_bytes() == b for p, b in outputs.items())


def test_killed_run_restarts_without_duplicates(tmp_path):
    """Kill the CLI after its first shard is recorded, run it again: every image ends with one ok row."""
    masks = good_collection(str(tmp_path / "src"), n=24, size=128)
    cmd = [sys.executable, "-m", "flows.cli", "restore", str(tmp_path / "src"), str(tmp_path / "dest"),
           "--shard-size", "2", "--workers", "1", "--no-progress"]
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    parts = []
    while time.time() < deadline and not parts:
        time.sleep(0.2)
        parts = list((tmp_path / "dest").glob("manifest/*/*.parquet"))
    os.killpg(proc.pid, 9)
    proc.wait()
    assert parts, "the first run never wrote a manifest part"
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    df = _rows(tmp_path / "dest")
    ok = df[df.status == "ok"]
    assert sorted(ok["image_id"]) == sorted(masks)  # each image exactly once
    assert df["run_id"].nunique() == 2 and len(df[df.run_id == df.run_id.min()]) < len(masks)
    for uri, sha in zip(ok["output_uri"], ok["output_sha256"]):
        import hashlib

        assert hashlib.sha256(open(uri.replace("file://", ""), "rb").read()).hexdigest() == sha


def test_cli_help_is_fast():
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "flows.cli", "restore", "--help"], capture_output=True, text=True,
                         check=True)
    assert time.perf_counter() - t < 3.0
    assert "--shard-size" in out.stdout and "--dask-address" in out.stdout


def test_restore_with_a_learned_model_on_dask_workers(prefect_server, tmp_path):
    """--method NAME --checkpoint URL: the model runs on the workers, once loaded per worker; blended."""
    import torch

    from flows.restore import run_restore
    from inpaint_core.models import checkpoint_sha256, get_model_spec, save_checkpoint

    torch.manual_seed(0)
    spec = get_model_spec("glcic")
    config = {**spec.default_config, "width": 4}
    ck = str(tmp_path / "glcic.safetensors")
    save_checkpoint(spec.build(config), "glcic", config, ck, {"resolution": 64})
    masks = good_collection(str(tmp_path / "src"), n=6)
    s = run_restore(str(tmp_path / "src"), str(tmp_path / "dest"), n_workers=2, shard_size=3, method="glcic",
                    checkpoint=ck, blend="on")
    assert s["ok"] == len(masks) and s["failed"] == 0
    df = _rows(tmp_path / "dest")
    assert (df["method"] == "glcic").all() and df["blend"].all()
    assert df["method_params"].str.contains(checkpoint_sha256(ck)).all()


def test_sigterm_stops_the_command_and_the_servers_it_started(tmp_path):
    """A terminated `inpaint restore` (kill, a scheduler) leaves no temporary Prefect server or
    Dask worker running behind it."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    from .collections import good_collection

    # enough images that the run cannot finish between its first manifest part and the signal
    good_collection(str(tmp_path / "src"), n=160, size=256)
    env = {**os.environ, "PREFECT_API_URL": ""}
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "restore", str(tmp_path / "src"),
                             str(tmp_path / "dst"), "--no-progress", "--shard-size", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (tmp_path / "dst" / "manifest").exists():
        time.sleep(0.2)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "the command should have started a server and workers"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) != 0
    gone, alive = psutil.wait_procs(children, timeout=60)
    assert not alive, [p.cmdline()[:4] for p in alive]
