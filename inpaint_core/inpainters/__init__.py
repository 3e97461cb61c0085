"""Inpainting methods behind one registry and one interface.

>>> from inpaint_core.inpainters import create_inpainter, list_inpainters
>>> list_inpainters("classical")
['ns', 'telea']
>>> inpainter = create_inpainter("telea", radius=3)

Each method module registers itself when imported; import it below (one line per module).
"""

from inpaint_core.inpainters.base import Inpainter
from inpaint_core.inpainters.registry import (
    create_inpainter,
    inpainter_info,
    list_inpainters,
    register_inpainter,
)

# Imported for their registrations (explicit, not `import *`).
from inpaint_core.inpainters import classical  # noqa: E402,F401  isort: skip
import inpaint_core.models  # noqa: E402,F401  isort: skip  (learned models register themselves)
from inpaint_core.inpainters import auto  # noqa: E402,F401  isort: skip  (routes between the two kinds)

__all__ = ["Inpainter", "create_inpainter", "inpainter_info", "list_inpainters", "register_inpainter"]
