"""A compact index of the manifest for re-runs: the latest finished row per image and settings.

A shard decides what is up to date from the earlier rows of its own images. Read from the manifest
itself, that costs every shard one footer read per manifest part of every earlier run (pyarrow prunes
by statistics, but has to read each file's statistics first): a shard's cost grows with the number
of parts, and a run's with its square. The restore flow therefore refreshes this index once, at its
start, from the parts it does not cover yet, and hands it to the shards; a shard then reads one or
two row groups of one chunk, however many runs there were.

Layout::

    <dest>/manifest-index/index.json                 chunks (file, first and last image id, rows)
                                                     and the manifest parts they were built from
    <dest>/manifest-index/chunk-<sha256>.parquet     rows sorted by image id, in small row groups
    <dest>/manifest-index/refreshed/<run>-<shard>.parquet
                                                     rows whose images a run read and found unchanged
                                                     though the listing differed (a touched file): their
                                                     new versions, applied by the next refresh

A run adds no manifest row for an image it finds up to date. When the listing said it changed (a new
mtime on the same bytes) and reading and hashing showed it did not, the shard records the current
versions in ``refreshed/``; the next refresh puts them on the image's indexed row (only while that
row is still the latest), so the run after that trusts the listing again instead of reading the
image every time. Lost with the index (a rebuild from the parts), they cost one read each.

The index only ever holds rows copied from manifest parts (``ok`` and ``skipped`` rows, the columns
the up-to-date check needs), and an indexed row is still checked against the objects (versions or
hashes) before an image counts as up to date. So a stale index costs work, never correctness: a row
it lacks makes its image be redone. Deleting ``manifest-index/`` is always safe (the next run
rebuilds it from the parts); deleting a run's ``manifest/run=<id>/`` makes the next refresh rebuild.
"""

from __future__ import annotations

import bisect
import io
import json
import logging
import posixpath
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .errors import StorageNotFoundError
from .manifest import PRIOR_COLUMNS, SCHEMA
from .storage import Location, sha256_hex

__all__ = ["ManifestIndex", "refresh_index", "write_refreshed", "INDEX_DIR"]

log = logging.getLogger(__name__)

INDEX_DIR = "manifest-index"
REFRESHED_DIR = f"{INDEX_DIR}/refreshed"
CHUNK_ROWS = 32768  # rows per chunk file
ROW_GROUP_ROWS = 1024  # a shard of 64 images reads one or two of these
PARTS_PER_BATCH = 512  # manifest parts read into memory at once while refreshing
GC_AGE_S = 3600.0  # unreferenced chunks younger than this may belong to a concurrent refresh


@dataclass(frozen=True)
class Chunk:
    file: str
    first: str
    last: str
    rows: int


@dataclass(frozen=True)
class ManifestIndex:
    """The chunks of one refresh: small enough to travel to every shard task."""

    chunks: tuple[Chunk, ...] = ()
    covered_parts: int = 0
    seconds: float = 0.0
    parts_read: int = 0

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.chunks)

    def read(self, dest: Location, image_ids: list[str], flt) -> pa.Table:
        """Indexed rows of these image ids that pass ``flt`` (only the chunks whose id range meets
        theirs are opened, and in them only the row groups whose statistics do)."""
        lo, hi = min(image_ids), max(image_ids)
        files = [dest.path(f"{INDEX_DIR}/{c.file}") for c in self.chunks if c.last >= lo and c.first <= hi]
        if not files:
            return _empty()
        return dest.call("read manifest index", INDEX_DIR, lambda: ds.dataset(
            files, filesystem=dest.fs, format="parquet", schema=_schema()).to_table(filter=flt))


def _schema() -> pa.Schema:
    return pa.schema([SCHEMA.field(c) for c in PRIOR_COLUMNS])


def _empty() -> pa.Table:
    return _schema().empty_table()


def _latest(table: pa.Table) -> pa.Table:
    """One row per (image id, settings hash): the latest finished, ties broken by run id; sorted."""
    if table.num_rows == 0:
        return table
    order = table.sort_by([("image_id", "ascending"), ("settings_hash", "ascending"),
                           ("finished_at", "descending"), ("run_id", "descending")])
    ids, sh = order.column("image_id"), order.column("settings_hash")
    n = order.num_rows
    same = pc.and_(pc.equal(ids.slice(1), ids.slice(0, n - 1)),
                   pc.fill_null(pc.equal(sh.slice(1), sh.slice(0, n - 1)), True))
    keep = pa.concat_arrays([pa.array([True]), pc.invert(same).combine_chunks()])
    return order.filter(keep)


