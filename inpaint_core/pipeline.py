"""The restore pipeline for one shard of images, without any orchestrator.

Three steps mirror the data path of the architecture guide, so an orchestrator can run them in
one process or put the middle one on a GPU worker:

``prepare_shard``  read, hash, decode, load or detect masks, edges, cut windows around holes (CPU)
``inpaint_shard``  run the inpainter on the windows only (GPU or CPU)
``finish_shard``   paste back, blend, score, write outputs and the manifest part (CPU)

Every image carries its own manifest row; a failing image fails its row (typed error text) and
the others go on. Images already restored with the same source, mask and settings are not
redone unless ``force`` is set.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import cv2
import numpy as np

from . import manifest
from .blend import glcic_blend
from .discover import SourceItem, output_key
from .edges import canny_edges, edges_to_image
from .errors import (InpaintError, MaskError, SourceChangedError, StorageError, StorageNotFoundError,
                     UnsafeKeyError)
from .imageio import (DEFAULT_MAX_PIXELS, SIXTEEN_BIT_FORMATS, VALUE_FORMATS, DecodedImage, as_gray, decode_image,
                      decode_mask, eight_bit_view, encode_image, hgt_geo_tags, narrow_range, restore_values,
                      stretch_to_8bit, to_8bit, unstretch_to_16bit, values_to_16bit, widen_to_16bit)
from .inpainters import Inpainter, create_inpainter
from .manifest_index import ManifestIndex, write_refreshed
from .masks import classify_mask, detect_mask, fit_mask, mask_from_alpha, mask_stats
from .masks.load import nodata_pixels
from .quality import score_fill, score_reference
from .redact import redact
from .spline import spline_fill
from .storage import Location, location_of, sha256_hex
from .windows import Window, hole_windows

log = logging.getLogger(__name__)

HEADS_IN_FLIGHT = 16  # concurrent HEADs of a shard's outputs (and listed masks) on an object store
READS_IN_FLIGHT = 8  # images whose bytes a shard reads ahead from an object store
WRITES_IN_FLIGHT = 8  # outputs a shard writes to an object store while it finishes the next images
_PIL_TO_FORMAT = {"JPEG": "jpeg", "PNG": "png", "TIFF": "tiff", "WEBP": "webp", "BMP": "bmp", "HGT": "hgt"}


@dataclass(frozen=True)
class RestoreConfig:
    """Every setting of a restore run. All but ``device``, ``force`` and ``verify`` enter ``settings_hash``.

    ``verify``: decide what is already up to date by reading and hashing every source, mask and
    output, instead of trusting the listing's size and change tag (S3 ETag, file mtime) that the
    manifest recorded (the default, which reads nothing of an unchanged image).
    """

    method: str = "telea"
    method_options: Mapping[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    device: str = "auto"
    masks: str = "auto"  # auto: load, else alpha, else detect | load: never detect | detect: ignore files
    detectors: tuple[str, ...] = ("solid",)  # scratches: opt-in, see docs/detectors.md
    detector_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    alpha_threshold: int = 255
    mask_mismatch: str = "fail"  # fail | resize
    blend: str = "auto"  # auto (off for every method today: see blends) | on | off
    blend_margin: int = 8
    output_format: str = "png"  # png | same | jpeg | webp | tiff | bmp
    png_compression: int = 1
    # 1-100, or "source": a JPEG output of a JPEG source takes its quantization tables and subsampling
    jpeg_quality: int | str = 95
    write_masks: bool = False
    write_edges: bool = False
    score: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    force: bool = False
    verify: bool = False
    # hole pixels farther than this from every known pixel are left as they were (GDAL fillnodata's -md):
    # a nodata sea or the fill outside a tile's footprint stays missing; None fills every hole pixel
    max_fill_distance: float | None = None

    def __post_init__(self) -> None:
        checks = {"masks": ("auto", "load", "detect"), "mask_mismatch": ("fail", "resize"),
                  "blend": ("auto", "on", "off"),
                  "output_format": ("png", "same", "jpeg", "webp", "tiff", "bmp")}
        for name, allowed in checks.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r}: expected one of {allowed}")
        object.__setattr__(self, "detectors", tuple(self.detectors))
        quality = self.jpeg_quality
        if quality != "source" and not (isinstance(quality, int) and not isinstance(quality, bool)
                                        and 1 <= quality <= 100):
            raise ValueError(f"jpeg_quality={quality!r}: expected 1 to 100, or 'source'")
        if not (isinstance(self.png_compression, int) and 0 <= self.png_compression <= 9):
            raise ValueError(f"png_compression={self.png_compression!r}: expected a zlib level 0 to 9")
        if self.max_fill_distance is not None and not self.max_fill_distance > 0:
            raise ValueError(f"max_fill_distance={self.max_fill_distance!r}: expected a distance > 0 (pixels) or None")

    def settings_hash(self) -> str:
        d = {k: v for k, v in asdict(self).items() if k not in ("device", "force", "verify")}
        if d["max_fill_distance"] is None:  # (added 2026-11-28: unset, earlier runs' hashes still hold)
            del d["max_fill_distance"]
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def _cached_inpainter(method: str, checkpoint: str | None, device: str, options_json: str) -> Inpainter:
    return create_inpainter(method, checkpoint=checkpoint, device=device, **json.loads(options_json))


def get_inpainter(config: RestoreConfig) -> Inpainter:
    """The inpainter of ``config``, built once per process (models load once per worker)."""
    return _cached_inpainter(config.method, config.checkpoint, config.device,
                             json.dumps(dict(config.method_options), sort_keys=True))


@dataclass
class Work:
    """One image on its way through the shard: its manifest row plus what later steps need."""

    item: SourceItem
    row: dict[str, Any]
    image: DecodedImage | None = None
    mask: np.ndarray | None = None
    edges: np.ndarray | None = None
    windows: list[Window] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)
    crop_masks: list[np.ndarray] = field(default_factory=list)
    crop_edges: list[np.ndarray] | None = None
    filled: list[np.ndarray] | None = None
    up_to_date: bool = False
    copy_through: bool = False  # empty mask: the image is written unchanged, status skipped
    stretch: tuple[float, float] | None = None  # a narrow 16-bit range: the span of the stretched 8-bit view
    raw: list[np.ndarray] | None = None  # the method's own output of each whole window (for blending)
    values_route: bool = False  # a raster of values under auto: filled by auto's classical method (values_method)
    far: np.ndarray | None = None  # hole pixels left unfilled (max_fill_distance), kept as they were
    # found unchanged by reading though the listing differed: its index row with the current versions
    refreshed: dict[str, Any] | None = None
    # what the listing check found: "change" (what differs from the earlier row, or None), the output's version
    listed: dict[str, Any] = field(default_factory=dict)

    @property
    def pending(self) -> bool:
        """Still to be processed (not failed, skipped or already up to date)."""
        return self.row["status"] is None and not self.up_to_date

    def fail(self, exc: BaseException) -> None:
        self.row["status"] = "failed"
        text = str(exc) if isinstance(exc, InpaintError) else f"{type(exc).__name__}: {exc}"
        self.row["error"] = redact(text)  # the manifest is read by many: never a credential in it

    def skip(self, reason: str) -> None:
        self.row["status"], self.row["error"] = "skipped", reason

    def without_frames(self) -> "Work":
        """A copy that leaves the full frame behind (it travels to another worker)."""
        return Work(self.item, dict(self.row), None, None, None, self.windows, self.crops,
                    self.crop_masks, self.crop_edges, up_to_date=self.up_to_date,
                    copy_through=self.copy_through, stretch=self.stretch, refreshed=self.refreshed,
                    values_route=self.values_route)


class _Timer:
    def __init__(self, row: dict[str, Any]):
        self.row = row

    @staticmethod
    def now() -> float:
        return time.perf_counter()

    def add(self, stage: str, t0: float) -> float:
        t1 = time.perf_counter()
        key = f"ms_{stage}"
        self.row[key] = (self.row.get(key) or 0.0) + (t1 - t0) * 1000.0
        return t1


# --------------------------------------------------------------------------------------------
# prepare
# --------------------------------------------------------------------------------------------
def prepare_shard(items: list[SourceItem], config: RestoreConfig, source: Location, dest: Location,
                  run_id: str, shard: int, index: ManifestIndex | None = None) -> list[Work]:
    """Read, decode, find masks and edges and cut hole windows for every item of a shard.

    ``index``: the manifest index the flow refreshed (earlier rows are looked up there instead of
    in every manifest part)."""
    inpainter = get_inpainter(config)
    settings = config.settings_hash()
    ids = [it.image_id for it in items if it.error is None]
    # Not this run's own rows: Dask runs a shard again when the worker holding its result is lost,
    # even after the shard wrote its outputs and manifest part; the attempt redoes it whole and
    # rewrites the part with every row, so none drops out and the counts stay this run's.
    prior = {} if config.force else manifest.prior_rows(dest, ids, settings, this_run=run_id, index=index)
    outputs = {} if config.verify else _output_versions(items, prior, dest)
    mask_versions = _listed_mask_versions(items, config, source)
    works, to_read = [], []
    for item in items:
        row = manifest.empty_row() | {
            "run_id": run_id, "shard": shard, "image_id": item.image_id, "source_bytes": item.size,
            "method": inpainter.name, "method_params": manifest.params_json(inpainter.params),
            "settings_hash": settings, "device": inpainter.device,
        }
        w = Work(item, row)
        works.append(w)
        try:
            row["source_uri"] = source.uri(item.image_id) if item.error is None else None
            if item.error:
                w.fail(InpaintError(item.error))
            elif item.skip_reason:
                p = prior.get(item.image_id)
                w.up_to_date = p is not None and p.status == "skipped" and p.source_bytes == item.size
                w.skip(item.skip_reason)
            elif not _unchanged_by_listing(w, config, source, dest, prior.get(item.image_id), outputs,
                                           mask_versions):
                to_read.append(w)
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the shard
            w.fail(exc)
    outputs_along: dict[int, str] = {}
    if config.verify and not dest.is_local:  # their round trips overlap the sources'
        for w in to_read:
            p = prior.get(w.item.image_id)
            if p is not None and p.output_uri and p.output_sha256:
                try:
                    outputs_along[id(w)] = dest.key_of(p.output_uri)
                except UnsafeKeyError:
                    continue
    in_flight = 1 if source.is_local and not outputs_along else READS_IN_FLIGHT
    with _ReadAhead(to_read, source, in_flight, dest, outputs_along) as reads:
        for w in to_read:
            try:
                _prepare_image(w, config, dest, inpainter, prior.get(w.item.image_id), reads)
            except Exception as exc:  # noqa: BLE001 - one bad image must not stop the shard
                w.fail(exc)
    return works


PLAN_ACTIONS = ("up_to_date", "restore", "check", "skip", "fail")
PLAN_EXAMPLES = 5  # examples kept per action and reason


def plan_shard(items: list[SourceItem], config: RestoreConfig, source: Location, dest: Location,
               shard: int, index: ManifestIndex | None = None) -> dict[str, Any]:
    """What a restore run with ``config`` would do with these items (``--dry-run``), from the listing,
    the manifest and a HEAD per earlier output: no image is read, decoded or written.

    Each item gets one action: ``up_to_date`` (nothing read), ``restore`` (no finished row with these
    settings, or ``--force``), ``check`` (a finished row exists but the listing differs: the run reads
    and hashes the image and redoes it unless its bytes are unchanged), ``skip`` (not an image) or
    ``fail`` (refused from the listing: an unsafe key, a name clash, a mask that cannot be asked).
    Returns counts, bytes to read, the reasons and where the masks would come from, with examples.
    """
    settings = config.settings_hash()
    ids = [it.image_id for it in items if it.error is None]
    prior = {} if config.force else manifest.prior_rows(dest, ids, settings, index=index)
    outputs = {} if config.verify else _output_versions(items, prior, dest)
    mask_versions = _listed_mask_versions(items, config, source)
    plan = {"shard": shard, **empty_plan(), "images": len(items)}

    def record(action: str, item: SourceItem, reason: str, mask: str | None = None) -> None:
        plan["actions"][action] += 1
        plan["bytes"][action] += item.size or 0
        key = f"{action}: {reason}"
        plan["reasons"][key] = plan["reasons"].get(key, 0) + 1
        examples = plan["examples"].setdefault(key, [])
        if len(examples) < PLAN_EXAMPLES:
            examples.append(item.image_id)
        if mask is not None:
            plan["masks"][mask] = plan["masks"].get(mask, 0) + 1

    for item in items:
        if item.error:
            record("fail", item, item.error)
            continue
        p = prior.get(item.image_id)
        if item.skip_reason:
            same = p is not None and p.status == "skipped" and p.source_bytes == item.size
            record("up_to_date" if same else "skip", item, item.skip_reason)
            continue
        w = Work(item, manifest.empty_row() | {"image_id": item.image_id})
        try:
            if _unchanged_by_listing(w, config, source, dest, p, outputs, mask_versions):
                record("up_to_date", item, "listing and output unchanged")
                continue
        except Exception as exc:  # noqa: BLE001 - as the run would, on this image's row
            record("fail", item, redact(f"{type(exc).__name__}: {exc}"))
            continue
        mask = _planned_mask_source(item, config)
        if p is None:
            record("restore", item, "--force" if config.force else "no finished row with these settings", mask)
        elif config.verify:
            record("check", item, "--verify", mask)
        else:
            record("check", item, w.listed["change"], mask)
    return plan


def empty_plan() -> dict[str, Any]:
    """A plan of no image: what :func:`plan_shard` fills and :func:`merge_plans` sums into."""
    return {"images": 0, "actions": {a: 0 for a in PLAN_ACTIONS}, "bytes": {a: 0 for a in PLAN_ACTIONS},
            "reasons": {}, "masks": {}, "examples": {}}


def merge_plans(total: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """``total`` with a shard's ``plan`` added (counts summed, examples kept up to the limit)."""
    total["images"] += plan["images"]
    for field_ in ("actions", "bytes", "reasons", "masks"):
        for k, v in plan[field_].items():
            total[field_][k] = total[field_].get(k, 0) + v
    for k, ids in plan["examples"].items():
        kept = total["examples"].setdefault(k, [])
        kept += ids[: max(0, PLAN_EXAMPLES - len(kept))]
    return total


