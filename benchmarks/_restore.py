"""One shard restored as a run restores it, for the benchmarks that measure what a run writes."""

from __future__ import annotations

import time


def restore_folder(src, dest, config) -> tuple[list[dict], float]:
    """Every image under ``src`` (a :class:`~inpaint_core.storage.Location`) restored into ``dest``
    by :func:`~inpaint_core.pipeline.restore_shard` with ``config`` (a ``RestoreConfig``), as one
    shard of a run: the manifest's rows, each with its output file's bytes under ``"output"``
    (``None`` for a row without one), and the restore's wall seconds."""
    from inpaint_core import manifest
    from inpaint_core.discover import discover
    from inpaint_core.pipeline import restore_shard
    from inpaint_core.storage import read_uri

    start = time.perf_counter()
    restore_shard(list(discover(src, exclude=(dest,))), config, src, dest, "bench", 0, "bench")
    seconds = time.perf_counter() - start
    rows = manifest.read_manifest(dest).to_pylist()
    for row in rows:
        row["output"] = read_uri(row["output_uri"]) if row.get("output_uri") else None
    return rows, seconds
