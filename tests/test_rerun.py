"""Re-runs decide what is up to date from what the listing says, without reading unchanged images.

The manifest records each source's, mask's and output's size and change tag (S3 ETag, file mtime
and inode). A re-run compares them with the listing and one HEAD of the output; only a mismatch
makes it read and hash the bytes (``verify=True`` always does).
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from inpaint_core import manifest
from inpaint_core.discover import discover
from inpaint_core.manifest_index import refresh_index
from inpaint_core.pipeline import RestoreConfig, plan_shard, restore_shard
from inpaint_core.storage import Location

from .collections import good_collection, png_bytes
from .faults.harness import moto, s3fs_for, upload  # noqa: F401 - fixture
from .faults.s3proxy import FaultProxy


def run(src: str, dest: str, run_id: str, opts: dict | None = None, index: bool = False, **cfg) -> dict:
    """One shard of a run; ``index``: with the manifest index refreshed first, as the flow does."""
    source, target = Location(src, opts or {}), Location(dest, opts or {})
    items = list(discover(source, exclude=(target,)))
    idx = refresh_index(target) if index else None
    return restore_shard(items, RestoreConfig(**cfg), source, target, run_id, 0, "test-worker", idx)


def plan(src: str, dest: str, opts: dict | None = None, **cfg) -> dict:
    """A dry run's one shard, with the manifest index if it is up to date (as the flow does)."""
    source, target = Location(src, opts or {}), Location(dest, opts or {})
    index = refresh_index(target, read_only=True)
    return plan_shard(list(discover(source, exclude=(target,))), RestoreConfig(**cfg), source, target, 0, index)


def snapshot(root) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and mtime (what any write would change)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            st = os.stat(os.path.join(dirpath, f))
            out[os.path.relpath(os.path.join(dirpath, f), root)] = (st.st_size, st.st_mtime_ns)
    return out


def same_size_png(data: bytes, seed: int) -> bytes:
    """An uncompressed PNG of the image in ``data`` with a seed-dependent patch: every seed gives
    the same byte length."""
    arr = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).copy()
    arr[:8, :8] = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return png_bytes(arr, compress_level=0)


@pytest.fixture
def read_keys(monkeypatch, tmp_path):
    """Paths read through Location.read (every read of a source, mask or output goes through it),
    relative to the test's folder."""
    seen: Counter = Counter()
    real = Location.read

    def read(self, key):
        seen[os.path.relpath(self.path(key), str(tmp_path))] += 1
        return real(self, key)

    monkeypatch.setattr(Location, "read", read)
    return seen


def images_read(keys: Counter) -> set[str]:
    return {k for k in keys if "manifest-index" not in k}  # the index's own files aside


def overlap_counter(monkeypatch, method: str, marker: str) -> tuple[Counter, list[int]]:
    """Patch ``Location.<method>`` to count its calls by path; those whose path holds ``marker`` take
    50 ms more (a store's round trip, so overlapping calls show) and ``most[0]`` is how many of them
    were in flight at once."""
    calls, in_flight, most = Counter(), [0], [0]
    lock, real = threading.Lock(), getattr(Location, method)

    def counted(self, key):
        path = self.path(key)
        calls[path] += 1
        if marker not in path:
            return real(self, key)
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            time.sleep(0.05)
            return real(self, key)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(Location, method, counted)
    return calls, most


def test_local_rerun_reads_nothing_of_unchanged_images(tmp_path, read_keys):
    src, dest = str(tmp_path / "src"), str(tmp_path / "dest")
    good_collection(src, n=4)
    img = tmp_path / "src" / "set0" / "img000.png"
    img.write_bytes(same_size_png(img.read_bytes(), seed=0))
    assert run(src, dest, "r1")["ok"] == 4
    rows = manifest.read_manifest(Location(dest)).to_pylist()
    assert all(r["source_version"] and r["mask_version"] and r["output_version"] for r in rows)

    read_keys.clear()
    second = run(src, dest, "r2")
    assert second["up_to_date"] == 4 and second["ok"] == 0
    assert not read_keys, f"an unchanged re-run read {dict(read_keys)}"

    # verify=True reads and hashes everything, and agrees.
    verified = run(src, dest, "r3", verify=True)
    assert verified["up_to_date"] == 4
    assert sum(read_keys.values()) == 12  # 4 sources, 4 masks, 4 outputs

    # A source rewritten in place with other bytes of the same size is redone; so is a new mask.
    img = tmp_path / "src" / "set0" / "img000.png"
    with open(img, "r+b") as fh:  # same inode, same size (uncompressed PNGs of one shape), other pixels
        fh.write(same_size_png(img.read_bytes(), seed=1))
    mask = tmp_path / "src" / "set1" / "img003_mask.png"
    m = np.zeros((96, 96), np.uint8)
    m[10:40, 10:40] = 255
    mask.write_bytes(png_bytes(m))
    read_keys.clear()
    third = run(src, dest, "r4")
    redone = {r["image_id"] for r in manifest.read_manifest(Location(dest), run_id="r4").to_pylist()}
    assert redone == {"set0/img000.png", "set1/img003.png"} and third["up_to_date"] == 2
    assert set(read_keys) == {"src/set0/img000.png", "src/set0/img000_mask.png", "src/set1/img003.png",
                              "src/set1/img003_mask.png"}