def _planned_mask_source(item: SourceItem, config: RestoreConfig) -> str:
    """Where the run would take ``item``'s mask from, as far as the listing tells."""
    if config.masks == "detect":
        return "detect:" + ",".join(config.detectors)
    if item.mask_uri:
        return item.mask_source or "list"
    if config.masks == "load":
        return "alpha or nodata (or fails: no mask)"
    return "alpha, nodata or detect:" + ",".join(config.detectors) + " (decided when read)"


class _ReadAhead:
    """The source and mask bytes of a shard's images, read up to ``in_flight`` images ahead of
    the one being decoded: on an object store each read waits a round trip, and one after
    another they would leave the worker idle. ``in_flight=1`` reads each when it is needed.

    ``outputs``: ``{id(work): key}`` of earlier outputs under ``dest`` to read along (``--verify``
    on an object store, where each image's output is hashed too when its source is unchanged)."""

    def __init__(self, works: list[Work], source: Location, in_flight: int,
                 dest: Location | None = None, outputs: dict[int, str] | None = None):
        self.works, self.source, self.in_flight = works, source, in_flight
        self.dest, self.outputs = dest, outputs or {}
        self.pool = ThreadPoolExecutor(in_flight) if in_flight > 1 and len(works) > 1 else None
        self.futures: dict[int, Future] = {}
        self.next = 0

    def __enter__(self) -> "_ReadAhead":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _read(self, w: Work) -> tuple[bytes, bytes | None, Future | None]:
        data = self.source.read(w.item.image_id)
        mask_uri = w.row["mask_uri"]
        mask = _read_uri(mask_uri, self.source) if mask_uri else None
        key = self.outputs.get(id(w))
        output: Future | None = None
        if key is not None:  # its error, if any, is raised only where the output is needed
            output = Future()
            try:
                output.set_result(self.dest.read(key))
            except Exception as exc:  # noqa: BLE001
                output.set_exception(exc)
        return data, mask, output

    def take(self, w: Work) -> tuple[bytes, bytes | None, Future | None]:
        """``w``'s ``(source bytes, mask bytes or None, its earlier output's bytes as a done Future
        or None)``; a source or mask read error is raised here, for its row."""
        if self.pool is None:
            return self._read(w)
        while self.next < len(self.works) and len(self.futures) < self.in_flight:
            self.futures[id(self.works[self.next])] = self.pool.submit(self._read, self.works[self.next])
            self.next += 1
        return self.futures.pop(id(w)).result()


