"""Builders of small test collections: good images with known masks, and every kind of bad input."""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
from PIL import Image
from skimage import data as skdata


def png_bytes(arr: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", **kw)
    return buf.getvalue()


def jpeg_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, **kw)
    return buf.getvalue()


def bomb_png(side: int = 20000) -> bytes:
    """A valid grey PNG of side x side zeros: ~400 MP of pixels in a few hundred KB."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    idat = b"".join(comp.compress(row * 500) for _ in range(side // 500)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def hole_mask(h: int, w: int, seed: int, frac: float = 0.1) -> np.ndarray:
    """A few rectangles covering roughly ``frac`` of the image. HxW bool."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), bool)
    while mask.mean() < frac:
        bh, bw = rng.integers(8, max(9, h // 4)), rng.integers(8, max(9, w // 4))
        y, x = rng.integers(0, h - bh), rng.integers(0, w - bw)
        mask[y:y + bh, x:x + bw] = True
    return mask


def write(root: str, key: str, data: bytes) -> str:
    path = os.path.join(root, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def good_collection(root: str, n: int = 6, size: int = 96) -> dict[str, np.ndarray]:
    """``n`` PNG crops of bundled photos, each with a sibling mask. Returns {key: mask}."""
    photos = [skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket()]
    masks = {}
    for i in range(n):
        p = photos[i % len(photos)]
        y, x = (i * 37) % (p.shape[0] - size), (i * 53) % (p.shape[1] - size)
        img = np.ascontiguousarray(p[y:y + size, x:x + size])
        m = hole_mask(size, size, seed=i)
        key = f"set{i % 2}/img{i:03d}.png"
        write(root, key, png_bytes(img))
        write(root, key.replace(".png", "_mask.png"), png_bytes((m * 255).astype(np.uint8)))
        masks[key] = m
    return masks


def bad_collection(root: str) -> dict[str, str]:
    """Every kind of bad or unusual input of the issue. Returns {key: expected status}."""
    photo = np.ascontiguousarray(skdata.astronaut()[100:196, 100:196])
    m = hole_mask(96, 96, seed=7)
    mpng = png_bytes((m * 255).astype(np.uint8))
    exp = {}

    def put(key: str, data: bytes, status: str, mask: bytes | None = mpng) -> None:
        write(root, key, data)
        if mask is not None:
            stem, _ = os.path.splitext(key)
            write(root, f"{stem}_mask.png", mask)
        exp[key] = status

    put("zero-byte.png", b"", "failed")
    put("truncated.jpg", jpeg_bytes(Image.fromarray(photo))[:600], "failed")
    put("text.png", b"this is not an image at all\n" * 10, "failed")
    put("sixteen-bit.png", png_bytes((np.arange(96 * 96, dtype=np.uint16).reshape(96, 96) * 7)), "ok")
    float_tiff = io.BytesIO()
    Image.fromarray(photo[..., 0].astype(np.float32) / 255).save(float_tiff, "TIFF")
    put("float.tif", float_tiff.getvalue(), "ok")
    signed = io.BytesIO()
    Image.fromarray(photo[..., 0].astype(np.int32) - 128).save(signed, "TIFF")
    put("signed.tif", signed.getvalue(), "ok")
    half = io.BytesIO()
    __import__("tifffile").imwrite(half, photo[..., 0].astype(np.float16))
    put("half-float.tif", half.getvalue(), "failed")
    put("cmyk.jpg", jpeg_bytes(Image.fromarray(photo).convert("CMYK")), "ok")
    put("gray.png", png_bytes(photo[..., 0]), "ok")
    put("palette.png", png_bytes(np.asarray(Image.fromarray(photo).quantize(64).convert("RGB"))), "ok")
    pal = Image.fromarray(photo).quantize(64)
    buf = io.BytesIO()
    pal.save(buf, "PNG")
    put("palette-native.png", buf.getvalue(), "ok")
    rgba = np.dstack([photo, np.where(m, 0, 255).astype(np.uint8)])
    put("rgba-alpha-hole.png", png_bytes(rgba), "ok", mask=None)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    put("exif-rotated.jpg", jpeg_bytes(Image.fromarray(photo[:, :80]), exif=exif.tobytes()), "ok",
        mask=png_bytes((hole_mask(80, 96, seed=3) * 255).astype(np.uint8)))
    put("wrong-size-mask.png", png_bytes(photo), "failed", mask=png_bytes(np.zeros((10, 10), np.uint8) + 255))
    put("bomb.png", bomb_png(), "failed", mask=None)
    put("empty-mask.png", png_bytes(photo), "skipped", mask=png_bytes(np.zeros((96, 96), np.uint8)))
    write(root, "notes.txt", b"not an image")
    exp["notes.txt"] = "skipped"
    return exp
