"""Placeholder: the edgeconnect training recipe lands here (issue 4)."""