def _heads(objects: dict[str, tuple[Location, str]]) -> dict[str, str | None]:
    """``{name: version}`` of ``{name: (location, key)}``, asked of the stores concurrently (one HEAD
    each: their latency, not their number, is what a shard would wait for one after another).
    ``None`` for an object that is not there; one that could not be asked is left out (the caller
    asks again in turn, where a lasting error is reported on that image's row)."""
    if not objects:
        return {}

    def head(where: tuple[Location, str]) -> tuple[bool, str | None]:
        try:
            return True, where[0].version(where[1])
        except StorageNotFoundError:
            return True, None
        except Exception:  # noqa: BLE001 - asked again, image by image, where the error is reported
            return False, None

    with ThreadPoolExecutor(min(HEADS_IN_FLIGHT, len(objects))) as pool:
        answers = dict(zip(objects, pool.map(head, objects.values())))
    return {name: version for name, (ok, version) in answers.items() if ok}


def _output_versions(items: list[SourceItem], prior: dict[str, manifest.PriorRow],
                     dest: Location) -> dict[str, str | None]:
    """Current versions of the outputs a re-run will compare, by output URI, asked concurrently of an
    object store. Only outputs whose source is unchanged by the listing are asked; a disk answers
    ``stat`` fast enough in turn."""
    if dest.is_local:
        return {}
    objects = {}
    for item in items:
        p = prior.get(item.image_id)
        if p and p.output_uri and p.output_version and item.version and item.version == p.source_version:
            try:
                objects[p.output_uri] = (dest, dest.key_of(p.output_uri))
            except UnsafeKeyError:
                continue
    return _heads(objects)


