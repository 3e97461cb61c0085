"""Classical pre-fill for learned generators: start from a classical fill and learn the correction.

With a model's ``prefill`` option (``"telea"``, ``"ns"``: OpenCV's fast marching or Navier-Stokes,
radius 3; ``"spline"``: the tension spline of :mod:`inpaint_core.spline`, the best of the three in
wide holes) the model's output is a residual added to that fill: ``out = clamp(fill + residual,
-1, 1)``, and the layer that makes the residual starts at zero, so an untrained model reproduces the
fill and training can only move it away from the fill where the data says so. Two forms:

* built in (Shift-Net): the holes of the U-Net's input are pre-filled and its last layer is the
  residual head; the skips carry the fill's detail to the output;
* :class:`Prefilled`, every other model: the paper's network runs unchanged on its usual input and a
  small full-resolution head (:class:`PrefillHead`: 3x3 convs with dilations 1-16 by default,
  receptive field 63 px, ``width`` 16; the model option ``prefill_dilations`` changes them) sees the
  network's prediction, the Telea-filled image and the mask and makes the residual. Networks
  without skips (GLCIC, DeepFill, EdgeConnect's image stage...) cannot carry a full-resolution
  correction through their 1/4-resolution bottleneck (a GLCIC trained with a bottleneck residual
  stayed at +0.00 dB over Telea); the head can, while the network contributes what needs context
  (structure, colour across the hole).

Why: published models see millions of images; on this project's CPU budget a generator sees
~10^5 crops, not enough to learn the low-frequency colour and shading propagation that Telea gets
right for free. The learned residual then spends its capacity on what Telea gets wrong (texture,
structure continuation, colour drift in wide holes). This is a project deviation from every paper;
the model card records it (``config.prefill``).
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
import torch
from torch import nn

from ..spline import spline_fill

#: classical fills a model can start from: ``fill(rgb uint8, hole uint8) -> rgb uint8``
PREFILL_METHODS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "telea": lambda rgb, hole: cv2.inpaint(rgb, hole, 3, cv2.INPAINT_TELEA),
    "ns": lambda rgb, hole: cv2.inpaint(rgb, hole, 3, cv2.INPAINT_NS),
    "spline": lambda rgb, hole: spline_fill(rgb, hole.astype(bool)),
}
#: the head's dilations: receptive field 1 + 2 * (1 + sum) = 63 px
DEFAULT_DILATIONS = (1, 2, 4, 8, 16)


__all__ = ["DEFAULT_DILATIONS", "PREFILL_METHODS", "Prefilled", "PrefillHead", "check_dilations", "check_prefill",
           "classical_fill", "prefilled_build", "prefilled_image", "zero_init_"]


def check_prefill(model: str, prefill: str | None) -> None:
    """Refuse an unknown ``prefill`` option value when a model is built, not at its first forward."""
    if prefill is not None and prefill not in PREFILL_METHODS:
        raise ValueError(f"{model}: prefill must be one of {sorted(PREFILL_METHODS)} or None, got {prefill!r}")


def check_dilations(dilations) -> tuple[int, ...]:
    """The head's dilations as a tuple of positive ints (a model option may give a JSON list)."""
    try:
        out = tuple(int(d) for d in dilations)
    except (TypeError, ValueError):
        out = ()
    if not out or any(d < 1 for d in out) or any(float(d) != int(d) for d in dilations):
        raise ValueError(f"prefill_dilations must be a non-empty list of positive integers, got {dilations!r}")
    return out


