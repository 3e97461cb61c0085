"""Human-facing summaries of a run: the before/after contact sheet."""

from __future__ import annotations

import cv2
import numpy as np
import pyarrow.dataset as ds

from .errors import InpaintError
from .imageio import decode_image, encode_image
from .manifest import read_manifest
from .storage import Location, read_uri

THUMB = 192


def _thumb(rgb: np.ndarray, side: int = THUMB) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = side / max(h, w)
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    tile = np.full((side, side, 3), 255, np.uint8)
    y, x = (side - small.shape[0]) // 2, (side - small.shape[1]) // 2
    tile[y:y + small.shape[0], x:x + small.shape[1]] = small
    return tile


def contact_sheet(pairs: list[tuple[np.ndarray, np.ndarray, str]], thumb: int = THUMB) -> np.ndarray:
    """Rows of (before, after) thumbnails with a caption under each pair. Returns RGB uint8."""
    if not pairs:
        raise ValueError("contact_sheet needs at least one pair")
    cap, pad = 22, 6
    rows = []
    for before, after, label in pairs:
        row = np.full((thumb + cap, 2 * thumb + 3 * pad, 3), 255, np.uint8)
        row[:thumb, pad:pad + thumb] = _thumb(before, thumb)
        row[:thumb, 2 * pad + thumb:2 * pad + 2 * thumb] = _thumb(after, thumb)
        cv2.putText(row, label[:48], (pad, thumb + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1,
                    cv2.LINE_AA)
        rows.append(row)
    cols = 2 if len(rows) > 3 else 1
    while len(rows) % cols:
        rows.append(np.full_like(rows[0], 255))
    grid = [np.concatenate(rows[i:i + cols], axis=1) for i in range(0, len(rows), cols)]
    return np.concatenate(grid, axis=0)


def write_contact_sheet(dest: Location, run_id: str, n: int = 12) -> str | None:
    """Before/after sheet of the first ``n`` restored images of a run; returns its URI."""
    table = read_manifest(dest, columns=["image_id", "source_uri", "output_uri", "hole_fraction", "status"],
                          filter=(ds.field("run_id") == run_id) & (ds.field("status") == "ok"))
    pairs = []
    for r in sorted(table.to_pylist(), key=lambda r: r["image_id"])[:n]:
        try:
            before = decode_image(read_uri(r["source_uri"], dest.storage_options)).rgb
            after = decode_image(read_uri(r["output_uri"], dest.storage_options)).rgb
        except (InpaintError, OSError):
            continue  # a source that changed or vanished since: leave it off the sheet
        pairs.append((before, after, f"{r['image_id']}  hole {100 * (r['hole_fraction'] or 0):.1f}%"))
    if not pairs:
        return None
    return dest.write_atomic(f"runs/{run_id}-contact-sheet.png", encode_image(contact_sheet(pairs), "png"))
