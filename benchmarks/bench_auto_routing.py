"""``auto`` routing each hole on its own against routing whole windows, on dust and on the protocol.

    python benchmarks/bench_auto_routing.py [--images DIR] [--masks INDEX] [--limit N]

``auto`` sends thin and small holes to the spline and large ones to the best shipped model. Until
2026-11-27 it routed whole windows (nearby holes cropped together): dust beside a large hole, or
dust dense enough that its windows merged, went to the model. Two sets of cases, each scored as
every figure of the project (composited PSNR and SSIM, scikit-image) and as PSNR over the hole
pixels alone:

- *dust* (not part of the development protocol, which has no such masks): the protocol's images
  (``bsds500/val``, 256 px centre crops) with 40 specks (radius 1-5 px) and 3 short scratches
  (1-3 px wide) each, the same with one large hole added (an ellipse about 60x40 px), and the whole
  photos (481x321) with 150 specks and 6 scratches, seeded. A window larger than a model's working
  resolution is resized to it, and dust spread over a photo makes one window of nearly all of it;
- the protocol itself (the shared irregular masks), all six bins.

Methods: Telea, the spline, the shipped best model alone, ``auto`` per window (the old rule, kept
here only) and ``auto`` per hole (what ships).
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _protocol import protocol_parser, require_images  # noqa: E402



def per_window_route(self, mask):
    """The rule before 2026-11-27: one method for the whole window, by all of its holes."""
    import cv2
    import numpy as np

    area = int(mask.sum())
    half = float(cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 3).max())
    if half <= self.thin_radius or area <= self.small_area:
        return [(self.classical, mask, "thin or small window")]
    return [(self.learned or self.large, mask, "large window")]


def dust_mask(rng, shape: tuple[int, int], large: bool, specks: int = 40, scratches: int = 3):
    import cv2
    import numpy as np

    h, w = shape
    m = np.zeros((h, w), np.uint8)
    for _ in range(specks):
        cv2.circle(m, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, 6)), 1, -1)
    for _ in range(scratches):
        p = rng.integers(0, (w, h), 2)
        q = np.clip(p + rng.integers(-40, 41, 2), 0, (w - 1, h - 1))
        cv2.line(m, tuple(int(v) for v in p), tuple(int(v) for v in q), 1, int(rng.integers(1, 4)))
    if large:
        centre = (int(rng.integers(w // 4, 3 * w // 4)), int(rng.integers(h // 4, 3 * h // 4)))
        cv2.ellipse(m, centre, (30, 20), int(rng.integers(0, 180)), 0, 360, 1, -1)
    return m.astype(bool)


def main() -> None:
    import numpy as np

    from inpaint_core import create_inpainter
    from inpaint_core.evaluation import protocol_cases
    from inpaint_core.imageio import decode_image
    from inpaint_core.inpainters.auto import AutoInpainter
    from inpaint_core.quality import score_reference

    p = protocol_parser(__doc__, limit=None)
    a = p.parse_args()
    require_images(a.images)
    t0 = time.perf_counter()
    auto = create_inpainter("auto")
    per_window = create_inpainter("auto")
    per_window._route = per_window_route.__get__(per_window, AutoInpainter)
    methods = {"telea": create_inpainter("telea", radius=3), "spline": create_inpainter("spline")}
    if auto.learned is not None:
        methods[auto.learned.name] = auto.learned
    methods["auto, per window (before)"] = per_window
    methods["auto, per hole"] = auto

    cases = list(protocol_cases(a.images, a.masks, limit=a.limit))
    images = {}
    for c in cases:  # the protocol's crops, once each
        images.setdefault(c.image.tobytes(), c.image)
    rng = np.random.default_rng(0)
    sets = []
    for name, large in (("dust", False), ("dust + a large hole", True)):
        sets += [(name, img, dust_mask(rng, img.shape[:2], large)) for img in images.values()]
    files = sorted(f for f in os.listdir(a.images) if f.lower().endswith((".jpg", ".png")))[:a.limit]
    for f in files:
        with open(os.path.join(a.images, f), "rb") as fh:
            img = decode_image(fh.read()).rgb
        sets.append(("dust, whole photos", img, dust_mask(rng, img.shape[:2], False, specks=150, scratches=6)))
    sets += [(f"protocol {c.bin}", c.image, c.mask) for c in cases]

    scores: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for group, img, mask in sets:
        damaged = np.where(mask[..., None], 0, img).astype(np.uint8)
        for name, m in methods.items():
            out = np.where(mask[..., None], m([damaged], [mask])[0], img)
            s = score_reference(out, img)
            mse = np.mean((out[mask].astype(np.float64) - img[mask]) ** 2)
            scores.setdefault((group, name), []).append((s["psnr"], s["ssim"], 10 * np.log10(255 ** 2 / max(mse, 1e-10))))
    groups = list(dict.fromkeys(g for g, _ in scores))
    print(f"{len(images)} images, {len(sets)} cases, {time.perf_counter() - t0:.0f} s; "
          "composited PSNR / SSIM, and PSNR over the hole pixels")
    print("| cases | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for g in groups:
        n = len(scores[(g, "telea")])
        cells = [" / ".join(f"{v:.{3 if i == 1 else 2}f}" for i, v in enumerate(np.mean(scores[(g, m)], axis=0)))
                 for m in methods]
        print(f"| {g} ({n}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
