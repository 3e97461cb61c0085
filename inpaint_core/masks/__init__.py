"""Hole masks: loading them to fit their image, and detecting damage automatically."""

from inpaint_core.masks.detect import DETECTORS, detect_mask, detect_scratches, detect_solid_fill
from inpaint_core.masks.load import classify_mask, fit_mask, mask_from_alpha, mask_from_nodata, mask_stats

__all__ = [
    "DETECTORS",
    "classify_mask",
    "detect_mask",
    "detect_scratches",
    "detect_solid_fill",
    "fit_mask",
    "mask_from_alpha",
    "mask_from_nodata",
    "mask_stats",
]
