"""The manifest index gives every shard the same earlier rows as reading the manifest itself."""

from __future__ import annotations

import json
import os
import random
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from inpaint_core import manifest, manifest_index
from inpaint_core.manifest_index import refresh_index
from inpaint_core.storage import Location

from .faults.harness import moto, s3fs_for  # noqa: F401 - fixture

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Small chunks, row groups and batches, so a few thousand rows exercise splitting and merging."""
    monkeypatch.setattr(manifest_index, "CHUNK_ROWS", 300)
    monkeypatch.setattr(manifest_index, "ROW_GROUP_ROWS", 32)
    monkeypatch.setattr(manifest_index, "PARTS_PER_BATCH", 7)


def image_id(i: int) -> str:
    return f"f{i % 5}/img{i:05d}.png"


def write_run(dest: Location, run: str, ids: list[int], minutes: int, settings: str = "s1",
              finished: bool = True, shard0: int = 0) -> None:
    """A run's parts, 64 images each, with some failed rows; its summary when ``finished``."""
    rng = random.Random(run)
    for shard in range(0, len(ids), 64):
        rows = [{"run_id": run, "shard": shard0 + shard // 64, "image_id": image_id(i), "settings_hash": settings,
                 "status": rng.choice(["ok", "ok", "ok", "skipped", "failed"]),
                 "source_sha256": f"{run}-{i}", "output_uri": f"file:///out/{i}.png", "output_sha256": f"o{run}{i}",
                 "source_version": f"v{run}{i}", "finished_at": T0 + timedelta(minutes=minutes, seconds=i % 50)}
                for i in ids[shard:shard + 64]]
        manifest.write_part(dest, run, shard0 + shard // 64, rows)
    if finished:
        dest.write_atomic(f"runs/{run}.json", b"{}")


def shards_of(n: int) -> list[list[str]]:
    ids = sorted(image_id(i) for i in range(n))
    return [ids[i:i + 64] for i in range(0, len(ids), 64)]


def assert_same_as_scan(dest: Location, index, n: int, settings: str = "s1", this_run: str | None = None) -> None:
    for ids in shards_of(n):
        scan = manifest.prior_rows(dest, ids, settings, this_run=this_run)
        assert manifest.prior_rows(dest, ids, settings, this_run=this_run, index=index) == scan


def test_index_answers_what_the_manifest_answers_as_runs_accumulate(tmp_path):
    dest = Location(str(tmp_path))
    assert refresh_index(dest).rows == 0  # no manifest yet: an empty index, nothing written
    write_run(dest, "r1", list(range(2000)), minutes=0)
    first = refresh_index(dest)
    assert first.parts_read == 32 and len(first.chunks) > 3
    assert_same_as_scan(dest, first, 2000)

    # Later runs redo a few images (the latest row wins), one with other settings, one killed midway.
    r3, r4 = list(range(100, 420, 5)), list(range(1501, 1821, 5))  # one folder each
    write_run(dest, "r2", [5, 700, 1999], minutes=10)
    write_run(dest, "r3", r3, minutes=20, settings="s2")
    write_run(dest, "r4", r4, minutes=30, finished=False)
    second = refresh_index(dest)
    assert second.parts_read == 3
    new_ids = sorted(image_id(i) for i in [5, 700, 1999, *r3, *r4])
    kept = {c.file for c in second.chunks}
    for c, nxt in zip(first.chunks, [*first.chunks[1:], None]):  # only chunks that receive rows are rewritten
        receives = any(c.first <= i and (nxt is None or i < nxt.first) for i in new_ids)
        assert (c.file in kept) != receives, c
    assert_same_as_scan(dest, second, 2000)
    assert_same_as_scan(dest, second, 2000, settings="s2")
    # (A run never finds its own rows in the index: it refreshes it before writing any.)

    # The killed run is listed again at each refresh; if more of its parts appear they are read.
    write_run(dest, "r4", list(range(1821, 2000, 5)), minutes=31, finished=False, shard0=1)
    third = refresh_index(dest)
    assert third.parts_read == 1
    assert_same_as_scan(dest, third, 2000)
    assert refresh_index(dest).parts_read == 0  # nothing new: nothing read
    dest.write_atomic("runs/r4.json", b"{}")  # the killed run's summary appears (it finished after all)
    assert refresh_index(dest).parts_read == 0
    covered = json.loads((tmp_path / "manifest-index" / "index.json").read_text())["covered"]
    assert covered["r4"]["final"], "a run that became final is recorded, and not listed again"


def test_a_deleted_run_leaves_the_index(tmp_path):
    dest = Location(str(tmp_path))
    write_run(dest, "r1", list(range(300)), minutes=0)
    write_run(dest, "r2", list(range(0, 300, 3)), minutes=5)
    refresh_index(dest)
    shutil.rmtree(tmp_path / "manifest" / "run=r2")  # a user forgetting a run
    index = refresh_index(dest)
    assert_same_as_scan(dest, index, 300)
    assert all(r.run_id == "r1" for ids in shards_of(300) for r in
               manifest.prior_rows(dest, ids, "s1", index=index).values())


def test_a_read_only_refresh_gives_the_index_only_when_it_is_up_to_date(tmp_path):
    """What a dry run uses: never a write; a stale index is not used (the parts are read instead)."""
    dest = Location(str(tmp_path))
    write_run(dest, "r1", list(range(200)), minutes=0)
    assert refresh_index(dest, read_only=True) is None and not (tmp_path / "manifest-index").exists()
    index = refresh_index(dest)
    files = sorted(os.listdir(tmp_path / "manifest-index"))
    again = refresh_index(dest, read_only=True)
    assert again is not None and again.chunks == index.chunks
    assert_same_as_scan(dest, again, 200)
    write_run(dest, "r2", list(range(0, 200, 2)), minutes=5)
    assert refresh_index(dest, read_only=True) is None
    assert sorted(os.listdir(tmp_path / "manifest-index")) == files


def test_a_broken_or_missing_index_is_rebuilt_and_a_missing_or_damaged_chunk_falls_back(tmp_path):
    dest = Location(str(tmp_path))
    write_run(dest, "r1", list(range(600)), minutes=0)
    index = refresh_index(dest)
    (tmp_path / "manifest-index" / "index.json").write_text("{not json")
    rebuilt = refresh_index(dest)
    assert rebuilt.parts_read == 10
    assert_same_as_scan(dest, rebuilt, 600)
    # A chunk deleted under a running run (collected by another run's refresh): the shard reads the parts.
    os.unlink(tmp_path / "manifest-index" / index.chunks[0].file)
    assert_same_as_scan(dest, index, 600)
    (tmp_path / "manifest-index" / index.chunks[1].file).write_bytes(b"not parquet")  # damaged: the same
    assert_same_as_scan(dest, index, 600)


def test_the_flow_refreshes_the_index_once_and_re_runs_use_it(prefect_server, tmp_path):
    from flows.restore import run_restore

    from .collections import good_collection

    good_collection(str(tmp_path / "src"), n=6)
    kw = dict(n_workers=1, shard_size=2, contact_sheet=False)
    first = run_restore(str(tmp_path / "src"), str(tmp_path / "dest"), **kw)
    assert first["ok"] == 6 and not (tmp_path / "dest" / "manifest-index").exists()
    stale = tmp_path / "dest" / "images" / "set0" / ".img000.png.0123456789ab.tmp"  # a killed writer's
    stale.write_bytes(b"partial")
    os.utime(stale, (T0.timestamp(),) * 2)
    second = run_restore(str(tmp_path / "src"), str(tmp_path / "dest"), **kw)
    assert not stale.exists(), "a full run sweeps what killed writers left"
    assert second["up_to_date"] == 6 and second["ok"] == 0
    state = (tmp_path / "dest" / "manifest-index" / "index.json").read_text()
    assert f"{first['run_id']}" in state and '"final": true' in state


def test_index_on_s3_answers_what_the_manifest_answers(moto):  # noqa: F811 - fixture
    """The same on an object store, where runs and parts are prefixes and keys."""
    s3fs_for(moto.url).mkdir("index")
    dest = Location("s3://index/dest", {"endpoint_url": moto.url})
    write_run(dest, "r1", list(range(400)), minutes=0)
    write_run(dest, "r2", list(range(0, 400, 7)), minutes=5, finished=False)
    index = refresh_index(dest)
    assert index.parts_read == 8 and len(index.chunks) >= 2
    assert_same_as_scan(dest, index, 400)
    write_run(dest, "r2", list(range(1, 400, 7)), minutes=6, finished=False, shard0=1)
    again = refresh_index(dest)
    assert again.parts_read == 1
    assert_same_as_scan(dest, again, 400)
