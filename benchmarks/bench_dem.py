"""Filling an elevation model's voids: each method's error in metres, through the restore pipeline.

    python benchmarks/bench_dem.py [--dtype float32|int16] [--side 1024] [--seeds 3] [--methods telea,ns,spline,auto]
                                   [--tensions 0,0.1,0.3,1,auto] [--tiles FOLDER] [--beta 3.2]

No DEM ships with the project or its data, so the terrain is synthesised the standard way: spectral
synthesis of fractional Brownian motion (power spectrum ~ 1/f^beta, beta 3.2, about what measured
topography shows), scaled to 1,500 m of relief, 30 m pixels: float32 (voids -9999), or int16 whole metres
as SRTM ships them (``--dtype int16``, voids -32768, the relief starting at -100 m so part of it is
below sea level). Voids as SRTM has them: irregular blobs (steep slopes, radar shadow) from a few
pixels to a few hundred, about 6% of the tile, with a GDAL_NODATA tag. Each tile goes through ``restore_shard`` with
``--output-format same`` (a TIFF of the same type back); the table gives the mean and the 95th percentile of
the absolute error in the voids, in metres, and the seconds per tile (best of the seeds' mean).
Known samples are checked to come back bit for bit. ``--tensions`` adds a row per spline tension
(``--method-option tension=T``; the default, 1, was chosen on photos; ``auto``: chosen per window by
filling copies of its voids, what ``auto`` does on rasters of values). The best tension depends on
the terrain's roughness (``--beta``: smoother terrain has a larger spectral exponent), so
``--tiles FOLDER`` runs the same voids on your own complete gray TIFF tiles instead (their values
and type as they are; each tile's voids drawn on its size): the table then says which method and
tension to restore that collection with.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _restore import restore_folder  # noqa: E402


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


def voids(h: int, w: int, seed: int, fraction: float = 0.06):
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed + 1000)
    m = np.zeros((h, w), np.uint8)
    while m.mean() < fraction:
        r = int(rng.choice([2, 4, 8, 16, 32, 64], p=[0.3, 0.25, 0.2, 0.13, 0.08, 0.04]))
        cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
        axes = (max(1, int(r * rng.uniform(0.5, 1.5))), max(1, int(r * rng.uniform(0.5, 1.5))))
        cv2.ellipse(m, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return m.astype(bool)


def main() -> None:
    import numpy as np
    import tifffile

    from inpaint_core.pipeline import RestoreConfig
    from inpaint_core.storage import Location

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dtype", choices=("float32", "int16"), default="float32")
    p.add_argument("--side", type=int, default=1024)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--methods", default="telea,ns,spline,auto")
    p.add_argument("--tensions", default="", help="comma-separated spline tensions to add as rows; auto: chosen per tile")
    p.add_argument("--tiles", default=None, help="a folder of complete gray TIFF tiles to cut voids into")
    p.add_argument("--beta", type=float, default=3.2, help="spectral exponent of the synthetic terrain")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        truths, holes = {}, {}
        dtype, void = (np.int16, -32768) if a.dtype == "int16" else (np.float32, -9999)
        names = sorted(f for f in os.listdir(a.tiles) if f.lower().endswith((".tif", ".tiff"))) if a.tiles else []
        for seed in range(len(names) if a.tiles else a.seeds):
            if a.tiles:  # the user's own tiles, at their own type; the void value must be one no sample holds
                z = tifffile.imread(os.path.join(a.tiles, names[seed]))
                if z.ndim != 2:
                    raise SystemExit(f"{names[seed]}: {z.shape} is not one gray tile")
                dtype = z.dtype.type
                void = np.iinfo(dtype).min if z.dtype.kind in "iu" else -9999
                if (z == void).any() or not np.isfinite(z).all():
                    raise SystemExit(f"{names[seed]} holds {void} or non-finite samples: give complete tiles")
                hole = voids(*z.shape, seed)
            else:
                z, hole = terrain(a.side, seed, beta=a.beta), voids(a.side, a.side, seed)
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
        if a.tiles:
            print(f"{len(names)} tiles from {a.tiles}, voids {fraction:.1%} of each")
        else:
            print(f"{a.seeds} tiles of {a.side}x{a.side} {a.dtype}, beta {a.beta}, relief 1,500 m, "
                  f"voids {fraction:.1%} of each")
        print("| method | mean abs error in the voids, m | 95th percentile, m | s per tile |")
        print("|---|---|---|---|")
        source = Location(f"{tmp}/src")
        runs = [(m, m, {}) for m in a.methods.split(",") if m]
        runs += [(f"spline, tension {t}", "spline", {"tension": t if t == "auto" else float(t)})
                 for t in a.tensions.split(",") if t]
        for i, (label, method, options) in enumerate(runs):
            dest = Location(f"{tmp}/run{i}")
            rows, seconds = restore_folder(source, dest, RestoreConfig(method=method, method_options=options,
                                                                       output_format="same", score=False))
            seconds /= len(truths)
            errors = []
            for row in rows:
                assert row["status"] == "ok" and row["mask_source"] == "nodata", row["error"]
                out = tifffile.imread(io.BytesIO(row["output"]))
                z, hole = truths[row["image_id"]], holes[row["image_id"]]
                assert out.dtype == dtype and np.array_equal(out[~hole], z[~hole])
                errors.append(np.abs(out[hole].astype(np.float64) - z[hole]))
            e = np.concatenate(errors)
            print(f"| {label} | {e.mean():.2f} | {np.percentile(e, 95):.2f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
