"""Placeholder: the shiftnet training recipe lands here (issue 4)."""
