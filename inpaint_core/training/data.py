"""Training data: random crops of images under any folder or bucket URL, with generated masks."""

from __future__ import annotations

import random
from typing import Mapping

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..edges import canny_edges
from ..errors import InpaintError
from ..imageio import IMAGE_EXTENSIONS, decode_image, eight_bit_view
from ..masks.generators import MaskMixer
from ..masks.load import missing_pixels
from ..models.prefill import PREFILL_METHODS
from ..storage import Location

DEFAULT_MASKS = {"free_form": 0.4, "thin": 0.15, "medium": 0.15, "thick": 0.15, "boxes": 0.15}
#: images an item tries before its error: an unreadable one is replaced by another (a strided pick)
UNREADABLE_TRIES = 5
#: crop positions drawn in an image with missing pixels, for one that holds none (else the one with fewest)
CROP_TRIES = 8


def list_images(url: str, storage_options: dict | None = None, exclude_mask_files: bool = True) -> list[str]:
    """Sorted image keys under ``url`` (recursively); ``*_mask.*`` files are left out."""
    loc = Location(url, storage_options or {})
    keys = []
    for p in loc.fs.find(loc.root):
        key = loc.key_of(p)
        stem, _, ext = key.rpartition(".")
        if f".{ext.lower()}" in IMAGE_EXTENSIONS and not (exclude_mask_files and stem.endswith("_mask")):
            keys.append(key)
    return sorted(keys)


