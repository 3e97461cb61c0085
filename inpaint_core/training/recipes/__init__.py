"""Training recipes, one module per method (imported here for their registrations)."""

from . import context_encoder, glcic  # noqa: F401
