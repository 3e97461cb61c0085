"""Random hole masks for training and evaluation: the generators of the papers, and a mix of them.

- ``free_form``: DeepFill v2's free-form strokes (Yu et al. 2019, "Free-Form Image Inpainting with
  Gated Convolution", the algorithm of its appendix): a few polylines of random vertices drawn with
  a thick brush and round joints.
- ``thin`` / ``medium`` / ``thick``: LaMa's irregular strokes (Suvorov et al. 2022); the lengths and
  widths follow the proportions of LaMa's ``random_{thin,medium,thick}_512`` configs, scaled to the
  image side.
- ``boxes``: a few random boxes (LaMa's box masks); ``rectangle``: one rectangle (Context Encoder,
  GLCIC style).
- :class:`MaskFolder`: masks from files (e.g. the NVIDIA irregular-mask set), randomly flipped,
  rotated by multiples of 90 degrees and resized with nearest neighbour.

Every generator is ``f(h, w, rng) -> HxW bool`` (True = hole) and deterministic for a given
``numpy.random.Generator``. :class:`MaskMixer` draws from several with given weights.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import cv2
import numpy as np

Generator = Callable[[int, int, np.random.Generator], np.ndarray]


def _polyline_strokes(h: int, w: int, rng: np.random.Generator, *, times: tuple[int, int], vertices: tuple[int, int],
                      max_len: float, widths: tuple[float, float], max_angle: float = math.pi) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(times[0], times[1] + 1))):
        x, y = float(rng.integers(0, w)), float(rng.integers(0, h))
        angle = rng.uniform(0, 2 * math.pi)
        width = max(1, int(rng.uniform(*widths)))
        for _ in range(int(rng.integers(vertices[0], vertices[1] + 1))):
            angle += rng.uniform(-max_angle, max_angle)
            length = rng.uniform(max_len / 4, max_len)
            nx = float(np.clip(x + length * math.cos(angle), 0, w - 1))
            ny = float(np.clip(y + length * math.sin(angle), 0, h - 1))
            cv2.line(mask, (int(x), int(y)), (int(nx), int(ny)), 1, width)
            cv2.circle(mask, (int(nx), int(ny)), width // 2, 1, -1)
            x, y = nx, ny
    return mask.astype(bool)


def free_form(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """DeepFill v2 strokes: 1-4 strokes of 4-12 vertices, brush 12-40 px at 256 (scaled)."""
    s = min(h, w) / 256
    return _polyline_strokes(h, w, rng, times=(1, 4), vertices=(4, 12), max_len=40 * s,
                             widths=(12 * s, 40 * s), max_angle=2 * math.pi / 5)


def _lama(h: int, w: int, rng: np.random.Generator, max_len: float, max_width: float, times: tuple[int, int]):
    s = min(h, w) / 512
    return _polyline_strokes(h, w, rng, times=times, vertices=(1, 4), max_len=max_len * s,
                             widths=(max(1.0, max_width * s / 4), max_width * s), max_angle=4.0)


def thin(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """LaMa thin strokes (many, narrow)."""
    return _lama(h, w, rng, max_len=100, max_width=20, times=(4, 12))


def medium(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """LaMa medium strokes."""
    return _lama(h, w, rng, max_len=150, max_width=50, times=(2, 6))


def thick(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """LaMa thick strokes (few, wide)."""
    return _lama(h, w, rng, max_len=200, max_width=100, times=(1, 5))


def boxes(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """1-3 boxes with sides between 10% and 40% of the image side (LaMa's box masks, scaled)."""
    mask = np.zeros((h, w), bool)
    for _ in range(int(rng.integers(1, 4))):
        bh = int(rng.uniform(0.1, 0.4) * h) or 1
        bw = int(rng.uniform(0.1, 0.4) * w) or 1
        y, x = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        mask[y:y + bh, x:x + bw] = True
    return mask


def rectangle(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """One rectangle of 25-50% of each side, anywhere (GLCIC trains on such holes)."""
    mask = np.zeros((h, w), bool)
    bh, bw = int(rng.uniform(0.25, 0.5) * h) or 1, int(rng.uniform(0.25, 0.5) * w) or 1
    y, x = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    mask[y:y + bh, x:x + bw] = True
    return mask


GENERATORS: dict[str, Generator] = {"free_form": free_form, "thin": thin, "medium": medium, "thick": thick,
                                    "boxes": boxes, "rectangle": rectangle}


class MaskFolder:
    """Masks from image files under a folder or bucket URL (non-zero = hole), augmented.

    Args:
        url: folder or fsspec URL; every .png/.bmp/.jpg file under it is a mask.
        storage_options: fsspec options (e.g. ``endpoint_url``).
    """

    def __init__(self, url: str, storage_options: dict | None = None):
        from ..imageio import decode_mask
        from ..storage import Location

        self._decode = decode_mask
        self.loc = Location(url, storage_options or {})
        exts = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
        self.keys = sorted(self.loc.key_of(p) for p in self.loc.fs.find(self.loc.root) if p.lower().endswith(exts))
        if not self.keys:
            raise FileNotFoundError(f"no mask files under {url}")

    def __len__(self) -> int:
        return len(self.keys)

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        m = self._decode(self.loc.read(self.keys[int(rng.integers(len(self.keys)))]))
        m = np.rot90(m, int(rng.integers(4)))
        if rng.random() < 0.5:
            m = m[:, ::-1]
        return cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


class MaskMixer:
    """Draw each mask from one of several generators, chosen with the given weights.

    >>> mixer = MaskMixer({"free_form": 0.5, "thick": 0.3, "boxes": 0.2}, seed=0)
    >>> mixer(256, 256).shape
    (256, 256)

    Args:
        weights: ``{generator name or "folder:<url>": weight}``; names from :data:`GENERATORS`.
        seed: seed of the mixer's own random generator (reproducible sequences).
        min_hole, max_hole: masks whose hole fraction falls outside are redrawn (at most 20 times).
            Calling the mixer with ``rng=`` draws from that generator instead of its own (one mixer,
            its mask folders listed once, serves reproducible per-item draws).
        hole_range: ``(lo, hi)``: instead, draw a target fraction uniformly in it and take the union
            of masks drawn from the mix until the hole reaches it (LaMa's point: a model meant for
            large holes must train on them; the generators alone rarely cover over 30%, see
            :func:`hole_fraction_histogram`). A union that overshoots ``hi`` by more than 0.02 is
            redrawn.
    """

    def __init__(self, weights: Mapping[str, float], seed: int | None = None, min_hole: float = 0.01,
                 max_hole: float = 0.7, storage_options: dict | None = None,
                 hole_range: tuple[float, float] | None = None):
        if not weights:
            raise ValueError("MaskMixer needs at least one generator")
        self.names, self.generators = [], []
        for name in weights:
            if name.startswith("folder:"):
                self.generators.append(MaskFolder(name[len("folder:"):], storage_options))
            elif name in GENERATORS:
                self.generators.append(GENERATORS[name])
            else:
                raise ValueError(f"unknown mask generator {name!r}; known: {sorted(GENERATORS)} or 'folder:<url>'")
            self.names.append(name)
        p = np.array([float(weights[n]) for n in self.names])
        if (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"mask weights must be >= 0 and not all zero: {dict(weights)}")
        self.p = p / p.sum()
        self.rng = np.random.default_rng(seed)
        self.min_hole, self.max_hole = min_hole, max_hole
        self.hole_range = None if hole_range is None else _checked_hole_range(*hole_range, name="hole_range",
                                                                               given=hole_range)

    def _draw(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        return self.generators[int(rng.choice(len(self.generators), p=self.p))](h, w, rng)

    def __call__(self, h: int, w: int, rng: np.random.Generator | None = None) -> np.ndarray:
        rng = self.rng if rng is None else rng
        if self.hole_range is not None:
            return self._union(h, w, rng, *self.hole_range)
        for _ in range(20):
            mask = self._draw(h, w, rng)
            if self.min_hole <= mask.mean() <= self.max_hole:
                return mask
        return mask

    def _union(self, h: int, w: int, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
        best = None
        for _ in range(20):
            target = rng.uniform(lo, hi)
            mask = np.zeros((h, w), bool)
            for _ in range(200):  # thin strokes add ~1% a draw
                mask |= self._draw(h, w, rng)
                if mask.mean() >= target:
                    break
            if mask.mean() <= hi + 0.02:
                return mask
            if best is None or mask.mean() < best.mean():
                best = mask
        return best


def _checked_hole_range(lo, hi, name: str, given) -> tuple[float, float]:
    lo, hi = float(lo), float(hi)
    if not 0 < lo <= hi < 1:
        raise ValueError(f"{name} must satisfy 0 < LO <= HI < 1, got {given!r}")
    return lo, hi


def parse_hole_range(text: str) -> tuple[float, float]:
    """``"0.1,0.6"`` -> ``(0.1, 0.6)``, checked as :class:`MaskMixer` checks ``hole_range``."""
    try:
        lo, hi = (float(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"hole range must be LO,HI (e.g. 0.1,0.6), got {text!r}") from None
    return _checked_hole_range(lo, hi, name="hole range", given=text)


def hole_fraction_histogram(mixer: "MaskMixer", n: int = 1000, size: int = 128,
                            bins: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0)) -> dict[str, float]:
    """Share of ``n`` masks of ``size`` px from ``mixer`` per hole-fraction bin (what a mix trains on)."""
    fractions = np.array([mixer(size, size).mean() for _ in range(n)])
    counts, _ = np.histogram(fractions, bins=np.array(bins))
    return {f"{a:.1f}-{b:.1f}": float(c) / n for a, b, c in zip(bins[:-1], bins[1:], counts)}
