"""``inpaint``: the command line. Heavy modules are imported inside commands so ``--help`` is instant."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading


def _quiet_prefect(verbose: bool = False) -> None:
    # No network here and none needed: keep the local Prefect server from phoning home.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if not verbose:  # the cluster's start/stop chatter; workers inherit it through the environment
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def _hole_range_arg(text: str) -> tuple[float, float]:
    from inpaint_core.masks.generators import parse_hole_range

    try:
        return parse_hole_range(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _parse_kv(values) -> dict:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as JSON where they are JSON)."""
    out = {}
    for kv in values or []:
        key, sep, value = kv.partition("=")
        if not sep or not key:
            raise ValueError(f"expected KEY=VALUE, got {kv!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _storage_options(args) -> dict:
    opts = _parse_kv(args.storage_option)
    if args.s3_endpoint_url:
        opts["endpoint_url"] = args.s3_endpoint_url
    return opts


def _failure_rate(text: str) -> float | None:
    if text.strip().lower() in ("none", "off"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1 or 'none', got {text!r}")
    return value


def _jpeg_quality(value: str) -> int | str:
    if value.strip().lower() == "source":
        return "source"
    try:
        quality = int(value)
    except ValueError:
        quality = 0
    if not 1 <= quality <= 100:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a quality from 1 to 100, or 'source'")
    return quality


def _add_restore_options(p: argparse.ArgumentParser, default_method: str = "telea") -> None:
    p.add_argument("--method", default=default_method,
                   help=f"inpainting method (see `inpaint methods`); default {default_method}"
                        + (" (thin/small defects: the spline; large holes: the best shipped model)"
                           if default_method == "auto" else ""))
    p.add_argument("--method-option", action="append", metavar="KEY=VALUE", help="option of the method, e.g. radius=5")
    p.add_argument("--checkpoint", help="weights of a learned method: local path or fsspec URL")
    p.add_argument("--masks", choices=["auto", "load", "detect"], default="auto",
                   help="auto: load a mask if one exists, else transparency, else a TIFF's nodata value or "
                        "internal mask, else detect (default)")
    p.add_argument("--masks-root", help="root of a parallel masks tree (default: SRC/masks)")
    p.add_argument("--mask-list", help="Parquet or CSV file with columns image,mask")
    p.add_argument("--reference", help="root of clean references (same keys) to score PSNR/SSIM/L1")
    p.add_argument("--detectors", default=None,
                   help="comma-separated detectors for images without a mask: solid, scratches "
                        "(default: solid; the demo adds scratches)")
    p.add_argument("--blend", choices=["auto", "on", "off"], default="auto",
                   help="GLCIC FMM+Poisson post-process of a generator's output; auto = off (on the dev "
                        "protocol it moves every shipped model's PSNR by -0.13 to +0.02 dB: benchmarks/bench_blend.py)")
    p.add_argument("--blend-margin", type=int, default=8, help="pixels around a hole that blending may change")
    p.add_argument("--max-fill-distance", type=float, default=None, metavar="PX",
                   help="leave hole pixels farther than PX from every known pixel as they were (as gdal_fillnodata "
                        "-md): a nodata sea or the area outside a tile's footprint stays missing; default: fill all")
    p.add_argument("--output-format", default="png", choices=["png", "same", "jpeg", "webp", "tiff", "bmp"])
    p.add_argument("--jpeg-quality", type=_jpeg_quality, default=95, metavar="1-100|source",
                   help="quality of JPEG and WebP outputs and of a TIFF's JPEG tiles (default 95); 'source': a "
                        "JPEG output of a JPEG source keeps its quantization tables and chroma subsampling (about "
                        "its size, and its known pixels change least), others at 95")
    p.add_argument("--png-compression", type=int, default=1, choices=range(10), metavar="0-9",
                   help="zlib level of PNG outputs (default 1: several times faster than 6, a few percent larger)")
    p.add_argument("--write-masks", action="store_true", help="also write the masks used under DEST/masks/")
    p.add_argument("--write-edges", action="store_true", help="also write Canny edge maps under DEST/edges/")
    p.add_argument("--no-score", action="store_true", help="skip the quality scores (seam, colour, texture)")
    p.add_argument("--shard-size", type=int, default=64, help="images per task run (default 64)")
    p.add_argument("--force", action="store_true", help="redo images already restored with the same settings")
    p.add_argument("--dry-run", action="store_true",
                   help="only say what the run would do (up to date, to restore, to check, with reasons, bytes to "
                        "read and mask sources), reading no image and writing nothing")
    p.add_argument("--verify", action="store_true",
                   help="re-read and hash every source, mask and output to find what is up to date (by default "
                        "an image whose listed size and ETag/mtime match the manifest is not read at all)")
    p.add_argument("--max-failure-rate", type=_failure_rate, default=0.5, metavar="FRACTION",
                   help="end the run Failed (exit status 1) when more than this fraction of the images fail "
                        "(default 0.5; 0 = any failure; 1 or 'none' = never); failed images never stop the run")
    p.add_argument("--dask-address", help="scheduler of an existing Dask cluster (default: a LocalCluster)")
    p.add_argument("--workers", type=int, help="LocalCluster worker processes (default: one per core)")
    p.add_argument("--s3-endpoint-url", help="S3 API endpoint (MinIO, moto, ...); or set AWS_ENDPOINT_URL")
    p.add_argument("--storage-option", action="append", metavar="KEY=VALUE", help="extra fsspec option")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.add_argument("--verbose", action="store_true", help="also show the Dask cluster's own log lines")


def _run(args, source: str, dest: str, reference: str | None = None, default_detectors: str = "solid") -> dict:
    _quiet_prefect(args.verbose)
    from flows.restore import PROGRESS_HOOKS, run_restore

    from flows.progress import ShardProgress

    bar = ShardProgress(enabled=not args.no_progress)
    PROGRESS_HOOKS.append(bar)
    try:
        return run_restore(
            source, dest, dask_address=args.dask_address, n_workers=args.workers, method=args.method,
            method_options=_parse_kv(args.method_option), checkpoint=args.checkpoint, masks=args.masks,
            masks_root=args.masks_root, mask_list=args.mask_list, reference=reference or args.reference,
            detectors=[d for d in (args.detectors or default_detectors).split(",") if d], blend=args.blend,
            blend_margin=args.blend_margin, output_format=args.output_format, write_masks=args.write_masks,
            write_edges=args.write_edges, shard_size=args.shard_size, score=not args.no_score, force=args.force,
            verify=args.verify, max_failure_rate=args.max_failure_rate, storage_options=_storage_options(args),
            max_fill_distance=args.max_fill_distance, jpeg_quality=args.jpeg_quality,
            png_compression=args.png_compression,
            **({"dry_run": True} if getattr(args, "dry_run", False) else {}))
    finally:
        bar.close()
        PROGRESS_HOOKS.remove(bar)


def _print_summary(s: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(s, indent=2, default=str))
        return
    if s.get("dry_run"):
        from flows.artifacts import plan_markdown

        print(plan_markdown(s))
        return
    print(f"run {s['run_id']}: {s['images']} objects in {s['seconds']:.1f} s -> "
          f"{s['ok']} ok, {s['skipped']} skipped, {s['failed']} failed, {s['up_to_date']} already up to date")
    for image_id, error in s["failures"][:10]:
        print(f"  failed {image_id}: {error}")
    print(f"restored images: {s['dest']}/images/")
    print(f"manifest:        {s['manifest']}/")
    if s.get("contact_sheet"):
        print(f"contact sheet:   {s['contact_sheet']}")


def _exit_status(s: dict) -> int:
    """1 when the run ended Failed (too many failed images), with the reason on stderr."""
    if s.get("state") == "failed":
        print(f"inpaint: run failed: {s['state_message']}", file=sys.stderr)
        return 1
    return 0


def cmd_restore(args) -> int:
    s = _run(args, args.source, args.dest)
    _print_summary(s, args.json)
    return _exit_status(s)


def cmd_demo(args) -> int:
    from inpaint_core.demo import build_demo_collection

    root = os.path.abspath(args.out)
    paths = build_demo_collection(root)
    print(f"demo collection: {paths['input']} (clean references: {paths['reference']})")
    s = _run(args, paths["input"], os.path.join(root, "restored"), reference=paths["reference"],
             default_detectors="solid,scratches")
    _print_summary(s, args.json)
    return _exit_status(s)


def cmd_evaluate(args) -> int:
    _quiet_prefect(args.verbose)
    from flows.evaluate import method_spec, run_evaluate, split_methods
    from inpaint_core import inpainter_info

    checkpoints, methods = _parse_kv(args.checkpoint), split_methods(args.methods)
    for m in methods:  # a malformed or unknown method is refused before a Prefect server or cluster is started
        inpainter_info(method_spec(m)[0])
    s = run_evaluate(methods, args.images, args.masks, args.out,
                     dask_address=args.dask_address, n_workers=args.workers, size=args.size, limit=args.limit,
                     bins=[b for b in args.bins.split(",") if b] if args.bins else None, checkpoints=checkpoints,
                     storage_options=_storage_options(args),
                     fid_weights=args.fid_weights, lpips_backbone=args.lpips_backbone, lpips_lin=args.lpips_lin)
    print(s["markdown"])
    print(f"results: {s['location']}/")
    return 0


def _mask_mix(text: str) -> dict[str, float]:
    """``free_form=0.4,thick=0.3`` -> weights, checked against the generators before anything starts."""
    from inpaint_core.masks.generators import MaskMixer

    mix = {}
    for name, weight in _parse_kv(text.split(",")).items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ValueError(f"--masks: the weight of {name!r} must be a number, got {weight!r}")
        mix[name] = float(weight)
    named = {k: 1.0 for k in mix if not k.startswith("folder:")}  # folders are listed when training starts
    if named:
        MaskMixer(named)  # an unknown generator is refused here, with the known names
    return mix


def cmd_train(args) -> int:
    _quiet_prefect(True)
    from flows.train import run_train
    from inpaint_core.training.trainer import check_settings

    model_options, recipe_options = _parse_kv(args.model_option), _parse_kv(args.recipe_option)
    check_settings(args.model, model_options, recipe_options, crop=args.crop)  # before a Prefect server starts
    masks = _mask_mix(args.masks) if args.masks else None
    r = run_train(model=args.model, data=args.data, dest=args.out, steps=args.steps, batch_size=args.batch_size,
                  crop=args.crop, lr=args.lr, seed=args.seed, device=args.device,
                  model_options=model_options, recipe_options=recipe_options, masks=masks,
                  hole_range=args.hole_range, image_side=args.image_side, checkpoint_every=args.checkpoint_every,
                  log_every=args.log_every, num_workers=args.loader_workers, fp16_weights=args.fp16_weights,
                  max_minutes=args.max_minutes, storage_options=_storage_options(args), init_from=args.init_from)
    print(f"{args.model}: step {r['step']}, {r['card']['images_seen']} images seen, "
          f"{r['card']['wall_seconds']:.0f} s; checkpoint {r['checkpoint']}")
    return 0


def cmd_serve(args) -> int:
    from flows.serve import serve

    opts = _storage_options(args)
    return serve(args.watch, args.dest, host=args.host, port=args.port, pool=args.pool,
                 watch_interval=args.watch_interval, debounce=args.debounce, settle=args.settle,
                 method=args.method, storage_options=opts or None)


def cmd_methods(args) -> int:
    from inpaint_core import inpainter_info, list_inpainters

    for name in list_inpainters():
        info = inpainter_info(name)
        print(f"{name:16s} {info['kind']:10s} {info['description']}")
    return 0


def cmd_schema(args) -> int:
    from inpaint_core.manifest import SCHEMA_VERSION, schema_markdown

    print(f"manifest schema version {SCHEMA_VERSION}\n")
    print(schema_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inpaint", description="Restore image collections (local folders or S3).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("restore", help="restore every image under SRC into DEST")
    p.add_argument("source", metavar="SRC", help="folder, file:// or s3:// URL of damaged images")
    p.add_argument("dest", metavar="DEST", help="folder or URL for restored images and the manifest")
    _add_restore_options(p)
    p.set_defaults(func=cmd_restore)
    p = sub.add_parser("demo", help="build a small damaged collection from bundled photos and restore it")
    p.add_argument("--out", default="demo-output", help="folder for the demo (default ./demo-output)")
    _add_restore_options(p, default_method="auto")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("evaluate", help="score methods with the evaluation protocol, per hole-ratio bin")
    p.add_argument("--methods", default="",
                   help="comma-separated methods (Telea, NS and the spline always run too); options in brackets, "
                        "named so in the table: spline[tension=auto],telea[radius=5]")
    p.add_argument("--images", required=True, help="folder or URL of evaluation images (e.g. bsds500/val)")
    p.add_argument("--masks", required=True,
                   help="index.csv of the masks (file, hole_ratio_bin, kind, ...) or a folder of masks "
                        "(binned by hole fraction)")
    p.add_argument("--out", required=True, help="folder or URL for results.parquet and summary.md")
    p.add_argument("--size", type=int, default=256, help="centre-crop side (default 256)")
    p.add_argument("--limit", type=int, help="only the first N images (quick looks)")
    p.add_argument("--bins", help="only these hole-ratio bins, comma-separated, e.g. 0.3-0.4,0.4-0.5")
    p.add_argument("--checkpoint", action="append", metavar="METHOD=URL", help="weights of a learned method")
    p.add_argument("--fid-weights", metavar="URL",
                   help="FID Inception weights (pytorch-fid's pt_inception-2015-12-05-6726825d.pth): adds FID per bin")
    p.add_argument("--lpips-backbone", metavar="URL",
                   help="torchvision AlexNet or VGG16 weights for LPIPS (with --lpips-lin)")
    p.add_argument("--lpips-lin", metavar="URL",
                   help="LPIPS linear layers (the lpips package's weights/v0.1/alex.pth or vgg.pth)")
    p.add_argument("--dask-address")
    p.add_argument("--workers", type=int)
    p.add_argument("--s3-endpoint-url")
    p.add_argument("--storage-option", action="append", metavar="KEY=VALUE")
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("train", help="train a learned model on a folder or bucket (resumes from OUT)")
    p.add_argument("--model", required=True, help="a learned method (see `inpaint methods`)")
    p.add_argument("--data", action="append", required=True, help="folder or URL of training images (repeatable)")
    p.add_argument("--out", required=True, help="folder or URL for checkpoints, cards, log and samples")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=int, default=128, help="training crop side (default 128)")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
    p.add_argument("--model-option", action="append", metavar="KEY=VALUE", help="architecture config, e.g. width=24")
    p.add_argument("--recipe-option", action="append", metavar="KEY=VALUE", help="loss weights and the like")
    p.add_argument("--masks", help="mask mix, e.g. free_form=0.4,thick=0.3,boxes=0.3 (or folder:URL=0.5)")
    p.add_argument("--hole-range", type=_hole_range_arg, metavar="LO,HI",
                   help="hole fraction of every training mask, e.g. 0.1,0.6: masks of the mix are united until "
                        "they reach a fraction drawn in it (default: the mix's own sizes, mostly under 0.3)")
    p.add_argument("--image-side", type=int, metavar="N",
                   help="downscale each training image to this shorter side before the random crop (large "
                        "photos and scans: crops see whole scenes, and JPEGs decode several times faster); "
                        "default: native resolution")
    p.add_argument("--checkpoint-every", type=int, default=500,
                   help="steps between checkpoints (safetensors + card, sample grid; a killed run resumes "
                        "from the last one; default 500)")
    p.add_argument("--log-every", type=int, default=25, help="steps between rows of the Parquet loss log (default 25)")
    p.add_argument("--loader-workers", type=int, default=2, help="data-loading processes")
    p.add_argument("--fp16-weights", action="store_true", help="store checkpoint weights as float16")
    p.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after this long; rerun to resume")
    p.add_argument("--init-from", metavar="CHECKPOINT",
                   help="start a new run from this checkpoint's matching tensors (e.g. shipped weights, to "
                        "fine-tune on your images); ignored when OUT already holds a run")
    p.add_argument("--s3-endpoint-url")
    p.add_argument("--storage-option", action="append", metavar="KEY=VALUE")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("serve", help="local Prefect server + worker + deployments; restores what lands in a folder")
    p.add_argument("--watch", help="folder or s3:// prefix to watch (default ./serve-data/incoming)")
    p.add_argument("--dest", help="where restored images go (default ./serve-data/restored)")
    p.add_argument("--method", default="telea", help="inpainting method of the restore deployments")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4200, help="port of the Prefect server it starts (UI and API)")
    p.add_argument("--pool", default="inpaint-process", help="process work pool to create and serve")
    p.add_argument("--watch-interval", type=float, default=10.0, help="seconds between watcher polls")
    p.add_argument("--debounce", type=float, default=15.0, help="quiet seconds after the last upload before a run")
    p.add_argument("--settle", type=float, default=5.0, help="files younger than this wait for the next poll")
    p.add_argument("--s3-endpoint-url", help="S3 API endpoint (MinIO, ...)")
    p.add_argument("--storage-option", action="append", metavar="KEY=VALUE", help="extra fsspec option")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("methods", help="list the inpainting methods")
    p.set_defaults(func=cmd_methods)
    p = sub.add_parser("schema", help="print the manifest schema")
    p.set_defaults(func=cmd_schema)
    return parser


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (kill, a scheduler, Kubernetes) unwinds like Ctrl-C, so the temporary Prefect server
        # and the LocalCluster this command started are stopped instead of being left running.
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI shows the library's typed errors plainly
        from inpaint_core.errors import InpaintError

        if isinstance(exc, (InpaintError, ValueError, FileNotFoundError, PermissionError)):
            print(f"inpaint: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
