"""What a restore run shows in the Prefect UI: names, tags, artifacts, and the failure-rate verdict.

The flow tests run real restores under a real Prefect server and read everything back through the
Prefect client, as the UI does; the unit tests cover :mod:`flows.artifacts` without a server.
"""

import glob
import json
import math
import os
import re
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from .collections import good_collection, hole_mask, jpeg_bytes, png_bytes, write

# --- unit tests of flows/artifacts.py -----------------------------------------------------------


def _summary(**kw):
    s = {"run_id": "20261125T223000Z-abc123", "source": "s3://photos/incoming", "dest": "s3://photos/restored",
         "method": "telea", "seconds": 3.25, "images": 10, "ok": 6, "skipped": 1, "failed": 2, "up_to_date": 1,
         "stage_ms": {"read": 10.0, "decode": 20.0, "inpaint": 450.0, "write": 90.0}, "failures": [],
         "manifest": "s3://photos/restored/manifest/run=20261125T223000Z-abc123",
         "contact_sheet": "s3://photos/restored/runs/20261125T223000Z-abc123-contact-sheet.png"}
    return s | kw


def _rows():
    from flows.artifacts import ROW_COLUMNS
    from inpaint_core.manifest import SCHEMA

    rows = [
        {"image_id": "a/good.png", "status": "ok", "q_seam": 1.1, "q_color_delta": 3.0, "q_texture_ratio": 0.9,
         "q_likely_bad": False, "hole_fraction": 0.05},
        {"image_id": "a/seamy.png", "status": "ok", "q_seam": 4.0, "q_color_delta": 5.0, "q_texture_ratio": 0.8,
         "q_likely_bad": True, "hole_fraction": 0.10},
        {"image_id": "a/blurry.png", "status": "ok", "q_seam": 1.5, "q_color_delta": 2.0, "q_texture_ratio": 0.2,
         "q_likely_bad": False, "hole_fraction": 0.20},
        {"image_id": "b/colour.png", "status": "ok", "q_seam": 1.0, "q_color_delta": 50.0, "q_texture_ratio": 1.0,
         "q_likely_bad": True, "hole_fraction": 0.02},
        {"image_id": "b/unscored.png", "status": "ok", "hole_fraction": 0.02},  # --no-score
        {"image_id": "c/empty.png", "status": "skipped", "error": "empty mask: nothing to restore"},
        {"image_id": "d/cut.jpg", "status": "failed", "error": "truncated JPEG data: image file is truncated (7 bytes)"},
        {"image_id": "d/also-cut.jpg", "status": "failed", "error": "truncated JPEG data: broken data stream"},
        {"image_id": "e/size.png", "status": "failed", "error": "mask is 10x10 but image is 96x96"},
    ]
    full = [{c: r.get(c) for c in SCHEMA.names} for r in rows]
    return pa.Table.from_pylist(full, schema=SCHEMA).select(ROW_COLUMNS)


def test_names_say_what_a_run_is():
    from flows.artifacts import artifact_key, restore_run_name, shard_label, source_label

    assert source_label("s3://photos/incoming/") == "photos/incoming/"
    assert source_label("/data/scans/2026/batch7") == "2026/batch7/"
    assert source_label("s3://bucket") == "bucket/"
    when = datetime(2026, 11, 25, 22, 30, tzinfo=timezone.utc)
    assert restore_run_name("s3://photos/incoming", when) == "restore photos/incoming/ 2026-11-25 22:30 UTC"
    assert shard_label(3, 192, 64) == "shard 3 (images 192-255)"
    assert shard_label(0, 0, 1) == "shard 0 (images 0-0)"
    for dest in ("s3://Photos/Restored_2026", "/tmp/pytest-of-root/x y/dest", "file:///", "memory://a.b/c"):
        key = artifact_key(dest, "summary")
        assert re.fullmatch(r"[a-z0-9-]+", key) and key.startswith("restore-") and key.endswith("-summary"), key


