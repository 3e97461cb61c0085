"""Placeholder: the msnps training recipe lands here (issue 4)."""
