"""A small damaged collection built from photos shipped inside scikit-image (no download).

Every way a mask can reach the pipeline appears once: a sibling ``<stem>_mask.png``, the
``masks/`` tree, transparent pixels, solid-fill holes and scratches (on a 16-bit TIFF scan) left to
the detectors,
an empty mask (copied through), a file that is not an image and a truncated JPEG (a failed row
that does not stop the run). Clean originals go to a parallel ``reference/`` tree so the run
also reports PSNR/SSIM/L1.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
from skimage import data as skdata

from .imageio import encode_image, to_8bit


def free_form_mask(h: int, w: int, rng: np.random.Generator, strokes: int = 4, max_width: int = 24) -> np.ndarray:
    """DeepFill-v2-style random strokes. HxW bool."""
    mask = np.zeros((h, w), np.uint8)
    for _ in range(strokes):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        for _ in range(int(rng.integers(3, 8))):
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(15, max(20, min(h, w) / 5))
            nx = int(np.clip(x + length * np.cos(angle), 0, w - 1))
            ny = int(np.clip(y + length * np.sin(angle), 0, h - 1))
            cv2.line(mask, (x, y), (nx, ny), 1, int(rng.integers(6, max_width)))
            x, y = nx, ny
    return mask.astype(bool)


def box_mask(h: int, w: int, rng: np.random.Generator, n: int = 3, max_side: int = 60) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    for _ in range(n):
        bh, bw = int(rng.integers(15, max_side)), int(rng.integers(15, max_side))
        y, x = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
        mask[y:y + bh, x:x + bw] = True
    return mask


def scratch_mask(h: int, w: int, rng: np.random.Generator, scratches: int = 6, specks: int = 25) -> np.ndarray:
    """Thin scratches (1-2 px, long, any angle) and dust specks, as on an old scanned print."""
    mask = np.zeros((h, w), np.uint8)
    for _ in range(scratches):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        angle, length = rng.uniform(0, np.pi), rng.uniform(min(h, w) / 4, min(h, w) / 1.5)
        x1, y1 = int(x0 + length * np.cos(angle)), int(y0 + length * np.sin(angle))
        cv2.line(mask, (x0, y0), (x1, y1), 1, int(rng.integers(1, 3)))
    for _ in range(specks):
        cv2.circle(mask, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, 3)), 1, -1)
    return mask.astype(bool)


def _rgb(a: np.ndarray) -> np.ndarray:
    return np.repeat(a[..., None], 3, -1) if a.ndim == 2 else a[..., :3]


def _write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


def build_demo_collection(root: str, seed: int = 0) -> dict[str, str]:
    """Write ``<root>/input`` (damaged) and ``<root>/reference`` (clean). Returns both paths."""
    rng = np.random.default_rng(seed)
    inp, ref = os.path.join(root, "input"), os.path.join(root, "reference")

    def put(key: str, clean: np.ndarray, damaged: np.ndarray, fmt: str = "png", **kw) -> None:
        gray = clean.ndim == 2
        _write(os.path.join(inp, key), encode_image(_rgb(damaged), fmt, gray=gray, **kw))
        stem = os.path.splitext(key)[0]
        _write(os.path.join(ref, stem + ".png"), encode_image(_rgb(clean), "png", gray=gray))

    # 1. sibling mask, free-form strokes: the hole holds noise
    img = skdata.astronaut()
    m = free_form_mask(*img.shape[:2], rng)
    dmg = img.copy()
    dmg[m] = rng.integers(0, 256, (int(m.sum()), 3), dtype=np.uint8)
    put("portraits/astronaut.png", img, dmg)
    _write(os.path.join(inp, "portraits/astronaut_mask.png"), encode_image(_rgb(m.astype(np.uint8) * 255), "png", gray=True))

    # 2. masks/ tree, boxes, a JPEG
    img = skdata.coffee()
    damage = box_mask(*img.shape[:2], rng)
    dmg = img.copy()
    dmg[damage] = (255, 0, 255)
    # JPEG smears the damage a few pixels out: the mask covers it with a margin, as a user's would.
    m = cv2.dilate(damage.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    put("still-life/coffee.jpg", img, dmg, "jpeg")
    _write(os.path.join(inp, "masks/still-life/coffee.png"), encode_image(_rgb(m.astype(np.uint8) * 255), "png", gray=True))

    # 3. transparent pixels are the hole (RGBA)
    img = skdata.chelsea()
    m = free_form_mask(*img.shape[:2], rng, strokes=3)
    alpha = np.where(m, 0, 255).astype(np.uint8)
    dmg = img.copy()
    dmg[m] = 0  # what is under transparent pixels is usually junk
    put("animals/chelsea.png", img, dmg, alpha=alpha)

    # 4. solid white blotches, no mask: the solid-fill detector finds them
    img = skdata.rocket()
    m = box_mask(*img.shape[:2], rng, n=4)
    dmg = img.copy()
    dmg[m] = 255
    put("space/rocket.png", img, dmg)

    # 5. a 16-bit grayscale TIFF scan with scratches and dust: the scratch detector finds them on its
    # 8-bit view, and the output is a 16-bit TIFF whose untouched pixels are the scan's own samples
    scan = (skdata.camera().astype(np.uint32) * 256 + rng.integers(0, 256, skdata.camera().shape)).astype(np.uint16)
    m = scratch_mask(*scan.shape, rng)
    dmg = scan.copy()
    dmg[m] = np.where(rng.random(int(m.sum())) < 0.5, 64250, 2056).astype(np.uint16)
    _write(os.path.join(inp, "scans/camera.tif"), encode_image(_rgb(dmg), "tiff", gray=True))
    _write(os.path.join(ref, "scans/camera.png"), encode_image(_rgb(to_8bit(scan)), "png", gray=True))

    # 6. black nodata blocks in a microscopy tile
    img = skdata.immunohistochemistry()
    m = box_mask(*img.shape[:2], rng, n=3)
    dmg = img.copy()
    dmg[m] = 0
    put("microscopy/ihc.png", img, dmg)

    # 7. an empty mask: copied through, status skipped
    img = skdata.clock()
    put("scans/clock.png", img, img)
    _write(os.path.join(inp, "scans/clock_mask.png"), encode_image(np.zeros((*img.shape, 3), np.uint8), "png", gray=True))

    # 8. not an image, and a truncated JPEG: a skipped and a failed row, the run goes on
    _write(os.path.join(inp, "README.txt"), b"Scans received 2026-11-25.\n")
    jpeg = encode_image(skdata.coins()[..., None].repeat(3, -1), "jpeg")
    _write(os.path.join(inp, "scans/coins-truncated.jpg"), jpeg[: len(jpeg) // 3])
    return {"input": inp, "reference": ref}
