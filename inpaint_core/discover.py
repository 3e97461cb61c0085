"""Stage 1: discover the images under a source URL, lazily, with the mask that goes with each.

The listing streams directory by directory (``fs.walk``), so a bucket of millions of keys is
never held in memory. Each key becomes a :class:`SourceItem`; keys that are not images are
yielded too (``is_image=False``) so the manifest can say they were skipped.

Mask conventions (the first that exists wins, in this order):

1. a mask list (Parquet or CSV with columns ``image`` and ``mask``),
2. a sibling file ``<stem>_mask.png`` next to the image,
3. a parallel masks tree: ``<masks root>/<relative dir>/<stem>.png`` (default root: ``<source>/masks``),
4. (decided later, when the image is decoded) the alpha channel, then a detector.
"""

from __future__ import annotations

import csv
import io
import posixpath
from dataclasses import dataclass
from typing import Iterable, Iterator

import pyarrow.parquet as pq

from .errors import MaskError, UnsafeKeyError
from .imageio import IMAGE_EXTENSIONS
from .storage import Location, object_version, safe_key

MASK_SUFFIX = "_mask"
MASK_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class SourceItem:
    """One object found under the source root."""

    image_id: str  # the relative key: stable across runs and machines
    size: int
    mask_uri: str | None = None
    mask_source: str | None = None  # "list" | "sibling" | "masks_tree"
    reference_uri: str | None = None
    skip_reason: str | None = None  # set for objects that are not processed at all
    error: str | None = None  # set for objects refused at discovery (unsafe key, name clash)
    # What the listing said about the bytes (storage.object_version): a re-run whose manifest
    # recorded the same versions knows the image is unchanged without reading it.
    version: str | None = None
    mask_version: str | None = None

    @property
    def is_image(self) -> bool:
        return self.skip_reason is None and self.error is None


def output_key(image_id: str, fmt: str) -> str:
    """Key of the restored image under ``<dest>/images/``: the source key with the new extension."""
    stem, _ = posixpath.splitext(image_id)
    return f"{stem}.{'jpg' if fmt == 'jpeg' else fmt}"


def _is_mask_name(name: str) -> bool:
    stem, ext = posixpath.splitext(name)
    return stem.endswith(MASK_SUFFIX) and ext.lower() in MASK_EXTENSIONS


def read_mask_list(url: str, storage_options: dict | None = None) -> dict[str, str]:
    """Read a Parquet/CSV list of ``(image, mask)`` pairs into ``{image key or URI: mask URI}``.

    Relative mask paths are resolved against the list file's folder.
    """
    parent, name = url.rstrip("/").rsplit("/", 1) if "/" in url else (".", url)
    loc = Location(parent, storage_options or {})
    data = loc.read(name)
    if name.lower().endswith(".parquet"):
        table = pq.read_table(io.BytesIO(data))
        cols = set(table.column_names)
        if not {"image", "mask"} <= cols:
            raise MaskError(f"mask list {url} needs columns 'image' and 'mask', has {sorted(cols)}")
        pairs = zip(table.column("image").to_pylist(), table.column("mask").to_pylist())
    else:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        if not reader.fieldnames or not {"image", "mask"} <= set(reader.fieldnames):
            raise MaskError(f"mask list {url} needs columns 'image' and 'mask', has {reader.fieldnames}")
        pairs = ((r["image"], r["mask"]) for r in reader)
    out: dict[str, str] = {}
    for image, mask in pairs:
        if not image or not mask:
            continue
        out[image] = mask if "://" in mask or mask.startswith("/") else loc.uri(safe_key(mask))
    return out


class _DirIndex:
    """Files of one folder of an auxiliary tree (masks, references), by name with their listing
    entries, cached per folder."""

    def __init__(self, loc: Location | None):
        self.loc = loc
        self._dir: str | None = None
        self._names: dict[str, dict] = {}

    def names(self, rel_dir: str) -> dict[str, dict]:
        if self.loc is None:
            return {}
        if rel_dir != self._dir:
            self._dir = rel_dir
            path = self.loc.root if not rel_dir else self.loc.path(rel_dir)
            try:
                self._names = {posixpath.basename(e["name"]): e for e in self.loc.fs.ls(path, detail=True)}
            except (FileNotFoundError, NotADirectoryError):
                self._names = {}
        return self._names


def discover(
    source: Location,
    *,
    masks: Location | None = None,
    mask_list: dict[str, str] | None = None,
    reference: Location | None = None,
    exclude: tuple[Location, ...] = (),
    keys: Iterable[str] | None = None,
) -> Iterator[SourceItem]:
    """Yield every object under ``source`` in a stable order (sorted folder by folder).

    Args:
        source: the root to list.
        masks: root of a parallel masks tree; by default ``<source>/masks`` when it exists.
        mask_list: ``{image key or URI: mask URI}`` from :func:`read_mask_list`.
        reference: root of a parallel tree of clean references (same relative keys), for scoring.
        exclude: locations under ``source`` that are not inputs (the destination, for one).
        keys: only these relative keys (e.g. the objects that just landed); folders holding none
            of them are not listed. Masks and name clashes are decided as in a full listing.
    """
    if keys is None:
        yield from _walk(source, masks, mask_list, reference, exclude, None)
        return
    wanted = set(keys)
    dirs = {"/".join(k.split("/")[:i]) for k in wanted for i in range(1, k.count("/") + 1)}
    yield from (item for item in _walk(source, masks, mask_list, reference, exclude, dirs)
                if item.image_id in wanted)


