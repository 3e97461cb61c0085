"""Does averaging models, or a horizontal-flip pass, raise the development evaluation?

    python benchmarks/bench_ensemble.py [--methods context_encoder,ctsdg,glcic] [--bins 0.3-0.4,0.4-0.5,0.5-0.6]
                                        [--images ../shared/data/bsds500/val]
                                        [--masks ../shared/data/masks/nvidia_irregular/index.csv] [--limit N]

The protocol of ``../shared/data/README.md`` (256 px centre crops, the bins' masks, composited output,
scikit-image PSNR/SSIM). Each method runs twice per case, on the image and on its mirror image; the
table then scores, from those same outputs, each method alone, each with the flip pass averaged in
(``+flip``), the mean of all methods (``ensemble``) and that with the flip passes (``ensemble+flip``),
beside Telea in the same run. Averaging happens in float before the single rounding to uint8.
16 minutes on the 2-core CPU for the three default methods over three bins of bsds500/val.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inpaint_core.evaluation import markdown_table, protocol_cases, summarize  # noqa: E402
from inpaint_core.inpainters import create_inpainter  # noqa: E402
from inpaint_core.quality import score_reference  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def run(inpainter, cases, batch: int = 16) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The method's float outputs on each case and on its mirror image (mirrored back)."""
    plain, flipped = [], []
    for s in range(0, len(cases), batch):
        chunk = cases[s:s + batch]
        damaged = [np.where(c.mask[..., None], 0, c.image).astype(np.uint8) for c in chunk]
        masks = [c.mask for c in chunk]
        plain += [o.astype(np.float32) for o in inpainter(damaged, masks)]
        outs = inpainter([np.ascontiguousarray(d[:, ::-1]) for d in damaged],
                         [np.ascontiguousarray(m[:, ::-1]) for m in masks])
        flipped += [o[:, ::-1].astype(np.float32) for o in outs]
    return plain, flipped


def score(label: str, cases, preds, ms: float) -> list[dict]:
    rows = []
    for c, p in zip(cases, preds):
        comp = np.where(c.mask[..., None], np.clip(np.rint(p), 0, 255).astype(np.uint8), c.image)
        s = score_reference(comp, c.image)
        rows.append({"method": label, "bin": c.bin, "psnr": s["psnr"], "ssim": s["ssim"], "l1": s["l1"], "ms": ms})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="context_encoder,ctsdg,glcic")
    ap.add_argument("--bins", default="0.3-0.4,0.4-0.5,0.5-0.6")
    ap.add_argument("--images", default=str(DATA / "bsds500" / "val"))
    ap.add_argument("--masks", default=str(DATA / "masks" / "nvidia_irregular" / "index.csv"))
    ap.add_argument("--limit", type=int, default=None, help="first N images only (a quick look)")
    a = ap.parse_args()
    names = [m for m in a.methods.split(",") if m]
    cases = list(protocol_cases(a.images, a.masks, bins=a.bins.split(","), limit=a.limit))
    rows, plain, both, ms = [], {}, {}, {}
    for name in ["telea", *names]:
        t = time.perf_counter()
        p, f = run(create_inpainter(name, device="cpu"), cases)
        ms[name] = (time.perf_counter() - t) * 1000 / (2 * len(cases))  # one pass, per image
        rows += score(name, cases, p, ms[name])
        if name == "telea":
            continue
        plain[name], both[name] = p, [(x + y) / 2 for x, y in zip(p, f)]
        rows += score(f"{name}+flip", cases, both[name], 2 * ms[name])
    if len(names) > 1:
        cost = sum(ms[n] for n in names)
        rows += score("ensemble", cases, [sum(plain[n][i] for n in names) / len(names) for i in range(len(cases))],
                      cost)
        rows += score("ensemble+flip", cases, [sum(both[n][i] for n in names) / len(names)
                                               for i in range(len(cases))], 2 * cost)
    summary = summarize(rows)
    print(markdown_table(summary, notes=[f"ensemble = mean of {', '.join(names)}; +flip = mean with the "
                                         "mirror-image pass; composited, scikit-image metrics",
                                         "ms/image: one pass per member, timed in this run, summed"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
