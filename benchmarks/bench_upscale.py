"""Learned models on photos larger than their working resolution: the prediction resized back
against the classical fill at full size plus the model's upscaled correction.

    python benchmarks/bench_upscale.py [--images DIR] [--masks INDEX] [--limit N] [--models a,b]

The development protocol scores 256 px crops, the shipped models' working resolution, so a model
there never resizes anything. Users' photos are larger. Here: the whole ``bsds500/val`` photos
(481x321 or 321x481), each given the protocol's masks (same bins, same assignment of masks to
images) resized to the photo with nearest neighbour, scored as every figure of the project
(composited PSNR and SSIM, scikit-image). The window around the holes then spans most of the photo
and is resized to 256 px for the model. Methods: Telea, the spline, and each shipped model with
``upscale="resize"`` (the prediction resized back, as before 2026-11-28) and ``upscale="residual"``
(what ships: the model's own pre-fill at full size plus its correction, upscaled).
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _protocol import protocol_parser, require_images  # noqa: E402

BINS = ("0.3-0.4", "0.4-0.5", "0.5-0.6")


def main() -> None:
    import cv2
    import numpy as np

    from inpaint_core import create_inpainter
    from inpaint_core.evaluation import protocol_cases
    from inpaint_core.imageio import decode_image
    from inpaint_core.inpainters.auto import shipped_ranking
    from inpaint_core.quality import score_reference

    p = protocol_parser(__doc__, limit=20)
    p.add_argument("--models", default=None, help="comma-separated (default: every shipped model)")
    a = p.parse_args()
    require_images(a.images)
    t0 = time.perf_counter()
    models = a.models.split(",") if a.models else shipped_ranking()
    methods = {"telea": create_inpainter("telea", radius=3), "spline": create_inpainter("spline")}
    for m in models:
        for mode in ("resize", "residual"):
            methods[f"{m}, {mode}"] = create_inpainter(m, device="cpu", upscale=mode)
    mask_dir = os.path.dirname(a.masks)
    scores: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for c in protocol_cases(a.images, a.masks, bins=list(BINS), limit=a.limit):
        with open(os.path.join(a.images, c.image_id), "rb") as fh:
            img = decode_image(fh.read()).rgb
        h, w = img.shape[:2]
        m512 = cv2.imread(os.path.join(mask_dir, c.mask_file), cv2.IMREAD_GRAYSCALE)
        mask = cv2.resize(m512, (w, h), interpolation=cv2.INTER_NEAREST) > 127
        damaged = np.where(mask[..., None], 0, img).astype(np.uint8)
        for name, method in methods.items():
            out = np.where(mask[..., None], method([damaged], [mask])[0], img)
            s = score_reference(out, img)
            scores.setdefault((name, c.bin), []).append((s["psnr"], s["ssim"]))
    n = len(scores[("telea", BINS[0])])
    print(f"whole photos, {n} per bin, {time.perf_counter() - t0:.0f} s; composited PSNR / SSIM")
    print("| method | " + " | ".join(BINS) + " | mean PSNR |")
    print("|---|" + "---|" * (len(BINS) + 1))
    for name in methods:
        cells = [" / ".join((f"{v[0]:.2f}", f"{v[1]:.3f}")) for v in (np.mean(scores[(name, b)], axis=0) for b in BINS)]
        mean = np.mean([np.mean(scores[(name, b)], axis=0)[0] for b in BINS])
        print(f"| {name} | " + " | ".join(cells) + f" | {mean:.2f} |")


if __name__ == "__main__":
    main()
