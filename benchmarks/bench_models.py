"""Parameters and CPU speed of every learned model's generator (random weights, default widths).

    python benchmarks/bench_models.py [--sizes 256 512] [--batches 1 8] [--models glcic,...] [--seconds 3]

Images per second of the bare generator forward pass (inference mode, float32), best of the
repetitions that fit in ``--seconds`` per cell after one warm-up pass. Fixed-size models
(context_encoder) run at their own resolution only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
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


def _one_model(name: str, sizes, batches, seconds: float) -> str:
    spec = get_model_spec(name)
    torch.manual_seed(0)
    model = spec.build(dict(spec.default_config)).eval()
    params = sum(p.numel() for p in model.parameters()) / 1e6
    cells = []
    for s in sizes:
        for b in batches:
            if spec.fixed_size and s != sizes[0]:
                cells.append("(fixed size)")
                continue
            side = int(spec.default_config["resolution"]) if spec.fixed_size else s
            try:
                cells.append(f"{speed(model, side, b, seconds, spec.needs_edges):.2f}")
            except (MemoryError, RuntimeError) as exc:
                if "memory" not in str(exc).lower() and not isinstance(exc, MemoryError):
                    raise
                cells.append("out of memory")
    return f"| {name} | {params:.2f} | " + " | ".join(cells) + " |"


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
        # Each model in its own process under a 16 GiB address-space cap: one that does not fit
        # reports "out of memory" instead of taking the machine down.
        code = (f"import resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({16 << 30}, {16 << 30})); "
                f"sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r}); "
                f"from benchmarks.bench_models import _one_model; "
                f"print(_one_model({name!r}, {args.sizes}, {args.batches}, {args.seconds}))")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        line = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else \
            f"| {name} | failed: {(r.stderr.strip().splitlines() or ['killed'])[-1][:80]} |"
        print(line, flush=True)

if __name__ == "__main__":
    main()
