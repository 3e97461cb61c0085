"""Throughput of ``restore`` with telea against a plain multiprocessing.Pool, in the same run.

The Pool does the same per-image work with the same library calls (read, decode image and mask,
telea, PNG encode, write) on the same number of processes. ``restore`` does that plus hashing,
quality scores, manifests, Prefect task runs and Dask scheduling.

    python benchmarks/bench_restore_throughput.py --images 500 --size 512 --workers 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from multiprocessing import get_context

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from benchmarks._collection import list_pairs, make_collection  # noqa: E402


def _pool_one(args) -> int:
    src, mask_path, out = args
    from inpaint_core import create_inpainter
    from inpaint_core.imageio import decode_image, decode_mask, encode_image

    img = decode_image(open(src, "rb").read())
    mask = decode_mask(open(mask_path, "rb").read())
    (restored,) = create_inpainter("telea")([img.rgb], [mask])
    data = encode_image(restored, "png")
    with open(out, "wb") as fh:
        fh.write(data)
    return len(data)


def run_pool(pairs, out_dir: str, workers: int) -> float:
    os.makedirs(out_dir, exist_ok=True)
    jobs = [(s, m, os.path.join(out_dir, f"{i}.png")) for i, (s, m) in enumerate(pairs)]
    t = time.perf_counter()
    with get_context("spawn").Pool(workers) as pool:
        list(pool.imap_unordered(_pool_one, jobs, chunksize=8))
    return time.perf_counter() - t


def run_flow(src: str, dest: str, workers: int, shard_size: int, score: bool = True) -> tuple[float, float, dict]:
    from flows.restore import run_restore

    t = time.perf_counter()
    s = run_restore(src, dest, n_workers=workers, shard_size=shard_size, method="telea", contact_sheet=False,
                    score=score)
    return time.perf_counter() - t, s["seconds"], s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--shard-size", type=int, default=64)
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "inpaint-bench"))
    args = ap.parse_args()

    src = make_collection(os.path.join(args.data, f"src-{args.images}-{args.size}"), args.images, args.size)
    pairs = list_pairs(src)
    work = tempfile.mkdtemp(prefix="inpaint-bench-out-")
    try:
        # Warm both paths once (imports, page cache) on a few images, then measure.
        run_pool(pairs[:8], os.path.join(work, "warm"), args.workers)
        pool_s = run_pool(pairs, os.path.join(work, "pool"), args.workers)
        flow_total, flow_inner, s = run_flow(src, os.path.join(work, "flow"), args.workers, args.shard_size)
        ns_total, ns_inner, _ = run_flow(src, os.path.join(work, "flow-noscore"), args.workers, args.shard_size,
                                         score=False)
        pool_s2 = run_pool(pairs, os.path.join(work, "pool2"), args.workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pool_best = min(pool_s, pool_s2)
    n = len(pairs)
    assert s["ok"] == n, s
    print(f"images: {n} of {args.size}x{args.size}, holes 5-20%, workers: {args.workers}, shard size {args.shard_size}")
    print(f"multiprocessing.Pool     : {pool_s:7.2f} s / {pool_s2:.2f} s (before/after) -> {n / pool_best:6.1f} img/s (best)")
    print(f"restore flow, end to end : {flow_total:7.2f} s  -> {n / flow_total:6.1f} img/s "
          f"(includes Prefect server, Dask cluster start)")
    print(f"restore flow, shards only: {flow_inner:7.2f} s  -> {n / flow_inner:6.1f} img/s")
    print(f"restore --no-score       : {ns_total:7.2f} s end to end, {ns_inner:.2f} s shards only")
    print(f"ratio end to end   : {pool_best / flow_total:.2f}  (--no-score {pool_best / ns_total:.2f})")
    print(f"ratio shards only  : {pool_best / flow_inner:.2f}  (--no-score {pool_best / ns_inner:.2f})")
    stage = {k: v / n for k, v in s["stage_ms"].items()}
    print("per-image stage ms (restore): " + ", ".join(f"{k} {v:.1f}" for k, v in stage.items()))


if __name__ == "__main__":
    main()