class InpaintingDataset(Dataset):
    """Random ``size`` crops (scaled up first when an image is smaller), flips, and a generated mask.

    Each item is a dict (LaMa style): ``image`` 3×S×S in [-1, 1], ``mask`` 1×S×S (1 = hole),
    ``unreadable`` (a string: one ``URL<TAB>reason`` line per image that could not be read, or held
    no picture, and was replaced by another for this item, usually empty; a trainer reports them), and
    ``edges`` 1×S×S (Canny of the full crop, sigma 2) when ``with_edges``, and ``fill`` 3×S×S (the
    crop with its hole filled by the classical method ``prefill``, see
    :func:`~inpaint_core.models.prefill.classical_fill`) when ``prefill`` is given: the loader's
    worker processes then do that CPU work (the tension spline's sparse solve, ~0.1 s a 256 px crop)
    instead of the training loop, which would otherwise wait for it at every step.

    Pixels that hold no picture (:func:`missing_pixels`: an elevation model's voids, an
    orthophoto's nodata, a cut-out's transparent background) are never ground truth as they are:
    an image with some is cropped where it has none (the first of :data:`CROP_TRIES` positions
    that has none, else the one with fewest), and those left in the crop are filled by Telea from
    the crop's own pixels. An image whose crop is all missing is replaced like an unreadable one.

    Args:
        sources: folder/bucket URLs; their images are pooled.
        size: crop side.
        masks: ``{generator: weight}`` for :class:`~inpaint_core.masks.generators.MaskMixer`.
        seed: base seed; item ``i`` of epoch ``e`` is reproducible from ``(seed, e, i)``.
        scale: random rescale range applied before cropping (1, 1) = none.
        image_side: downscale each image so its shorter side is this many pixels before the random
            crop (larger images only; a JPEG decodes at a reduced DCT scale on the way, several times
            faster): crops then see scene content rather than a patch of a large photo's texture.
            None = native resolution.
        hole_range: ``(lo, hi)`` hole fraction of every mask (unions of the mix; see
            :class:`~inpaint_core.masks.generators.MaskMixer`); None = the generators' own sizes.
        prefill: a method of :data:`~inpaint_core.models.prefill.PREFILL_METHODS` whose fill each item
            carries, or None.
    """

    def __init__(self, sources: list[str], size: int = 128, masks: Mapping[str, float] | None = None,
                 seed: int = 0, with_edges: bool = False, scale: tuple[float, float] = (1.0, 1.0),
                 storage_options: dict | None = None, hole_range: tuple[float, float] | None = None,
                 prefill: str | None = None, image_side: int | None = None):
        if image_side is not None and image_side < size:
            raise ValueError(f"image_side ({image_side}) must be at least the crop size ({size})")
        self.image_side = image_side
        self.locs = [Location(s, storage_options or {}) for s in sources]
        self.items = [(i, k) for i, loc in enumerate(self.locs) for k in list_images(loc.url, storage_options)]
        if not self.items:
            raise FileNotFoundError(f"no images under {sources}")
        self.size, self.seed, self.with_edges, self.scale = size, seed, with_edges, scale
        self.mask_weights = dict(masks or DEFAULT_MASKS)
        self.hole_range = tuple(hole_range) if hole_range else None
        # built once (a bad mix fails here, not in a worker; mask folders are listed once); each item
        # draws with its own generator
        self.mixer = MaskMixer(self.mask_weights, seed=0, hole_range=self.hole_range, storage_options=storage_options)
        if prefill is not None and prefill not in PREFILL_METHODS:
            raise ValueError(f"prefill must be one of {sorted(PREFILL_METHODS)} or None, got {prefill!r}")
        self.prefill = prefill
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        unreadable = []
        for attempt in range(UNREADABLE_TRIES):
            src, key = self.items[(index + attempt * 7919) % len(self.items)]
            try:
                image = decode_image(self.locs[src].read(key), min_side=self.image_side)
            except InpaintError as exc:  # a corrupt training image: take another one, and say so
                unreadable.append(f"{self.locs[src].uri(key)}\t{str(exc)[:300]}")
                continue
            rgb, _ = eight_bit_view(image)  # the view a restore gives the model (narrow 16-bit data: stretched)
            voids = missing_pixels(image)
            crop, missing = self._crop(rgb, rng, voids)
            if missing is None or not missing.all():
                break
            unreadable.append(f"{self.locs[src].uri(key)}\tno picture where it was cropped: every pixel of "
                              f"{'the crop' if voids.mean() < 1 else 'the image'} is nodata or transparent")
        else:
            raise InpaintError(f"could not read {UNREADABLE_TRIES} training images in a row (near item {index}): "
                               + "; ".join(u.replace("\t", ": ") for u in dict.fromkeys(unreadable)))
        if missing is not None and missing.any():  # never a void's value as the picture to learn
            crop = cv2.inpaint(crop, missing.astype(np.uint8), 3, cv2.INPAINT_TELEA)
        mask = self.mixer(self.size, self.size, rng=np.random.default_rng(int(rng.integers(2**31))))
        out = {"image": torch.from_numpy(crop).permute(2, 0, 1).float().div(127.5).sub(1.0),
               "mask": torch.from_numpy(mask[None].astype(np.float32)),
               "unreadable": "\n".join(unreadable)}
        if self.with_edges:
            out["edges"] = torch.from_numpy(canny_edges(crop)[None].astype(np.float32))
        if self.prefill is not None:
            hole = mask.astype(np.uint8)
            # the model's own fill sees the masked image (0 in [-1, 1], 128 in bytes, in the hole), and
            # OpenCV's fills read the hole's edge pixels: give them the same values
            fill = PREFILL_METHODS[self.prefill](np.where(hole[..., None] > 0, 128, crop).astype(np.uint8), hole) \
                if hole.any() else crop
            out["fill"] = torch.from_numpy(np.ascontiguousarray(fill)).permute(2, 0, 1).float().div(127.5).sub(1.0)
        return out

    def _crop(self, rgb: np.ndarray, rng: np.random.Generator, missing: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(crop, its missing pixels or None)``: a random crop of ``rgb`` (scaled, flipped); with
        ``missing``, one of up to :data:`CROP_TRIES` positions, the first without missing pixels."""
        s = self.size
        h, w = rgb.shape[:2]
        # image_side: the image is first brought down to that shorter side (one resize with the random scale)
        side = self.image_side / min(h, w) if self.image_side and min(h, w) > self.image_side else 1.0
        f = max(side * rng.uniform(*self.scale), s / min(h, w))
        if f != 1.0:
            size = (max(s, round(w * f)), max(s, round(h * f)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
            if missing is not None:  # (a missing pixel counts wherever it reaches)
                missing = cv2.resize(missing.astype(np.uint8), size, interpolation=cv2.INTER_LINEAR) > 0
            h, w = rgb.shape[:2]
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        if missing is not None:
            best = (int(missing[y:y + s, x:x + s].sum()), y, x)
            for _ in range(CROP_TRIES - 1):
                if best[0] == 0:
                    break
                y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
                best = min(best, (int(missing[y:y + s, x:x + s].sum()), y, x))
            _, y, x = best
            missing = missing[y:y + s, x:x + s]
        crop = rgb[y:y + s, x:x + s]
        if rng.random() < 0.5:
            crop, missing = crop[:, ::-1], None if missing is None else missing[:, ::-1]
        return np.ascontiguousarray(crop), None if missing is None else np.ascontiguousarray(missing)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
