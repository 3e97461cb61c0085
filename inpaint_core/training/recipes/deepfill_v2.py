"""Placeholder: the deepfill_v2 training recipe lands here (issue 4)."""