@torch.no_grad()
def classical_fill(image: torch.Tensor, mask: torch.Tensor, method: str = "telea") -> torch.Tensor:
    """Classical fill of ``image`` (B x 3 x H x W in [-1, 1]) inside ``mask`` (B x 1 x H x W, 1 = hole):
    OpenCV's Telea or Navier-Stokes (radius 3) or the tension spline (:mod:`inpaint_core.spline`).

    Returns a tensor like ``image`` (same device and dtype); known pixels are unchanged up to the
    8-bit round trip OpenCV's inpainting needs (the caller composites them anyway).
    """
    if method not in PREFILL_METHODS:
        raise ValueError(f"classical_fill: method must be one of {sorted(PREFILL_METHODS)}, got {method!r}")
    imgs = ((image.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    holes = (mask.detach()[:, 0] > 0.5).cpu().numpy().astype(np.uint8)
    fill = PREFILL_METHODS[method]
    out = np.stack([fill(np.ascontiguousarray(i), h) if h.any() else i for i, h in zip(imgs, holes)])
    return torch.from_numpy(out).to(image.device).permute(0, 3, 1, 2).to(image.dtype) / 127.5 - 1


def prefilled_image(image: torch.Tensor, mask: torch.Tensor, method: str = "telea") -> torch.Tensor:
    """``image`` with its holes filled by :func:`classical_fill` and its known pixels exactly kept."""
    return image * (1 - mask) + classical_fill(image, mask, method) * mask


def zero_init_(layer: nn.Module) -> None:
    """Zero a conv layer's weight and bias (a residual head that starts at 'no change')."""
    nn.init.zeros_(layer.weight)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)


class PrefillHead(nn.Module):
    """``(prediction, fill, mask) -> clamp(fill + residual)``: full-resolution residual over the fill.

    ``prediction`` is the network's raw output, ``fill`` the image with its holes pre-filled; the
    last conv starts at zero, so a new head returns ``fill``.
    """

    def __init__(self, width: int = 16, dilations: tuple[int, ...] = DEFAULT_DILATIONS) -> None:
        super().__init__()
        dilations = check_dilations(dilations)
        layers: list[nn.Module] = [nn.Conv2d(7, width, 3, 1, 1), nn.ELU(inplace=True)]
        for d in dilations:
            layers += [nn.Conv2d(width, width, 3, 1, d, dilation=d), nn.ELU(inplace=True)]
        layers.append(nn.Conv2d(width, 3, 3, 1, 1))
        zero_init_(layers[-1])
        self.net = nn.Sequential(*layers)

    def forward(self, prediction: torch.Tensor, fill: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (fill + self.net(torch.cat([prediction, fill, mask], 1))).clamp(-1, 1)


class Prefilled(nn.Module):
    """A generator followed by a :class:`PrefillHead` over the classical fill ``method`` (module doc).

    ``forward`` and ``forward_train`` take the generator contract's arguments; ``forward_train``
    returns the network's own training outputs (``coarse``, ``edges_pred``...) with ``output``
    replaced by the head's and the network's own under ``network_output``. Other attributes are the
    network's, so recipes reach its parts as before.
    """

    def __init__(self, net: nn.Module, method: str = "telea", width: int = 16,
                 dilations: tuple[int, ...] = DEFAULT_DILATIONS) -> None:
        super().__init__()
        check_prefill(type(net).__name__, method)
        self.net = net
        self.method = method
        self.head = PrefillHead(width, dilations)

    def _finish(self, prediction: torch.Tensor, image: torch.Tensor, mask: torch.Tensor,
                fill: torch.Tensor | None) -> torch.Tensor:
        if fill is None:
            filled = prefilled_image(image, mask, self.method)
        else:
            if fill.shape != image.shape:
                raise ValueError(f"fill must have the image's shape {tuple(image.shape)}, got {tuple(fill.shape)}")
            filled = image * (1 - mask) + fill.to(image.dtype) * mask
        return self.head(prediction, filled, mask)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None,
                fill: torch.Tensor | None = None) -> torch.Tensor:
        """``fill``: this model's classical fill of ``image``, when the caller already has it (the
        training loader computes it in its workers); None computes it here."""
        return self._finish(self.net(image, mask, edges), image, mask, fill)

    def forward_train(self, image: torch.Tensor, mask: torch.Tensor, *args, fill: torch.Tensor | None = None,
                      **kwargs) -> dict[str, torch.Tensor]:
        fn = getattr(self.net, "forward_train", None)
        out = fn(image, mask, *args, **kwargs) if fn is not None else self.net(image, mask, *args, **kwargs)
        out = dict(out) if isinstance(out, dict) else {"output": out}
        out["network_output"] = out["output"]
        out["output"] = self._finish(out["output"], image, mask, fill)
        return out

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "net":
                raise
            return getattr(self.net, name)


def prefilled_build(name: str, cls: Callable[..., nn.Module]) -> Callable[[dict], nn.Module]:
    """A :class:`~inpaint_core.models.spec.ModelSpec` ``build`` for ``cls`` with the ``prefill`` option:
    ``None`` builds ``cls(**rest)``, a method wraps it in :class:`Prefilled`."""

    def build(config: dict) -> nn.Module:
        config = dict(config)
        method = config.pop("prefill", None)
        dilations = config.pop("prefill_dilations", None)
        check_prefill(name, method)
        if dilations is not None and not method:
            raise ValueError(f"{name}: prefill_dilations needs the prefill option")
        net = cls(**config)
        if not method:
            return net
        return Prefilled(net, method, dilations=DEFAULT_DILATIONS if dilations is None else check_dilations(dilations))

    return build