def test_a_dry_run_says_what_the_run_will_do_reading_and_writing_nothing(tmp_path, read_keys):
    src, dest = str(tmp_path / "src"), str(tmp_path / "dest")
    good_collection(src, n=4)
    first = plan(src, dest)
    assert first["actions"] == {"up_to_date": 0, "restore": 4, "check": 0, "skip": 0, "fail": 0}
    assert first["reasons"] == {"restore: no finished row with these settings": 4}
    assert first["masks"] == {"sibling": 4} and not os.path.exists(dest) and not images_read(read_keys)
    assert first["bytes"]["restore"] == sum(os.path.getsize(tmp_path / "src" / f"set{i % 2}" / f"img{i:03d}.png")
                                            for i in range(4))
    assert run(src, dest, "r1")["ok"] == 4

    os.utime(tmp_path / "src" / "set0" / "img000.png")  # touched: read and hashed, found unchanged
    os.remove(tmp_path / "dest" / "images" / "set1" / "img001.png")  # its output gone: redone
    m = np.zeros((96, 96), np.uint8)
    m[10:40, 10:40] = 255
    (tmp_path / "src" / "set1" / "img003_mask.png").write_bytes(png_bytes(m))  # a new mask: redone
    (tmp_path / "src" / "set0" / "new.png").write_bytes((tmp_path / "src" / "set0" / "img002.png").read_bytes())
    (tmp_path / "src" / "notes.txt").write_text("not an image")
    before = snapshot(tmp_path)
    read_keys.clear()
    p = plan(src, dest)
    assert not images_read(read_keys) and snapshot(tmp_path) == before
    assert p["images"] == 6
    assert p["actions"] == {"up_to_date": 1, "restore": 1, "check": 3, "skip": 1, "fail": 0}
    assert p["reasons"] == {"up_to_date: listing and output unchanged": 1,
                            "restore: no finished row with these settings": 1,
                            "check: source size or change tag differs": 1,
                            "check: output missing or its change tag differs": 1,
                            "check: mask size or change tag differs": 1,
                            "skip: not an image (extension '.txt')": 1}
    assert p["examples"]["check: output missing or its change tag differs"] == ["set1/img001.png"]
    assert p["masks"] == {"sibling": 3, "alpha, nodata or detect:solid (decided when read)": 1}

    # the run then does what the plan said: of the three to check, the touched one was unchanged
    second = run(src, dest, "r2")
    rows = {r["image_id"]: r["status"] for r in manifest.read_manifest(Location(dest), run_id="r2").to_pylist()}
    assert rows == {"set1/img001.png": "ok", "set1/img003.png": "ok", "set0/new.png": "skipped",
                    "notes.txt": "skipped"}
    assert second["up_to_date"] == 2

    read_keys.clear()
    forced, verified = plan(src, dest, force=True), plan(src, dest, verify=True)
    assert forced["actions"]["restore"] == 5 and forced["reasons"]["restore: --force"] == 5
    assert verified["actions"]["check"] == 5 and verified["reasons"]["check: --verify"] == 5
    assert not images_read(read_keys)


def test_touched_but_unchanged_files_are_hashed_and_stay_up_to_date(tmp_path, read_keys):
    src, dest = str(tmp_path / "src"), str(tmp_path / "dest")
    good_collection(src, n=2)
    run(src, dest, "r1")
    os.utime(tmp_path / "src" / "set0" / "img000.png")  # a new mtime, the same bytes
    read_keys.clear()
    second = run(src, dest, "r2")
    assert second["up_to_date"] == 2 and second["ok"] == 0
    assert set(read_keys) == {"src/set0/img000.png", "src/set0/img000_mask.png", "dest/images/set0/img000.png"}


