"""Does the GLCIC post-process help the shipped models? Composite against Poisson-blended, dev protocol.

    python benchmarks/bench_blend.py [--limit 30] [--methods context_encoder,glcic,pconv]

For cases of the development protocol (``bsds500/val``, the shared irregular masks, 256 px centre
crops) each shipped model fills the hole; the result is scored three ways: composited (the hole
pasted into the image: ``--blend off``), and blended by :func:`inpaint_core.blend.glcic_blend` from
the model's own output around the hole (GLCIC's fast marching + Poisson post-process) over the hole
alone (``--blend-margin 0``, as in the paper) and over the hole and an 8 px band (the default
margin). PSNR / SSIM against the clean image (every figure of the project is composited), and the
seam score of the manifest (``q_seam``: boundary / ring gradient, about 1 = invisible), per bin.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _protocol import protocol_parser  # noqa: E402

BINS = ("0.01-0.1", "0.1-0.2", "0.3-0.4", "0.5-0.6")


def main() -> None:
    import numpy as np

    from inpaint_core import create_inpainter
    from inpaint_core.blend import glcic_blend
    from inpaint_core.evaluation import protocol_cases
    from inpaint_core.quality import score_fill, score_reference

    p = protocol_parser(__doc__, limit=30)
    p.add_argument("--methods", default="context_encoder,glcic,pconv")
    a = p.parse_args()
    t0 = time.perf_counter()
    cases = list(protocol_cases(a.images, a.masks, bins=list(BINS), limit=a.limit))
    variants = ("composite", "blend, margin 0", "blend, margin 8")
    print(f"{len(cases)} cases ({len(cases) // len(BINS)} per bin); PSNR / SSIM / mean q_seam")
    print("| method | bin | " + " | ".join(variants) + " |")
    print("|---|---|" + "---|" * len(variants))
    for name in a.methods.split(","):
        inpainter = create_inpainter(name)
        scores: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for c in cases:
            damaged = np.where(c.mask[..., None], 0, c.image).astype(np.uint8)
            [composite], [raw] = inpainter.inpaint_windows([damaged], [c.mask], raw=True)
            outs = {"composite": composite,
                    "blend, margin 0": glcic_blend(damaged, raw, c.mask, margin=0),
                    "blend, margin 8": glcic_blend(damaged, raw, c.mask, margin=8)}
            for v, out in outs.items():
                ref = score_reference(out, c.image)
                seam = score_fill(damaged, out, c.mask)["seam"]
                scores.setdefault((v, c.bin), []).append((ref["psnr"], ref["ssim"], seam))
        for b in BINS:
            cells = []
            for v in variants:
                psnr, ssim, seam = np.nanmean(np.array(scores[(v, b)], dtype=float), axis=0)
                cells.append(f"{psnr:.2f} / {ssim:.3f} / {seam:.2f}")
            print(f"| {name} | {b} | " + " | ".join(cells) + " |", flush=True)
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