def test_failure_reasons_are_grouped_with_counts_and_an_example():
    from flows.artifacts import failure_groups, reason_group

    assert reason_group("truncated JPEG data: image file is truncated (7 bytes)") == "truncated JPEG data"
    assert reason_group("mask is 10x10 but image is 96x96") == "mask is NxN but image is NxN"
    assert reason_group("not a decodable image (184 bytes, starts with b'not an i')") == "not a decodable image"
    assert reason_group("KeyError: 'x'") == "KeyError"
    assert reason_group(None) == reason_group("") == "unknown error"
    groups = failure_groups(_rows(), _summary())
    assert [(g["reason"], g["count"], g["example"]) for g in groups] == [
        ("truncated JPEG data", 2, "d/also-cut.jpg"), ("mask is NxN but image is NxN", 1, "e/size.png")]
    # without manifest rows: the summary's (capped) list
    fallback = failure_groups(None, _summary(failures=[("x.png", "empty file (0 bytes)")]))
    assert fallback == [{"reason": "empty file", "count": 1, "example": "x.png", "error": "empty file (0 bytes)"}]


def test_summary_table_has_counts_failures_and_stage_times():
    from flows.artifacts import summary_table

    table = summary_table(_summary(), _rows(), max_failure_rate=0.5)
    by = {(r["section"], r["item"]): r for r in table}
    assert [by[("status", s)]["value"] for s in ("ok", "skipped", "failed", "up_to_date")] == [6, 1, 2, 1]
    assert by[("status", "failed")]["note"] == "20.0% of 10"
    assert by[("failure", "truncated JPEG data")]["value"] == 2
    assert "d/also-cut.jpg" in by[("failure", "truncated JPEG data")]["note"]
    assert by[("stage", "inpaint")]["value"] == 0.45 and "50.0 ms per image" in by[("stage", "inpaint")]["note"]
    assert by[("stage", "blend")]["value"] == 0.0  # every stage listed, in pipeline order
    assert by[("run", "failure rate")]["value"] == 20.0 and "limit 50%" in by[("run", "failure rate")]["note"]
    json.dumps(table)  # the artifact API sends it as JSON


def test_failure_verdict_and_threshold():
    from flows.artifacts import check_max_failure_rate, failure_rate, failure_verdict

    s = _summary(images=10, failed=6)
    assert failure_rate(s) == 0.6
    reason = failure_verdict(s, 0.5)
    assert reason.startswith("6 of 10 images failed (60.0%), above the max_failure_rate of 50%")
    assert s["manifest"] in reason
    assert failure_verdict(s, 0.6) is None  # "passes" the threshold means above it
    assert failure_verdict(s, None) is None and failure_verdict(_summary(images=4, failed=4), 1.0) is None
    assert failure_verdict(_summary(images=10, failed=1), 0.0) is not None  # 0: any failure fails the run
    assert failure_verdict(_summary(images=0, failed=0), 0.0) is None
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError):
            check_max_failure_rate(bad)


def test_progress_is_honest_about_an_unknown_total():
    from flows.artifacts import progress

    pct, text = progress(64, 256, listing_done=False)
    assert pct == 25.0 and "discovered so far" in text and "total not known" in text
    assert progress(256, 256, listing_done=False)[0] == 99.0  # 100 only when the run has finished
    assert progress(200, 256, listing_done=True) == (78.1, "200 of 256 images done")
    assert progress(0, 0, listing_done=False)[0] == 0.0


def test_worst_images_flagged_first_then_by_distance_past_threshold():
    from flows.artifacts import worst_images

    worst = worst_images(_rows(), n=10)
    assert [w["image_id"] for w in worst] == ["b/colour.png", "a/seamy.png", "a/blurry.png", "a/good.png"]
    assert worst[0]["likely_bad"] and math.isclose(worst[0]["badness"], 50.0 / 25.0)
    assert worst_images(_rows(), n=1)[0]["image_id"] == "b/colour.png"


def test_quality_markdown_has_distribution_worst_images_and_contact_sheet():
    from flows.artifacts import quality_markdown

    s = _summary()
    md = quality_markdown(s, _rows(), state_message="6 of 10 images failed")
    assert f"[Contact sheet]({s['contact_sheet']})" in md
    assert "**Run failed:** 6 of 10 images failed" in md
    assert re.search(r"\| seam \| 4 \| 1 \| .* \| 4 \|", md)  # 4 scored ok images, min 1, max 4
    assert "| hole (% of image) | 5 |" in md and "**2 of 5** restored images are flagged" in md
    worst = md.split("## Worst-scored images")[1]
    assert worst.index("`b/colour.png`") < worst.index("`a/seamy.png`") < worst.index("`a/good.png`")
    assert "PSNR" not in worst  # no references given
    assert s["manifest"] in md

    none_ok = quality_markdown(_summary(ok=0, contact_sheet=None), _rows().filter(pa.compute.equal(
        _rows()["status"], "failed")))
    assert "No contact sheet" in none_ok and "no quality scores" in none_ok and "Worst-scored" not in none_ok


