"""Placeholder: the deepfill_v2 model lands here (issue 3)."""
