"""What a restore run shows in the Prefect UI, built as plain data (no Prefect import, no server).

The flow (:mod:`flows.restore`) hands these functions its run summary and this run's manifest rows
and publishes what they return as artifacts: a progress bar, a table (counts by status, failure
reasons, time per stage) and a markdown page (quality distribution, worst-scored images, the
contact sheet). Everything here is a pure function of its arguments except :func:`read_run_rows`.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from inpaint_core import manifest
from inpaint_core.manifest import STAGES
from inpaint_core.quality import COLOR_DELTA_MAX, SEAM_MAX, TEXTURE_MIN
from inpaint_core.storage import Location

#: Manifest columns the artifacts read (a small projection, so a large run stays cheap to summarise).
ROW_COLUMNS = ["image_id", "status", "error", "hole_fraction", "q_seam", "q_color_delta", "q_texture_ratio",
               "q_likely_bad", "ref_psnr", "ref_ssim", "ref_l1"]
STATUS_ORDER = ("ok", "skipped", "failed", "up_to_date")

# (column, label, scale, what a good value looks like)
_QUALITY = [
    ("q_seam", "seam", 1.0, f"about 1; flagged above {SEAM_MAX:g}"),
    ("q_color_delta", "colour ΔE", 1.0, f"small; flagged above {COLOR_DELTA_MAX:g}"),
    ("q_texture_ratio", "texture ratio", 1.0, f"about 1; flagged below {TEXTURE_MIN:g}"),
    ("ref_psnr", "PSNR vs reference (dB)", 1.0, "higher is better"),
    ("ref_ssim", "SSIM vs reference", 1.0, "1 = identical"),
    ("ref_l1", "L1 vs reference (% of 255)", 1.0, "lower is better"),
    ("hole_fraction", "hole (% of image)", 100.0, "how much was filled"),
]


# --- names ---------------------------------------------------------------------------------
def source_label(source: str) -> str:
    """The last two folders of a source URL with a trailing slash: ``s3://b/photos/incoming`` -> ``photos/incoming/``."""
    path = re.sub(r"^[a-z][a-z0-9+.-]*://", "", str(source)).strip("/")
    parts = [p for p in path.split("/") if p]
    label = "/".join(parts[-2:]) + "/" if parts else "/"
    return label if len(label) <= 48 else "…" + label[-47:]


def restore_run_name(source: str, when: datetime) -> str:
    """Flow run name: ``restore photos/incoming/ 2026-11-25 22:30 UTC`` (``when``: the scheduled start)."""
    when = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return f"restore {source_label(source)} {when:%Y-%m-%d %H:%M} UTC"


def shard_label(shard: int, first: int, count: int) -> str:
    """``shard 3 (images 192-255)``: images are numbered from 0 in discovery order across the run."""
    return f"shard {shard} (images {first}-{first + max(count, 1) - 1})"


def artifact_key(dest: str, what: str) -> str:
    """``restore-<destination>-<what>``: lowercase letters, digits and dashes, as Prefect requires.

    Keyed by destination, so the Artifacts page keeps one history per restored collection
    (the nightly run's and the bucket-triggered run's apart when they write to different places).
    """
    slug = re.sub(r"[^a-z0-9]+", "-", source_label(dest).lower()).strip("-")[-40:].strip("-") or "root"
    return f"restore-{slug}-{what}"


# --- progress ------------------------------------------------------------------------------
def progress(done: int, discovered: int, listing_done: bool) -> tuple[float, str]:
    """Percent and description of the progress artifact while the run goes on.

    The listing streams (a bucket of millions of keys is never held in memory), so the total is
    not known until it ends. Until then the percentage is of the images *discovered so far* and
    the description says so; it may step back when the listing finds more. It stays below 100
    until the flow sets 100 itself at the very end.
    """
    pct = 100.0 * done / discovered if discovered else 0.0
    pct = min(round(pct, 1), 99.0)
    if listing_done:
        return pct, f"{done} of {discovered} images done"
    return pct, f"{done} of {discovered} images discovered so far done (listing still running; total not known yet)"