def test_cli_max_failure_rate_option():
    from flows.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["restore", "a", "b"]).max_failure_rate == 0.5
    assert parse(["restore", "a", "b", "--max-failure-rate", "0"]).max_failure_rate == 0.0
    assert parse(["restore", "a", "b", "--max-failure-rate", "none"]).max_failure_rate is None
    for bad in ("1.5", "-0.1", "half"):
        with pytest.raises(SystemExit):
            parse(["restore", "a", "b", "--max-failure-rate", bad])


def test_cli_jpeg_quality_and_png_compression_options():
    """`--jpeg-quality` takes 1-100 or `source`, `--png-compression` a zlib level; the restore flow's
    parameters accept what the CLI gives."""
    from flows.cli import build_parser
    from flows.restore import restore

    parse = build_parser().parse_args
    args = parse(["restore", "a", "b"])
    assert (args.jpeg_quality, args.png_compression) == (95, 1)
    assert parse(["restore", "a", "b", "--jpeg-quality", "Source"]).jpeg_quality == "source"
    assert parse(["restore", "a", "b", "--jpeg-quality", "80", "--png-compression", "6"]).jpeg_quality == 80
    for bad in (["--jpeg-quality", "0"], ["--jpeg-quality", "101"], ["--jpeg-quality", "best"],
                ["--png-compression", "10"]):
        with pytest.raises(SystemExit):
            parse(["restore", "a", "b", *bad])
    for quality in ("source", 80):
        assert restore.validate_parameters({"source": "a", "dest": "b", "jpeg_quality": quality,
                                            "png_compression": 6})["jpeg_quality"] == quality


def test_cli_hole_range_option():
    from flows.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["train", "--model", "glcic", "--data", "d", "--out", "o", "--hole-range", "0.1,0.6"]).hole_range \
        == (0.1, 0.6)
    assert parse(["train", "--model", "glcic", "--data", "d", "--out", "o"]).hole_range is None
    with pytest.raises(SystemExit):
        parse(["train", "--model", "glcic", "--data", "d", "--out", "o", "--hole-range", "0.6,0.1"])


# --- flow runs under a real Prefect server --------------------------------------------------------


def _add_corrupt(root: str) -> dict[str, str]:
    """A truncated JPEG (with a mask) and a text file named .png: both fail their rows."""
    photo = np.zeros((96, 96, 3), np.uint8) + 120
    mask = png_bytes((hole_mask(96, 96, seed=1) * 255).astype(np.uint8))
    write(root, "broken/cut.jpg", jpeg_bytes(Image.fromarray(photo))[:300])
    write(root, "broken/cut_mask.png", mask)
    write(root, "broken/text.png", b"not an image, honestly\n" * 8)
    write(root, "broken/text_mask.png", mask)
    return {"broken/cut.jpg": "failed", "broken/text.png": "failed"}


def _artifacts(flow_run_id: str) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[flow_run_id])))
    return {a.type: a for a in found}