def _listed_mask_versions(items: list[SourceItem], config: RestoreConfig, source: Location) -> dict[str, str | None]:
    """Versions of the masks a mask list names (no listing gives them), by mask URI, asked
    concurrently of an object store; masks on a disk are asked in turn."""
    if config.masks == "detect":
        return {}
    objects = {}
    for item in items:
        if item.error is None and item.mask_uri and not item.mask_version and item.mask_uri not in objects:
            try:
                loc, key = _located(item.mask_uri, source)
            except Exception:  # noqa: BLE001 - a bad URI fails its own row when it is asked in turn
                continue
            if not loc.is_local:
                objects[item.mask_uri] = (loc, key)
    return _heads(objects)


def _unchanged_by_listing(w: Work, config: RestoreConfig, source: Location, dest: Location,
                          prior: manifest.PriorRow | None, outputs: dict[str, str | None],
                          mask_versions: dict[str, str | None]) -> bool:
    """Record what the listing says about the image (and its mask); True, and the image is up to
    date, when nothing changed since ``prior`` and none of its bytes need reading."""
    row, timer, item = w.row, _Timer(w.row), w.item
    t = timer.now()
    mask_uri = item.mask_uri if config.masks != "detect" else None
    # Versions are taken before the bytes are read: an object replaced in between is recorded
    # with its older version, so the next run reads it again instead of trusting the change.
    row["source_version"] = item.version
    if mask_uri:
        row["mask_uri"] = mask_uri
        row["mask_version"] = item.mask_version or (
            mask_versions[mask_uri] if mask_uri in mask_versions else _uri_version(mask_uri, source))
    trusted = prior is not None and not config.verify  # else the bytes decide
    if trusted:
        w.listed["change"] = _listing_change(prior, row, item, mask_uri, dest, outputs, w.listed)
    w.up_to_date = trusted and w.listed["change"] is None
    timer.add("read", t)
    return w.up_to_date


def _prepare_image(w: Work, config: RestoreConfig, dest: Location, inpainter: Inpainter,
                   prior: manifest.PriorRow | None, reads: _ReadAhead) -> None:
    row, timer = w.row, _Timer(w.row)
    t = timer.now()
    data, mask_bytes, output = reads.take(w)
    row["source_sha256"], row["source_bytes"] = sha256_hex(data), len(data)
    if mask_bytes is not None:
        row["mask_sha256"] = sha256_hex(mask_bytes)
    t = timer.add("read", t)
    if prior is not None and (prior.source_sha256, prior.mask_sha256) == (row["source_sha256"], row["mask_sha256"]):
        # the output's version before its bytes are read: one replaced in between is read again next time
        refresh = not config.verify and row["source_version"] is not None
        if refresh and "output_version" not in w.listed and prior.output_uri:
            w.listed["output_version"] = _output_version(prior, dest)
        if _output_as_recorded(prior, dest, output):
            w.up_to_date = True
            if refresh:  # so the next run trusts the listing again (manifest_index.write_refreshed)
                w.refreshed = {**asdict(prior), "image_id": w.item.image_id, "settings_hash": row["settings_hash"],
                               "source_version": row["source_version"], "mask_uri": row["mask_uri"],
                               "mask_version": row["mask_version"],
                               "output_version": w.listed.get("output_version", prior.output_version)}
            return

    w.image = image = decode_image(data, max_pixels=config.max_pixels)
    row["width"], row["height"] = image.size
    row["bit_depth"], row["sample_format"] = image.bit_depth, image.sample_format
    row["extra_bands"] = 0 if image.extra is None else int(image.extra.shape[2])
    row["pages"] = image.pages if image.pages > 1 else None  # pages past the first: copied, not restored
    t = timer.add("decode", t)

    w.mask = mask = _find_mask(w, config, mask_bytes)
    if image.values is not None and image.values.dtype.kind == "f":
        _bridge_stray_voids(image, mask)
    stats = mask_stats(mask)
    row["hole_fraction"], row["hole_components"] = stats["hole_fraction"], stats["components"]
    t = timer.add("mask", t)
    kind = classify_mask(mask)
    if kind == "empty":
        values = "a raster of values with no nodata value, NaN or mask file: nothing is marked missing; copied through"
        bilevel = ("a bilevel (1-bit) image: its pure black and white are its content, which the solid detector "
                   "cannot tell from a scanner's fill, and no mask file, transparency or other detector marks a "
                   "hole; copied through")
        w.skip("empty mask: image copied through unchanged" if row["mask_source"] != "none"
               else values if image.values is not None else bilevel)
        w.copy_through = True
        return
    if kind == "full":
        raise MaskError("mask covers the whole image: there is nothing known to restore from")

    # auto sends a raster of values (an elevation model) to its classical method: the shipped models know photos
    route = getattr(inpainter, "values_method", None) if image.values is not None else None
    w.values_route = route is not None
    fills = route or inpainter  # its windows: the spline choosing its tension wants room around the voids
    w.windows = hole_windows(mask, margin=fills.window_margin, min_side=fills.window_min_side,
                             multiple=fills.window_multiple)
    w.crop_masks = [mask[win.slices] for win in w.windows]
    # A 16-bit source's windows go in at 16 bits where the method fills them at full precision
    # (Telea, NS, the spline; auto's windows routed to one of them). A method that fills at 8 bits
    # gets the 8-bit view, stretched first when the data use a narrow part of the range (a 12-bit
    # sensor's tile: its plain 8-bit view has ~16 levels). That span (or None) also sets the view
    # blending and scores work in.
    at16 = [image.rgb16 is not None and fills.fills_at_16_bits(m) for m in w.crop_masks]
    frame8 = None
    if all(at16):
        w.stretch = narrow_range(image.rgb16, mask)
    else:
        frame8, w.stretch = eight_bit_view(image, mask)
    if inpainter.needs_edges or config.write_edges:
        w.edges = canny_edges(image.rgb if frame8 is None else frame8, mask)
        t = timer.add("edges", t)
    w.crops = [(image.rgb16 if sixteen else frame8)[win.slices] for win, sixteen in zip(w.windows, at16)]
    if inpainter.needs_edges:
        w.crop_edges = [w.edges[win.slices] for win in w.windows]
    row["windows"] = len(w.windows)
    timer.add("mask", t)


