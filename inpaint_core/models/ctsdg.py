"""Placeholder: the ctsdg model lands here (issue 3)."""
