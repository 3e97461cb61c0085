"""Placeholder: the pggan training recipe lands here (issue 4)."""
