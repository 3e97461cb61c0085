"""A learned model in the restore pipeline against a bare loop calling the same model, same run.

    python benchmarks/bench_learned_pipeline.py --model glcic --images 100 --size 512

The model runs with random weights (speed does not depend on their values) saved as a checkpoint.
The bare loop: one process, decode image and mask, ``inpainter([image], [mask])`` (which cuts the
same windows around holes and resizes them to the working resolution), PNG encode, write. The
pipeline: ``restore`` with the same checkpoint on a LocalCluster with one worker per core (Dask
pins BLAS/OpenMP to one thread per worker), blending off (the loop does not blend) and on.

Second part (``--large``): one 6000x4000 photo with about 1% of its pixels in holes, windowed
inpainter against the same model on the whole frame (skipped where it would not fit in memory):
time and peak RSS of each, measured in subprocesses.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")

from benchmarks._collection import list_pairs, make_collection  # noqa: E402


def make_checkpoint(model: str, path: str, overrides: dict) -> str:
    import torch

    from inpaint_core.models import get_model_spec, save_checkpoint

    torch.manual_seed(0)
    spec = get_model_spec(model)
    config = {**spec.default_config, **overrides}
    save_checkpoint(spec.build(config), model, config, path, {"training_data": "none (random weights)"})
    return path


def bare_loop(pairs, checkpoint: str, model: str, out_dir: str) -> float:
    from inpaint_core import create_inpainter
    from inpaint_core.imageio import decode_image, decode_mask, encode_image

    inp = create_inpainter(model, checkpoint=checkpoint)
    os.makedirs(out_dir, exist_ok=True)
    t = time.perf_counter()
    for i, (src, msk) in enumerate(pairs):
        img = decode_image(open(src, "rb").read())
        (out,) = inp([img.rgb], [decode_mask(open(msk, "rb").read())])
        with open(os.path.join(out_dir, f"{i}.png"), "wb") as fh:
            fh.write(encode_image(out, "png"))
    return time.perf_counter() - t


def pipeline(src: str, dest: str, model: str, checkpoint: str, blend: str, workers: int,
             shard_size: int) -> tuple[float, float]:
    from flows.restore import run_restore

    t = time.perf_counter()
    s = run_restore(src, dest, n_workers=workers, method=model, checkpoint=checkpoint, blend=blend,
                    shard_size=shard_size, contact_sheet=False)
    assert s["failed"] == 0, s["failures"]
    return time.perf_counter() - t, s["seconds"]


_LARGE = r"""
import json, resource, sys, time, numpy as np, cv2
sys.path.insert(0, {root!r})
from skimage import data
from inpaint_core import create_inpainter
import torch
mode, model, ck = sys.argv[1], sys.argv[2], sys.argv[3]
img = cv2.resize(data.astronaut(), (6000, 4000), interpolation=cv2.INTER_CUBIC)
rng = np.random.default_rng(0)
mask = np.zeros(img.shape[:2], np.uint8)
while mask.mean() < 0.01:
    cv2.circle(mask, (int(rng.integers(0, 6000)), int(rng.integers(0, 4000))), int(rng.integers(5, 40)), 1, -1)
mask = mask.astype(bool)
inp = create_inpainter(model, checkpoint=ck)
t = time.perf_counter()
if mode == "windowed":
    inp([img], [mask])
else:
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1
    m = torch.from_numpy(mask)[None, None].float()
    with torch.inference_mode():
        inp.model(x * (1 - m), m, None)
print(json.dumps({{"seconds": time.perf_counter() - t,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def large(model: str, checkpoint: str) -> None:
    code = _LARGE.format(root=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for mode in ("windowed", "whole-frame"):
        # A cap on the address space: a whole frame that does not fit fails here, not the machine.
        r = subprocess.run([sys.executable, "-c", code, mode, model, checkpoint], capture_output=True, text=True,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30)))
        if r.returncode != 0:
            why = (r.stderr.strip().splitlines() or [f"killed by signal {-r.returncode}"])[-1][:120]
            print(f"6000x4000, 1% holes, {mode:11s}: did not run ({why})")
            continue
        res = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"6000x4000, 1% holes, {mode:11s}: {res['seconds']:7.2f} s, peak RSS {res['peak_mib']:7.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="glcic")
    ap.add_argument("--width", type=int, help="override the model's width")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--shard-size", type=int, default=8)
    ap.add_argument("--large", action="store_true", help="also the 6000x4000 windowed vs whole-frame comparison")
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "inpaint-bench"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="inpaint-learned-")
    try:
        ck = make_checkpoint(args.model, os.path.join(work, f"{args.model}.safetensors"),
                             {"width": args.width} if args.width else {})
        if args.images == 0:  # only the large-image comparison
            large(args.model, ck)
            return
        src = make_collection(os.path.join(args.data, f"src-{args.images}-{args.size}"), args.images, args.size)
        pairs = list_pairs(src)
        bare_loop(pairs[:4], ck, args.model, os.path.join(work, "warm"))
        loop_s = bare_loop(pairs, ck, args.model, os.path.join(work, "loop"))
        off_total, off_inner = pipeline(src, os.path.join(work, "off"), args.model, ck, "off", args.workers,
                                      args.shard_size)
        on_total, on_inner = pipeline(src, os.path.join(work, "on"), args.model, ck, "on", args.workers,
                                    args.shard_size)
        loop2 = bare_loop(pairs, ck, args.model, os.path.join(work, "loop2"))
        best = min(loop_s, loop2)
        n = len(pairs)
        print(f"{args.model}: {n} images {args.size}x{args.size}, 5-20% holes, {args.workers} workers")
        print(f"bare loop (best of 2)          : {best:7.2f} s ({n / best:.2f} img/s)  [{loop_s:.2f} / {loop2:.2f}]")
        print(f"pipeline, blend off, shards    : {off_inner:7.2f} s -> ratio {best / off_inner:.2f}"
              f"  (end to end {off_total:.2f} s -> {best / off_total:.2f})")
        print(f"pipeline, blend on,  shards    : {on_inner:7.2f} s -> ratio {best / on_inner:.2f}"
              f"  (end to end {on_total:.2f} s -> {best / on_total:.2f})")
        if args.large:
            large(args.model, ck)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