def _bridge_stray_voids(image: DecodedImage, hole: np.ndarray) -> None:
    """Known pixels of a float raster with no value (NaN or infinite samples outside the ``hole``: a
    mask file that does not cover them) are proxy 0, the raster's least value, to every method, and
    the fill beside them would bend towards it. Their proxy takes the spline through the pixels around
    them (not the hole's) instead. They stay known: the output keeps their samples as they were."""
    stray = ~np.isfinite(image.values).all(axis=2) & ~hole
    if stray.any() and not (stray | hole).all():  # (solved with the hole unknown too: its samples are no data)
        image.rgb16 = np.where(stray[..., None], spline_fill(image.rgb16, stray | hole), image.rgb16)
        image.rgb = to_8bit(image.rgb16)


def _listing_change(prior: manifest.PriorRow, row: dict[str, Any], item: SourceItem, mask_uri: str | None,
                    dest: Location, outputs: dict[str, str | None], seen: dict[str, Any] | None = None) -> str | None:
    """What the listing (and a HEAD of the output) says differs from ``prior``; ``None`` if nothing.
    ``seen["output_version"]``: the output's current version, when it was looked up."""
    if not item.version:
        return "the listing gives the source no change tag"
    if prior.source_version != item.version or prior.source_bytes != item.size:
        return "source size or change tag differs"
    if mask_uri != prior.mask_uri:
        return "mask file differs"
    if mask_uri and (not row["mask_version"] or row["mask_version"] != prior.mask_version):
        return "mask size or change tag differs"
    if prior.status == "skipped" and not prior.output_uri:
        return None
    if not prior.output_uri or not prior.output_version:
        return "no output version recorded"
    if prior.output_uri in outputs:  # asked already, with the shard's other outputs
        now = outputs[prior.output_uri]
    else:
        now = _output_version(prior, dest)
    if seen is not None:
        seen["output_version"] = now
    return None if now == prior.output_version else "output missing or its change tag differs"


def _output_version(prior: manifest.PriorRow, dest: Location) -> str | None:
    """The current version of ``prior``'s output (one HEAD); ``None`` when it is not there."""
    try:
        return dest.version(dest.key_of(prior.output_uri))
    except (StorageNotFoundError, UnsafeKeyError):
        return None


def _uri_version(uri: str, source: Location) -> str | None:
    """The version of a mask given by URI (one HEAD), ``None`` when it cannot be had."""
    loc, key = _located(uri, source)
    try:
        return loc.version(key)
    except StorageNotFoundError:
        return None  # reading it fails the row with the reason


def _output_as_recorded(prior: manifest.PriorRow, dest: Location, output: Future | None = None) -> bool:
    """True when ``prior``'s output still has the bytes it recorded (or it recorded none, a skip);
    with equal source and mask hashes, the image is then up to date. ``output``: the output's bytes,
    read already (as a done Future: its read error is raised here)."""
    if prior.status == "skipped" and not prior.output_uri:
        return True
    # A finished row only counts while its output is still there with the bytes it recorded
    # (a crash, a concurrent run with other settings or a hand edit may have replaced them).
    if not prior.output_uri or not prior.output_sha256:
        return False
    try:
        data = output.result() if output is not None else dest.read(dest.key_of(prior.output_uri))
        return sha256_hex(data) == prior.output_sha256
    except StorageNotFoundError:
        return False
    except UnsafeKeyError:  # recorded under another root (the destination moved): redo
        return False


def _located(uri: str, source: Location) -> tuple[Location, str]:
    """Where a mask or reference URI points: a relative one is a key under ``source``."""
    if "://" not in uri and not uri.startswith("/"):
        return source, uri
    return location_of(uri, source.storage_options)


def _read_uri(uri: str, source: Location) -> bytes:
    loc, key = _located(uri, source)
    return loc.read(key)


def _find_mask(w: Work, config: RestoreConfig, mask_bytes: bytes | None) -> np.ndarray:
    image, row = w.image, w.row
    if mask_bytes is not None:
        row["mask_source"] = w.item.mask_source
        return fit_mask(decode_mask(mask_bytes, max_pixels=config.max_pixels), image,
                        on_mismatch=config.mask_mismatch)
    if config.masks != "detect" and image.alpha is not None:
        mask = mask_from_alpha(image.alpha if image.alpha16 is None else image.alpha16, config.alpha_threshold)
        if mask.any():
            row["mask_source"] = "alpha"
            return mask
    if config.masks != "detect":  # a tile's declared nodata value, and its internal nodata mask (GDAL's)
        mask = nodata_pixels(image)
        if mask is not None and mask.any():
            row["mask_source"] = "nodata"
            return mask
    if config.masks == "load":
        raise MaskError("no mask found (looked for a list entry, <stem>_mask.png, the masks/ tree, "
                        "transparent pixels and a TIFF's nodata value or mask) and detection is off (--masks load)")
    if config.masks == "auto" and image.values is not None:
        # A raster of values (an elevation model) marks what is missing with its nodata value or NaN. Its
        # proxy's 0 and 65535 are its least and greatest values (a sea at 0 m), not a scanner's black and
        # white: nothing to detect.
        row["mask_source"] = "none"
        return np.zeros(image.rgb.shape[:2], bool)
    detectors, options = list(config.detectors), dict(config.detector_options)
    if image.mode == "1":  # a bilevel scan (a fax): every pixel is pure black or white, its content
        detectors = [d for d in detectors if d != "solid"]
        options.pop("solid", None)
        if not detectors:
            row["mask_source"] = "none"
            return np.zeros(image.rgb.shape[:2], bool)
    view, _ = eight_bit_view(image)  # narrow 16-bit data: the stretched view, where a scratch has contrast
    mask, found = detect_mask(view, detectors, options=options, rgb16=image.rgb16)
    row["mask_source"] = "detect:" + "+".join(found or detectors)
    return mask


# --------------------------------------------------------------------------------------------
# inpaint
# --------------------------------------------------------------------------------------------
def blends(config: RestoreConfig) -> bool:
    """Whether the GLCIC post-process runs: ``--blend on``. ``auto`` is off for every method today:
    on the development protocol it moves each shipped model's PSNR by -0.13 to +0.02 dB
    (``python benchmarks/bench_blend.py``); they composite a fill whose colours already follow the
    image (the spline pre-fill under them)."""
    return config.blend == "on"


