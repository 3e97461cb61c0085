"""Parquet manifests: one row per image per run, partitioned by run under ``<dest>/manifest/``.

Layout::

    <dest>/manifest/run=<run_id>/part-<shard>.parquet

Each part is written once, atomically, after every output it lists has been written, so a crash
never leaves a row without its image. Readers: ``pyarrow.dataset``, pandas, Polars, DuckDB
(``read_parquet('s3://bucket/dest/manifest/*/*.parquet', hive_partitioning=true)``).
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .errors import StoragePermanentError
from .storage import Location

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1.6"
STATUSES = ("ok", "skipped", "failed")
STAGES = ("read", "decode", "mask", "edges", "inpaint", "blend", "score", "write")

_FIELDS: list[tuple[str, pa.DataType, str]] = [
    ("schema_version", pa.string(), "manifest schema version (this table: " + SCHEMA_VERSION + ")"),
    ("run_id", pa.string(), "id of the run that wrote the row"),
    ("shard", pa.int32(), "shard number within the run"),
    ("image_id", pa.string(), "relative key of the source object: stable across runs"),
    ("source_uri", pa.string(), "full URI of the source object"),
    ("source_sha256", pa.string(), "sha256 of the source bytes (null when never read)"),
    ("source_bytes", pa.int64(), "size of the source object"),
    ("source_version", pa.string(), "size and change tag (S3 ETag, file mtime) the listing gave for the source"),
    ("width", pa.int32(), "image width after EXIF orientation"),
    ("height", pa.int32(), "image height after EXIF orientation"),
    ("bit_depth", pa.int32(), "bits per sample of the source: 8, or 16 (kept in a PNG or TIFF output); 16, 32 or 64 "
                               "for a TIFF of values (kept in a TIFF output)"),
    ("sample_format", pa.string(), "uint (levels) | int | float: a TIFF of values (an elevation model) has int "
                                   "or float samples, or 32-bit uint ones; a TIFF output keeps them"),
    ("extra_bands", pa.int32(), "bands of a TIFF source past colour and alpha (a near-infrared band, say): a "
     "TIFF output keeps them, their hole filled by the spline; other formats drop them"),
    ("pages", pa.int32(), "images of a multi-page TIFF source (its pages, not its overviews or masks; counted to "
                          "65): the first is restored; a TIFF output carries the others as they are stored, not "
                          "restored, other formats only the first; null for a single image"),
    ("mask_source", pa.string(), "list | sibling | masks_tree | alpha | nodata | detect:NAMES (joined by +) | none"),
    ("mask_uri", pa.string(), "URI of the mask file, when one was loaded"),
    ("mask_sha256", pa.string(), "sha256 of the mask file bytes, when one was loaded"),
    ("mask_version", pa.string(), "size and change tag of the mask file, when one was loaded"),
    ("hole_fraction", pa.float64(), "fraction of pixels in the hole"),
    ("hole_components", pa.int32(), "connected components of the hole (8-connectivity)"),
    ("left_unfilled", pa.float64(), "with --max-fill-distance: fraction of pixels in the hole left as they were, "
                                    "farther than that from every known pixel; null without it"),
    ("method", pa.string(), "inpainting method (registry name)"),
    ("method_params", pa.string(), "JSON of the method's resolved parameters"),
    ("method_choice", pa.string(), "with --method auto: the methods used per window ('; ' between windows, "
                                   "' + ' between the methods of one), and why"),
    ("checkpoint_sha256", pa.string(), "sha256 of the model weights (learned methods)"),
    ("settings_hash", pa.string(), "hash of every setting that changes the output"),
    ("blend", pa.bool_(), "the GLCIC FMM + Poisson post-process ran"),
    ("windows", pa.int32(), "windows around holes that were inpainted"),
    ("output_uri", pa.string(), "URI of the restored image"),
    ("output_sha256", pa.string(), "sha256 of the restored image bytes"),
    ("output_version", pa.string(), "size and change tag of the restored image right after it was written"),
    ("mask_output_uri", pa.string(), "URI of the written mask (with --write-masks)"),
    ("edges_output_uri", pa.string(), "URI of the written edge map (with --write-edges)"),
    *[(f"ms_{s}", pa.float64(), f"milliseconds spent in the {s} stage"
       + (" (on an object store: the wait, as I/O overlaps other images)" if s in ("read", "write") else ""))
      for s in STAGES],
    ("ms_total", pa.float64(), "milliseconds for the image, all stages"),
    ("worker", pa.string(), "Dask worker (or process) that ran the inpainting stage"),
    ("device", pa.string(), "device of the inpainting stage: cpu, cuda:0, ..."),
    ("q_seam", pa.float64(), "boundary gradient / ring gradient (about 1 = invisible seam)"),
    ("q_color_delta", pa.float64(), "CIELAB distance between fill mean and ring mean"),
    ("q_texture_ratio", pa.float64(), "high-pass energy of the fill / of the ring (about 1 = matched)"),
    ("q_likely_bad", pa.bool_(), "no-reference flag for fills worth a look"),
    ("ref_psnr", pa.float64(), "PSNR against the clean reference, when supplied"),
    ("ref_ssim", pa.float64(), "SSIM against the clean reference, when supplied"),
    ("ref_l1", pa.float64(), "mean absolute error against the reference, % of 255"),
    ("status", pa.string(), "ok | skipped | failed"),
    ("error", pa.string(), "why a row failed or was skipped"),
    ("finished_at", pa.timestamp("ms", tz="UTC"), "when the row's image was finished"),
]

SCHEMA = pa.schema([pa.field(n, t, metadata={"doc": d}) for n, t, d in _FIELDS],
                   metadata={"inpaint_manifest_version": SCHEMA_VERSION})
COLUMNS = tuple(SCHEMA.names)


def schema_markdown() -> str:
    """The schema as a markdown table (the README's copy is generated from this). A ``|`` in a meaning
    (``ok | skipped | failed``) is escaped: unescaped, it ends the cell, and GitHub drops the rest."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{n}` | {t} | {d.replace('|', chr(92) + '|')} |" for n, t, d in _FIELDS]
    return "\n".join(lines)


