"""Parameters and CPU speed of every learned model's generator (random weights, default widths).

    python benchmarks/bench_models.py [--sizes 256 512] [--batches 1 8] [--models glcic,...] [--seconds 3]

Images per second of the bare generator forward pass (inference mode, float32), best of the
repetitions that fit in ``--seconds`` per cell after one warm-up pass. Fixed-size models
(context_encoder) run at their own resolution only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from inpaint_core.models import get_model_spec, list_models  # noqa: E402


def speed(model, side: int, batch: int, seconds: float, needs_edges: bool) -> float:
    x = torch.rand(batch, 3, side, side) * 2 - 1
    m = torch.zeros(batch, 1, side, side)
    m[..., side // 4: side // 2, side // 4: side // 2] = 1
    e = (torch.rand(batch, 1, side, side) > 0.9).float() if needs_edges else None
    with torch.inference_mode():
        model(x * (1 - m), m, e)
        best, t_end = float("inf"), time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            t = time.perf_counter()
            model(x * (1 - m), m, e)
            best = min(best, time.perf_counter() - t)
    return batch / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--models", default=",".join(list_models()))
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    head = " | ".join(f"{s}px b{b}" for s in args.sizes for b in args.batches)
    print(f"| model | params (M) | {head} |")
    print("|---|---|" + "---|" * (len(args.sizes) * len(args.batches)))
    for name in args.models.split(","):
        spec = get_model_spec(name)
        torch.manual_seed(0)
        model = spec.build(dict(spec.default_config)).eval()
        params = sum(p.numel() for p in model.parameters()) / 1e6
        cells = []
        for s in args.sizes:
            for b in args.batches:
                side = int(spec.default_config["resolution"]) if spec.fixed_size else s
                if spec.fixed_size and s != args.sizes[0]:
                    cells.append("(fixed size)")
                    continue
                cells.append(f"{speed(model, side, b, args.seconds, spec.needs_edges):.2f}")
        print(f"| {name} | {params:.2f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
