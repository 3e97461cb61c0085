"""Training recipes, one module per method (imported here for their registrations)."""

from . import (context_encoder, ctsdg, deepfill_v1, deepfill_v2, edgeconnect, glcic, msnps,  # noqa: F401
               pconv, pggan, shiftnet)
