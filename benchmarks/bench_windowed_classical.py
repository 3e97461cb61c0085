"""Full-frame vs windowed Telea on a 6000x4000 image with ~1 % of its pixels in small scattered blobs.

Run from the repository root: ``python benchmarks/bench_windowed_classical.py [--repeat N]``.
Prints the best of N runs of each and checks that the two agree at every pixel.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing the package

from inpaint_core.inpainters import create_inpainter  # noqa: E402
from inpaint_core.windows import hole_windows  # noqa: E402

from _timing import best  # noqa: E402


def scattered_blobs(shape: tuple[int, int], fraction: float, seed: int = 0) -> np.ndarray:
    """HxW uint8 mask of random discs (radius 3-15 px) until ``fraction`` of the pixels are holes."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    target = fraction * mask.size
    while np.count_nonzero(mask) < target:
        for _ in range(200):
            y, x = rng.integers(0, shape)
            cv2.circle(mask, (int(x), int(y)), int(rng.integers(3, 16)), 255, -1)
    return mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--radius", type=int, default=3)
    args = parser.parse_args()

    image = cv2.resize(data.astronaut(), (6000, 4000), interpolation=cv2.INTER_CUBIC)
    mask = scattered_blobs(image.shape[:2], args.fraction)
    telea = create_inpainter("telea", radius=args.radius)
    windows = hole_windows(mask, margin=telea.window_margin)
    print(f"image 6000x4000, holes {np.count_nonzero(mask) / mask.size:.2%} of pixels, "
          f"{len(windows)} windows covering {sum(w.area for w in windows) / mask.size:.1%}")
    telea([image[:500, :500]], [mask[:500, :500]])  # warm-up: OpenCV starts its thread pool lazily

    full_s, full = best(lambda: cv2.inpaint(image, mask, args.radius, cv2.INPAINT_TELEA), args.repeat)
    win_s, (windowed,) = best(lambda: telea([image], [mask]), args.repeat)
    windows_s, _ = best(lambda: hole_windows(mask, margin=telea.window_margin), args.repeat)
    diff = int(np.abs(full.astype(np.int16) - windowed).max())
    print(f"full frame cv2.inpaint : {full_s * 1000:8.1f} ms")
    print(f"windowed telea         : {win_s * 1000:8.1f} ms  (of which hole_windows {windows_s * 1000:.1f} ms)")
    print(f"speed-up               : {full_s / win_s:8.1f}x   max |full - windowed| = {diff}")


if __name__ == "__main__":
    main()
