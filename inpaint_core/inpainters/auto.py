"""``auto``: the classical spline fill for small or thin defects, the best learned model for large holes.

Each window (one or more nearby hole components with context) is routed on its own:

- *thin*: the widest point of the hole is at most ``2 * thin_radius`` pixels across (scratches,
  hairlines, dust) -> the classical method;
- *small*: at most ``small_area`` hole pixels -> the classical method;
- otherwise the learned model, when one is available (``learned=`` name with ``checkpoint=``, else
  the shipped model whose card records the largest development-evaluation gain over Telea in the
  0.3-0.6 hole-ratio bins, ties and cards without figures in :data:`PREFERENCE` order); without
  one, the ``large`` classical method (the tension spline, about 1 dB better than Telea there), and
  the reason says so. A shipped model is not used when the development evaluation scores the
  spline above it in those bins (:func:`spline_beats`): then the spline is the better fill.

16-bit images: windows routed to a classical method are filled at 16 bits (the pipeline asks
:meth:`AutoInpainter.fills_at_16_bits` per window); the learned model fills on the 8-bit view. Given
a uint16 crop for the learned model directly, ``auto`` fills its 8-bit view and lifts the fill back
to 16 bits (:func:`inpaint_core.dequantize.dequantize_fill`).

After each call ``last_choices`` holds one ``"method (reason)"`` string per window, which the
pipeline writes to the manifest's ``method_choice`` column.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..dequantize import dequantize_fill
from ..errors import CheckpointError
from ..imageio import to_8bit
from .base import Inpainter
from .registry import create_inpainter, list_inpainters, register_inpainter

#: Learned models in the order ``auto`` prefers them when they have shipped weights.
PREFERENCE = ("deepfill_v2", "ctsdg", "edgeconnect", "deepfill_v1", "pconv", "glcic", "pggan", "shiftnet",
              "msnps", "context_encoder")


def shipped_ranking() -> list[str]:
    """Learned models with shipped weights, best first.

    Best = the largest mean composited-PSNR gain over Telea in the target bins, as recorded in the
    card's ``dev_evaluation.vs_telea`` when the weights were exported
    (:mod:`inpaint_core.training.export`); models without figures follow in :data:`PREFERENCE` order.
    """
    import json

    from ..models import wrapper

    learned = set(list_inpainters("learned"))
    scored = []
    for rank, name in enumerate(PREFERENCE + tuple(sorted(learned - set(PREFERENCE)))):
        if name not in learned or not (wrapper.WEIGHTS_DIR / f"{name}.safetensors").exists():
            continue
        try:
            card = json.loads((wrapper.WEIGHTS_DIR / f"{name}.json").read_text())
            gains = [v["psnr_gain"] for v in card["dev_evaluation"]["vs_telea"].values()]
            gain = sum(gains) / len(gains)
        except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
            gain = float("-inf")
        scored.append((-gain, rank, name))
    return [name for _, _, name in sorted(scored)]


def _card_mean(summary: list[dict], method: str) -> float | None:
    from ..training.export import TARGET_BINS

    psnr = [s["psnr"] for s in summary if s["method"] == method and s["bin"] in TARGET_BINS]
    return sum(psnr) / len(psnr) if len(psnr) == len(TARGET_BINS) else None


def spline_beats(name: str) -> bool:
    """True when the development evaluation scores the spline fill above shipped model ``name``.

    The model's mean PSNR in the target bins comes from its card; the spline's from the first shipped
    card that scored it (the protocol is deterministic, so every run gives it the same figures).
    False when either is unknown.
    """
    import json

    from ..models import wrapper

    cards = []
    for f in [wrapper.WEIGHTS_DIR / f"{name}.json", *sorted(wrapper.WEIGHTS_DIR.glob("*.json"))]:
        try:
            cards.append(json.loads(f.read_text())["dev_evaluation"]["summary"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if not cards:
        return False
    ours = _card_mean(cards[0], name)
    spline = next((m for m in (_card_mean(c, "spline") for c in cards) if m is not None), None)
    return ours is not None and spline is not None and spline > ours


def _first_shipped(device: str, precision: str) -> Inpainter | None:
    for name in shipped_ranking():
        try:
            return create_inpainter(name, device=device, precision=precision)
        except CheckpointError:
            continue  # unreadable shipped weights: try the next one
    return None


@register_inpainter("auto", kind="classical", description="the spline fill for small/thin defects, "
                    "the best learned model for large holes when one beats the spline (per window)")
class AutoInpainter(Inpainter):
    sixteen_bit = True  # per window: see fills_at_16_bits

    def __init__(self, checkpoint: str | None = None, device: str = "auto", classical: str = "spline",
                 learned: str | None = None, large: str = "spline", thin_radius: float = 4.0,
                 small_area: int = 1024, precision: str = "auto") -> None:
        """
        Args:
            classical: the method for thin and small defects (default the spline: it scores above
                Telea in every hole-ratio bin of the development evaluation; ``telea`` is faster).
            learned: a learned method for large holes (with ``checkpoint=`` for your own weights);
                default the best shipped model that the spline does not beat.
            large: the classical method for large holes when no learned model is used.
            precision: the learned model's (``"auto"``, ``"float32"``, ``"bfloat16"``; see
                :class:`~inpaint_core.models.wrapper.TorchInpainter`).
        """
        super().__init__()
        if checkpoint is not None and learned is None:
            raise ValueError("auto: with checkpoint=, also say which learned method it is (learned=NAME)")
        self.classical = create_inpainter(classical)
        # one instance when both are the same method, so its windows go through it in one batch
        self.large = self.classical if large == classical else create_inpainter(large)
        self.no_learned_reason = "no learned weights available"
        if learned is not None:
            self.learned = create_inpainter(learned, checkpoint=checkpoint, device=device, precision=precision)
        else:
            self.learned = _first_shipped(device, precision)
            if self.learned is not None and large == "spline" and spline_beats(self.learned.name):
                self.no_learned_reason = f"the spline scores above the best shipped model ({self.learned.name})"
                self.learned = None
        self.thin_radius, self.small_area = float(thin_radius), int(small_area)
        ref = self.learned or self.large
        self.device = ref.device
        self.needs_edges = bool(self.learned and self.learned.needs_edges)
        self.window_margin = max(ref.window_margin, self.classical.window_margin)
        self.window_min_side, self.window_multiple = ref.window_min_side, ref.window_multiple
        self.last_choices: list[str] = []
        self.params = {"classical": classical, "large": large, "learned": self.learned.name if self.learned else None,
                       "learned_params": self.learned.params if self.learned else None,
                       "thin_radius": self.thin_radius, "small_area": self.small_area}

    def _route(self, mask: np.ndarray) -> tuple[Inpainter, str]:
        """(the method, reason) for one window's hole mask."""
        area = int(mask.sum())
        half_width = float(cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 3).max())
        if half_width <= self.thin_radius:
            return self.classical, f"thin: {2 * half_width:.0f} px wide"
        if area <= self.small_area:
            return self.classical, f"small: {area} px"
        if self.learned is None:
            return self.large, f"large ({area} px); {self.no_learned_reason}"
        return self.learned, f"large: {area} px, {2 * half_width:.0f} px wide"

    def fills_at_16_bits(self, crop_mask: np.ndarray) -> bool:
        return self._route(np.asarray(crop_mask) != 0)[0].sixteen_bit

    def inpaint_windows(self, crops, crop_masks, crop_edges=None, *, raw=False):
        self.last_choices = []
        return super().inpaint_windows(crops, crop_masks, crop_edges, raw=raw)

    def _inpaint_batch(self, crops, crop_masks, crop_edges):
        routes = [self._route(m) for m in crop_masks]
        out: list[np.ndarray | None] = [None] * len(crops)
        for model in dict.fromkeys(m for m, _ in routes):
            idx = [i for i, (m, _) in enumerate(routes) if m is model]
            edges = [crop_edges[i] for i in idx] if model.needs_edges else None
            given = [crops[i] if model.sixteen_bit or crops[i].dtype == np.uint8 else to_8bit(crops[i]) for i in idx]
            _, raws = model.inpaint_windows(given, [crop_masks[i] for i in idx], edges, raw=True)
            for i, r in zip(idx, raws):  # the method's own output: composited once, by this inpainter
                if r.dtype != crops[i].dtype:  # a 16-bit crop filled on its 8-bit view: lifted back
                    r = np.where(crop_masks[i][..., None], dequantize_fill(r, crops[i], crop_masks[i]),
                                 r.astype(np.uint16) * 257)
                out[i] = r
        self.last_choices += [f"{m.name} ({why})" for m, why in routes]
        return out