def _state(dest: Location) -> dict[str, Any]:
    try:
        state = json.loads(dest.read(f"{INDEX_DIR}/index.json"))
    except StorageNotFoundError:
        return {"chunks": [], "covered": {}}
    except ValueError:
        log.warning("%s is not valid JSON: rebuilding the manifest index", dest.uri(f"{INDEX_DIR}/index.json"))
        return {"chunks": [], "covered": {}}
    if state.get("version") != 1:
        return {"chunks": [], "covered": {}}
    return state


def _ls(dest: Location, key: str) -> list[dict[str, Any]]:
    path = dest.path(key)

    def ls() -> list[dict[str, Any]]:
        try:
            if not dest.is_local:
                dest.fs.invalidate_cache(path)
            return dest.fs.ls(path, detail=True)
        except FileNotFoundError:
            return []

    return dest.call("list", key, ls)


def _parquet_files(dest: Location, key: str) -> list[str]:
    """The Parquet files listed under ``key`` (their store paths, sorted), temporaries left out."""
    return sorted(e["name"] for e in _ls(dest, key) if e.get("type") == "file" and e["name"].endswith(".parquet")
                  and not posixpath.basename(e["name"]).startswith((".", "_")))


def _write_chunk(dest: Location, table: pa.Table) -> Chunk:
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=ROW_GROUP_ROWS, compression="zstd")
    data = buf.getvalue()
    name = f"chunk-{sha256_hex(data)[:24]}.parquet"
    dest.write_atomic(f"{INDEX_DIR}/{name}", data)
    ids = table.column("image_id")
    return Chunk(name, ids[0].as_py(), ids[-1].as_py(), table.num_rows)


def _read_chunk(dest: Location, chunk: Chunk) -> pa.Table:
    data = dest.read(f"{INDEX_DIR}/{chunk.file}")
    return pq.read_table(io.BytesIO(data)).cast(_schema())


