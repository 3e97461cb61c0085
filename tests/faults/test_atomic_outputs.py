"""Atomic outputs: a reader listing the destination while a run writes it never sees a partial
image or a partial Parquet file, on a local disk and on S3.

Shards of large-ish images are restored by a pool of threads (the library's own per-shard entry
point, no orchestrator: this is about the writes) while a reader thread lists and opens every
object it sees. The flow-level tests (worker loss, storage faults, crash, concurrent runs) run
the same reader during their runs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ..collections import good_collection
from .harness import PartialReader, check_dest, moto, record, s3fs_for, upload  # noqa: F401 - fixture


@pytest.mark.parametrize("where", ["local", "s3"])
def test_reader_never_sees_a_partial_object(tmp_path, moto, where):
    from inpaint_core.discover import discover
    from inpaint_core.pipeline import RestoreConfig, restore_shard
    from inpaint_core.storage import Location

    ids = set(good_collection(str(tmp_path / "src"), n=12, size=256))
    if where == "s3":
        fs = s3fs_for(moto.url)
        fs.mkdir("atomic")
        upload(str(tmp_path / "src"), fs, "atomic/in")
        opts = {"endpoint_url": moto.url}
        src, dst = Location("s3://atomic/in", opts), Location("s3://atomic/out", opts)
    else:
        opts = {}
        src, dst = Location(str(tmp_path / "src")), Location(str(tmp_path / "dest"))
    items = list(discover(src, exclude=(dst,)))
    config = RestoreConfig(png_compression=6, write_masks=True, write_edges=True)  # slower writes, more objects
    reader = PartialReader(dst.uri(), opts, every_s=0.0)
    reader.start()
    with ThreadPoolExecutor(3) as pool:
        shards = [items[i:i + 2] for i in range(0, len(items), 2)]
        summaries = list(pool.map(lambda a: restore_shard(a[1], config, src, dst, "atomic", a[0], "test"),
                                  enumerate(shards)))
    reader.stop()
    assert sum(s["ok"] for s in summaries) == len(ids)
    assert not reader.partial, reader.partial[:5]
    assert reader.checked >= len(ids) and reader.polls > 3
    d = check_dest(dst.uri(), opts)
    assert set(d.latest_ok) == ids and not d.bad_outputs
    record(f"atomic outputs ({where})", f"tests/faults/test_atomic_outputs.py::test_reader_never_sees_a_partial_object"
           f"[{where}]", 0, 1, d.lost(ids), objects_checked_while_written=reader.checked, polls=reader.polls)


def test_temporaries_of_killed_writers_are_swept_but_not_live_ones(tmp_path):
    """A writer SIGKILLed between its temporary file and the rename leaves the temporary behind:
    an hour later it is swept; a younger one (a live writer's) and every other file stay."""
    import os
    import time

    from inpaint_core.storage import Location

    dst = Location(str(tmp_path / "dest"))
    dst.write_atomic("images/a.png", b"png")
    folder = tmp_path / "dest" / "images" / "deep"
    folder.mkdir()
    names = {".b.png.0123456789ab.tmp": 7200, ".part-000001.parquet.abcdef012345.tmp": 7200,
             ".c.png.0123456789ab.tmp": 60, "notes.tmp": 7200, ".hidden.tmp": 7200}
    for name, age in names.items():
        (folder / name).write_bytes(b"partial")
        os.utime(folder / name, (time.time() - age,) * 2)
    assert dst.sweep_temporaries() == 2
    assert sorted(os.listdir(folder)) == [".c.png.0123456789ab.tmp", ".hidden.tmp", "notes.tmp"]
    assert (tmp_path / "dest" / "images" / "a.png").read_bytes() == b"png"
