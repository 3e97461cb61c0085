"""Peak memory of ``restore`` (all processes: flow, Prefect server, Dask workers) at two collection sizes.

Discovery, shards and manifests stream, so the peak should stay roughly flat as the collection
grows tenfold.

    python benchmarks/bench_memory_scaling.py --sizes 500 5000 --size 256
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

import psutil

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from benchmarks._collection import make_collection  # noqa: E402


class PeakRSS:
    """Samples the summed RSS of this process and all its descendants every ``interval`` s."""

    def __init__(self, interval: float = 0.1):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    ap.add_argument("--size", type=int, default=256, help="image side in pixels")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--shard-size", type=int, default=64)
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "inpaint-bench"))
    args = ap.parse_args()

    from flows.restore import run_restore

    results = []
    for n in args.sizes:
        src = make_collection(os.path.join(args.data, f"src-{n}-{args.size}"), n, args.size)
        out = tempfile.mkdtemp(prefix="inpaint-mem-")
        try:
            with PeakRSS() as mon:
                t = time.perf_counter()
                s = run_restore(src, out, n_workers=args.workers, shard_size=args.shard_size, contact_sheet=False)
                wall = time.perf_counter() - t
        finally:
            shutil.rmtree(out, ignore_errors=True)
        assert s["ok"] == n, s
        results.append((n, mon.peak, wall))
        print(f"{n:6d} images of {args.size}x{args.size}: peak RSS of all processes {mon.peak / 2**20:7.0f} MiB, "
              f"{wall:6.1f} s ({n / wall:.1f} img/s)", flush=True)
    (n0, p0, _), (n1, p1, _) = results[0], results[-1]
    print(f"peak memory ratio {n1} / {n0} images: {p1 / p0:.2f}")


if __name__ == "__main__":
    main()
