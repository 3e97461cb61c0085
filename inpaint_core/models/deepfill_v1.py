"""Placeholder: the deepfill_v1 model lands here (issue 3)."""
