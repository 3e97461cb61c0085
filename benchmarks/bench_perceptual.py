"""Throughput of the evaluation's perceptual networks: FID Inception and LPIPS (AlexNet, VGG16).

    python benchmarks/bench_perceptual.py [--size 256] [--batch 16] [--seconds 8] [--device cpu]

Random weights (speed does not depend on them; the real files cannot be downloaded here), random
inputs, inference mode. Prints images/s for the Inception (FID needs two images per evaluated case:
the composite and the original) and pairs/s for LPIPS.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inpaint_core.perceptual import LPIPS, FIDInception  # noqa: E402


def rate(fn, n: int, seconds: float) -> float:
    fn()  # warm-up
    done, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        fn()
        done += n
    return done / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    dev = torch.device(a.device)
    x = torch.rand(a.batch, 3, a.size, a.size, device=dev)
    print(f"{a.size} px, batch {a.batch}, {dev}, {torch.get_num_threads()} threads")
    with torch.inference_mode():
        inception = FIDInception().eval().to(dev)
        print(f"FID Inception: {rate(lambda: inception(x), a.batch, a.seconds):.1f} images/s")
        for net in ("alex", "vgg"):
            model = LPIPS(net).eval().to(dev)
            y = x * 2 - 1
            print(f"LPIPS {net}: {rate(lambda: model(y, y.flip(0)), a.batch, a.seconds):.1f} pairs/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
