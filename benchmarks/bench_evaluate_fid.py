"""An evaluation with FID of several methods: the originals' Inception features per method vs once.

FID compares each bin's composited outputs with its originals. The originals are the same for
every method, so the evaluate flow (and the export) now computes their features once
(``reference_features``) instead of once per method.

    python benchmarks/bench_evaluate_fid.py [--limit 20] [--methods telea ns spline]

Runs the protocol (``../shared/data/bsds500/val``, the shared irregular masks, 256 px crops, the
first ``--limit`` images per bin) for the methods both ways, alternating, in the same run, with an FID Inception
of random weights (its speed does not depend on them; the real file cannot be downloaded here),
and prints the seconds of each and the FIDs, which must agree.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from inpaint_core import create_inpainter  # noqa: E402
from inpaint_core.evaluation import BASELINES, evaluate_method, protocol_cases, reference_features  # noqa: E402
from inpaint_core.perceptual import FIDInception, PerceptualScorer  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=20, help="images per bin")
    ap.add_argument("--methods", nargs="+", default=list(BASELINES))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--images", default=os.path.join(SHARED, "bsds500", "val"))
    ap.add_argument("--masks", default=os.path.join(SHARED, "masks", "nvidia_irregular", "index.csv"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        sd = FIDInception().state_dict()
        sd.update({"fc.weight": torch.randn(1008, 2048) * 0.01, "fc.bias": torch.zeros(1008)})
        torch.save(sd, f"{tmp}/pt_inception.pth")
        scorer = PerceptualScorer(fid_weights=f"{tmp}/pt_inception.pth", device="cpu")
        cases = list(protocol_cases(args.images, args.masks, size=256, limit=args.limit))
        inpainters = [create_inpainter(m, **BASELINES.get(m, {})) for m in args.methods]
        print(f"{len(cases)} cases, methods {', '.join(args.methods)}, torch threads {torch.get_num_threads()}")

        per_method, once = [], []
        for _ in range(args.repeats):  # alternating; the faster of each counts (a noisy machine)
            t = time.perf_counter()
            refs = reference_features(cases, scorer)
            after = [evaluate_method(p, cases, perceptual=scorer, ref_features=refs)[1] for p in inpainters]
            once.append(time.perf_counter() - t)
            t = time.perf_counter()
            before = [evaluate_method(p, cases, perceptual=scorer)[1] for p in inpainters]
            per_method.append(time.perf_counter() - t)
        per_method, once = min(per_method), min(once)

    fids = [(a["fid"], b["fid"]) for x, y in zip(before, after) for a, b in zip(x, y)]
    worst = max(abs(a - b) / max(abs(a), 1e-9) for a, b in fids)
    print(f"originals' features per method: {per_method:.1f} s; once: {once:.1f} s "
          f"({per_method / once:.2f}x); FIDs agree within {worst:.1e} (relative)")


if __name__ == "__main__":
    main()
