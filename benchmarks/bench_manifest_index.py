"""A shard's look-up of earlier rows: reading the manifest parts against the manifest index.

Each shard of a re-run looks up the earlier rows of its 64 images. Read from the manifest, that
opens the statistics of every part of every earlier run, so the look-up grows with the number of
parts (a million images restored in shards of 64 leave 15,625 parts) and a whole run with its
square. The flow now refreshes ``<dest>/manifest-index`` once per run and the shards read that.

    python benchmarks/bench_manifest_index.py [--parts 250 1000 4000] [--s3-parts 500] [--lookups 8]

Writes synthetic manifests (parts of 64 rows, one run) on a local folder and on moto's S3 server on
loopback; prints the index refresh (full, then with 10 new parts) and the median time of a shard's
look-up both ways, measured in the same run, and what that makes per 1,000 shards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._moto import moto_s3  # noqa: E402
from inpaint_core import manifest  # noqa: E402
from inpaint_core.manifest_index import refresh_index  # noqa: E402
from inpaint_core.storage import Location  # noqa: E402

NOW = datetime.now(timezone.utc)


def image_id(part: int, i: int) -> str:
    return f"d{part // 100:04d}/img{part:06d}_{i:02d}.png"


def write_parts(dest: Location, run: str, first: int, n: int) -> None:
    for p in range(first, first + n):
        rows = [{"run_id": run, "shard": p, "image_id": image_id(p, i), "status": "ok", "settings_hash": "bench",
                 "source_sha256": f"{p:032x}{i:032x}", "source_bytes": 100_000 + i,
                 "source_version": f"{100_000 + i}:ETag={p:016x}{i:016x}", "output_uri": f"s3://b/o/{p}/{i}.png",
                 "output_sha256": f"{i:032x}{p:032x}", "output_version": f"1:ETag={i:032x}",
                 "finished_at": NOW} for i in range(64)]
        manifest.write_part(dest, run, p, rows)


def measure(label: str, dest: Location, parts: int, lookups: int) -> None:
    t = time.perf_counter()
    write_parts(dest, "r1", 0, parts)
    dest.write_atomic("runs/r1.json", b"{}")
    written = time.perf_counter() - t
    index = refresh_index(dest)
    write_parts(dest, "r2", parts, 10)
    again = refresh_index(dest)
    scan, indexed = [], []
    for k in range(lookups):
        p = (k * 7919) % parts
        ids = [image_id(p, i) for i in range(64)]
        t = time.perf_counter()
        a = manifest.prior_rows(dest, ids, "bench")
        scan.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = manifest.prior_rows(dest, ids, "bench", index=again)
        indexed.append(time.perf_counter() - t)
        assert a == b and len(a) == 64
    s, i = statistics.median(scan), statistics.median(indexed)
    print(f"{label}, {parts} parts ({parts * 64} rows; written in {written:.1f} s): "
          f"refresh {index.seconds:.2f} s full, {again.seconds:.2f} s for 10 new parts; "
          f"shard look-up {s * 1000:.1f} ms from the parts vs {i * 1000:.1f} ms from the index ({s / i:.0f}x); "
          f"per 1,000 shards {s * 1000:.0f} s vs {i * 1000:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", type=int, nargs="+", default=[250, 1000, 4000])
    ap.add_argument("--s3-parts", type=int, nargs="*", default=[500])
    ap.add_argument("--lookups", type=int, default=8)
    args = ap.parse_args()
    for parts in args.parts:
        with tempfile.TemporaryDirectory() as tmp:
            measure("local folder", Location(tmp), parts, args.lookups)
    if not args.s3_parts:
        return
    with moto_s3() as (url, fs):
        for n, parts in enumerate(args.s3_parts):
            fs.mkdir(f"bench{n}")
            measure("moto S3 (loopback)", Location(f"s3://bench{n}/dest", {"endpoint_url": url}), parts,
                    args.lookups)


if __name__ == "__main__":
    main()
