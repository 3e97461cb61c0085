"""Placeholder: the deepfill_v1 training recipe lands here (issue 4)."""
