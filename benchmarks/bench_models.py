"""Parameters and speed of every learned model's generator (random weights, default widths).

    python benchmarks/bench_models.py [--sizes 256 512] [--batches 1 8] [--models glcic,...] [--seconds 3]
    python benchmarks/bench_models.py --device cuda [--bf16]      # on a GPU

Images per second of the bare generator forward pass (inference mode, float32, or bfloat16 autocast
with ``--bf16`` on CUDA), best of the repetitions that fit in ``--seconds`` per cell after one
warm-up pass; on CUDA each timing waits for the GPU (``torch.cuda.synchronize``). Fixed-size models
(context_encoder) run at their own resolution only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from inpaint_core.models import get_model_spec, list_models  # noqa: E402


def speed(model, side: int, batch: int, seconds: float, needs_edges: bool, device: str = "cpu",
          bf16: bool = False) -> float:
    x = torch.rand(batch, 3, side, side, device=device) * 2 - 1
    m = torch.zeros(batch, 1, side, side, device=device)
    m[..., side // 4: side // 2, side // 4: side // 2] = 1
    e = (torch.rand(batch, 1, side, side, device=device) > 0.9).float() if needs_edges else None
    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda and bf16 else contextlib.nullcontext()
    with torch.inference_mode(), amp:
        model(x * (1 - m), m, e)
        sync()
        best, t_end = float("inf"), time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            t = time.perf_counter()
            model(x * (1 - m), m, e)
            sync()
            best = min(best, time.perf_counter() - t)
    return batch / best


def _one_model(name: str, sizes, batches, seconds: float, device: str = "cpu", bf16: bool = False) -> str:
    spec = get_model_spec(name)
    torch.manual_seed(0)
    model = spec.build(dict(spec.default_config)).eval().to(device)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    cells = []
    for s in sizes:
        for b in batches:
            if spec.fixed_size and s != sizes[0]:
                cells.append("(fixed size)")
                continue
            side = int(spec.default_config["resolution"]) if spec.fixed_size else s
            try:
                cells.append(f"{speed(model, side, b, seconds, spec.needs_edges, device, bf16):.2f}")
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
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast (CUDA only)")
    args = ap.parse_args()
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") \
        else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {where}, {'bfloat16 autocast' if args.bf16 else 'float32'}")
    head = " | ".join(f"{s}px b{b}" for s in args.sizes for b in args.batches)
    print(f"| model | params (M) | {head} |")
    print("|---|---|" + "---|" * (len(args.sizes) * len(args.batches)))
    for name in args.models.split(","):
        # Each model in its own process; on the CPU under a 16 GiB address-space cap, so that one that
        # does not fit reports "out of memory" instead of taking the machine down (CUDA reserves far
        # more address space than it uses, and reports its own out-of-memory errors).
        cap = "" if args.device.startswith("cuda") else \
            f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({16 << 30}, {16 << 30})); "
        code = (f"import sys; {cap}"
                f"sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r}); "
                f"from benchmarks.bench_models import _one_model; "
                f"print(_one_model({name!r}, {args.sizes}, {args.batches}, {args.seconds}, {args.device!r}, "
                f"{args.bf16}))")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        line = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else \
            f"| {name} | failed: {(r.stderr.strip().splitlines() or ['killed'])[-1][:80]} |"
        print(line, flush=True)

if __name__ == "__main__":
    main()
