"""Placeholder: the shiftnet model lands here (issue 3)."""
