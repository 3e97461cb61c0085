"""Time and memory of the tension-spline fill against Telea, by frame size and hole fraction.

    python benchmarks/bench_spline.py [--sizes 512,1024,2048] [--strokes 4,12]

Each case: skimage's astronaut resized to the side, thick random strokes as the hole (seeded), one
full-frame call of each method (``inpaint_core.spline.spline_fill``, ``cv2.inpaint`` Telea radius 3)
in a fresh subprocess so its peak resident memory is its own. Prints one row per case: hole pixels,
seconds and peak MiB of each, PSNR of each against the original, and which spline solve ran: one
sparse LU when the whole hole has at most ``DIRECT_MAX`` pixels; otherwise one LU per hole group,
and the coarse-to-fine tiled solve for a group above ``DIRECT_MAX``.
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="512,1024,2048")
    p.add_argument("--strokes", default="4,12")
    p.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # internal: SIDE STROKES METHOD in this process
    a = p.parse_args()
    if a.one:
        print(json.dumps(_case(int(a.one[0]), int(a.one[1]), a.one[2])))
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
