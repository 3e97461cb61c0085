"""The evaluation protocol every quality figure of the project uses (see the data README).

- images: a folder (e.g. ``bsds500/val``), sorted by file name, centre-cropped to ``size`` (no resize);
- masks: an ``index.csv`` (``file, hole_ratio_bin, kind, hole_fraction``) beside the mask files; for
  each bin, image ``i`` gets the bin's masks in index order, alternating the two kinds (the kind
  listed first takes the even images: image ``2j`` gets that kind's ``j``-th mask, image ``2j+1``
  the other kind's), resized to ``size`` with nearest neighbour. Masks of your own (a folder, or an
  index without bins) are binned by hole fraction into the same bins (:func:`read_mask_index`);
- the method's output is composited (known pixels kept) before scoring;
- PSNR and SSIM (scikit-image, ``data_range=255``, ``channel_axis=-1``, default window) and L1 (mean
  absolute error, % of 255) on the composited RGB image against the original;
- one row per bin and method; the classical baselines (:data:`BASELINES`) run in the same evaluation;
- with a :class:`~inpaint_core.perceptual.PerceptualScorer` (network weights the user gives), LPIPS
  per image on the same composited image, and FID per bin and method between the composited images
  and the originals of that bin.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import cv2
import numpy as np

from .errors import InpaintError, StorageError, StoragePermanentError
from .imageio import IMAGE_EXTENSIONS, decode_image, decode_mask, eight_bit_view
from .masks.load import missing_pixels
from .perceptual import fid_from_features
from .quality import score_reference
from .storage import Location

#: the classical methods every evaluation scores beside the asked ones, with their options: the protocol's
#: Telea and Navier-Stokes (radius 3), and the tension spline, the strongest fill that needs no training
BASELINES = {"telea": {"radius": 3}, "ns": {"radius": 3}, "spline": {}}


@dataclass
class EvalCase:
    bin: str
    image_id: str
    mask_file: str
    kind: str
    image: np.ndarray  # size x size x 3 uint8
    mask: np.ndarray  # size x size bool


def center_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` crop (no resize). Images smaller than that are refused."""
    h, w = rgb.shape[:2]
    if h < size or w < size:
        raise ValueError(f"image {w}x{h} is smaller than the {size}x{size} crop")
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(rgb[y:y + size, x:x + size])


