"""What a watched prefix holds, and what has been reported and restored of it: a durable watermark.

The bucket trigger needs two facts that survive restarts and live next to the outputs (never
in a process's memory):

* ``<dest>/watch/<id>/seen.json``: the objects the watcher has reported (written by the watcher);
* ``<dest>/watch/<id>/restored.json``: the objects handed to a restore run (written by the
  bucket restore, after the run).

Each file has one writer and is replaced whole with :meth:`Location.write_atomic`, so a reader
sees the old or the new version, never half of one. ``<id>`` is derived from the watched prefix's
URI, so several prefixes can restore into one destination. An object is identified by its key
and a *signature* (size + ETag on object stores, size + mtime on disks): an object overwritten
with new content counts as new again.

No Prefect here: the flows in ``flows/watch.py`` and ``flows/bucket.py`` wire this to events.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import time
from datetime import datetime, timezone
from typing import Any

from .discover import _is_mask_name
from .imageio import IMAGE_EXTENSIONS
from .storage import Location

STATE_VERSION = 1


def _mtime(info: dict[str, Any]) -> float | None:
    for name in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(name)
        if value is None:
            continue
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return None


def signature(info: dict[str, Any]) -> str:
    """Identity of one object's content as far as a listing can tell: size plus ETag or mtime."""
    tag = info.get("ETag") or info.get("etag") or info.get("md5Hash") or _mtime(info)
    return f"{int(info.get('size') or 0)}:{str(tag).strip(chr(34))}"


def list_objects(source: Location, *, exclude: tuple[Location, ...] = (), settle_seconds: float = 0.0,
                 now: float | None = None) -> dict[str, str]:
    """``{key: signature}`` of the images under ``source`` that a restore run would pick up.

    Same rules as discovery: hidden files and folders, mask files (``*_mask.png``), the
    ``masks/`` tree and the ``exclude``d locations (the destination) are left out, and so are
    files that are not images. Objects modified less than ``settle_seconds`` ago are left for a
    later listing: a file still being copied into a folder is not reported half-written.
    """
    now = time.time() if now is None else now
    skip = [loc.root for loc in (*exclude, source.child("masks")) if source.contains(loc)]
    out: dict[str, str] = {}
    # refresh: a long-lived process (a server, a test) must not see an object store's cached listing
    for dirpath, dirs, files in source.fs.walk(source.root, detail=True, refresh=True):
        dirpath = dirpath.rstrip("/")
        for name in list(dirs):
            if name.startswith(".") or f"{dirpath}/{name}" in skip:
                del dirs[name]
        for name, info in files.items():
            ext = posixpath.splitext(name)[1].lower()
            if name.startswith(".") or _is_mask_name(name) or ext not in IMAGE_EXTENSIONS:
                continue
            modified = _mtime(info)
            if settle_seconds and modified is not None and now - modified < settle_seconds:
                continue
            key = name if dirpath == source.root else f"{source.key_of(dirpath)}/{name}"
            out[key] = signature(info)
    return out


class Watermark:
    """The seen/restored state of one watched prefix, stored under ``<dest>/watch/<id>/``."""

    def __init__(self, dest: Location, prefix: Location):
        self.dest = dest
        self.prefix_uri = prefix.uri()
        self.folder = f"watch/{hashlib.sha256(self.prefix_uri.encode()).hexdigest()[:16]}"

    # --- storage ---------------------------------------------------------------------------
    def _read(self, name: str) -> dict[str, str]:
        key = f"{self.folder}/{name}"
        try:
            state = json.loads(self.dest.read(key))
        except FileNotFoundError:
            return {}
        if state.get("prefix") != self.prefix_uri:
            raise ValueError(f"{self.dest.uri(key)} belongs to {state.get('prefix')!r}, not {self.prefix_uri!r}")
        return dict(state.get("objects") or {})

    def _write(self, name: str, objects: dict[str, str]) -> str:
        state = {"version": STATE_VERSION, "prefix": self.prefix_uri,
                 "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "count": len(objects), "objects": dict(sorted(objects.items()))}
        return self.dest.write_atomic(f"{self.folder}/{name}", json.dumps(state, indent=0).encode())

    def seen(self) -> dict[str, str]:
        return self._read("seen.json")

    def restored(self) -> dict[str, str]:
        return self._read("restored.json")

    # --- the watcher's side ------------------------------------------------------------------
    def new_objects(self, listing: dict[str, str], seen: dict[str, str] | None = None) -> dict[str, str]:
        """Objects of ``listing`` not reported before (or changed since)."""
        seen = self.seen() if seen is None else seen
        return {k: sig for k, sig in listing.items() if seen.get(k) != sig}

    def record_seen(self, listing: dict[str, str]) -> str:
        """Remember ``listing`` as reported. Deleted objects drop out (reported again if they return)."""
        return self._write("seen.json", listing)

    # --- the bucket restore's side -------------------------------------------------------------
    def pending(self, listing: dict[str, str]) -> dict[str, str]:
        """Objects of ``listing`` not yet handed to a restore run (or changed since)."""
        restored = self.restored()
        return {k: sig for k, sig in listing.items() if restored.get(k) != sig}

    def record_restored(self, handled: dict[str, str], listing: dict[str, str] | None = None) -> str:
        """Add ``handled`` to the restored set; entries of objects gone from ``listing`` are dropped."""
        restored = self.restored()
        if listing is not None:
            restored = {k: v for k, v in restored.items() if k in listing}
        restored.update(handled)
        return self._write("restored.json", restored)
