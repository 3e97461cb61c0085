"""Classical inpainting: OpenCV's Telea and Navier-Stokes, and the tension-spline fill.

- ``telea``: A. Telea, "An Image Inpainting Technique Based on the Fast Marching Method",
  Journal of Graphics Tools 9(1), 2004. ``cv2.inpaint(..., cv2.INPAINT_TELEA)``.
- ``ns``: M. Bertalmio, A. L. Bertozzi, G. Sapiro, "Navier-Stokes, Fluid Dynamics, and Image and
  Video Inpainting", CVPR 2001. ``cv2.inpaint(..., cv2.INPAINT_NS)``.

- ``spline``: the smoothest surface through the hole's surroundings, a discrete continuous-curvature
  spline in tension (Smith & Wessel, Geophysics 1990); :mod:`inpaint_core.spline`. The best of the
  three in every hole-ratio bin of the development evaluation (+0.9 to +1.15 dB PSNR over Telea),
  and slower (a sparse solve per hole group: 31 ms against Telea's 6 at 256 px with a 1-10% hole).

No weights. ``cv2.inpaint`` treats the three channels independently (verified: RGB in equals the
BGR result with channels reversed, bit for bit), so RGB goes in and out without conversion.

All three also fill 16-bit windows (``sixteen_bit``): ``cv2.inpaint`` takes 16-bit images one
channel at a time, the spline works in floats. A 16-bit scan's fill then has its full precision: on
a sky gradient, Telea at 16 bits is 10x nearer the truth than Telea on the 8-bit view, even in that
view (its fast march rounds every filled pixel to 8 bits, and the rounding accumulates into
wobbles of up to 4 levels), for 1.4 to 2 times the time (``python benchmarks/bench_16bit.py``).

Window margin. Both methods fill a hole pixel from the known or already filled pixels within
``radius`` of it; those known pixels also need their image gradient (one more pixel) and, for
Telea, their signed distance to the hole, which OpenCV computes by marching outwards in a ring
``radius`` wide around the hole. The context cv2 actually reads is therefore ``radius + 1``
pixels around a hole, and windowed results equal full-frame results bit for bit from that margin
on (measured on astronaut with radii 3, 5, 9; at margin ``radius`` Telea differs by up to 3 grey
levels). The default ``window_margin = 2 * radius + 2`` doubles that measured minimum: the
read-set is an implementation detail of OpenCV's FMM, not its API, and the extra pixels cost
nothing noticeable (windows stay tiny next to a full frame). Holes closer than twice the margin
share a window, so neighbouring holes see each other exactly as in a full-frame run.
"""

from __future__ import annotations

import cv2
import numpy as np

from inpaint_core.inpainters.base import Inpainter
from inpaint_core.inpainters.registry import register_inpainter
from inpaint_core.spline import DEFAULT_TENSION, choose_tension, spline_fill

__all__ = ["ClassicalInpainter", "TeleaInpainter", "NavierStokesInpainter", "SplineInpainter"]

# cv2.inpaint clamps its radius to [1, 100]; refuse rather than silently clamp.
_MAX_RADIUS = 100


def _setup(inpainter: Inpainter, *, window_margin, min_margin: int, checkpoint, device) -> None:
    """The options every classical method shares: a window margin, no checkpoint, the CPU."""
    if isinstance(window_margin, bool) or not isinstance(window_margin, (int, np.integer)) \
            or window_margin < min_margin:
        raise ValueError(f"window_margin must be an int >= {min_margin}, got {window_margin!r}")
    if checkpoint is not None:
        raise ValueError(f"classical inpainter {inpainter.name!r} takes no checkpoint, got {checkpoint!r}")
    if device not in ("auto", "cpu"):
        raise ValueError(f"classical inpainter {inpainter.name!r} runs on 'cpu' only, got device={device!r}")
    inpainter.device = "cpu"
    inpainter.window_margin = int(window_margin)