#: hole-fraction edges of the protocol's bins (the irregular-mask set's: 0.01-0.1, 0.1-0.2, ... 0.5-0.6);
#: masks without an index are binned by them, with ``0-0.01`` below and ``0.6-1`` above
BIN_EDGES = (0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def hole_ratio_bin(fraction: float) -> str | None:
    """The protocol's bin label of a hole fraction (``0.34`` -> ``"0.3-0.4"``); ``None`` for an empty mask."""
    if fraction <= 0:
        return None
    edges = (0, *BIN_EDGES, 1)
    for lo, hi in zip(edges, edges[1:]):
        if fraction < hi or hi == 1:
            return f"{lo:g}-{hi:g}"
    raise AssertionError(fraction)


def read_mask_index(masks_url: str, storage_options: dict | None = None, left_out: list[dict] | None = None
                    ) -> tuple[Location, dict[str, dict[str, list[str]]]]:
    """Where the masks are, and ``{bin: {kind: [mask file, ...]}}`` in index order (kinds in order of
    first appearance).

    ``masks_url`` is an ``index.csv`` (``file`` plus any of ``hole_ratio_bin``, ``kind``,
    ``hole_fraction``; file names relative to the index's folder) or a folder of mask files. A mask
    without a bin is binned by its ``hole_fraction``, else by its pixels (non-zero = hole, at its own
    size); one without a kind is of kind ``all``; empty masks are left out (nothing to fill). A mask
    that has to be decoded for its bin and cannot be is left out too, and appended to ``left_out``
    (:func:`protocol_cases`).
    """
    opts = storage_options or {}
    if masks_url.lower().endswith(".csv"):
        parent, _, name = masks_url.rpartition("/")
        root = Location(parent or ".", opts)
        rows = list(csv.DictReader(io.StringIO(root.read(name).decode("utf-8-sig"))))
        if not rows or "file" not in rows[0]:
            raise ValueError(f"mask index {masks_url} needs a 'file' column (and optionally hole_ratio_bin, kind, "
                             f"hole_fraction); it has {', '.join(rows[0]) if rows else 'no rows'}")
    else:
        root = Location(masks_url, opts)
        rows = [{"file": root.key_of(p)} for p in sorted(root.fs.find(root.root))
                if any(p.lower().endswith(e) for e in IMAGE_EXTENSIONS)]
        if not rows:
            raise FileNotFoundError(f"no mask files under {masks_url} (give a folder of masks or an index.csv)")
    out: dict[str, dict[str, list[str]]] = {}
    for r in rows:
        b = r.get("hole_ratio_bin") or None
        if b is None:
            try:
                fraction = (float(r["hole_fraction"]) if r.get("hole_fraction")
                            else float(decode_mask(root.read(r["file"])).mean()))
            except InpaintError as exc:
                _leave_out(left_out, "mask", root.uri(r["file"]), exc)
                continue
            b = hole_ratio_bin(fraction)
            if b is None:
                continue
        out.setdefault(b, {}).setdefault(r.get("kind") or "all", []).append(r["file"])
    return root, out


def protocol_cases(images_url: str, masks_index_url: str, *, size: int = 256, bins: Sequence[str] | None = None,
                   limit: int | None = None, storage_options: dict | None = None,
                   left_out: list[dict] | None = None) -> Iterator[EvalCase]:
    """Every (image, mask) case of the protocol, bin by bin (masks: an index.csv or a folder,
    see :func:`read_mask_index`).

    An image that cannot be decoded, is smaller than the crop or has pixels that hold no picture in
    it (:func:`~inpaint_core.masks.load.missing_pixels`: nodata, transparency), and a mask that
    cannot be decoded, are left out with their reason, as ``{"kind": "image"|"mask", "file": URL, "reason": ...}`` rows
    appended to ``left_out``; the other cases keep the masks they would have had (an image's masks
    follow its place among all the images, readable or not), so one broken file changes no other
    case. Nothing readable at all is an error.
    """
    opts = storage_options or {}
    images = Location(images_url, opts)
    keys = sorted(images.key_of(p) for p in images.fs.find(images.root)
                  if any(p.lower().endswith(e) for e in IMAGE_EXTENSIONS))[:limit]
    if not keys:
        raise FileNotFoundError(f"no images under {images_url}")
    masks_loc, index = read_mask_index(masks_index_url, opts, left_out)
    unknown = [b for b in bins or () if b not in index]
    if unknown:  # refused before any image is decoded
        raise ValueError(f"no masks in bin(s) {', '.join(unknown)} of {masks_index_url}; "
                         f"its bins: {', '.join(sorted(index, key=_bin_start))}")
    crops, bad = {}, []
    for k in keys:
        try:
            image = decode_image(images.read(k))
            rgb, _ = eight_bit_view(image)  # what a restore's model sees
            why = (None if min(rgb.shape[:2]) >= size
                   else f"image {rgb.shape[1]}x{rgb.shape[0]} is smaller than the {size}x{size} crop")
            missing = missing_pixels(image) if why is None else None
            voids = 0 if missing is None else int(center_crop(missing, size).sum())
            if voids:
                why = (f"{voids} pixels of its {size}x{size} crop are nodata or transparent: no truth to score "
                       "a fill against there (evaluate on complete images or tiles)")
        except InpaintError as exc:
            why = exc
        if why is None:
            crops[k] = center_crop(rgb, size)
        else:
            _leave_out(left_out, "image", images.uri(k), why)  # (raises a storage error that may pass)
            bad.append((k, str(why)))
    if not crops:
        raise ValueError(f"no usable image under {images_url}: all {len(keys)} were left out, e.g. "
                         f"{bad[0][0]}: {bad[0][1]}")
    masks: dict[str, np.ndarray | None] = {}
    n = 0
    for b in bins or sorted(index, key=_bin_start):
        kinds = list(index[b])
        for i, key in enumerate(keys):
            kind = kinds[i % len(kinds)]
            files = index[b][kind]
            f = files[(i // len(kinds)) % len(files)]
            if f not in masks:
                try:
                    m = decode_mask(masks_loc.read(f)).astype(np.uint8)
                    masks[f] = cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST).astype(bool)
                except InpaintError as exc:
                    masks[f] = None
                    _leave_out(left_out, "mask", masks_loc.uri(f), exc)
            if key in crops and masks[f] is not None:
                n += 1
                yield EvalCase(b, key, f, kind, crops[key], masks[f].copy())
    if not n:
        raise ValueError(f"nothing to evaluate: no mask of {masks_index_url} in the bins asked could be read")


def _leave_out(left_out: list[dict] | None, kind: str, url: str, reason) -> None:
    """Record a file the evaluation goes on without. A storage error that may pass (a timeout, a
    throttled store: retried already) is raised instead: every method's task must see the same cases."""
    if isinstance(reason, StorageError) and not isinstance(reason, StoragePermanentError):
        raise reason
    if left_out is not None:
        left_out.append({"kind": kind, "file": url, "reason": str(reason)})


def left_out_note(left_out: Sequence[dict], shown: int = 5) -> str | None:
    """The report's line on the files an evaluation left out (None when it left out none)."""
    if not left_out:
        return None
    n_img = sum(r["kind"] == "image" for r in left_out)
    n_mask = len(left_out) - n_img
    what = " and ".join(f"{n} {k}{'s' if n != 1 else ''}" for n, k in ((n_img, "image"), (n_mask, "mask")) if n)
    listed = "; ".join(f"{r['file']}: {r['reason']}" for r in left_out[:shown])
    more = f"; and {len(left_out) - shown} more" if len(left_out) > shown else ""
    return f"left out: {what} (every method was scored without them): {listed}{more}"


def _bin_start(label: str) -> float:
    return float(label.split("-")[0])


def reference_features(cases: Sequence[EvalCase], perceptual, batch: int = 16) -> np.ndarray:
    """FID Inception features of the cases' originals, in case order: the same for every method, so
    an evaluation of several methods computes them once (:func:`evaluate_method`'s ``ref_features``)."""
    return np.concatenate([perceptual.fid_features([c.image for c in cases[i:i + batch]])
                           for i in range(0, len(cases), batch)]) if cases else np.zeros((0, 2048))


def evaluate_method(inpainter, cases: Sequence[EvalCase], batch: int = 16,
                    perceptual=None, ref_features: np.ndarray | None = None) -> tuple[list[dict], list[dict]]:
    """Run one inpainter over the cases (metrics on the composited output).

    Returns ``(rows, sets)``: one row per case (PSNR, SSIM, L1, and LPIPS when ``perceptual`` has
    it), and, when ``perceptual`` has the FID network, one row per bin with its FID over the bin's
    cases (``fid``, ``fid_n``). ``ref_features``: :func:`reference_features` of the same cases,
    when already computed (otherwise the originals' features are computed here, with the outputs').
    """
    lpips = perceptual is not None and perceptual.lpips is not None
    fid = perceptual is not None and perceptual.inception is not None
    rows, feats = [], {}
    for start in range(0, len(cases), batch):
        chunk = cases[start:start + batch]
        damaged = [np.where(c.mask[..., None], 0, c.image).astype(np.uint8) for c in chunk]
        t = time.perf_counter()
        outs = inpainter(damaged, [c.mask for c in chunk])
        ms = (time.perf_counter() - t) * 1000 / len(chunk)
        comps = [np.where(c.mask[..., None], out, c.image) for c, out in zip(chunk, outs)]
        refs = [c.image for c in chunk]
        dist = perceptual.lpips_distance(comps, refs) if lpips else None
        if fid:
            ref = (perceptual.fid_features(refs) if ref_features is None
                   else ref_features[start:start + len(chunk)])
            for c, f, r in zip(chunk, perceptual.fid_features(comps), ref):
                feats.setdefault(c.bin, ([], []))
                feats[c.bin][0].append(f)
                feats[c.bin][1].append(r)
        for i, (c, comp) in enumerate(zip(chunk, comps)):
            s = score_reference(comp, c.image)
            row = {"method": inpainter.name, "bin": c.bin, "image_id": c.image_id, "mask_file": c.mask_file,
                   "kind": c.kind, "hole_fraction": float(c.mask.mean()), "psnr": s["psnr"],
                   "ssim": s["ssim"], "l1": s["l1"], "ms": ms}
            if lpips:
                row["lpips"] = float(dist[i])
            rows.append(row)
    sets = [{"method": inpainter.name, "bin": b, "fid": fid_from_features(np.stack(f), np.stack(r)), "fid_n": len(f)}
            for b, (f, r) in feats.items() if len(f) >= 2]  # one image has no covariance: no FID ("-")
    return rows, sets


def evaluate_cases(inpainter, cases: Sequence[EvalCase], batch: int = 16) -> list[dict]:
    """Run one inpainter over the cases; one result row per case (metrics on the composited output)."""
    return evaluate_method(inpainter, cases, batch)[0]


def summarize(rows: Sequence[dict], sets: Sequence[dict] = ()) -> list[dict]:
    """Mean PSNR/SSIM/L1 (and LPIPS where the rows have it) per (bin, method), bins in ratio order,
    with each (bin, method)'s FID from ``sets`` (:func:`evaluate_method`) where given."""
    fids = {(r["bin"], r["method"]): r for r in sets}
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["bin"], r["method"]), []).append(r)
    out = []
    for (b, m), rs in sorted(groups.items(), key=lambda kv: (_bin_start(kv[0][0]), kv[0][1])):
        finite = [r["psnr"] for r in rs if np.isfinite(r["psnr"])]
        out.append({"bin": b, "method": m, "n": len(rs), "psnr": float(np.mean(finite)) if finite else float("inf"),
                    "ssim": float(np.mean([r["ssim"] for r in rs])), "l1": float(np.mean([r["l1"] for r in rs])),
                    "ms_per_image": float(np.mean([r["ms"] for r in rs]))})
        if any("lpips" in r for r in rs):
            out[-1]["lpips"] = float(np.mean([r["lpips"] for r in rs]))
        if (b, m) in fids:
            out[-1].update(fid=fids[(b, m)]["fid"], fid_n=fids[(b, m)]["fid_n"])
    return out


def markdown_table(summary: Sequence[dict], notes: Sequence[str] = ()) -> str:
    """The summary as a markdown table; LPIPS and FID columns when any row has them."""
    extra = [(k, title, fmt) for k, title, fmt in (("lpips", "LPIPS", "{:.4f}"), ("fid", "FID", "{:.2f}"))
             if any(k in s for s in summary)]
    head = ["hole ratio", "method", "n", "PSNR (dB)", "SSIM", "L1 (%)", *(t for _, t, _ in extra), "ms/image"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summary:
        cells = [s["bin"], s["method"], str(s["n"]), f"{s['psnr']:.2f}", f"{s['ssim']:.3f}", f"{s['l1']:.2f}",
                 *(fmt.format(s[k]) if k in s else "-" for k, _, fmt in extra), f"{s['ms_per_image']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + [""] + [f"- {n}" for n in notes])