# --- failure threshold ---------------------------------------------------------------------
def check_max_failure_rate(max_failure_rate: float | None) -> None:
    if max_failure_rate is not None and not (0.0 <= max_failure_rate <= 1.0):
        raise ValueError(f"max_failure_rate must be between 0 and 1 (or None to disable), got {max_failure_rate}")


def failure_rate(summary: dict[str, Any]) -> float:
    """Failed images over every object the run looked at (already up-to-date ones included)."""
    return summary["failed"] / summary["images"] if summary.get("images") else 0.0


def failure_verdict(summary: dict[str, Any], max_failure_rate: float | None) -> str | None:
    """The reason the run should end Failed, or None. ``None`` or ``1.0`` disables the check."""
    rate = failure_rate(summary)
    if max_failure_rate is None or max_failure_rate >= 1.0 or rate <= max_failure_rate:
        return None
    return (f"{summary['failed']} of {summary['images']} images failed ({100 * rate:.1f}%), above the "
            f"max_failure_rate of {100 * max_failure_rate:g}%; see the manifest {summary.get('manifest', '')}").strip()


# --- reading this run's rows ---------------------------------------------------------------
def read_run_rows(dest: Location, run_id: str, columns: list[str] | None = None) -> pa.Table:
    """This run's manifest rows (only its own part files are opened), projected to ``columns``."""
    return manifest.read_manifest(dest, columns or ROW_COLUMNS, run_id=run_id)


# --- table artifact ------------------------------------------------------------------------
def reason_group(error: str | None) -> str:
    """A failure's kind: its text before the first ``": "``, without parenthesised details,
    numbers as ``N``.

    ``truncated JPEG data: image file is truncated`` -> ``truncated JPEG data``;
    ``not a decodable image (184 bytes, starts with ...)`` -> ``not a decodable image``;
    ``mask is 10x10 but image is 96x96`` -> ``mask is NxN but image is NxN``.
    """
    head = (error or "").split(": ", 1)[0]
    head = re.sub(r"\s*\([^)]*\)?", "", head)  # "(184 bytes, ...)", also when cut short
    head = re.sub(r"\d+(?:\.\d+)?", "N", head).strip()
    return head[:120] or "unknown error"


