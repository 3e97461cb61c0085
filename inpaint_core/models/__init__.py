"""Learned inpainting models, all behind the inpainter registry (``create_inpainter(name)``).

One model is one file that builds its generator and calls :func:`register_model`; training
components (discriminators) live in ``<model>_train.py`` and are never imported from here.

>>> from inpaint_core import create_inpainter
>>> glcic = create_inpainter("glcic", checkpoint="s3://bucket/glcic.safetensors")  # doctest: +SKIP
>>> untrained = create_inpainter("glcic", weights="random", width=8)
"""

from inpaint_core.models.spec import ModelSpec, get_model_spec, list_models, register_model
from inpaint_core.models.checkpoint import checkpoint_sha256, load_checkpoint, save_checkpoint

# Imported for their registrations (explicit, one line per model).
from inpaint_core.models import context_encoder  # noqa: E402,F401  isort: skip
from inpaint_core.models import glcic  # noqa: E402,F401  isort: skip
from inpaint_core.models import msnps  # noqa: E402,F401  isort: skip
from inpaint_core.models import pggan  # noqa: E402,F401  isort: skip
from inpaint_core.models import shiftnet  # noqa: E402,F401  isort: skip
from inpaint_core.models import deepfill_v1  # noqa: E402,F401  isort: skip
from inpaint_core.models import deepfill_v2  # noqa: E402,F401  isort: skip
from inpaint_core.models import pconv  # noqa: E402,F401  isort: skip
from inpaint_core.models import ctsdg  # noqa: E402,F401  isort: skip
from inpaint_core.models import edgeconnect  # noqa: E402,F401  isort: skip

__all__ = ["ModelSpec", "register_model", "get_model_spec", "list_models",
           "save_checkpoint", "load_checkpoint", "checkpoint_sha256"]
