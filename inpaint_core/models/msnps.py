"""Placeholder: the msnps model lands here (issue 3)."""