def test_a_touched_file_is_read_once_then_trusted_again(tmp_path, read_keys):
    """The run that finds a touched file unchanged adds no row, but records its new versions for
    the manifest index: the next run reads nothing of it (without them it would read it every time)."""
    src, dest = str(tmp_path / "src"), str(tmp_path / "dest")
    good_collection(src, n=3)
    assert run(src, dest, "r1", index=True)["ok"] == 3
    os.utime(tmp_path / "src" / "set0" / "img000.png")  # a new mtime, the same bytes
    os.utime(tmp_path / "dest" / "images" / "set1" / "img001.png")  # an output touched too
    read_keys.clear()
    second = run(src, dest, "r2", index=True)
    assert second["up_to_date"] == 3 and second["ok"] == 0
    assert images_read(read_keys) == {"src/set0/img000.png", "src/set0/img000_mask.png", "dest/images/set0/img000.png",
                              "src/set1/img001.png", "src/set1/img001_mask.png", "dest/images/set1/img001.png"}
    assert len(os.listdir(tmp_path / "dest" / "manifest-index" / "refreshed")) == 1
    assert plan(src, dest)["actions"]["check"] == 2  # a dry run does not apply them (it writes nothing)
    read_keys.clear()
    third = run(src, dest, "r3", index=True)
    assert third["up_to_date"] == 3 and not images_read(read_keys), dict(read_keys)
    assert os.listdir(tmp_path / "dest" / "manifest-index" / "refreshed") == []
    assert plan(src, dest)["actions"]["up_to_date"] == 3
    assert len(manifest.read_manifest(Location(dest)).to_pylist()) == 3  # still the first run's rows only

    # a refreshed version never hides a real change: the same file rewritten with other bytes is redone
    img = tmp_path / "src" / "set0" / "img000.png"
    img.write_bytes(same_size_png(img.read_bytes(), seed=3))
    fourth = run(src, dest, "r4", index=True)
    assert fourth["ok"] == 1 and fourth["up_to_date"] == 2


def test_an_output_replaced_with_preserved_timestamp_is_caught_only_by_verify(tmp_path):
    """The documented blind spot of trusting the listing, and the option that closes it."""
    src, dest = str(tmp_path / "src"), str(tmp_path / "dest")
    good_collection(src, n=2)
    run(src, dest, "r1")
    out = tmp_path / "dest" / "images" / "set0" / "img000.png"
    st = os.stat(out)
    data = bytearray(out.read_bytes())
    data[-20] ^= 0xFF  # same size, same inode, timestamps put back
    with open(out, "r+b") as fh:
        fh.write(data)
    os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert run(src, dest, "r2")["up_to_date"] == 2
    verified = run(src, dest, "r3", verify=True)
    assert verified["ok"] == 1 and verified["up_to_date"] == 1


def test_manifests_without_versions_still_count_as_up_to_date(tmp_path, read_keys):
    """Parts written before schema 1.2 have no version columns: the re-run reads and hashes."""
    src, dest = str(tmp_path / "src"), str(tmp_path / "dest")
    good_collection(src, n=3)
    run(src, dest, "r1")
    part = tmp_path / "dest" / manifest.part_key("r1", 0)
    table = pq.read_table(part)
    pq.write_table(table.drop_columns(["source_version", "mask_version", "output_version"]), part)
    read_keys.clear()
    second = run(src, dest, "r2")
    assert second["up_to_date"] == 3 and second["ok"] == 0
    assert sum(read_keys.values()) == 9


def test_s3_rerun_sends_one_head_per_image_and_no_get(moto, tmp_path):  # noqa: F811 - fixture
    fs = s3fs_for(moto.url)
    fs.mkdir("rerun")
    good_collection(str(tmp_path / "src"), n=4)
    upload(str(tmp_path / "src"), fs, "rerun/src")
    with FaultProxy(moto.url) as proxy:  # no faults: it only records the requests
        opts = {"endpoint_url": proxy.url, "skip_instance_cache": True}
        assert run("s3://rerun/src", "s3://rerun/dest", "r1", opts)["ok"] == 4
        # The outputs' versions came with their PUTs: no HEAD after writing.
        assert not [p for m, p in proxy.requests if m == "HEAD" and "/rerun/dest/images/" in p]
        proxy.requests.clear()
        second = run("s3://rerun/src", "s3://rerun/dest", "r2", opts)
        assert second["up_to_date"] == 4 and second["ok"] == 0
        objects = [(m, p.split("?")[0]) for m, p in proxy.requests if ".png" in p]
        assert [m for m, _ in objects].count("GET") == 0, objects
        assert sorted(p for m, p in objects if m == "HEAD") == sorted(
            f"/rerun/dest/images/set{i % 2}/img{i:03d}.png" for i in range(4))
        # a dry run asks the same, and writes nothing
        proxy.requests.clear()
        assert plan("s3://rerun/src", "s3://rerun/dest", opts)["actions"]["up_to_date"] == 4
        assert not [(m, p) for m, p in proxy.requests if m in ("PUT", "POST", "DELETE")], proxy.requests
        assert not [p for m, p in proxy.requests if m == "GET" and ".png" in p]

        # A new mask object (a new ETag) is seen from the listing alone.
        m = np.zeros((96, 96), np.uint8)
        m[5:50, 5:50] = 255
        fs.pipe("rerun/src/set0/img002_mask.png", png_bytes(m))
        # An output replaced behind the manifest's back (same key) is seen from its HEAD.
        fs.pipe("rerun/dest/images/set1/img001.png", fs.cat("rerun/src/set1/img001.png"))
        third = run("s3://rerun/src", "s3://rerun/dest", "r3", opts)
        redone = {r["image_id"] for r in manifest.read_manifest(Location("s3://rerun/dest", opts),
                                                                run_id="r3").to_pylist()}
        assert redone == {"set0/img002.png", "set1/img001.png"} and third["up_to_date"] == 2


