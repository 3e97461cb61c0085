"""Training-data throughput on large photos: native crops against ``--image-side`` (downscale first).

A training item decodes its whole image. For a 24 MP JPEG that is most of the item's cost, and at
native resolution the crop is a small patch of texture. ``image_side`` downscales each image to a
given shorter side first; JPEGs then decode at a reduced DCT scale on the way.

    python benchmarks/bench_training_data.py [--images 8] [--width 6000] [--height 4000] [--items 24]

Prints items per second of one loader process (``InpaintingDataset.__getitem__``: read, decode,
resize, crop, flip, mask), per setting, and the ratio to native, measured in the same run.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from inpaint_core.training.data import InpaintingDataset  # noqa: E402


def make_photos(root: str, n: int, width: int, height: int) -> None:
    """``n`` JPEG photos (quality 90): skimage's photos upscaled, plus sensor-like noise."""
    from skimage import data as skdata

    rng = np.random.default_rng(0)
    sources = [skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket()]
    for i in range(n):
        img = cv2.resize(sources[i % len(sources)], (width, height), interpolation=cv2.INTER_CUBIC)
        img = cv2.add(img, rng.integers(0, 12, img.shape, dtype=np.uint8))
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=90)
        with open(os.path.join(root, f"photo{i:03d}.jpg"), "wb") as f:
            f.write(buf.getvalue())


def items_per_second(ds: InpaintingDataset, n: int) -> float:
    ds[0]  # warm-up (imports, first allocation)
    t = time.perf_counter()
    for i in range(n):
        ds[i % len(ds)]
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--width", type=int, default=6000)
    ap.add_argument("--height", type=int, default=4000)
    ap.add_argument("--items", type=int, default=24, help="items timed per setting")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        make_photos(root, a.images, a.width, a.height)
        mb = sum(os.path.getsize(os.path.join(root, f)) for f in os.listdir(root)) / a.images / 1e6
        print(f"{a.images} JPEG photos of {a.width}x{a.height} ({mb:.1f} MB each), {a.items} items per setting")
        print("| crop | image side | items/s | vs native |")
        print("|---|---|---|---|")
        for crop, sides in ((128, (None, 512, 256)), (256, (None, 1024, 512))):
            base = None
            for side in sides:
                ds = InpaintingDataset([root], size=crop, seed=0, image_side=side)
                rate = items_per_second(ds, a.items)
                base = base or rate
                print(f"| {crop} | {side or 'native'} | {rate:.2f} | {rate / base:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
