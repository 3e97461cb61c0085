"""What a 16-bit source costs against the same image at 8 bits, per stage that differs.

    python benchmarks/bench_16bit.py [--side 4000x3000] [--repeat 3]

A 16-bit RGB image (skimage's astronaut resized, random low bytes) and its 8-bit view, both as PNG
and TIFF. For each: ``decode_image`` (Pillow opens every file; a 16-bit PNG is then decoded again
by OpenCV, because Pillow truncates 48-bit colour, and a 16-bit TIFF by tifffile), widening a restoration back to 16 bits
(``widen_to_16bit``, a flat 10% hole: the whole hole is lifted) and ``encode_image`` in the same
format, and an RGB + near-infrared TIFF at both depths (tifffile reads and writes those, and every
16-bit gray or RGB TIFF), and float32 TIFFs, gray (an elevation model) and RGB (tifffile reads them
into their values and a 16-bit proxy of their range; the widen column is mapping the restored proxy
back, ``restore_values``). The fill itself runs on the 8-bit view either way and costs the same. Best of
``--repeat``, seconds. ``--codecs-only`` stops after this table.

Then the fill's precision on 16-bit images with sub-8-bit detail (``--fill-side``, default
1024x768): a sky gradient and the astronaut blurred at 16 bits, each with a 12% hole of strokes,
filled with the truth's own 8-bit view (the best any 8-bit fill can be), with Telea and with the
spline. An 8-bit fill scaled by 257, the same lifted (``inpaint_core.dequantize``, what a method
that fills at 8 bits only gets), and the method run at 16 bits (what Telea, NS and the spline get).
Mean absolute error in the hole against the 16-bit truth and the largest step between neighbouring
hole pixels, in 16-bit levels (one 8-bit level = 257), the lift's time and the fill's time at 8
and 16 bits; then 12-bit data (values up to 4,095 in a 16-bit file) through the restore pipeline
with methods that fill at 8 bits, on the plain and on the stretched 8-bit view; ``auto`` (the demo's
method) on 16-bit scans with scratches, dust and one large hole, its windows all on the 8-bit view
and lifted (as before 2026-11-27) against each window at the depth its method fills at (the
spline's at 16 bits); and the lift's time on 12 MP with 1,000 specks.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _restore import restore_folder  # noqa: E402
from _timing import best  # noqa: E402



def main() -> None:
    import cv2
    import numpy as np
    from skimage import data as skdata

    from inpaint_core.imageio import decode_image, encode_image, restore_values, to_8bit, widen_to_16bit

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--side", default="4000x3000", help="WxH")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--fill-side", default="1024x768", help="WxH of the fill-precision images")
    p.add_argument("--codecs-only", action="store_true", help="only the decode / widen / encode table")
    a = p.parse_args()
    w, h = (int(v) for v in a.side.split("x"))
    rng = np.random.default_rng(0)
    base = cv2.resize(skdata.astronaut(), (w, h), interpolation=cv2.INTER_CUBIC)
    rgb16 = (base.astype(np.uint32) * 256 + rng.integers(0, 256, base.shape)).astype(np.uint16)
    rgb8 = to_8bit(rgb16)
    hole = np.zeros((h, w), bool)
    hole[h // 3:h // 3 + h // 5, w // 4:w // 4 + w // 2] = True  # 10% of the frame
    restored = rgb8.copy()
    restored[hole] = 128
    print(f"{w}x{h} ({w * h / 1e6:.1f} MP), best of {a.repeat}, seconds")
    print("| format | depth | file MB | decode | widen to 16 bits | encode |")
    print("|---|---|---|---|---|---|")
    for fmt in ("png", "tiff"):
        for depth, pixels in ((8, rgb8), (16, rgb16)):
            data = encode_image(pixels, fmt)
            img = decode_image(data)
            assert img.bit_depth == depth
            t_dec = best(lambda: decode_image(data), a.repeat)[0]
            out = widen_to_16bit(restored, img, hole) if depth == 16 else restored
            t_wid = best(lambda: widen_to_16bit(restored, img, hole), a.repeat)[0] if depth == 16 else 0.0
            t_enc = best(lambda: encode_image(out, fmt), a.repeat)[0]
            print(f"| {fmt} | {depth} | {len(data) / 1e6:.0f} | {t_dec:.2f} | "
                  f"{t_wid:.2f} | {t_enc:.2f} |" if depth == 16 else
                  f"| {fmt} | {depth} | {len(data) / 1e6:.0f} | {t_dec:.2f} | - | {t_enc:.2f} |")
    # an RGB + near-infrared tile (read by tifffile; the band is written back, so encoding goes through it too)
    for depth, pixels in ((8, rgb8), (16, rgb16)):
        nir = pixels[..., 1].copy()
        data = encode_image(pixels, "tiff", extra=nir, extra_samples=(0,))
        img = decode_image(data)
        assert img.bit_depth == depth and img.extra is not None
        t_dec = best(lambda: decode_image(data), a.repeat)[0]
        t_enc = best(lambda: encode_image(pixels, "tiff", extra=img.extra, extra_samples=img.extra_samples),
                     a.repeat)[0]
        print(f"| tiff + NIR band | {depth} | {len(data) / 1e6:.0f} | {t_dec:.2f} | - | {t_enc:.2f} |")
    # float TIFFs: a gray elevation model and float RGB, read by tifffile into values + a 16-bit proxy;
    # "widen" is mapping the restored proxy back to floats (restore_values), the known samples exact
    for name, floats in (("float gray (DEM)", rgb16[..., 1].astype(np.float32) / 7.5 - 900.0),
                         ("float RGB", rgb16.astype(np.float32) / 65535)):
        data = encode_image(np.repeat(floats[..., None], 3, 2) if floats.ndim == 2 else floats, "tiff",
                            gray=floats.ndim == 2)
        img = decode_image(data)
        assert img.bit_depth == 32 and img.values is not None
        t_dec = best(lambda: decode_image(data), a.repeat)[0]
        proxy = img.rgb16.copy()
        proxy[hole] = 30000
        t_wid = best(lambda: restore_values(img, proxy, hole), a.repeat)[0]
        out = restore_values(img, proxy, hole)
        t_enc = best(lambda: encode_image(out, "tiff", gray=img.gray), a.repeat)[0]
        print(f"| tiff, {name} | 32 | {len(data) / 1e6:.0f} | {t_dec:.2f} | {t_wid:.2f} | {t_enc:.2f} |")
    if not a.codecs_only:
        fill_precision(a.fill_side, a.repeat)


def strokes(h: int, w: int, seed: int = 0):
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), np.uint8)
    while m.mean() < 0.12:
        p, q = rng.integers(0, (w, h), 2), rng.integers(0, (w, h), 2)
        cv2.line(m, tuple(int(v) for v in p), tuple(int(v) for v in q), 1, int(rng.integers(h // 60, h // 20)))
    return m.astype(bool)


def fill_precision(side: str, repeat: int) -> None:
    import cv2
    import numpy as np
    from skimage import data as skdata

    from inpaint_core import create_inpainter
    from inpaint_core.dequantize import dequantize_fill
    from inpaint_core.imageio import to_8bit

    w, h = (int(v) for v in side.split("x"))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    sky = np.stack([14000 + 6000 * xx / w + 2500 * yy / h + 4000 * c for c in range(3)], axis=2)
    photo = cv2.GaussianBlur(cv2.resize(skdata.astronaut(), (w, h), interpolation=cv2.INTER_CUBIC)
                             .astype(np.float32) * 257, (0, 0), 2.0)
    hole = strokes(h, w)
    print(f"\n{w}x{h}, a {hole.mean():.0%} hole of strokes; error and step in 16-bit levels (8-bit level = 257)")
    print("| image | fill | mean abs error: x257 / lifted / at 16 bits | largest step: x257 / lifted / at 16 bits "
          "| lift s | fill s: 8-bit view / 16 bits |")
    print("|---|---|---|---|---|---|")
    methods = {"telea": create_inpainter("telea"), "spline": create_inpainter("spline")}
    for name, truth in (("sky gradient", sky), ("astronaut, blurred", photo)):
        truth16 = np.rint(truth).astype(np.uint16)
        view = to_8bit(truth16)

        def err(a):
            return f"{np.abs(a[hole].astype(np.float64) - truth16[hole]).mean():.0f}"

        def step(a):
            d = np.abs(np.diff(a.astype(np.int64), axis=1))
            return str(int(d[hole[:, 1:] & hole[:, :-1]].max()))

        for fill_name in ("truth's 8-bit view", *methods):
            if fill_name in methods:
                m = methods[fill_name]
                t8 = best(lambda: m([view], [hole]), repeat)[0]
                t16 = best(lambda: m([truth16], [hole]), repeat)[0]
                fill, at16 = m([view], [hole])[0], m([truth16], [hole])[0]
                times = f"{t8:.2f} / {t16:.2f}"
            else:
                fill, at16, times = view, None, "-"
            fill = np.where(hole[..., None], fill, view)
            staircase = np.where(hole[..., None], fill.astype(np.uint16) * 257, truth16)
            lifted = dequantize_fill(fill, truth16, hole)
            t = best(lambda: dequantize_fill(fill, truth16, hole), repeat)[0]
            e16, s16 = (err(at16), step(at16)) if at16 is not None else ("-", "-")
            print(f"| {name} | {fill_name} | {err(staircase)} / {err(lifted)} / {e16} | "
                  f"{step(staircase)} / {step(lifted)} / {s16} | {t:.2f} | {times} |")
    narrow_data()
    auto_scan(side)
    big = (3000, 4000)
    rng = np.random.default_rng(1)
    specks = np.zeros(big, np.uint8)
    for _ in range(1000):
        cv2.circle(specks, (int(rng.integers(0, big[1])), int(rng.integers(0, big[0]))), int(rng.integers(1, 6)), 1, -1)
    flat8 = np.full(big + (3,), 128, np.uint8)
    t = best(lambda: dequantize_fill(flat8, flat8.astype(np.uint16) * 257, specks.astype(bool)), repeat)[0]
    print(f"\nlifting 1,000 specks (radius 1-5 px) of a flat 4000x3000 fill: {t:.2f} s")


def narrow_data() -> None:
    """12-bit data in a 16-bit file (the astronaut at 256 px, x16): the restore pipeline with a
    method that fills at 8 bits, on the stretched view (the default) and on the plain view."""
    import tempfile

    import cv2
    import numpy as np
    from skimage import data as skdata

    from inpaint_core import imageio
    from inpaint_core.imageio import decode_image, encode_image
    from inpaint_core.pipeline import RestoreConfig
    from inpaint_core.storage import Location

    truth = cv2.resize(skdata.astronaut(), (256, 256), interpolation=cv2.INTER_AREA).astype(np.uint16) * 16 + 7
    hole = strokes(256, 256, seed=2)
    print(f"\n12-bit data in a 16-bit PNG (256x256, values {truth.min()}-{truth.max()}), a {hole.mean():.0%} hole "
          "of strokes: mean abs error in the hole, 16-bit levels")
    print("| method | plain 8-bit view (lifted) | stretched view |")
    print("|---|---|---|")
    default = imageio.NARROW_RANGE
    for method in ("auto", "glcic", "context_encoder"):
        errors = []
        for narrow in (0, default):
            imageio.NARROW_RANGE = narrow
            with tempfile.TemporaryDirectory() as d:
                src, dst = Location(f"{d}/src"), Location(f"{d}/dst")
                src.write_atomic("tile.png", encode_image(truth, "png"))
                src.write_atomic("tile_mask.png", encode_image(np.repeat(hole[..., None] * np.uint8(255), 3, 2), "png",
                                                                 gray=True))
                [row], _ = restore_folder(src, dst, RestoreConfig(method=method, output_format="same"))
                out = decode_image(row["output"]).rgb16
                errors.append(np.abs(out[hole].astype(np.float64) - truth[hole]).mean())
        imageio.NARROW_RANGE = default
        print(f"| {method} | {errors[0]:.0f} | {errors[1]:.0f} |")


def auto_scan(side: str) -> None:
    """``auto`` on a 16-bit scan through the restore pipeline: scratches and dust (the spline's
    windows) and a large hole (the learned model's), error per kind of window."""
    import tempfile

    import cv2
    import numpy as np
    from skimage import data as skdata

    from inpaint_core import create_inpainter
    from inpaint_core.imageio import decode_image, encode_image
    from inpaint_core.inpainters.auto import AutoInpainter
    from inpaint_core.pipeline import RestoreConfig
    from inpaint_core.storage import Location
    from inpaint_core.windows import hole_windows

    w, h = (int(v) for v in side.split("x"))
    rng = np.random.default_rng(3)
    hole = np.zeros((h, w), np.uint8)
    # scratches and dust on a grid in the right half, 180 px apart: windows of their own (a window
    # that also holds a large hole goes to the learned model's 8-bit view, all of it)
    for i, (x, y) in enumerate((x, y) for x in range(w // 2 + 90, w - 60, 180) for y in range(90, h - 60, 180)):
        if i % 2:
            dx, dy = (int(v) for v in rng.integers(-20, 21, 2))
            cv2.line(hole, (x - dx, y - dy), (x + dx, y + dy), 1, int(rng.integers(1, 4)))
        else:
            cv2.circle(hole, (x, y), int(rng.integers(2, 7)), 1, -1)
    cv2.ellipse(hole, (w // 6, h // 2), (w // 16, h // 12), 30, 0, 360, 1, -1)  # a large hole, left
    hole = hole.astype(bool)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    images = {"sky gradient": np.stack([14000 + 6000 * xx / w + 2500 * yy / h + 4000 * c for c in range(3)], axis=2),
              "astronaut, blurred": cv2.GaussianBlur(cv2.resize(skdata.astronaut(), (w, h), interpolation=cv2.INTER_CUBIC)
                                                     .astype(np.float32) * 257, (0, 0), 2.0)}
    auto = create_inpainter("auto")
    windows = hole_windows(hole, margin=auto.window_margin, min_side=auto.window_min_side,
                           multiple=auto.window_multiple)
    kinds = {True: np.zeros_like(hole), False: np.zeros_like(hole)}
    for win in windows:
        kinds[auto.fills_at_16_bits(hole[win.slices])][win.slices] |= hole[win.slices]
    print(f"\n`auto` on a 16-bit {w}x{h} scan, a {hole.mean():.1%} hole: {kinds[True].sum()} px of scratches and dust "
          f"(the spline), {kinds[False].sum()} px in the learned model's windows "
          f"({auto.learned.name if auto.learned else 'none: the spline'}); mean abs error, 16-bit levels")
    print("| image | windows | all on the 8-bit view, lifted | each at its method's depth |")
    print("|---|---|---|---|")
    at_depth = AutoInpainter.fills_at_16_bits
    for name, truth in images.items():
        truth16 = np.rint(truth).astype(np.uint16)
        outs = []
        for per_window in (False, True):
            AutoInpainter.fills_at_16_bits = at_depth if per_window else (lambda self, m: False)
            with tempfile.TemporaryDirectory() as d:
                src, dst = Location(f"{d}/src"), Location(f"{d}/dst")
                src.write_atomic("scan.png", encode_image(truth16, "png"))
                src.write_atomic("scan_mask.png", encode_image(np.repeat(hole[..., None] * np.uint8(255), 3, 2), "png",
                                                               gray=True))
                [row], _ = restore_folder(src, dst, RestoreConfig(method="auto", output_format="same"))
                outs.append(decode_image(row["output"]).rgb16.astype(np.float64))
        AutoInpainter.fills_at_16_bits = at_depth
        for sixteen, label in ((True, "spline (thin, small)"), (False, "learned (large)")):
            m = kinds[sixteen]
            if m.any():
                e = [np.abs(o[m] - truth16[m]).mean() for o in outs]
                print(f"| {name} | {label} | {e[0]:.0f} | {e[1]:.0f} |")


if __name__ == "__main__":
    main()