def inpaint_shard(works: list[Work], config: RestoreConfig, worker: str) -> list[Work]:
    """Run the inpainter over the windows of every pending image of the shard, in one batch (under
    ``auto``, rasters of values in a second batch, by its classical method)."""
    inpainter = get_inpainter(config)
    route = getattr(inpainter, "values_method", None)
    todo = [w for w in works if w.pending and w.crops]
    if route is not None and any(w.values_route for w in todo):
        _inpaint_batch([w for w in todo if not w.values_route], inpainter, config, worker)
        _inpaint_batch([w for w in todo if w.values_route], route, config, worker,
                       "a raster of values: the shipped models know photos")
    else:
        _inpaint_batch(todo, inpainter, config, worker)
    return works


def _inpaint_batch(todo: list[Work], inpainter: Inpainter, config: RestoreConfig, worker: str,
                   why: str | None = None) -> None:
    """Fill the windows of ``todo`` with ``inpainter`` in one batch; ``why``: the reason ``auto``
    chose it, for the manifest's ``method_choice`` (with the inpainter's own, when it gives one)."""
    if not todo:
        return
    crops = [c for w in todo for c in w.crops]
    masks = [m for w in todo for m in w.crop_masks]
    edges = [e for w in todo for e in w.crop_edges] if inpainter.needs_edges else None
    t0 = time.perf_counter()
    keep_raw = blends(config)
    try:
        filled, raws = inpainter.inpaint_windows(crops, masks, edges, raw=True) if crops else ([], [])
    except Exception as exc:  # noqa: BLE001 - a batch failure fails its images, not the run
        for w in todo:
            w.fail(exc)
        return
    elapsed = (time.perf_counter() - t0) * 1000.0
    area = sum(int(m.size) for m in masks) or 1
    # auto (and the spline choosing its tension): one "method (why)" per window
    choices = getattr(inpainter, "last_choices", None)
    if why:
        head = f"{inpainter.name} ("
        choices = [f"{head}{why}; {c[len(head):]}" if c.startswith(head) else f"{head}{why}) + {c}"
                   for c in choices] if choices and len(choices) == len(crops) else [f"{head}{why})"] * len(crops)
    i = 0
    for w in todo:
        n = len(w.crops)
        w.filled = filled[i:i + n]
        w.raw = raws[i:i + n] if keep_raw else None
        if choices and len(choices) == len(crops):
            w.row["method_choice"] = "; ".join(choices[i:i + n])
        i += n
        w.row["ms_inpaint"] = elapsed * sum(int(m.size) for m in w.crop_masks) / area
        w.row["worker"], w.row["device"] = worker, inpainter.device


# --------------------------------------------------------------------------------------------
# finish
# --------------------------------------------------------------------------------------------
def finish_shard(works: list[Work], config: RestoreConfig, source: Location, dest: Location,
                 worker: str | None = None) -> list[dict[str, Any]]:
    """Paste, blend, score and write every image; returns the manifest rows (up-to-date ones left out)."""
    blend = blends(config)  # (the finish stage needs no inpainter: on a GPU split it runs on CPU workers)
    rows = []
    with _WriteBehind(dest, 1 if dest.is_local else WRITES_IN_FLIGHT) as writes:
        for w in works:
            if w.up_to_date:
                continue
            try:
                if w.row["status"] is None or w.copy_through:
                    _finish_image(w, config, source, dest, blend, writes)
            except StorageError as exc:
                if _under(exc.url, dest):  # the destination is failing, not the image: fail the shard (it is
                    raise  # retried whole; no row may claim an output that was not written)
                w.fail(exc)
            except Exception as exc:  # noqa: BLE001 - one bad image must not stop the shard
                w.fail(exc)
            w.row["worker"] = w.row["worker"] or worker
            w.row["ms_total"] = sum(w.row.get(f"ms_{s}") or 0.0 for s in manifest.STAGES)
            w.row["finished_at"] = datetime.now(timezone.utc)
            rows.append(w.row)
        writes.drain()  # every output is written before any row that claims it is returned
    return rows


class _WriteBehind:
    """Writes to an object store go on while the next images are pasted, blended and scored, up
    to ``in_flight`` at once (each PUT waits a round trip). A failed write is raised at the next
    write or at :meth:`drain`: the destination is failing, so the shard fails whole, as it does
    when a write fails in turn. ``in_flight=1`` writes each at once (a disk)."""

    def __init__(self, dest: Location, in_flight: int):
        self.dest, self.in_flight = dest, in_flight
        self.pool = ThreadPoolExecutor(in_flight) if in_flight > 1 else None
        self.pending: deque[Future] = deque()

    def __enter__(self) -> "_WriteBehind":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def write(self, key: str, data: bytes, on_version: Callable[[str | None], None] | None = None) -> str:
        """Write (or start writing) ``data`` under ``key``; returns its URI. ``on_version`` gets
        the written object's version once it is written."""
        if self.pool is None:
            self._write(key, data, on_version)
        else:
            while len(self.pending) >= self.in_flight:
                self.pending.popleft().result()
            self.pending.append(self.pool.submit(self._write, key, data, on_version))
        return self.dest.uri(key)

    def _write(self, key: str, data: bytes, on_version: Callable[[str | None], None] | None) -> None:
        _, version = self.dest.write_versioned(key, data)
        if on_version:
            on_version(version or self.dest.version(key))

    def drain(self) -> None:
        while self.pending:
            self.pending.popleft().result()


def _under(url: str | None, loc: Location) -> bool:
    root = loc.uri()
    return bool(url) and (url == root or url.startswith(root.rstrip("/") + "/"))