def test_s3_masks_from_a_mask_list_are_asked_together_and_a_replaced_one_is_redone(moto, tmp_path,  # noqa: F811
                                                                                    monkeypatch):
    """A mask list's masks have no listing to give their versions: a shard asks them of the store
    concurrently (one HEAD each), not one after another, and a re-run still reads nothing unchanged."""
    fs = s3fs_for(moto.url)
    fs.mkdir("listed")
    good_collection(str(tmp_path / "src"), n=6)
    for path in sorted((tmp_path / "src").rglob("*_mask.png")):
        key = path.relative_to(tmp_path / "src").as_posix().replace("_mask", "")
        fs.pipe(f"listed/masks/{key}", path.read_bytes())
        path.unlink()
    upload(str(tmp_path / "src"), fs, "listed/src")
    opts = {"endpoint_url": moto.url, "skip_instance_cache": True}
    source, target = Location("s3://listed/src", opts), Location("s3://listed/dest", opts)
    mask_list = {f"set{i % 2}/img{i:03d}.png": f"s3://listed/masks/set{i % 2}/img{i:03d}.png" for i in range(6)}

    def run_listed(run_id):
        items = list(discover(source, exclude=(target,), mask_list=mask_list))
        assert all(it.mask_source == "list" and it.mask_version is None for it in items)
        return restore_shard(items, RestoreConfig(), source, target, run_id, 0, "test-worker")

    assert run_listed("r1")["ok"] == 6
    rows = manifest.read_manifest(target, run_id="r1").to_pylist()
    assert all(r["mask_version"] for r in rows)

    asked, most = overlap_counter(monkeypatch, "version", "/masks/")
    second = run_listed("r2")
    assert second["up_to_date"] == 6 and second["ok"] == 0
    assert sorted(p for p in asked if "/masks/" in p) == sorted(f"listed/masks/{k}" for k in mask_list)
    assert all(n == 1 for n in asked.values()) and most[0] > 1, (asked, most)

    fs.pipe("listed/masks/set1/img003.png", png_bytes(np.full((96, 96), 255, np.uint8) * np.eye(96, dtype=np.uint8)))
    third = run_listed("r3")
    redone = {r["image_id"] for r in manifest.read_manifest(target, run_id="r3").to_pylist()}
    assert redone == {"set1/img003.png"} and third["up_to_date"] == 5


def test_s3_verify_reads_the_outputs_together_with_the_sources(moto, tmp_path, monkeypatch):  # noqa: F811
    """``--verify`` hashes every output too; on an object store those reads overlap like the sources'
    (not one round trip after another), each output is read once, and a changed one is still redone."""
    fs = s3fs_for(moto.url)
    fs.mkdir("verify")
    good_collection(str(tmp_path / "src"), n=6)
    upload(str(tmp_path / "src"), fs, "verify/src")
    opts = {"endpoint_url": moto.url, "skip_instance_cache": True}
    assert run("s3://verify/src", "s3://verify/dest", "r1", opts)["ok"] == 6
    fs.pipe("verify/dest/images/set1/img001.png", fs.cat("verify/src/set1/img001.png"))

    read, most = overlap_counter(monkeypatch, "read", "/dest/images/")
    second = run("s3://verify/src", "s3://verify/dest", "r2", opts, verify=True)
    assert second["up_to_date"] == 5 and second["ok"] == 1
    outputs = {p: n for p, n in read.items() if "/dest/images/" in p}
    assert len(outputs) == 6 and set(outputs.values()) == {1} and most[0] > 1, (outputs, most)
