"""What a fill must get right to reach issue 4's second target: oracle fills on the dev protocol.

    python benchmarks/bench_ssim_ceiling.py [--images DIR] [--masks INDEX] [--limit N]

For each case of the development protocol (``bsds500/val``, the shared irregular masks, 256 px
centre crops, the 0.3-0.6 bins) the hole is filled with the true image blurred by a Gaussian of
sigma 1, 2, 4 and 8 px (an oracle that knows the answer down to that scale and nothing finer),
beside Telea and the tension spline, and scored as every figure of the project (composited PSNR,
SSIM). The target asks the best model for +1.5 dB and +0.04 SSIM over Telea in each bin: the rows
show how fine a structure a fill must reproduce, exactly, to get there.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _protocol import protocol_parser  # noqa: E402

BINS = ("0.3-0.4", "0.4-0.5", "0.5-0.6")


def main() -> None:
    import cv2
    import numpy as np

    from inpaint_core import create_inpainter
    from inpaint_core.evaluation import protocol_cases
    from inpaint_core.quality import score_reference

    p = protocol_parser(__doc__, limit=None)
    a = p.parse_args()
    t0 = time.perf_counter()
    cases = list(protocol_cases(a.images, a.masks, bins=list(BINS), limit=a.limit))
    fills = {"telea": create_inpainter("telea", radius=3), "spline": create_inpainter("spline")}
    sigmas = (8, 4, 2, 1)
    scores: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for c in cases:
        damaged = np.where(c.mask[..., None], 0, c.image).astype(np.uint8)
        outs = {name: f([damaged], [c.mask])[0] for name, f in fills.items()}
        for s in sigmas:
            outs[f"truth blurred, sigma {s}"] = cv2.GaussianBlur(c.image, (0, 0), s)
        for name, out in outs.items():
            sc = score_reference(np.where(c.mask[..., None], out, c.image), c.image)
            scores.setdefault((name, c.bin), []).append((sc["psnr"], sc["ssim"]))
    names = list(dict.fromkeys(n for n, _ in scores))
    print(f"{len(cases)} cases ({len(cases) // len(BINS)} per bin), {time.perf_counter() - t0:.0f} s; "
          "PSNR / SSIM, and the gain over Telea")
    print("| fill | " + " | ".join(BINS) + " |")
    print("|---|" + "---|" * len(BINS))
    for n in names:
        cells = []
        for b in BINS:
            psnr, ssim = np.mean(scores[(n, b)], axis=0)
            tp, ts = np.mean(scores[("telea", b)], axis=0)
            gain = "" if n == "telea" else f" ({psnr - tp:+.2f} dB, {ssim - ts:+.3f})"
            cells.append(f"{psnr:.2f} / {ssim:.3f}{gain}")
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