def _finish_image(w: Work, config: RestoreConfig, source: Location, dest: Location, blend: bool,
                  writes: _WriteBehind) -> None:
    row, timer = w.row, _Timer(w.row)
    t = timer.now()
    if w.image is None:  # prepared on another worker: read the frame again, and make sure it is the same
        data = source.read(w.item.image_id)
        if sha256_hex(data) != row["source_sha256"]:
            raise SourceChangedError("the source object changed while the run was restoring it")
        w.image = decode_image(data, max_pixels=config.max_pixels)
        t = timer.add("decode", t)
    image = w.image
    if w.mask is None:  # holes lie inside the windows, so the windows give the whole mask back
        w.mask = np.zeros(image.rgb.shape[:2], bool)
        for win, cmask in zip(w.windows, w.crop_masks):
            w.mask[win.slices] = cmask
    restored, fill16, filled16, pixels16 = image.rgb, None, None, None
    fmt = _PIL_TO_FORMAT.get(image.format, "png") if config.output_format == "same" else config.output_format
    extra = image.extra if fmt == "tiff" else None  # bands past colour and alpha: only a TIFF keeps them
    if w.row["status"] is None:  # a real hole: paste the filled windows back (hole pixels only)
        restored = image.rgb.copy()
        for win, crop, cmask in zip(w.windows, w.filled or [], w.crop_masks):
            if image.gray:  # a gray source is written gray: its fill is that gray from here on
                crop = as_gray(crop)  # (blend, scores, the 16-bit lift, the 8-bit output alike)
            if crop.dtype == np.uint8 and w.stretch is not None:  # filled on the stretched view:
                crop = unstretch_to_16bit(crop, w.stretch)  # back to the data's range
            if crop.dtype == np.uint16:  # filled at 16 bits: the 8-bit restoration is its 8-bit view
                if fill16 is None:
                    fill16, filled16 = image.rgb16.copy(), np.zeros(w.mask.shape, bool)
                np.copyto(fill16[win.slices], crop, where=cmask[..., None])
                filled16[win.slices] |= cmask
                crop = to_8bit(crop)
            np.copyto(restored[win.slices], crop, where=cmask[..., None])
        if extra is not None:  # no method of colour knows a near-infrared band: the spline fills it
            extra = spline_fill(extra, w.mask)
        if config.max_fill_distance is not None:
            _leave_far_pixels(w, config.max_fill_distance, restored, fill16, extra)
        t = timer.add("inpaint", t)  # pasting back is part of inpainting
        view, view_out = image.rgb, restored
        if w.stretch is not None and fill16 is not None:
            # narrow 16-bit data: blend and score on the stretched view (on the plain one they have a
            # few levels, and a blend's 1-level change would be 257 of the data's few thousand)
            view, view_out = stretch_to_8bit(image.rgb16, w.stretch), stretch_to_8bit(fill16, w.stretch)
        if blend:
            # GLCIC: the generator's own output around the hole, Poisson-blended over the image. (The
            # composite would make it a no-op: its seam is one of the gradients it would keep.)
            blended = glcic_blend(view, _generated(w, view_out), w.mask, margin=config.blend_margin)
            if view is image.rgb:
                restored = blended
            else:
                scale = (w.stretch[1] - w.stretch[0]) / 255.0
                change = np.rint((blended.astype(np.float32) - view_out) * scale)
                pixels16 = np.clip(fill16 + change, 0, 65535).astype(np.uint16)
                restored = to_8bit(pixels16)
            view_out = blended
            row["blend"] = True
            t = timer.add("blend", t)
        else:
            row["blend"] = False
            if view is image.rgb:
                view_out = restored
        if config.score:
            scores = score_fill(view, view_out, w.mask)
            row.update(q_seam=scores["seam"], q_color_delta=scores["color_delta"],
                       q_texture_ratio=scores["texture_ratio"], q_likely_bad=bool(scores["likely_bad"]))
            _score_reference(w, view_out, source)
            t = timer.add("score", t)

    alpha = None if row["mask_source"] == "alpha" else image.alpha
    pixels = restored
    if image.rgb16 is not None and (fmt in SIXTEEN_BIT_FORMATS or fmt == "hgt"):  # 16 bits in, 16 out: known exact
        pixels = pixels16 if pixels16 is not None else widen_to_16bit(restored, image, w.mask, fill16, filled16)
        alpha = None if alpha is None else image.alpha16
        if image.values is not None and fmt in VALUE_FORMATS:  # values in, values out: the proxy mapped back
            pixels = restore_values(image, pixels, w.mask)  # where it changed; known samples exact
    if w.far is not None:  # left unfilled: as they were, whatever a blend's band did to them
        source = (image.samples if pixels.dtype == image.samples.dtype  # (a PNG of values: their proxy)
                  else image.rgb16 if pixels.dtype == np.uint16 else image.rgb)
        pixels = np.where(w.far[..., None], source, pixels)
    # a tile's place on the map (an SRTM .hgt tile's is in its name)
    tags = image.tiff_tags + (hgt_geo_tags(w.item.image_id, image.size[::-1]) if image.format == "HGT" else ())
    out = encode_image(pixels, fmt, gray=image.gray, alpha=alpha, extra=extra, extra_samples=image.extra_samples,
                       tiff_tags=tags,
                       icc_profile=image.icc_profile, exif=image.exif,  # its colours' meaning, the camera's record
                       xmp=image.xmp, iptc=image.iptc,  # captions, keywords, rights
                       dpi=image.dpi, text=image.text,  # a scan's print size; a PNG's text, a JPEG's comments
                       # a TIFF's compression, tiles and overviews; its nodata mask where still nodata
                       tiff_storage=image.tiff_storage, nodata_mask=_still_nodata(image, w.mask),
                       pages_from=image.document,  # a document's other pages, as stored (a TIFF output)
                       max_pixels=config.max_pixels,
                       png_compression=config.png_compression,
                       # "source": a JPEG source's own tables; any other source's JPEG at the default
                       jpeg_quality=95 if config.jpeg_quality == "source" else config.jpeg_quality,
                       jpeg_tables=image.jpeg_tables if config.jpeg_quality == "source" else None)
    key = output_key(w.item.image_id, fmt)
    row["output_sha256"] = sha256_hex(out)
    row["output_uri"] = writes.write(f"images/{key}", out, lambda v: row.__setitem__("output_version", v))
    stem = output_key(w.item.image_id, "png")
    if config.write_masks and w.mask is not None:
        row["mask_output_uri"] = writes.write(
            f"masks/{stem}", encode_image(np.repeat((w.mask * 255).astype(np.uint8)[..., None], 3, -1), "png",
                                          gray=True))
    if config.write_edges and w.edges is None and w.mask is not None:  # prepared on another worker
        w.edges = canny_edges(image.rgb, w.mask)
    if config.write_edges and w.edges is not None:
        e = edges_to_image(w.edges)
        row["edges_output_uri"] = writes.write(
            f"edges/{stem}", encode_image(np.repeat(e[..., None], 3, -1), "png", gray=True))
    timer.add("write", t)
    if row["status"] is None:
        row["status"] = "ok"