def _flow_run(flow_run_id: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return run, task_runs


def _table_rows(artifact) -> list[dict]:
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data


def test_a_run_shows_progress_summary_and_quality_in_the_ui(prefect_server, tmp_path):
    from flows.restore import run_restore

    src, dest = str(tmp_path / "incoming"), str(tmp_path / "restored")
    masks = good_collection(src, n=5)
    _add_corrupt(src)
    s = run_restore(src, dest, n_workers=1, shard_size=3)
    assert (s["ok"], s["failed"], s["state"]) == (5, 2, "completed")

    run, task_runs = _flow_run(s["flow_run_id"])
    assert run.state.is_completed()
    assert re.fullmatch(r"restore \S+/incoming/ \d{4}-\d\d-\d\d \d\d:\d\d UTC", run.name), run.name
    assert {"inpaint", "method:telea"} <= set(run.tags)
    names = sorted(t.name for t in task_runs)
    assert names == ["restore shard 0 (images 0-2)", "restore shard 1 (images 3-5)",
                     "restore shard 2 (images 6-6)"], names
    assert all({"inpaint", "method:telea"} <= set(t.tags) for t in task_runs)

    arts = _artifacts(s["flow_run_id"])
    assert set(arts) == {"progress", "table", "markdown"}
    assert float(arts["progress"].data) == 100.0
    assert arts["progress"].description == "7 of 7 images done"

    rows = _table_rows(arts["table"])
    counts = {r["item"]: r["value"] for r in rows if r["section"] == "status"}
    assert counts == {"ok": 5, "skipped": 0, "failed": 2, "up_to_date": 0}
    import pandas as pd

    from flows.artifacts import reason_group

    df = pd.read_parquet(f"{dest}/manifest")
    failed = df[df.status == "failed"]
    assert sorted(failed["image_id"]) == ["broken/cut.jpg", "broken/text.png"]
    expected = failed.assign(reason=failed["error"].map(reason_group)).groupby("reason")["image_id"].agg(["count", "min"])
    failures = {r["item"]: r for r in rows if r["section"] == "failure"}
    assert {k: r["value"] for k, r in failures.items()} == expected["count"].to_dict()
    for reason, r in failures.items():  # an example key with its full error text
        assert r["note"].startswith(f"e.g. {expected.loc[reason, 'min']}: "), r
    stages = {r["item"]: r["value"] for r in rows if r["section"] == "stage"}
    assert stages["inpaint"] > 0 and stages["write"] > 0

    md = arts["markdown"].data
    assert s["contact_sheet"] in md and os.path.exists(s["contact_sheet"].replace("file://", ""))
    worst = md.split("## Worst-scored images")[1]
    assert sum(f"`{k}`" in worst for k in masks) == 5  # every restored image ranked (fewer than 10)
    assert "| seam | 5 |" in md


def test_too_many_failures_end_the_run_failed_after_recording_everything(prefect_server, tmp_path, capsys):
    from flows.cli import main

    src, dest = str(tmp_path / "incoming"), str(tmp_path / "restored")
    masks = good_collection(src, n=2)
    expected = _add_corrupt(src)
    code = main(["restore", src, dest, "--workers", "1", "--no-progress", "--max-failure-rate", "0.25"])
    err = capsys.readouterr().err
    assert code == 1
    assert "inpaint: run failed: 2 of 4 images failed (50.0%), above the max_failure_rate of 25%" in err

    (summary_path,) = glob.glob(f"{dest}/runs/*.json")
    s = json.load(open(summary_path))
    assert (s["state"], s["failure_rate"], s["max_failure_rate"]) == ("failed", 0.5, 0.25)
    run, _ = _flow_run(s["flow_run_id"])
    assert run.state.is_failed() and run.state.message == s["state_message"]
    assert "above the max_failure_rate" in run.state.message

    import pandas as pd

    df = pd.read_parquet(f"{dest}/manifest")
    assert sorted(df["image_id"]) == sorted([*masks, *expected])  # every row recorded before failing
    arts = _artifacts(s["flow_run_id"])
    assert float(arts["progress"].data) == 100.0 and "**Run failed:**" in arts["markdown"].data

    # the same run with the check off completes (and redoes only the failures)
    assert main(["restore", src, dest, "--workers", "1", "--no-progress", "--max-failure-rate", "none"]) == 0


def test_a_dry_run_shows_its_plan_and_writes_nothing(prefect_server, tmp_path, capsys):
    from flows.cli import main

    src, dest = str(tmp_path / "incoming"), str(tmp_path / "restored")
    good_collection(src, n=3)
    write(src, "readme.txt", b"not an image")
    assert main(["restore", src, dest, "--workers", "1", "--no-progress", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "| to restore | 3 |" in out and "| to skip (not an image) | 1 |" in out and "| **listed** | **4** |" in out
    assert "| sibling | 3 |" in out and not os.path.exists(dest)

    assert main(["restore", src, dest, "--workers", "1", "--no-progress", "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["dry_run"] is True and plan["actions"]["restore"] == 3 and not os.path.exists(dest)
    run, task_runs = _flow_run(plan["flow_run_id"])
    assert "dry-run" in run.tags and {t.name for t in task_runs} == {"plan shard 0"}
    md = _artifacts(plan["flow_run_id"])["markdown"].data
    assert "**Dry run**" in md and "| to restore | 3 |" in md

    assert main(["restore", src, dest, "--workers", "1", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["restore", src, dest, "--workers", "1", "--no-progress", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "| up to date (nothing read) | 4 |" in out and "| to restore | 0 |" in out
