"""A corpus of hostile and broken inputs, generated (nothing is checked in).

:func:`build_corpus` writes every case under a folder and returns what each must become: restored
(``ok``), ``skipped`` or ``failed`` with a reason matching a pattern. :func:`hostile_s3_keys` gives
object keys that only an object store can hold (``..``, leading slashes), to be put with boto3.
The cases are listed in docs/reliability.md ("Hostile and broken input").
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image
from skimage import data as skdata

from tests.collections import bomb_png, hole_mask, write

SIDE = 64
_PHOTO = np.ascontiguousarray(skdata.astronaut()[100:100 + SIDE, 140:140 + SIDE])
_HOLE = hole_mask(SIDE, SIDE, seed=7)


@dataclass(frozen=True)
class Case:
    """One input of the corpus and the manifest row it must produce."""

    key: str
    data: bytes
    status: str  # ok | skipped | failed | absent (never listed, no row)
    reason: str = ""  # regex the row's error must match (failed/skipped)
    mask: bytes | None = None  # written as the sibling <stem>_mask.png
    kind: str = ""  # group for the report: truncated, bomb, exif, ...


# --- encoders --------------------------------------------------------------------------------


def save(im: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def png(arr: np.ndarray, **kw) -> bytes:
    return save(Image.fromarray(arr), "PNG", **kw)


def mask_png(mask: np.ndarray) -> bytes:
    return png((mask * 255).astype(np.uint8))


def _chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width x height`` 8-bit grey pixels (a few rows of data)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A valid small JPEG with its SOF0 size patched."""
    blob = bytearray(save(Image.fromarray(_PHOTO), "JPEG", quality=90))
    sof = blob.index(b"\xff\xc0")
    blob[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(blob)


def tiff_claiming(width: int, height: int) -> bytes:
    """A small uncompressed TIFF whose ImageWidth/ImageLength tags are patched."""
    return tiff_patched(save(Image.fromarray(_PHOTO), "TIFF"), {256: width, 257: height})


def gif_claiming(width: int, height: int) -> bytes:
    blob = save(Image.new("L", (1, 1)), "GIF")
    return blob[:6] + struct.pack("<HH", width, height) + blob[10:]


def bmp_claiming(width: int, height: int) -> bytes:
    blob = bytearray(save(Image.fromarray(_PHOTO), "BMP"))
    blob[18:26] = struct.pack("<ii", width, height)
    return bytes(blob)


def webp_claiming(width: int, height: int) -> bytes:
    """A lossless WebP whose VP8L header claims ``width x height`` (at most 16384 each)."""
    blob = bytearray(save(Image.fromarray(_PHOTO), "WEBP", lossless=True))
    at = blob.index(b"VP8L") + 8
    assert blob[at] == 0x2F
    bits = int.from_bytes(blob[at + 1:at + 5], "little")
    bits = (bits & ~0xFFFFFFF) | ((width - 1) & 0x3FFF) | (((height - 1) & 0x3FFF) << 14)
    blob[at + 1:at + 5] = bits.to_bytes(4, "little")
    return bytes(blob)


def tiff_patched(blob: bytes, values: dict[int, int]) -> bytes:
    """A little-endian TIFF with single-valued tags of its first IFD set to ``values`` (as LONG)."""
    out = bytearray(blob)
    ifd = struct.unpack("<I", out[4:8])[0]
    (count,) = struct.unpack("<H", out[ifd:ifd + 2])
    for i in range(count):
        at = ifd + 2 + 12 * i
        tag, _, n = struct.unpack("<HHI", out[at:at + 8])
        if tag in values and n == 1:
            out[at + 2:at + 4] = struct.pack("<H", 4)
            out[at + 8:at + 12] = struct.pack("<I", values[tag])
    return bytes(out)


def exif_jpeg(exif: bytes) -> bytes:
    """The photo as JPEG with a raw APP1 Exif segment (``exif`` = the TIFF structure, no ``Exif\\0\\0``)."""
    blob = save(Image.fromarray(_PHOTO), "JPEG", quality=90)
    body = b"Exif\x00\x00" + exif
    return blob[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + blob[2:]


def tiff_ifd(entries: list[tuple[int, int, int, bytes]], next_ifd: int = 0) -> bytes:
    """A little-endian TIFF header and one IFD of ``(tag, type, count, 4-byte value)`` entries."""
    out = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        out += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\x00")
    return out + struct.pack("<I", next_ifd)


def flip(blob: bytes, start: float, n: int = 16, seed: int = 0) -> bytes:
    """XOR ``n`` bytes from relative position ``start`` with random non-zero values."""
    rng = np.random.default_rng(seed)
    out = bytearray(blob)
    at = int(len(out) * start)
    for i in range(at, min(len(out), at + n)):
        out[i] ^= int(rng.integers(1, 256))
    return bytes(out)


def animated(fmt: str, n: int = 3, **kw) -> bytes:
    frames = [Image.fromarray(np.roll(_PHOTO, 7 * i, axis=1)) for i in range(n)]
    return save(frames[0], fmt, save_all=True, append_images=frames[1:], **kw)


# --- the corpus ------------------------------------------------------------------------------


def cases() -> list[Case]:
    photo, hole = _PHOTO, _HOLE
    im = Image.fromarray(photo)
    m = mask_png(hole)
    jpg, pngb = save(im, "JPEG", quality=90), png(photo)
    tif, webp = save(im, "TIFF"), save(im, "WEBP", quality=90)
    rot = np.ascontiguousarray(photo[:, :48])  # 64 high, 48 wide: EXIF 6 shows it 48 high, 64 wide
    out: list[Case] = []

    def add(kind, key, data, status, reason="", mask=m):
        out.append(Case(key, data, status, reason, mask, kind))

    # truncated and corrupt files of every format
    add("truncated", "trunc/half-jpeg.jpg", jpg[: len(jpg) // 2], "failed", r"truncated JPEG data")
    add("truncated", "trunc/header-jpeg.jpg", jpg[:20], "failed", r"looks like JPEG but its header is truncated or corrupt")
    add("truncated", "trunc/half-png.png", pngb[: len(pngb) // 2], "failed", r"truncated PNG data")
    add("truncated", "trunc/header-png.png", pngb[:30], "failed", r"looks like PNG but its header is truncated")
    add("truncated", "trunc/half-tiff.tif", tif[: len(tif) // 2], "failed", r"truncated TIFF data")
    add("truncated", "trunc/header-tiff.tif", tif[:6], "failed", r"looks like TIFF but its header is truncated")
    add("truncated", "trunc/half-webp.webp", webp[: len(webp) // 2], "failed", r"WEBP.*truncated|truncated.*WEBP")
    add("truncated", "trunc/zero-byte.png", b"", "failed", r"empty file \(0 bytes\)")
    add("corrupt", "corrupt/idat.png", flip(pngb, 0.5), "failed", r"corrupt PNG data")
    add("corrupt", "corrupt/scan.jpg", flip(jpg, 0.6), "ok")  # libjpeg conceals damaged scan data
    add("corrupt", "corrupt/sof-zero.jpg", jpeg_claiming(0, 0), "failed", r"JPEG.*(corrupt|truncated)")
    add("corrupt", "corrupt/ifd.tif", tif[:10] + flip(tif[10:], 0.0, 64), "failed",
        r"looks like TIFF but its header is truncated or corrupt")
    add("corrupt", "corrupt/strip-offset.tif", tiff_patched(tif, {273: 10**8}), "failed", r"truncated TIFF data")
    add("corrupt", "corrupt/vp8.webp", flip(webp, 0.5, 64), "ok")  # WebP has no checksum: decodes to noise
    add("corrupt", "corrupt/text.jpg", b"<html><body>404 Not Found</body></html>\n", "failed",
        r"not a decodable image \(\d+ bytes, starts with")
    add("corrupt", "corrupt/random.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "failed",
        r"looks like PNG but its header is truncated or corrupt")

    # decompression bombs: huge dimensions in a tiny file, refused from the header
    add("bomb", "bomb/header-100k.png", png_claiming(100_000, 100_000), "failed",
        r"100000x100000 = 10,000,000,000 pixels, above the limit of 100,000,000")
    add("bomb", "bomb/zeros-20k.png", bomb_png(20_000), "failed", r"20000x20000 = 400,000,000 pixels, above the limit")
    add("bomb", "bomb/thin.png", png_claiming(1, 200_000_000), "failed", r"1x200000000 .*above the limit")
    add("bomb", "bomb/header-jpeg.jpg", jpeg_claiming(65_000, 65_000), "failed", r"65000x65000 .*above the limit")
    add("bomb", "bomb/header-tiff.tif", tiff_claiming(100_000, 100_000), "failed", r"100000x100000 .*above the limit")
    add("bomb", "bomb/header-webp.webp", webp_claiming(16_384, 16_384), "failed", r"16384x16384 .*above the limit")
    add("bomb", "bomb/header-bmp.bmp", bmp_claiming(100_000, 100_000), "failed", r"100000x100000 .*above the limit")
    add("bomb", "bomb/gif-named.png", gif_claiming(60_000, 60_000), "failed", r"60000x60000 .*above the limit")

    # absurd EXIF: the photo is restored, the orientation taken as 1 (none)
    for name, entry in [("orientation-9", (0x0112, 3, 1, struct.pack("<H", 9))),
                        ("orientation-0", (0x0112, 3, 1, struct.pack("<H", 0))),
                        ("orientation-65535", (0x0112, 3, 1, struct.pack("<H", 65535))),
                        ("orientation-ascii", (0x0112, 2, 4, b"six\x00")),
                        ("orientation-many", (0x0112, 3, 1_000_000, struct.pack("<I", 8)))]:
        add("exif", f"exif/{name}.jpg", exif_jpeg(tiff_ifd([entry])), "ok")
    add("exif", "exif/ifd-past-end.jpg", exif_jpeg(b"II*\x00" + struct.pack("<I", 10_000_000)), "ok")
    add("exif", "exif/ifd-loop.jpg", exif_jpeg(tiff_ifd([(0x0112, 3, 1, struct.pack("<H", 1))], next_ifd=8)), "ok")
    add("exif", "exif/garbage.jpg", exif_jpeg(bytes(range(256)) * 40), "ok")
    add("exif", "exif/huge-blob.jpg", exif_jpeg(tiff_ifd([(0x010E, 2, 60_000, struct.pack("<I", 26))])
                                               + b"A" * 60_000), "ok")
    huge_png = pngb[:33] + _chunk(b"eXIf", tiff_ifd([(0x0112, 3, 1, struct.pack("<H", 6))]) + b"\x00" * 4_000_000) \
        + pngb[33:]
    add("exif", "exif/huge-exif-chunk.png", huge_png, "ok",
        mask=mask_png(np.ascontiguousarray(np.rot90(hole, -1))))  # orientation 6 of a square image
    exif6 = Image.Exif()
    exif6[0x0112] = 6
    add("exif", "exif/rotated-6-raw-size-mask.jpg", save(Image.fromarray(rot), "JPEG", exif=exif6.tobytes()), "ok",
        mask=mask_png(hole[:, :48]))

    # degenerate sizes
    one = np.full((1, 1, 3), 90, np.uint8)
    add("tiny", "tiny/1x1-full-mask.png", png(one), "failed", r"mask covers the whole image",
        mask=mask_png(np.ones((1, 1), bool)))
    add("tiny", "tiny/1x1-no-mask.png", png(one), "skipped", r"empty mask", mask=None)
    add("tiny", "tiny/1x64.png", png(photo[:1]), "ok", mask=mask_png(hole[:1] | (np.arange(SIDE) == 30)))
    add("tiny", "tiny/64x1.png", png(photo[:, :1]), "ok", mask=mask_png((np.arange(SIDE) == 30)[:, None]))
    add("tiny", "tiny/2x2.png", png(photo[:2, :2]), "ok", mask=mask_png(np.eye(2, dtype=bool) & [[True, False]]))
    add("tiny", "tiny/1x4096.png", png(np.repeat(photo[:1], 64, axis=1)),
        "ok", mask=mask_png(np.arange(4096)[None, :] % 512 == 3))

    # sample depth and modes
    gray16 = (photo[..., 0].astype(np.uint16) * 257)
    add("depth", "depth/16bit-tiff.tif", save(Image.fromarray(gray16), "TIFF"), "ok")
    add("depth", "depth/float.tif", save(Image.fromarray(photo[..., 0].astype(np.float32) / 255), "TIFF"), "ok")
    add("depth", "depth/float16.tif", _tifffile_bytes(photo[..., 0].astype(np.float16) / 255), "failed",
        r"16-bit float TIFF samples: only 8- and 16-bit unsigned samples are supported")
    add("depth", "depth/int32.tif", save(Image.fromarray(photo[..., 0].astype(np.int32)), "TIFF"), "ok")
    add("depth", "depth/int64.tif", _tifffile_bytes(photo[..., 0].astype(np.int64)), "failed",
        r"64-bit signed TIFF samples")
    add("depth", "depth/16bit-png.png", png(gray16), "ok")
    add("depth", "depth/48bit.png", _png16_rgb(photo), "ok")
    add("depth", "depth/48bit-truncated.png", _png16_rgb(photo)[:-200], "failed", r"truncated")
    add("mode", "mode/cmyk-jpeg.jpg", save(im.convert("CMYK"), "JPEG", quality=90), "ok")
    add("mode", "mode/cmyk-tiff.tif", save(im.convert("CMYK"), "TIFF"), "ok")
    add("mode", "mode/palette.png", save(im.quantize(32), "PNG"), "ok")
    pal = im.quantize(32)
    pal.putpixel((0, 0), 31)
    add("mode", "mode/palette-transparent.png", save(pal, "PNG", transparency=31), "ok", mask=None)
    la = np.dstack([photo[..., 1], np.where(hole, 0, 255).astype(np.uint8)])
    add("mode", "mode/la-alpha-hole.png", save(Image.fromarray(la, "LA"), "PNG"), "ok", mask=None)
    add("mode", "mode/1bit.png", save(im.convert("1"), "PNG"), "ok")
    add("mode", "mode/lab.tif", save(im.convert("LAB"), "TIFF"), "ok")
    add("mode", "mode/ycbcr-jpeg.tif", save(im, "TIFF", compression="jpeg"), "ok")
    add("mode", "mode/still.webp", webp, "ok")

    # animations: refused, not silently cut to one frame
    add("animated", "anim/three-frames.gif", animated("GIF"), "skipped", r"not an image \(extension '.gif'\)")
    add("animated", "anim/gif-named.png", animated("GIF"), "failed", r"animated GIF \(more than one frame\)")
    add("animated", "anim/animated.webp", animated("WEBP", lossless=True), "failed", r"animated WEBP \(3 frames\)")
    add("animated", "anim/apng.png", animated("PNG"), "failed", r"animated PNG \(3 frames\)")

    # masks of the wrong size or mode
    add("mask", "mask/wrong-size.png", pngb, "failed", r"mask is 10x10 but image is 64x64",
        mask=mask_png(np.ones((10, 10), bool)))
    add("mask", "mask/transposed.png", png(photo[:, :48]), "failed", r"mask is 64x48 but image is 48x64",
        mask=mask_png(hole[:48, :]))
    add("mask", "mask/colour.png", pngb, "ok", mask=png(np.dstack([hole * 200, hole * 0, hole * 0]).astype(np.uint8)))
    add("mask", "mask/gray16.png", pngb, "ok", mask=png(hole.astype(np.uint16) * 1))
    add("mask", "mask/colour16.png", pngb, "ok", mask=_png16_rgb(np.dstack([hole] * 3).astype(np.uint8)))
    add("mask", "mask/text.png", pngb, "failed", r"cannot read mask: not a decodable image", mask=b"hello\n")
    add("mask", "mask/zero-byte.png", pngb, "failed", r"cannot read mask: empty file", mask=b"")
    add("mask", "mask/truncated.png", pngb, "failed", r"cannot read mask: truncated PNG",
        mask=mask_png(hole)[:80])
    add("mask", "mask/bomb.png", pngb, "failed", r"cannot read mask: image is 100000x100000",
        mask=png_claiming(100_000, 100_000))
    add("mask", "mask/animated.png", pngb, "failed", r"cannot read mask: animated PNG", mask=animated("PNG"))
    add("mask", "mask/full.png", pngb, "failed", r"mask covers the whole image", mask=mask_png(np.ones_like(hole)))
    add("mask", "mask/empty.png", pngb, "skipped", r"empty mask: image copied through unchanged",
        mask=mask_png(np.zeros_like(hole)))

    # object keys
    add("key", "keys/with space/my photo.png", pngb, "ok")
    add("key", "keys/unicodé/фото 🌅.png", pngb, "ok")
    add("key", "keys/line\nbreak.png", pngb, "ok")
    add("key", "keys/glob[0-9]*?.png", pngb, "ok")
    add("key", "keys/hash#frag%20.png", pngb, "ok")
    add("key", "keys/" + "l" * 200 + ".png", pngb, "ok")
    add("key", "keys/UPPER.PNG", pngb, "ok", mask=None)
    add("key", "keys/back\\slash.png", pngb, "failed", r"backslash", mask=None)
    add("key", "keys/.hidden.png", pngb, "absent", mask=None)
    return out


def _tifffile_bytes(arr: np.ndarray, **kw) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, **kw)
    return buf.getvalue()


def _png16_rgb(rgb8: np.ndarray) -> bytes:
    """A 48-bit RGB PNG (OpenCV writes 16-bit colour; Pillow cannot)."""
    import cv2

    arr = rgb8.astype(np.uint16) * 257
    return cv2.imencode(".png", np.ascontiguousarray(arr[..., ::-1]))[1].tobytes()


def hostile_s3_keys() -> dict[str, tuple[str, str]]:
    """Keys (relative to the source prefix) only an object store can hold: ``{key: (status, reason)}``."""
    empty = r"has an empty path segment \('//' or a leading '/'\): it cannot be mapped to an output"
    return {
        "../escape.png": ("failed", r"object key contains '\.\.': '\.\./escape\.png'"),
        "deep/../../escape2.png": ("failed", r"object key contains '\.\.'"),
        "sub/../sibling.png": ("failed", r"object key contains '\.\.'"),
        "/leading-slash.png": ("failed", "object key '/leading-slash.png' " + empty),
        "double//slash.png": ("failed", "object key 'double//slash.png' " + empty),
        "dot/./x.png": ("failed", r"not in normal form \(it would be read and written as 'dot/x\.png'\)"),
        "plain/ok.png": ("ok", ""),
    }


def build_corpus(root: str) -> list[Case]:
    """Write every case (and its sibling mask) under ``root``; returns the cases."""
    all_cases = cases()
    for case in all_cases:
        write(root, case.key, case.data)
        if case.mask is not None:
            stem, _ = os.path.splitext(case.key)
            write(root, f"{stem}_mask.png", case.mask)
    return all_cases