def _still_nodata(image: DecodedImage, filled: np.ndarray | None) -> np.ndarray | None:
    """The pixels a TIFF's internal nodata mask marks that the restoration did not fill (left beyond
    ``--max-fill-distance``, or outside a loaded mask's hole), for the output's own mask."""
    if image.nodata_mask is None:
        return None
    return image.nodata_mask if filled is None else image.nodata_mask & ~filled


def _leave_far_pixels(w: Work, distance: float, restored: np.ndarray, fill16: np.ndarray | None,
                      extra: np.ndarray | None) -> None:
    """Put back the source's pixels of the hole that lie farther than ``distance`` from every known
    pixel (in place), and take them out of ``w.mask``: from here on (blend, scores, the 16-bit and
    value outputs) they are known pixels, and ``w.far`` keeps them exactly as they were in the output
    (a blend's band would otherwise reach into them). The row's ``left_unfilled`` counts them."""
    image = w.image
    far = w.mask & (cv2.distanceTransform(w.mask.astype(np.uint8), cv2.DIST_L2, 5) > distance)
    w.row["left_unfilled"] = float(far.mean())
    if not far.any():
        return
    restored[far] = image.rgb[far]
    if fill16 is not None:
        fill16[far] = image.rgb16[far]
    if extra is not None:
        extra[far] = image.extra[far]
    w.mask, w.far = w.mask & ~far, far


def _generated(w: Work, composite: np.ndarray) -> np.ndarray:
    """``composite`` with each window replaced by the method's own output of it, in the same view
    (8 bits: a 16-bit raw is brought to the view the composite is in)."""
    if not w.raw:
        return composite
    out = composite.copy()
    for win, raw in zip(w.windows, w.raw):
        if raw.dtype == np.uint16:
            raw = to_8bit(raw) if w.stretch is None else stretch_to_8bit(raw, w.stretch)
        out[win.slices] = as_gray(raw) if w.image.gray else raw  # gray as the fill (see finish)
    return out


def _score_reference(w: Work, restored: np.ndarray, source: Location) -> None:
    if not w.item.reference_uri:
        return
    try:
        decoded = decode_image(_read_uri(w.item.reference_uri, source))
        # compared in the view the restoration is scored in (narrow 16-bit data: the stretched one)
        ref16 = decoded.rgb16
        if decoded.values is not None and w.image.value_span is not None:  # on the restoration's proxy
            ref16 = values_to_16bit(decoded.values, w.image.value_span)
        ref = (decoded.rgb if ref16 is None else to_8bit(ref16) if w.stretch is None
               else stretch_to_8bit(ref16, w.stretch))
    except InpaintError as exc:
        w.row["error"] = f"reference not scored: {exc}"
        return
    if ref.shape != restored.shape:
        w.row["error"] = f"reference not scored: its size {ref.shape[1]}x{ref.shape[0]} differs"
        return
    s = score_reference(restored, ref)
    w.row.update(ref_psnr=s["psnr"], ref_ssim=s["ssim"], ref_l1=s["l1"])


def restore_shard(items: list[SourceItem], config: RestoreConfig, source: Location, dest: Location,
                  run_id: str, shard: int, worker: str, index: ManifestIndex | None = None) -> dict[str, Any]:
    """All three steps in one process, then the manifest part. Returns the shard's summary."""
    works = prepare_shard(items, config, source, dest, run_id, shard, index)
    works = inpaint_shard(works, config, worker)
    rows = finish_shard(works, config, source, dest, worker)
    return write_shard_manifest(rows, works, dest, run_id, shard)


def write_shard_manifest(rows: list[dict[str, Any]], works: list[Work], dest: Location, run_id: str,
                         shard: int) -> dict[str, Any]:
    """Write the shard's manifest part (after its outputs) and summarise it."""
    part = manifest.write_part(dest, run_id, shard, rows) if rows else None
    refreshed = [w.refreshed for w in works if w.refreshed is not None]
    try:
        write_refreshed(dest, run_id, shard, refreshed)
    except Exception as exc:  # noqa: BLE001 - a cache: without it those images are read once more
        log.warning("refreshed versions of %d images not recorded (%s)", len(refreshed), redact(str(exc)))
    counts = {s: 0 for s in manifest.STATUSES}
    for r in rows:
        counts[r["status"]] += 1
    stage_ms = {s: sum(r.get(f"ms_{s}") or 0.0 for r in rows) for s in manifest.STAGES}
    # outputs whose format holds one page of 8 or 16-bit colour and alpha (PNG, JPEG, WebP, BMP)
    not_tiff = [r for r in rows if r.get("output_uri") and not r["output_uri"].endswith((".tif", ".tiff", ".hgt"))]
    # images whose bands past colour and alpha the output's format could not hold (a PNG of a NIR tile)
    dropped = sum(1 for r in not_tiff if r.get("extra_bands"))
    # rasters of values written as a view of their range (a PNG of an elevation model): the values are not in it
    viewed = sum(1 for r in not_tiff if r.get("sample_format") not in (None, "uint") or (r.get("bit_depth") or 0) > 16)
    # multi-page TIFFs (a document's pages): the first page is restored; a TIFF output carries the
    # others as they are stored, other formats hold one page
    paged = sum(1 for r in rows if r.get("output_uri") and (r.get("pages") or 1) > 1)
    dropped_pages = sum(1 for r in not_tiff if (r.get("pages") or 1) > 1)
    return {"shard": shard, "images": len(works), "up_to_date": sum(w.up_to_date for w in works),
            **counts, "part": part, "stage_ms": stage_ms, "bands_dropped": dropped, "values_viewed": viewed,
            "pages_dropped": dropped_pages, "pages_copied": paged - dropped_pages,
            "failures": [(r["image_id"], r["error"]) for r in rows if r["status"] == "failed"][:20]}
