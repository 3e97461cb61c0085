"""Placeholder: the edgeconnect model lands here (issue 3)."""
