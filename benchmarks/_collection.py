"""Synthetic benchmark collections: crops of bundled photos with 5-20% rectangular/stroke holes."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np
from skimage import data as skdata

from inpaint_core.demo import free_form_mask
from inpaint_core.imageio import encode_image

_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")


def _one(args) -> None:
    root, i, size = args
    rng = np.random.default_rng(i)
    photo = getattr(skdata, _PHOTOS[i % len(_PHOTOS)])()[..., :3]
    scale = size / min(photo.shape[:2]) * rng.uniform(1.0, 1.6)
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    y, x = rng.integers(0, photo.shape[0] - size + 1), rng.integers(0, photo.shape[1] - size + 1)
    img = np.ascontiguousarray(photo[y:y + size, x:x + size])
    if rng.random() < 0.5:
        img = img[:, ::-1].copy()
    target = rng.uniform(0.05, 0.20)
    mask = np.zeros((size, size), bool)
    while mask.mean() < target:
        mask |= free_form_mask(size, size, rng, strokes=1, max_width=max(8, size // 16))
    img[mask] = 255
    d = os.path.join(root, f"d{i // 500:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"img{i:05d}.png"), "wb") as fh:
        fh.write(encode_image(img, "png"))
    with open(os.path.join(d, f"img{i:05d}_mask.png"), "wb") as fh:
        fh.write(encode_image(np.repeat(mask[..., None].astype(np.uint8) * 255, 3, -1), "png", gray=True))


def make_collection(root: str, n: int, size: int = 512, workers: int = 2) -> str:
    """Write ``n`` images (and sibling masks) under ``root`` unless already there. Returns ``root``."""
    marker = os.path.join(root, f".done-{n}-{size}")
    if os.path.exists(marker):
        return root
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_one, [(root, i, size) for i in range(n)], chunksize=32))
    open(marker, "w").close()
    return root


def list_pairs(root: str) -> list[tuple[str, str]]:
    out = []
    for dirpath, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            if f.endswith(".png") and not f.endswith("_mask.png"):
                out.append((os.path.join(dirpath, f), os.path.join(dirpath, f[:-4] + "_mask.png")))
    return out
