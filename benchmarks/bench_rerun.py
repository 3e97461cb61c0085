"""Cost of a re-run over an unchanged collection: trusting the listing (default) against ``verify``.

A nightly run over a bucket where little changed spends its time deciding what is up to date. By
default an image whose source and mask still have the size and change tag (S3 ETag, file mtime)
that the manifest recorded, and whose output answers one HEAD with its recorded tag, is not read.
``verify=True`` (``inpaint restore --verify``, and what every re-run did before manifest schema
1.2) reads and hashes the source, the mask and the output of every image.

    python benchmarks/bench_rerun.py [--images 64] [--size 1024] [--repeats 3] [--latency-ms 20]

Restores the collection once (telea) on a local folder, on moto's S3 server on loopback, and on
moto behind a proxy that delays every request by ``--latency-ms`` (a bucket in another building),
then times the up-to-date decision of a re-run (listing plus ``prepare_shard``, one shard per 64
images) each way, alternating, and prints the median seconds, bytes read, object reads and HEADs,
and the ratios. On S3 the default is measured twice: with the shard's output HEADs one after
another (``HEADS_IN_FLIGHT = 1``, how it first landed) and concurrent (the default, 16); and twice
more with the masks given by a mask list (``--mask-list``), whose versions no listing gives: one
HEAD per mask besides the output's, one after another or concurrent.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._collection import make_collection  # noqa: E402
from benchmarks._moto import moto_s3  # noqa: E402
from inpaint_core.discover import discover  # noqa: E402
from inpaint_core import pipeline  # noqa: E402
from inpaint_core.pipeline import RestoreConfig, prepare_shard, restore_shard  # noqa: E402
from inpaint_core.storage import Location  # noqa: E402
from tests.faults.s3proxy import FaultProxy  # noqa: E402

COUNTS: Counter = Counter()


def _count_io() -> None:
    read, version = Location.read, Location.version

    def counted_read(self, key):
        data = read(self, key)
        COUNTS["reads"] += 1
        COUNTS["bytes"] += len(data)
        return data

    def counted_version(self, key):
        COUNTS["heads"] += 1
        return version(self, key)

    Location.read, Location.version = counted_read, counted_version


def _shards(items, size=64):
    return [items[i:i + size] for i in range(0, len(items), size)]


def restore_all(source: Location, dest: Location) -> int:
    items = list(discover(source, exclude=(dest,)))
    ok = 0
    for i, shard in enumerate(_shards(items)):
        ok += restore_shard(shard, RestoreConfig(), source, dest, "first", i, "bench")["ok"]
    return ok


def rerun(source: Location, dest: Location, verify: bool, heads: int = 16, mask_list: dict | None = None) -> dict:
    COUNTS.clear()
    pipeline.HEADS_IN_FLIGHT = heads
    config = RestoreConfig(verify=verify)
    t = time.perf_counter()
    items = list(discover(source, exclude=(dest,), mask_list=mask_list))
    up = 0
    for i, shard in enumerate(_shards(items)):
        up += sum(w.up_to_date for w in prepare_shard(shard, config, source, dest, "rerun", i))
    return {"s": time.perf_counter() - t, "up_to_date": up, **COUNTS}


def measure(name: str, source: Location, dest: Location, n: int, repeats: int, s3: bool) -> None:
    t = time.perf_counter()
    ok = restore_all(source, dest)
    print(f"{name}: first run restored {ok} of {n} images in {time.perf_counter() - t:.1f} s")
    variants = [("verify (read + hash)", True, 16, False), ("listing (default)", False, 16, False)]
    if s3:
        variants[1:1] = [("listing, 1 HEAD at once", False, 1, False)]
        variants += [("mask list, 1 HEAD at once", False, 1, True), ("mask list (default)", False, 16, True)]
    runs: dict[str, list] = {label: [] for label, *_ in variants}
    # the same masks, named by a mask list instead of found beside their images
    mask_list = {it.image_id: it.mask_uri for it in discover(source, exclude=(dest,))}
    for _ in range(repeats):
        for label, verify, heads, listed in variants:
            r = rerun(source, dest, verify, heads, mask_list if listed else None)
            assert r["up_to_date"] == n, r
            runs[label].append(r)
    med = {label: statistics.median(r["s"] for r in rs) for label, rs in runs.items()}
    for label, rs in runs.items():
        print(f"  re-run, {label:26s} {med[label]:7.2f} s  {rs[-1].get('reads', 0):4d} reads, "
              f"{rs[-1].get('bytes', 0) / 2**20:7.1f} MiB, {rs[-1].get('heads', 0):4d} HEADs")
    base = med["verify (read + hash)"]
    print("  " + ", ".join(f"{label}: {base / m:.1f}x faster than verify" for label, m in med.items()
                          if not label.startswith("verify")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--latency-ms", type=float, default=20.0, help="delay per request of the remote-bucket case")
    args = ap.parse_args()
    _count_io()
    with tempfile.TemporaryDirectory() as tmp:
        src = make_collection(os.path.join(tmp, "src"), args.images, args.size)
        mib = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(src) for f in fs) / 2**20
        print(f"{args.images} images of {args.size} px with sibling masks, {mib:.0f} MiB")
        measure("local folder", Location(src), Location(os.path.join(tmp, "dest")), args.images, args.repeats, False)

        with moto_s3() as (url, fs):
            fs.mkdir("bench")
            fs.put(src + "/", "bench/src/", recursive=True)
            opts = {"endpoint_url": url}
            measure("moto S3 (loopback)", Location("s3://bench/src", opts), Location("s3://bench/dest", opts),
                    args.images, args.repeats, True)
            with FaultProxy(url) as proxy:
                proxy.add("delay", times=-1, seconds=args.latency_ms / 1000)
                opts = {"endpoint_url": proxy.url}
                measure(f"moto S3, {args.latency_ms:.0f} ms per request", Location("s3://bench/src", opts),
                        Location("s3://bench/dest2", opts), args.images, args.repeats, True)


if __name__ == "__main__":
    main()
