"""Edge maps of the known region, as EdgeConnect feeds its edge generator.

EdgeConnect (Nazeri et al., 2019, https://github.com/knazeri/edge-connect, ``src/dataset.py``)
computes ``skimage.feature.canny(rgb2gray(img), sigma=2, mask=~hole)``; we call the same function so
edge maps match a model trained on them.
"""

from __future__ import annotations

import numpy as np
from skimage.color import rgb2gray
from skimage.feature import canny


def canny_edges(
    rgb: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    sigma: float = 2.0,
    low_threshold: float | None = None,
    high_threshold: float | None = None,
) -> np.ndarray:
    """Canny edges of the known pixels.

    Args:
        rgb: ``H×W×3`` uint8.
        mask: ``H×W`` bool, ``True`` = hole; ``None`` = no hole.
        sigma: Gaussian smoothing (EdgeConnect uses 2).
        low_threshold: Hysteresis thresholds on the gradient of the [0, 1] gray image; ``None``
            = skimage's defaults (10% / 20% of the dtype's max), as EdgeConnect.
        high_threshold: See ``low_threshold``.

    Returns:
        ``H×W`` bool, ``False`` everywhere inside the hole.

    Example:
        >>> img = np.zeros((32, 32, 3), np.uint8); img[:, 16:] = 255
        >>> bool(canny_edges(img)[:, 15:17].any())
        True
    """
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an H×W×3 uint8 array, got {getattr(rgb, 'shape', type(rgb))}")
    known = None
    if mask is not None:
        if mask.shape != rgb.shape[:2]:
            raise ValueError(f"mask shape {mask.shape} does not match image {rgb.shape[:2]}")
        known = ~mask.astype(bool)
    edges = canny(
        rgb2gray(rgb), sigma=sigma, low_threshold=low_threshold, high_threshold=high_threshold, mask=known
    )
    # skimage already drops edges next to the mask border; this makes the hole contract explicit.
    return edges if known is None else edges & known


def edges_to_image(edges: np.ndarray) -> np.ndarray:
    """``H×W`` bool edges -> ``H×W`` uint8 (0 / 255) for writing as a gray PNG."""
    return np.where(edges, np.uint8(255), np.uint8(0))