class ClassicalInpainter(Inpainter):
    """``cv2.inpaint`` on each window; subclasses choose the OpenCV flag."""

    cv2_flag: int = -1
    sixteen_bit = True

    def __init__(self, *, radius: int = 3, window_margin: int | None = None,
                 checkpoint: str | None = None, device: str = "auto") -> None:
        """
        Args:
            radius: neighbourhood radius of the method in pixels, 1..100.
            window_margin: context around holes; default ``2 * radius + 2`` (see module doc).
            checkpoint: must be None (no weights).
            device: ``"auto"`` or ``"cpu"``.

        Raises:
            ValueError: for a bad radius or margin, a checkpoint, or a non-CPU device.
        """
        super().__init__()
        if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or not 1 <= radius <= _MAX_RADIUS:
            raise ValueError(f"radius must be an int in 1..{_MAX_RADIUS}, got {radius!r}")
        _setup(self, window_margin=2 * int(radius) + 2 if window_margin is None else window_margin,
               min_margin=0, checkpoint=checkpoint, device=device)
        self.radius = int(radius)
        self.params = {"radius": self.radius, "window_margin": self.window_margin}

    def _inpaint_batch(self, crops, crop_masks, crop_edges):
        return [self._fill(crop, mask.view(np.uint8)) for crop, mask in zip(crops, crop_masks)]

    def _fill(self, crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if crop.dtype == np.uint8:
            return cv2.inpaint(crop, mask, self.radius, self.cv2_flag)
        # 16 bits: OpenCV takes them one channel at a time
        return np.dstack([cv2.inpaint(np.ascontiguousarray(crop[..., c]), mask, self.radius, self.cv2_flag)
                          for c in range(crop.shape[2])])


@register_inpainter("telea", kind="classical",
                    description="OpenCV fast marching method (Telea 2004); fast, smooth fills of thin holes.")
class TeleaInpainter(ClassicalInpainter):
    cv2_flag = cv2.INPAINT_TELEA


@register_inpainter("ns", kind="classical",
                    description="OpenCV Navier-Stokes based inpainting (Bertalmio et al. 2001).")
class NavierStokesInpainter(ClassicalInpainter):
    cv2_flag = cv2.INPAINT_NS


@register_inpainter("spline", kind="classical",
                    description="Tension-spline fill (membrane + thin plate, Smith & Wessel 1990): the smoothest "
                                "fill; about 1 dB above Telea, slower.")
class SplineInpainter(Inpainter):
    """:func:`~inpaint_core.spline.spline_fill` on each window.

    The fill reads two pixels around a hole, so windows with ``window_margin >= 2`` give the
    full-frame result exactly; the default 4 leaves room. ``tension="auto"`` chooses the tension
    per window (:func:`~inpaint_core.spline.choose_tension`: the one that best fills a copy of the
    window's hole moved onto its known pixels); its windows keep 64 px of known context by
    default, room for those copies. After each call, ``last_choices`` says which tension each
    window got and why (the manifest's ``method_choice``).
    """

    sixteen_bit = True

    def __init__(self, *, tension: float | str = DEFAULT_TENSION, window_margin: int | None = None,
                 checkpoint: str | None = None, device: str = "auto") -> None:
        """
        Args:
            tension: 0 = thin plate (continues slopes, overshoots in wide holes); larger values tend
                to the membrane (harmonic) fill. Default 1. ``"auto"``: chosen per window from
                :data:`~inpaint_core.spline.AUTO_TENSIONS` by filling a copy of its hole.
            window_margin: context around holes, >= 2; default 4, or 64 with ``tension="auto"``.
            checkpoint: must be None (no weights).
            device: ``"auto"`` or ``"cpu"``.

        Raises:
            ValueError: for a bad tension or margin, a checkpoint, or a non-CPU device.
        """
        super().__init__()
        self.auto_tension = tension == "auto"
        if not self.auto_tension and (isinstance(tension, bool) or not isinstance(tension, (int, float))
                                      or not 0 <= tension < float("inf")):
            raise ValueError(f"tension must be a number >= 0 or 'auto', got {tension!r}")
        if window_margin is None:
            window_margin = 64 if self.auto_tension else 4
        _setup(self, window_margin=window_margin, min_margin=2, checkpoint=checkpoint, device=device)
        self.tension = "auto" if self.auto_tension else float(tension)
        self.params = {"tension": self.tension, "window_margin": self.window_margin}
        self.last_choices: list[str] = []

    def inpaint_windows(self, crops, crop_masks, crop_edges=None, *, raw=False):
        self.last_choices = []
        return super().inpaint_windows(crops, crop_masks, crop_edges, raw=raw)

    def _inpaint_batch(self, crops, crop_masks, crop_edges):
        if not self.auto_tension:
            return [spline_fill(crop, mask, self.tension) for crop, mask in zip(crops, crop_masks)]
        out = []
        for crop, mask in zip(crops, crop_masks):
            choice = choose_tension(crop, mask)
            out.append(spline_fill(crop, mask, choice.tension))
            self.last_choices.append(f"spline ({choice.describe()})")
        return out