def failure_groups(rows: pa.Table | None, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{"reason", "count", "example", "error"}]``, most frequent first.

    From this run's manifest rows when given (every failure counted), else from the summary's
    (capped) failure list.
    """
    if rows is not None and rows.num_rows:
        failed = rows.filter(pc.equal(rows["status"], "failed")).select(["image_id", "error"]).to_pylist()
    else:
        failed = [{"image_id": k, "error": e} for k, e in summary.get("failures", [])]
    groups: dict[str, dict[str, Any]] = {}
    for r in failed:
        g = groups.setdefault(reason_group(r["error"]), {"reason": reason_group(r["error"]), "count": 0,
                                                         "example": r["image_id"], "error": r["error"] or ""})
        g["count"] += 1
        if r["image_id"] < g["example"]:  # a stable example: the first key in order
            g["example"], g["error"] = r["image_id"], r["error"] or ""
    return sorted(groups.values(), key=lambda g: (-g["count"], g["reason"]))


def summary_table(summary: dict[str, Any], rows: pa.Table | None = None,
                  max_failure_rate: float | None = None) -> list[dict[str, Any]]:
    """Rows of the table artifact: ``section`` (status, failure, stage, run), ``item``, ``value``, ``note``."""
    total = summary.get("images", 0)
    out: list[dict[str, Any]] = []
    for status in STATUS_ORDER:
        n = summary.get(status, 0)
        out.append({"section": "status", "item": status, "value": n,
                    "note": f"{100 * n / total:.1f}% of {total}" if total else ""})
    for g in failure_groups(rows, summary):
        out.append({"section": "failure", "item": g["reason"], "value": g["count"],
                    "note": f"e.g. {g['example']}: {g['error']}"[:300]})
    written = sum(summary.get(s, 0) for s in ("ok", "skipped", "failed"))
    for stage in STAGES:
        ms = summary.get("stage_ms", {}).get(stage, 0.0)
        out.append({"section": "stage", "item": stage, "value": round(ms / 1000.0, 3),
                    "note": f"seconds in all; {ms / written:.1f} ms per image" if written else "seconds"})
    out.append({"section": "run", "item": "wall time", "value": summary.get("seconds", 0.0), "note": "seconds"})
    limit = "no limit" if max_failure_rate is None or max_failure_rate >= 1 else f"limit {100 * max_failure_rate:g}%"
    out.append({"section": "run", "item": "failure rate", "value": round(100 * failure_rate(summary), 2),
                "note": f"% of {total} images; {limit}"})
    return out


# --- markdown artifact ---------------------------------------------------------------------
def _column(rows: pa.Table, name: str) -> np.ndarray:
    col = rows[name]
    if pa.types.is_boolean(col.type):
        return np.asarray(pc.fill_null(col, False).to_numpy(zero_copy_only=False), bool)
    return np.asarray(pc.fill_null(pc.cast(col, pa.float64()), math.nan).to_numpy(zero_copy_only=False), float)


def badness(seam: np.ndarray, color: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """How far the worst no-reference score is beyond its threshold (1 = at the ``likely_bad`` line)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        parts = np.stack([seam / SEAM_MAX, color / COLOR_DELTA_MAX, TEXTURE_MIN / np.maximum(texture, 1e-6)])
    return np.nanmax(np.where(np.isnan(parts), -np.inf, parts), axis=0)


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _code(key: str) -> str:
    return "`" + str(key).replace("`", "'").replace("|", "\\|") + "`"


def quality_distribution(rows: pa.Table) -> list[str]:
    """Markdown lines: one row per score with min, p10, median, p90, max over the restored images."""
    ok = rows.filter(pc.equal(rows["status"], "ok")) if rows.num_rows else rows
    if not ok.num_rows:
        return ["No image was restored in this run, so there are no quality scores."]
    lines = ["| score | images | min | p10 | median | p90 | max | good is |", "|---|---|---|---|---|---|---|---|"]
    for col, label, scale, good in _QUALITY:
        v = _column(ok, col) * scale
        v = v[~np.isnan(v)]
        if not v.size:
            continue
        q = np.percentile(v, [0, 10, 50, 90, 100])
        lines.append(f"| {label} | {v.size} | " + " | ".join(_fmt(float(x)) for x in q) + f" | {good} |")
    flagged = int(_column(ok, "q_likely_bad").sum())
    lines += ["", f"**{flagged} of {ok.num_rows}** restored images are flagged `likely_bad` (worth a look)."]
    return lines


def worst_images(rows: pa.Table, n: int = 10) -> list[dict[str, Any]]:
    """The ``n`` restored images that scored worst: flagged ones first, then by :func:`badness`."""
    ok = rows.filter(pc.equal(rows["status"], "ok")) if rows.num_rows else rows
    if not ok.num_rows:
        return []
    seam, color, texture = (_column(ok, c) for c in ("q_seam", "q_color_delta", "q_texture_ratio"))
    bad, flag = badness(seam, color, texture), _column(ok, "q_likely_bad")
    scored = np.isfinite(bad)
    if not scored.any():
        return []
    idx = [i for i in np.lexsort((-bad, ~flag)) if scored[i]][:n]  # lexsort: last key is the primary one
    keys, psnr = ok["image_id"].to_pylist(), _column(ok, "ref_psnr")
    return [{"image_id": keys[i], "seam": float(seam[i]), "color_delta": float(color[i]),
             "texture_ratio": float(texture[i]), "ref_psnr": float(psnr[i]), "likely_bad": bool(flag[i]),
             "badness": float(bad[i])} for i in idx]