def _walk(source, masks, mask_list, reference, exclude, only_dirs: set[str] | None) -> Iterator[SourceItem]:
    if masks is None and _is_dir(source, "masks"):
        masks = source.child("masks")
    skip_roots = [loc.root for loc in (*exclude, masks, reference) if loc is not None and source.contains(loc)]
    mask_index, ref_index = _DirIndex(masks), _DirIndex(reference)
    mask_list = mask_list or {}

    for dirpath, dirs, files in source.fs.walk(source.root, detail=True):
        dirpath = dirpath.rstrip("/")
        for name in sorted(dirs):  # prune excluded subtrees and keep a stable order
            full = f"{dirpath}/{name}"
            rel = source.key_of(full) if dirpath != source.root else name
            # Hidden folders are skipped, but not "." and "..": only an object store lists them (keys
            # like "a/../b.png", literal there), and their objects must fail their rows, not vanish.
            hidden = name.startswith(".") and name not in (".", "..")
            if full in skip_roots or hidden or (only_dirs is not None and rel not in only_dirs):
                del dirs[name]
        rel_dir = "" if dirpath == source.root else source.key_of(dirpath)
        used_outputs: set[str] = set()
        for name in sorted(files):
            if name == "":  # an object store's keys with "//" under this folder (or a leading "/")
                yield from _empty_segment_keys(source, dirpath)
                continue
            if name.startswith(".") or _is_mask_name(name):
                continue
            key = f"{rel_dir}/{name}" if rel_dir else name
            size = int(files[name].get("size") or 0)
            try:
                norm = safe_key(key)
            except UnsafeKeyError as exc:
                yield SourceItem(image_id=key, size=size, error=str(exc))
                continue
            if norm != key:  # "a/./b.png": reading or writing it as "a/b.png" would be another object
                yield SourceItem(key, size, error=f"object key {key!r} is not in normal form (it would be read "
                                 f"and written as {norm!r}); rename it")
                continue
            stem, ext = posixpath.splitext(name)
            if ext.lower() not in IMAGE_EXTENSIONS:
                yield SourceItem(key, size, skip_reason=f"not an image (extension {ext or 'none'!r})")
                continue
            if stem in used_outputs:
                yield SourceItem(key, size, error=f"another image in this folder has the stem {stem!r}: "
                                 "outputs would collide; rename one")
                continue
            used_outputs.add(stem)
            mask_uri, mask_source, mask_info = _find_mask(source, key, rel_dir, stem, files, mask_list, mask_index)
            yield SourceItem(key, size, mask_uri, mask_source,
                             _find_reference(reference, rel_dir, name, stem, ref_index),
                             version=object_version(files[name]),
                             mask_version=object_version(mask_info) if mask_info else None)


def _empty_segment_keys(source: Location, dirpath: str) -> Iterator[SourceItem]:
    """Failed items for the objects under ``dirpath + "//"``, each under its literal key.

    s3fs shows them as one file named "" in ``dirpath``; an object store's prefix listing gives
    the real keys. Where that listing is not available the folder gets one failed item.
    """
    prefix = "" if dirpath == source.root else source.key_of(dirpath)
    why = "has an empty path segment ('//' or a leading '/'): it cannot be mapped to an output; rename it"
    try:
        found = source.fs.find(dirpath, prefix="/", detail=True)
    except (TypeError, NotImplementedError, ValueError):
        found = None
    if not found:
        yield SourceItem(image_id=f"{prefix}/", size=0, error=f"object key(s) under {prefix + '/'!r} {why}")
        return
    for path in sorted(found):
        name = posixpath.basename(path)
        if name.startswith(".") or _is_mask_name(name):
            continue
        key = path[len(dirpath) + 1:]
        key = f"{prefix}/{key}" if prefix else key
        yield SourceItem(image_id=key, size=int(found[path].get("size") or 0), error=f"object key {key!r} {why}")


def _is_dir(loc: Location, key: str) -> bool:
    try:
        return loc.fs.isdir(loc.path(key))
    except (FileNotFoundError, PermissionError):
        return False


def _find_mask(source, key, rel_dir, stem, files, mask_list, mask_index):
    """``(mask URI, how it was found, its listing entry or None)``."""
    listed = mask_list.get(key) or mask_list.get(source.uri(key))
    if listed:
        return listed, "list", None
    for ext in MASK_EXTENSIONS:
        sibling = f"{stem}{MASK_SUFFIX}{ext}"
        if sibling in files:
            return source.uri(f"{rel_dir}/{sibling}" if rel_dir else sibling), "sibling", files[sibling]
    tree = mask_index.names(rel_dir)
    for cand in (f"{stem}.png", f"{stem}{MASK_SUFFIX}.png", posixpath.basename(key)):
        if cand in tree:
            return mask_index.loc.uri(f"{rel_dir}/{cand}" if rel_dir else cand), "masks_tree", tree[cand]
    return None, None, None


def _find_reference(reference, rel_dir, name, stem, ref_index):
    if reference is None:
        return None
    tree = ref_index.names(rel_dir)
    for cand in (name, f"{stem}.png"):
        if cand in tree:
            return reference.uri(f"{rel_dir}/{cand}" if rel_dir else cand)
    return None
