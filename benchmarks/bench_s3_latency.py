"""A shard restoring from and to a bucket with round-trip latency: I/O in turn vs overlapped.

Each image of a shard needs its source and its mask read and its output written; on an object
store each request waits a round trip. A shard reads up to ``READS_IN_FLIGHT`` (8) images ahead of
the one it decodes and keeps up to ``WRITES_IN_FLIGHT`` (8) outputs uploading while it finishes
the next; with both at 1 it reads and writes each when it gets to it, as it did before.

    python benchmarks/bench_s3_latency.py [--images 64] [--size 512] [--latency-ms 20] [--repeats 2]

Uploads a collection to moto's S3 server on loopback, puts a proxy in front that delays every
request by ``--latency-ms``, and times ``restore_shard`` (telea, one shard of all images, a new
destination each time so every image is restored) both ways, alternating; prints the medians and
their ratio, and the same on loopback without the delay.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._collection import make_collection  # noqa: E402
from benchmarks._moto import moto_s3  # noqa: E402
from inpaint_core import pipeline  # noqa: E402
from inpaint_core.discover import discover  # noqa: E402
from inpaint_core.pipeline import RestoreConfig, restore_shard  # noqa: E402
from inpaint_core.storage import Location  # noqa: E402
from tests.faults.s3proxy import FaultProxy  # noqa: E402


def shard_seconds(url: str, dest: str, in_flight: int) -> float:
    pipeline.READS_IN_FLIGHT = pipeline.WRITES_IN_FLIGHT = in_flight
    opts = {"endpoint_url": url}
    source, target = Location("s3://bench/src", opts), Location(dest, opts)
    items = list(discover(source, exclude=(target,)))
    t = time.perf_counter()
    summary = restore_shard(items, RestoreConfig(), source, target, "bench", 0, "bench")
    assert summary["ok"] == len(items), summary
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, moto_s3() as (url, fs):
        src = make_collection(os.path.join(tmp, "src"), args.images, args.size)
        fs.mkdir("bench")
        fs.put(src + "/", "bench/src/", recursive=True)
        shard_seconds(url, "s3://bench/warm", 8)  # imports, first connections
        print(f"{args.images} images of {args.size} px (telea), one shard")
        for label, delay in (("loopback", 0.0), (f"{args.latency_ms:.0f} ms per request", args.latency_ms / 1000)):
            with FaultProxy(url) as proxy:
                if delay:
                    proxy.add("delay", times=-1, seconds=delay)
                times: dict[int, list[float]] = {1: [], 8: []}
                for r in range(args.repeats):
                    for n in times:
                        times[n].append(shard_seconds(proxy.url, f"s3://bench/out-{label[:4]}-{n}-{r}", n))
            one, ahead = statistics.median(times[1]), statistics.median(times[8])
            print(f"  {label}: I/O in turn {one:.2f} s, 8 reads ahead and 8 writes behind {ahead:.2f} s "
                  f"({one / ahead:.2f}x); "
                  f"{args.images / ahead:.1f} images/s")


if __name__ == "__main__":
    main()
