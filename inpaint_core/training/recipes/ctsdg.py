"""Placeholder: the ctsdg training recipe lands here (issue 4)."""
