"""Placeholder: the pggan model lands here (issue 3)."""