def _merge(dest: Location, chunks: list[Chunk], new: pa.Table) -> list[Chunk]:
    """``chunks`` with the rows of ``new`` merged in; only chunks that receive rows are rewritten."""
    new = _latest(new)
    if new.num_rows == 0:
        return chunks
    firsts = [c.first for c in chunks]
    ids = new.column("image_id").to_pylist()
    groups: dict[int, list[int]] = {}
    for i, image_id in enumerate(ids):  # sorted: each new row goes to the last chunk starting at or before it
        groups.setdefault(max(0, bisect.bisect_right(firsts, image_id) - 1), []).append(i)
    out: list[Chunk] = []
    for ci in range(max(1, len(chunks))):
        rows = groups.get(ci)
        if not rows:
            out.append(chunks[ci])
            continue
        part = new.take(pa.array(rows))
        if ci < len(chunks):
            part = _latest(pa.concat_tables([_read_chunk(dest, chunks[ci]), part]))
        pieces = max(1, -(-part.num_rows // CHUNK_ROWS))
        step = -(-part.num_rows // pieces)
        out += [_write_chunk(dest, part.slice(s, step)) for s in range(0, part.num_rows, step)]
    return out


def _read_parts(dest: Location, paths: list[str]) -> pa.Table:
    def read() -> pa.Table:
        dataset = ds.dataset(paths, filesystem=dest.fs, format="parquet", schema=SCHEMA)
        return dataset.to_table(columns=PRIOR_COLUMNS, filter=ds.field("status").isin(["ok", "skipped"]))

    return dest.call("read manifest", "manifest", read).cast(_schema())


def refresh_index(dest: Location, read_only: bool = False) -> ManifestIndex | None:
    """Bring ``<dest>/manifest-index`` up to date with every manifest part written so far, and return it.

    Reads only the parts the index does not cover yet (a run whose summary was written when it was
    covered is never listed again), at most :data:`PARTS_PER_BATCH` at a time. ``read_only`` (a dry
    run) writes nothing: the index if it is up to date already, else ``None`` (then the manifest
    parts themselves are read).
    """
    t0 = time.perf_counter()
    state = _state(dest)
    chunks = [Chunk(**c) for c in state["chunks"]]
    runs = {posixpath.basename(e["name"].rstrip("/"))[4:] for e in _ls(dest, "manifest")
            if e.get("type") == "directory" and posixpath.basename(e["name"].rstrip("/")).startswith("run=")}
    found = None if set(state["covered"]) - runs else _uncovered(dest, state["covered"], runs)
    if found is None:  # a run or some of its parts were deleted: their rows must leave the index
        log.info("manifest parts the index covers are gone: rebuilding the manifest index")
        chunks, found = [], _uncovered(dest, {}, runs)
    todo, covered = found
    if read_only:  # pending refreshed versions only make it miss a few up-to-date images
        fresh = not todo and covered == state["covered"]
        return ManifestIndex(tuple(chunks), _count(covered), time.perf_counter() - t0, 0) if fresh else None
    refreshed = _parquet_files(dest, REFRESHED_DIR)
    if not todo and covered == state["covered"] and not refreshed:
        return ManifestIndex(tuple(chunks), _count(covered), time.perf_counter() - t0, 0)
    for i in range(0, len(todo), PARTS_PER_BATCH):
        chunks = _merge(dest, chunks, _read_parts(dest, todo[i:i + PARTS_PER_BATCH]))
    for i in range(0, len(refreshed), PARTS_PER_BATCH):
        chunks = _apply_refreshed(dest, chunks, refreshed[i:i + PARTS_PER_BATCH])
    old = {c["file"] for c in state["chunks"]}
    doc = {"version": 1, "built_at": datetime.now(timezone.utc).isoformat(),
           "chunks": [c.__dict__ for c in chunks], "covered": covered}
    dest.write_atomic(f"{INDEX_DIR}/index.json", json.dumps(doc).encode())
    for path in refreshed:  # applied (a concurrent refresh may apply one again: harmless)
        try:
            dest.fs.rm_file(path)
        except FileNotFoundError:
            pass
    _collect(dest, old | {c.file for c in chunks})
    return ManifestIndex(tuple(chunks), _count(covered), time.perf_counter() - t0, len(todo))


def write_refreshed(dest: Location, run_id: str, shard: int, rows: list[dict[str, Any]]) -> None:
    """Record the current versions of images a shard read and found unchanged (index rows: the
    image's latest row with the versions the listing and a HEAD gave before the bytes were read)."""
    if not rows:
        return
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=_schema()), buf, compression="zstd")
    dest.write_atomic(f"{REFRESHED_DIR}/{run_id}-{shard:06d}.parquet", buf.getvalue())


def _apply_refreshed(dest: Location, chunks: list[Chunk], paths: list[str]) -> list[Chunk]:
    """``chunks`` with the refreshed versions of ``paths`` put on the rows they refresh: a row is
    replaced only while it is still the image's indexed row (same run and finish time), so an image
    redone since keeps its newer row. Only chunks with a replaced row are rewritten."""
    new = _read_parts(dest, paths).sort_by("image_id").to_pylist()  # rows of the index's own columns
    firsts = [c.first for c in chunks]
    groups: dict[int, list[dict[str, Any]]] = {}
    for r in new:
        ci = bisect.bisect_right(firsts, r["image_id"]) - 1
        if ci >= 0 and r["image_id"] <= chunks[ci].last:
            groups.setdefault(ci, []).append(r)
    out = list(chunks)
    for ci, rows in groups.items():
        table = _read_chunk(dest, chunks[ci])
        old = table.to_pylist()
        at = {(r["image_id"], r["settings_hash"]): i for i, r in enumerate(old)}
        replaced = 0
        for r in rows:
            i = at.get((r["image_id"], r["settings_hash"]))
            if i is not None and (old[i]["run_id"], old[i]["finished_at"]) == (r["run_id"], r["finished_at"]):
                old[i], replaced = r, replaced + 1
        if replaced:
            out[ci] = _write_chunk(dest, pa.Table.from_pylist(old, schema=_schema()))
    return out


def _uncovered(dest: Location, covered: dict[str, dict[str, Any]],
               runs: set[str]) -> tuple[list[str], dict[str, dict[str, Any]]] | None:
    """``(paths of the parts ``covered`` lacks, what is covered once they are read)``; ``None`` when
    a part it covers is gone. A run whose summary existed when it was covered is not listed again."""
    todo: list[str] = []
    now = {run: c for run, c in covered.items() if c["final"]}
    for run in sorted(runs - set(now)):
        known = set(covered.get(run, {"parts": []})["parts"])
        final = dest.exists(f"runs/{run}.json")  # before the listing: then the listing has every part
        names = [posixpath.basename(p) for p in _parquet_files(dest, f"manifest/run={run}")]
        if known - set(names):
            return None
        todo += [dest.path(f"manifest/run={run}/{n}") for n in names if n not in known]
        now[run] = {"parts": names, "final": final}
    return todo, now


def _count(covered: dict[str, dict[str, Any]]) -> int:
    return sum(len(c["parts"]) for c in covered.values())


def _collect(dest: Location, keep: set[str]) -> None:
    """Delete chunk files no index references any more (old enough not to be a concurrent refresh's)."""
    now = time.time()
    for e in _ls(dest, INDEX_DIR):
        name = posixpath.basename(e["name"])
        if not name.startswith("chunk-") or name in keep:
            continue
        age = now - _mtime(e)
        if age > GC_AGE_S:
            try:
                dest.fs.rm_file(e["name"])
            except FileNotFoundError:
                pass


def _mtime(info: dict[str, Any]) -> float:
    t = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
    if isinstance(t, datetime):
        return t.timestamp()
    try:
        return float(t)
    except (TypeError, ValueError):
        return time.time()  # unknown age: keep it