def empty_row() -> dict[str, Any]:
    return {name: None for name in COLUMNS} | {"schema_version": SCHEMA_VERSION}


def rows_to_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    rows = list(rows)
    for row in rows:
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown manifest columns: {sorted(unknown)}")
    return pa.Table.from_pylist([empty_row() | r for r in rows], schema=SCHEMA)


def table_of_rows(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Free-form rows (evaluation results, training logs) as a table with every key any row has,
    null where a row lacks it (``pa.Table.from_pylist`` keeps only the first row's keys)."""
    rows = list(rows)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return pa.Table.from_pydict({k: [r.get(k) for r in rows] for k in keys})


def part_key(run_id: str, shard: int) -> str:
    return f"manifest/run={run_id}/part-{shard:06d}.parquet"


def write_part(dest: Location, run_id: str, shard: int, rows: list[dict[str, Any]]) -> str:
    """Write one shard's rows as one Parquet file, atomically; returns its URI."""
    buf = io.BytesIO()
    pq.write_table(rows_to_table(rows), buf, compression="zstd")
    return dest.write_atomic(part_key(run_id, shard), buf.getvalue())


def _dataset(dest: Location, run_id: str | None = None) -> ds.Dataset | None:
    root = dest.path("manifest" if run_id is None else f"manifest/run={run_id}")
    if not dest.fs.exists(root):
        return None
    partitioning = ds.partitioning(pa.schema([("run", pa.string())]), flavor="hive") if run_id is None else None
    return ds.dataset(root, filesystem=dest.fs, format="parquet", schema=SCHEMA, partitioning=partitioning,
                      exclude_invalid_files=False, ignore_prefixes=[".", "_"])


def read_manifest(dest: Location, columns: list[str] | None = None, filter=None,
                  run_id: str | None = None) -> pa.Table:
    """Every manifest row under ``dest`` (all runs, or only ``run_id``'s part files), optionally
    projected and filtered.

    Runs under the storage retry policy: a transient failure re-reads the whole listing.
    """
    def read() -> pa.Table:
        dataset = _dataset(dest, run_id)
        if dataset is None:
            return SCHEMA.empty_table() if columns is None else SCHEMA.empty_table().select(columns)
        return dataset.to_table(columns=columns, filter=filter)

    return dest.call("read manifest", "manifest", read)


def latest_rows(table: pa.Table) -> pa.Table:
    """One row per image: its latest finished row across all runs (how a reader should see the
    manifest when runs overlap or a run redid an image). Ties are broken by run id."""
    if table.num_rows == 0:
        return table
    order = table.sort_by([("image_id", "ascending"), ("finished_at", "descending"), ("run_id", "descending")])
    ids = order.column("image_id").to_pylist()
    keep = [i for i in range(len(ids)) if i == 0 or ids[i] != ids[i - 1]]
    return order.take(keep)


@dataclass(frozen=True)
class PriorRow:
    run_id: str
    status: str
    source_sha256: str | None
    mask_sha256: str | None
    source_bytes: int | None
    output_uri: str | None
    output_sha256: str | None
    source_version: str | None = None
    mask_uri: str | None = None
    mask_version: str | None = None
    output_version: str | None = None
    finished_at: datetime | None = None


# What a re-run's up-to-date check reads of earlier rows (here and in the manifest index).
PRIOR_COLUMNS = ["image_id", "settings_hash", *(f.name for f in fields(PriorRow))]


def prior_rows(dest: Location, image_ids: list[str], settings_hash: str,
               this_run: str | None = None, index=None) -> dict[str, PriorRow]:
    """Finished rows (``ok`` or ``skipped``) of earlier runs with the same settings, by image id;
    ``this_run``'s own rows are left out.

    With ``index`` (a :class:`~inpaint_core.manifest_index.ManifestIndex` the flow refreshed at
    its start) only the one or two row groups of the index that hold these ids are read. Without,
    every manifest part's statistics are read (only the columns needed, only matching row groups):
    right for one shard, but a cost that grows with the number of parts.
    """
    if not image_ids:
        return {}
    f = ds.field
    flt = ((f("image_id") >= min(image_ids)) & (f("image_id") <= max(image_ids))
           & f("image_id").isin(image_ids) & f("settings_hash").__eq__(settings_hash)
           & f("status").isin(["ok", "skipped"]))
    if this_run is not None:
        flt &= f("run_id") != this_run
    table = None
    if index is not None:
        try:
            table = index.read(dest, image_ids, flt)
        except StoragePermanentError as exc:  # a chunk collected under a very long run, or damaged
            log.warning("manifest index not usable (%s): reading the manifest parts", exc)
            table = None
    if table is None:
        table = read_manifest(dest, columns=PRIOR_COLUMNS, filter=flt)
    out: dict[str, PriorRow] = {}
    rows = sorted(table.to_pylist(), key=lambda r: r["finished_at"].timestamp() if r["finished_at"] else 0.0)
    for r in rows:  # the latest finished row of an image wins
        out[r["image_id"]] = PriorRow(**{f.name: r[f.name] for f in fields(PriorRow)})
    return out


def params_json(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)
