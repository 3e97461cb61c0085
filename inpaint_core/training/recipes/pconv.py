"""Placeholder: the pconv training recipe lands here (issue 4)."""
