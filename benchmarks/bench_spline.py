"""Time and memory of the tension-spline fill against Telea, by frame size and hole fraction.

    python benchmarks/bench_spline.py [--sizes 512,1024,2048] [--strokes 4,12]

Each case: skimage's astronaut resized to the side, thick random strokes as the hole (seeded), one
full-frame call of each method (``inpaint_core.spline.spline_fill``, ``cv2.inpaint`` Telea radius 3)
in a fresh subprocess so its peak resident memory is its own. Prints one row per case: hole pixels,
seconds and peak MiB of each, PSNR of each against the original, and which spline solve ran: one
sparse LU when the whole hole has at most ``DIRECT_MAX`` pixels; otherwise one LU per hole group,
and the coarse-to-fine tiled solve for a group above ``DIRECT_MAX``.

    python benchmarks/bench_spline.py --band [--band-side 2048] [--band-holes 640,1024,1500]

Large square holes: the exact solve (one LU, up to ``--exact-max`` hole pixels), the coarse-to-fine
solve refining the whole hole at full resolution (before 2026-11-28) and refining only the band
within ``BAND`` px of the known pixels (now): seconds, peak memory, PSNR against the photo in the hole,
difference from the exact fill (8-bit levels).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _case(side: int, strokes: int, method: str) -> dict:
    import cv2
    import numpy as np
    from skimage import data as skdata

    from inpaint_core.quality import score_reference
    from inpaint_core.spline import DIRECT_MAX, spline_fill

    img = cv2.resize(skdata.astronaut(), (side, side), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    mask = np.zeros((side, side), np.uint8)
    for _ in range(strokes):
        (x0, y0), (x1, y1) = rng.integers(0, side, (2, 2))
        cv2.line(mask, (int(x0), int(y0)), (int(x1), int(y1)), 1, int(rng.integers(side // 32, side // 14)))
    hole = mask.astype(bool)
    damaged = np.where(hole[..., None], 0, img).astype(np.uint8)
    t = time.perf_counter()
    out = spline_fill(damaged, hole) if method == "spline" else cv2.inpaint(damaged, mask, 3, cv2.INPAINT_TELEA)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"hole_px": int(hole.sum()), "fraction": float(hole.mean()), "seconds": seconds,
            "peak_mib": peak / 1024,
            "psnr": score_reference(out, img)["psnr"], "direct_max": DIRECT_MAX}


def _band_case(side: int, hole_side: int, solve: str) -> dict:
    """One large square hole (``hole_side`` px, centred) in skimage's astronaut resized to ``side``,
    filled by ``solve``: ``exact`` (one LU), ``tiled`` (the coarse-to-fine solve refining the whole
    hole, as before 2026-11-28) or ``band`` (refining only within ``BAND`` px of the known pixels)."""
    import cv2
    import numpy as np
    from skimage import data as skdata

    from inpaint_core import spline

    img = cv2.resize(skdata.astronaut(), (side, side), interpolation=cv2.INTER_CUBIC)
    hole = np.zeros((side, side), bool)
    y = (side - hole_side) // 2
    hole[y:y + hole_side, y:y + hole_side] = True
    damaged = np.where(hole[..., None], 0, img).astype(np.uint8)
    if solve == "exact":
        spline.DIRECT_MAX = 1 << 40
    elif solve == "tiled":
        spline.BAND = 1 << 30
    t = time.perf_counter()
    out = spline.spline_fill(damaged, hole)
    seconds = time.perf_counter() - t
    np.save(f"/tmp/bench_spline_{side}_{hole_side}_{solve}.npy", out[hole])
    mse = float(np.mean((out[hole].astype(float) - img[hole]) ** 2))
    return {"hole_px": int(hole.sum()), "seconds": seconds, "hole_psnr": 10 * np.log10(255 ** 2 / mse),
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def band_check(side: int, hole_sides: list[int], exact_max: int) -> None:
    """Band against the whole-hole tiled solve and (up to ``exact_max`` hole pixels) the exact one."""
    import numpy as np

    print("| frame | hole | solve | seconds | peak MiB | PSNR in the hole | max / mean abs diff from exact |")
    print("|---|---|---|---|---|---|---|")
    for hs in hole_sides:
        solves = (["exact"] if hs * hs <= exact_max else []) + ["tiled", "band"]
        for solve in solves:
            r = json.loads(subprocess.run([sys.executable, __file__, "--band-one", str(side), str(hs), solve],
                                          check=True, capture_output=True, text=True).stdout)
            diff = "-"
            if solves[0] == "exact" and solve != "exact":
                a = np.load(f"/tmp/bench_spline_{side}_{hs}_{solve}.npy").astype(int)
                b = np.load(f"/tmp/bench_spline_{side}_{hs}_exact.npy").astype(int)
                diff = f"{np.abs(a - b).max()} / {np.abs(a - b).mean():.3f}"
            print(f"| {side}x{side} | {hs}x{hs} | {solve} | {r['seconds']:.1f} | {r['peak_mib']:.0f} | "
                  f"{r['hole_psnr']:.2f} | {diff} |", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="512,1024,2048")
    p.add_argument("--strokes", default="4,12")
    p.add_argument("--band", action="store_true",
                   help="instead: large square holes, exact vs whole-hole tiled vs band-refined solve")
    p.add_argument("--band-side", type=int, default=2048, help="frame side of --band")
    p.add_argument("--band-holes", default="640,1024,1500", help="hole sides of --band")
    p.add_argument("--exact-max", type=int, default=1_100_000, help="largest hole --band also solves exactly")
    p.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # internal: SIDE STROKES METHOD in this process
    p.add_argument("--band-one", nargs=3, help=argparse.SUPPRESS)  # internal: SIDE HOLE_SIDE SOLVE
    a = p.parse_args()
    if a.one:
        print(json.dumps(_case(int(a.one[0]), int(a.one[1]), a.one[2])))
        return 0
    if a.band_one:
        print(json.dumps(_band_case(int(a.band_one[0]), int(a.band_one[1]), a.band_one[2])))
        return 0
    if a.band:
        band_check(a.band_side, [int(v) for v in a.band_holes.split(",")], a.exact_max)
        return 0
    print("| side | hole px (fraction) | spline s | spline peak MiB | telea s | telea peak MiB | "
          "PSNR spline / telea | solve |")
    print("|---|---|---|---|---|---|---|---|")
    for side in (int(s) for s in a.sizes.split(",")):
        for strokes in (int(s) for s in a.strokes.split(",")):
            r = {m: json.loads(subprocess.run([sys.executable, __file__, "--one", str(side), str(strokes), m],
                                              check=True, capture_output=True, text=True).stdout)
                 for m in ("spline", "telea")}
            s, t = r["spline"], r["telea"]
            solve = "direct" if s["hole_px"] <= s["direct_max"] else "direct per group or tiled"
            print(f"| {side} | {s['hole_px']} ({s['fraction']:.2f}) | {s['seconds']:.2f} | {s['peak_mib']:.0f} | "
                  f"{t['seconds']:.2f} | {t['peak_mib']:.0f} | {s['psnr']:.2f} / {t['psnr']:.2f} | {solve} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    raise SystemExit(main())
