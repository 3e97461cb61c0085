"""``auto``: the classical spline fill for small or thin defects, the best learned model for large holes.

Each hole (an 8-connected component of the mask) is routed on its own:

- *thin*: the widest point of the hole is at most ``2 * thin_radius`` pixels across (scratches,
  hairlines, dust) -> the classical method;
- *small*: at most ``small_area`` hole pixels -> the classical method;
- otherwise (*large*) the learned model, when one is available (``learned=`` name with ``checkpoint=``, else
  the shipped model whose card records the largest development-evaluation gain over Telea in the
  0.3-0.6 hole-ratio bins, ties and cards without figures in :data:`PREFERENCE` order); without
  one, the ``large`` classical method (the tension spline, about 1 dB better than Telea there), and
  the reason says so. A shipped model is not used when the development evaluation scores the
  spline above it in those bins (:func:`spline_beats`): then the spline is the better fill.

16-bit images: a window whose holes all go to the classical method is filled at 16 bits (the
pipeline asks :meth:`AutoInpainter.fills_at_16_bits` per window); a window with a large hole is
filled on the 8-bit view, its thin and small holes too. Given
a uint16 crop for the learned model directly, ``auto`` fills its 8-bit view and lifts the fill back
to 16 bits (:func:`inpaint_core.dequantize.dequantize_fill`).

A window (nearby holes with their context, cropped together) with holes of both kinds is filled
by the learned model first, all its holes at once; the classical method then refills the thin and
small ones, with the model's fill of the large hole as part of their surroundings. (Routing whole
windows sent dust beside a large hole, or dust dense enough for its windows to merge, to the model:
on 30 whole ``bsds500/val`` photos with 150 specks and 6 scratches each, 23.57 dB in the hole
against the spline's 23.69, and 20.65 while the model's prediction of a large window was resized
back; ``benchmarks/bench_auto_routing.py``, docs/models.md.)

A raster of values (a float or int16 elevation model; ``DecodedImage.values``) goes to the ``large``
classical method whole (:attr:`AutoInpainter.values_method`, which the pipeline asks for), unless
``learned=`` names a model: the shipped ones learned photos. When that method is the spline, it
chooses its tension per window (``tension="auto"``, :func:`inpaint_core.spline.choose_tension`).

After each call ``last_choices`` holds one ``"method (reason)"`` string per window (``" + "``
between the methods of a mixed one), which the pipeline writes to the manifest's ``method_choice``
column.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

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
                    "the best learned model for large holes when one beats the spline (per hole)")
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
        # A raster of values (an elevation model) is filled by the classical large-hole method, all its
        # holes: the shipped models learned photos, and on synthetic DEMs they fill large voids 2-4% worse
        # than the spline at twice its time (benchmarks/bench_dem.py). A model the user names (learned=,
        # trained on their own rasters, say) is used as on photos. (Not in params: only rasters of values,
        # which failed their rows before, are filled differently, so no earlier output goes stale.)
        # The spline chooses its tension per window there (``tension="auto"``): how smooth terrain is sets
        # the best one, within 0.1 m of the best fixed tension on rough and smooth synthetic terrain,
        # where the default is 0.3-31% farther, at 4x its time.
        self.values_method = None if learned is not None else \
            create_inpainter("spline", tension="auto") if large == "spline" else self.large
        ref = self.learned or self.large
        self.device = ref.device
        self.needs_edges = bool(self.learned and self.learned.needs_edges)
        self.window_margin = max(ref.window_margin, self.classical.window_margin)
        self.window_min_side, self.window_multiple = ref.window_min_side, ref.window_multiple
        self.last_choices: list[str] = []
        self.params = {"classical": classical, "large": large, "learned": self.learned.name if self.learned else None,
                       "learned_params": self.learned.params if self.learned else None,
                       "thin_radius": self.thin_radius, "small_area": self.small_area,
                       "routing": "per hole"}  # (was per window until 2026-11-27: a new settings hash)

    def _route(self, mask: np.ndarray) -> list[tuple[Inpainter, np.ndarray, str]]:
        """How one window's holes are filled: ``[(method, its holes, reason)]``, one entry per
        method, the method for large holes (if any) first. Each hole (8-connected component) is
        routed on its own, so dust beside a large hole still gets the classical fill."""
        hole = mask.astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(hole, connectivity=8)
        half = ndimage.maximum(cv2.distanceTransform(np.pad(hole, 1), cv2.DIST_L2, 3)[1:-1, 1:-1], labels,
                               np.arange(1, n))
        half, area = np.atleast_1d(np.asarray(half, np.float64)), stats[1:, cv2.CC_STAT_AREA]
        thin, small = half <= self.thin_radius, area <= self.small_area
        large = ~(thin | small)
        routes = []
        if large.any():
            holes, px = np.isin(labels, 1 + np.flatnonzero(large)), int(area[large].sum())
            if self.learned is None:
                routes.append((self.large, holes, f"large ({px} px); {self.no_learned_reason}"))
            else:
                routes.append((self.learned, holes, f"large: {px} px, {2 * half[large].max():.0f} px wide"))
        if not large.all():
            holes, count = np.isin(labels, 1 + np.flatnonzero(~large)), f", {(~large).sum()} holes" if n > 2 else ""
            why = (f"thin: {2 * half[thin].max():.0f} px wide" if thin.all() else
                   f"small: {area[~large].max()} px" if not thin.any() else
                   f"thin or small: {area[~large].sum()} px") + count
            if routes and routes[0][0] is self.classical:  # no learned model: the large method is this one
                routes[0] = (self.classical, mask, routes[0][2] + f"; {why}")
            else:
                routes.append((self.classical, holes, why))
        return routes

    def fills_at_16_bits(self, crop_mask: np.ndarray) -> bool:
        return all(m.sixteen_bit for m, _, _ in self._route(np.asarray(crop_mask) != 0))

    def inpaint_windows(self, crops, crop_masks, crop_edges=None, *, raw=False):
        self.last_choices = []
        return super().inpaint_windows(crops, crop_masks, crop_edges, raw=raw)

    def _inpaint_batch(self, crops, crop_masks, crop_edges):
        routes = [self._route(m) for m in crop_masks]
        # The first method of each window fills all of its holes; where a window also has holes of
        # the other kind (dust beside a large hole), the classical method then refills those, with
        # the first one's fill of the large hole as their surroundings.
        out = self._fill_by_method(crops, crop_masks, crop_edges, [r[0][0] for r in routes])
        mixed = [i for i, r in enumerate(routes) if len(r) > 1]
        if mixed:  # the crop with its large holes filled (a raw output's known part is the model's too)
            filled = [np.where(routes[i][0][1][..., None], out[i], crops[i]) for i in mixed]
            refill = self._fill_by_method(filled, [routes[i][1][1] for i in mixed], None,
                                          [routes[i][1][0] for i in mixed])
            for i, r in zip(mixed, refill):
                out[i] = np.where(routes[i][1][1][..., None], r, out[i])
        self.last_choices += [" + ".join(f"{m.name} ({why})" for m, _, why in r) for r in routes]
        return out

    def _fill_by_method(self, crops, masks, edges, methods) -> list[np.ndarray]:
        """Each crop's raw fill by its method, the crops of one method in one batch."""
        out: list[np.ndarray | None] = [None] * len(crops)
        for model in dict.fromkeys(methods):
            idx = [i for i, m in enumerate(methods) if m is model]
            given_edges = [edges[i] for i in idx] if model.needs_edges else None
            given = [crops[i] if model.sixteen_bit or crops[i].dtype == np.uint8 else to_8bit(crops[i]) for i in idx]
            _, raws = model.inpaint_windows(given, [masks[i] for i in idx], given_edges, raw=True)
            for i, r in zip(idx, raws):  # the method's own output: composited once, by this inpainter
                if r.dtype != crops[i].dtype:  # a 16-bit crop filled on its 8-bit view: lifted back
                    r = np.where(masks[i][..., None], dequantize_fill(r, crops[i], masks[i]),
                                 r.astype(np.uint16) * 257)
                out[i] = r
        return out