def quality_markdown(summary: dict[str, Any], rows: pa.Table, n_worst: int = 10,
                     state_message: str | None = None) -> str:
    """The markdown artifact: headline, contact sheet link, quality distribution, worst-scored images."""
    s = summary
    lines = [f"# Restore run {s['run_id']}", "",
             f"`{s['source']}` → `{s['dest']}`, method **{s['method']}**: **{s['ok']} ok**, {s['skipped']} skipped, "
             f"**{s['failed']} failed**, {s['up_to_date']} already up to date, in {s['seconds']:.1f} s.", ""]
    if state_message:
        lines += [f"**Run failed:** {state_message}", ""]
    lines += ["## Before / after", ""]
    if s.get("contact_sheet"):
        lines += [f"[Contact sheet]({s['contact_sheet']}) (first restored images, before | after): "
                  f"`{s['contact_sheet']}`", ""]
    else:
        lines += ["No contact sheet: no image was restored in this run.", ""]
    lines += ["## Quality of the restored images", ""] + quality_distribution(rows) + [""]
    worst = worst_images(rows, n_worst)
    if worst:
        has_ref = any(not math.isnan(w["ref_psnr"]) for w in worst)
        lines += ["## Worst-scored images", "",
                  f"Ranked by the no-reference scores: flagged images first, then by how far the worst score is "
                  f"past its threshold (seam / {SEAM_MAX:g}, ΔE / {COLOR_DELTA_MAX:g}, {TEXTURE_MIN:g} / texture).",
                  "", "| image | seam | colour ΔE | texture ratio |" + (" PSNR |" if has_ref else "") + " flagged |",
                  "|---|---|---|---|" + ("---|" if has_ref else "") + "---|"]
        for w in worst:
            lines.append(f"| {_code(w['image_id'])} | {_fmt(w['seam'])} | {_fmt(w['color_delta'])} | "
                         f"{_fmt(w['texture_ratio'])} |" + (f" {_fmt(w['ref_psnr'])} |" if has_ref else "")
                         + (" yes |" if w["likely_bad"] else " no |"))
        lines.append("")
    lines += [f"Manifest of this run: `{s['manifest']}/` (one row per image, every score and timing)."]
    return "\n".join(lines) + "\n"


# --- dry run ---------------------------------------------------------------------------------
PLAN_LABELS = {"up_to_date": "up to date (nothing read)", "restore": "to restore",
               "check": "to check (read and hashed; redone only if its bytes changed)",
               "skip": "to skip (not an image)", "fail": "to fail (refused from the listing)"}


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def plan_markdown(plan: dict[str, Any]) -> str:
    """A dry run's plan: what a run with these settings would do, per action, reason and mask source."""
    lines = [f"**Dry run**: `{plan['source']}` -> `{plan['dest']}`, method `{plan['method']}`, settings "
             f"`{plan['settings_hash']}`. Nothing was read of any image and nothing was written.", "",
             "| action | images | bytes to read |", "|---|---|---|"]
    for action, label in PLAN_LABELS.items():
        n = plan["actions"][action]
        reads = _size(plan["bytes"][action]) if action in ("restore", "check") else "-"
        lines.append(f"| {label} | {n} | {reads} |")
    lines.append(f"| **listed** | **{plan['images']}** | |")
    if plan["reasons"]:
        lines += ["", "| action: reason | images | examples |", "|---|---|---|"]
        for key, n in sorted(plan["reasons"].items(), key=lambda kv: -kv[1]):
            examples = ", ".join(_code(e) for e in plan["examples"].get(key, []))
            lines.append(f"| {key.replace('|', chr(92) + '|')} | {n} | {examples} |")
    if plan["masks"]:
        lines += ["", "| mask source of the images to restore or check | images |", "|---|---|"]
        for source, n in sorted(plan["masks"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {source} | {n} |")
    return "\n".join(lines)
