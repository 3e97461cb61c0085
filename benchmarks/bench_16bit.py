"""What a 16-bit source costs against the same image at 8 bits, per stage that differs.

    python benchmarks/bench_16bit.py [--side 4000x3000] [--repeat 3]

A 16-bit RGB image (skimage's astronaut resized, random low bytes) and its 8-bit view, both as PNG
and TIFF. For each: ``decode_image`` (Pillow opens every file; a 16-bit one is then decoded again
by OpenCV, because Pillow truncates 48-bit colour), widening a restoration back to 16 bits
(``widen_to_16bit``, a 10% hole) and ``encode_image`` in the same format. The fill itself runs on
the 8-bit view either way and costs the same. Best of ``--repeat``, seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    import cv2
    import numpy as np
    from skimage import data as skdata

    from inpaint_core.imageio import decode_image, encode_image, to_8bit, widen_to_16bit

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--side", default="4000x3000", help="WxH")
    p.add_argument("--repeat", type=int, default=3)
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
            t_dec = best(lambda: decode_image(data), a.repeat)
            out = widen_to_16bit(restored, img, hole) if depth == 16 else restored
            t_wid = best(lambda: widen_to_16bit(restored, img, hole), a.repeat) if depth == 16 else 0.0
            t_enc = best(lambda: encode_image(out, fmt), a.repeat)
            print(f"| {fmt} | {depth} | {len(data) / 1e6:.0f} | {t_dec:.2f} | "
                  f"{t_wid:.2f} | {t_enc:.2f} |" if depth == 16 else
                  f"| {fmt} | {depth} | {len(data) / 1e6:.0f} | {t_dec:.2f} | - | {t_enc:.2f} |")


if __name__ == "__main__":
    main()
