"""Placeholder: the pconv model lands here (issue 3)."""
