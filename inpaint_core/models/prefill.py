"""Classical pre-fill for learned generators: start from Telea and learn the correction.

With a model's ``prefill="telea"`` option, the holes of the network's input are filled with OpenCV's
Telea fast-marching fill (radius 3) instead of zeros, and the network's output is a residual added to
that fill: ``out = clamp(fill + residual, -1, 1)``. The last layer starts at zero, so an untrained
model reproduces Telea and training can only move it away from Telea where the data says so.

Why: published models see millions of images; on this project's CPU budget a generator sees
~10^5 crops, not enough to learn the low-frequency colour and shading propagation that Telea gets
right for free. The learned residual then spends its capacity on what Telea gets wrong (texture,
structure continuation, colour drift in wide holes). This is a project deviation from every paper;
the model card records it (``config.prefill``).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

PREFILL_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def check_prefill(model: str, prefill: str | None) -> None:
    """Refuse an unknown ``prefill`` option value when a model is built, not at its first forward."""
    if prefill is not None and prefill not in PREFILL_METHODS:
        raise ValueError(f"{model}: prefill must be one of {sorted(PREFILL_METHODS)} or None, got {prefill!r}")


@torch.no_grad()
def classical_fill(image: torch.Tensor, mask: torch.Tensor, method: str = "telea", radius: int = 3) -> torch.Tensor:
    """OpenCV fill of ``image`` (B x 3 x H x W in [-1, 1]) inside ``mask`` (B x 1 x H x W, 1 = hole).

    Returns a tensor like ``image`` (same device and dtype); known pixels are unchanged up to the
    8-bit round trip OpenCV's inpainting needs (the caller composites them anyway).
    """
    if method not in PREFILL_METHODS:
        raise ValueError(f"classical_fill: method must be one of {sorted(PREFILL_METHODS)}, got {method!r}")
    imgs = ((image.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    holes = (mask.detach()[:, 0] > 0.5).cpu().numpy().astype(np.uint8)
    out = np.stack([cv2.inpaint(np.ascontiguousarray(i), h, radius, PREFILL_METHODS[method]) if h.any() else i
                    for i, h in zip(imgs, holes)])
    return torch.from_numpy(out).to(image.device).permute(0, 3, 1, 2).to(image.dtype) / 127.5 - 1


def zero_init_(layer: nn.Module) -> None:
    """Zero a conv layer's weight and bias (a residual head that starts at 'no change')."""
    nn.init.zeros_(layer.weight)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
