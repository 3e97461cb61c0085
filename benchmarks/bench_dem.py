"""Filling an elevation model's voids: each method's error in metres, through the restore pipeline.

    python benchmarks/bench_dem.py [--dtype float32|int16] [--side 1024] [--seeds 3] [--methods telea,ns,spline,auto]

No DEM ships with the project or its data, so the terrain is synthesised the standard way: spectral
synthesis of fractional Brownian motion (power spectrum ~ 1/f^beta, beta 3.2, about what measured
topography shows), scaled to 1,500 m of relief, 30 m pixels: float32 (voids -9999), or int16 whole metres
as SRTM ships them (``--dtype int16``, voids -32768, the relief starting at -100 m so part of it is
below sea level). Voids as SRTM has them: irregular blobs (steep slopes, radar shadow) from a few
pixels to a few hundred, about 6% of the tile, with a GDAL_NODATA tag. Each tile goes through ``restore_shard`` with
``--output-format same`` (a TIFF of the same type back); the table gives the mean and the 95th percentile of
the absolute error in the voids, in metres, and the seconds per tile (best of the seeds' mean).
Known samples are checked to come back bit for bit.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def terrain(side: int, seed: int, beta: float = 3.2, relief: float = 1500.0):
    import numpy as np

    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(side)[:, None]
    fx = np.fft.rfftfreq(side)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) * f ** (-beta / 2)
    spectrum[0, 0] = 0
    z = np.fft.irfft2(spectrum, s=(side, side))
    z = (z - z.min()) / (z.max() - z.min()) * relief + 200.0
    return z.astype(np.float32)


def voids(side: int, seed: int, fraction: float = 0.06):
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed + 1000)
    m = np.zeros((side, side), np.uint8)
    while m.mean() < fraction:
        r = int(rng.choice([2, 4, 8, 16, 32, 64], p=[0.3, 0.25, 0.2, 0.13, 0.08, 0.04]))
        cy, cx = (int(v) for v in rng.integers(0, side, 2))
        axes = (max(1, int(r * rng.uniform(0.5, 1.5))), max(1, int(r * rng.uniform(0.5, 1.5))))
        cv2.ellipse(m, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return m.astype(bool)


def main() -> None:
    import numpy as np
    import tifffile

    from inpaint_core import manifest
    from inpaint_core.discover import discover
    from inpaint_core.pipeline import RestoreConfig, restore_shard
    from inpaint_core.storage import Location, read_uri

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dtype", choices=("float32", "int16"), default="float32")
    p.add_argument("--side", type=int, default=1024)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--methods", default="telea,ns,spline,auto")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        truths, holes = {}, {}
        dtype, void = (np.int16, -32768) if a.dtype == "int16" else (np.float32, -9999)
        for seed in range(a.seeds):
            z, hole = terrain(a.side, seed), voids(a.side, seed)
            if dtype == np.int16:
                z = np.rint(z - 300.0).astype(np.int16)  # whole metres, from -100 m
            dem = np.where(hole, dtype(void), z).astype(dtype)
            buf = io.BytesIO()
            tifffile.imwrite(buf, dem, compression="lzw", extratags=[(42113, "s", 0, str(void), True),
                                                                      (33550, "d", 3, (30.0, 30.0, 0.0), True)])
            os.makedirs(f"{tmp}/src", exist_ok=True)
            with open(f"{tmp}/src/tile{seed}.tif", "wb") as f:
                f.write(buf.getvalue())
            truths[f"tile{seed}.tif"], holes[f"tile{seed}.tif"] = z, hole
        fraction = np.mean([h.mean() for h in holes.values()])
        print(f"{a.seeds} tiles of {a.side}x{a.side} {a.dtype}, relief 1,500 m, voids {fraction:.1%} of each")
        print("| method | mean abs error in the voids, m | 95th percentile, m | s per tile |")
        print("|---|---|---|---|")
        source = Location(f"{tmp}/src")
        for method in a.methods.split(","):
            dest = Location(f"{tmp}/{method}")
            t = time.perf_counter()
            restore_shard(list(discover(source)), RestoreConfig(method=method, output_format="same", score=False),
                          source, dest, "bench", 0, "bench")
            seconds = (time.perf_counter() - t) / a.seeds
            errors = []
            for row in manifest.read_manifest(dest).to_pylist():
                assert row["status"] == "ok" and row["mask_source"] == "nodata", row["error"]
                out = tifffile.imread(io.BytesIO(read_uri(row["output_uri"])))
                z, hole = truths[row["image_id"]], holes[row["image_id"]]
                assert out.dtype == dtype and np.array_equal(out[~hole], z[~hole])
                errors.append(np.abs(out[hole].astype(np.float64) - z[hole]))
            e = np.concatenate(errors)
            print(f"| {method} | {e.mean():.2f} | {np.percentile(e, 95):.2f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
