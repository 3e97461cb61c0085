"""inpaint_core: the library behind the restore pipeline. No Prefect or Dask import anywhere.

Public surface::

    from inpaint_core import list_inpainters, create_inpainter
    inpainter = create_inpainter("telea")
    restored = inpainter([rgb], [mask])   # RGB uint8 HxWx3, masks HxW with non-zero = hole
"""

from .errors import (DecodeError, ImageTooLargeError, InpaintError, MaskError, SourceChangedError,
                     UnknownMethodError, UnsafeKeyError, UnsupportedImageError)
from .inpainters import Inpainter, create_inpainter, inpainter_info, list_inpainters, register_inpainter

__version__ = "0.1.0"

__all__ = [
    "Inpainter", "create_inpainter", "inpainter_info", "list_inpainters", "register_inpainter",
    "InpaintError", "DecodeError", "UnsupportedImageError", "ImageTooLargeError", "MaskError",
    "UnsafeKeyError", "SourceChangedError", "UnknownMethodError", "__version__",
]
