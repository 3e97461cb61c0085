"""Fuzz the decoding entry points: any bytes give a sane image or the library's typed error.

Inputs are valid small encodings of every format the pipeline meets (PNG in five modes, JPEG with
EXIF orientation and CMYK, TIFF, WebP, BMP, GIF, APNG, 16-bit colour PNG and TIFF, RGB + near-infrared
TIFFs in both planar layouts, a rotated 16-bit TIFF, a JPEG with an ICC profile, a JPEG, WebP and TIFF with
XMP and IPTC), mutated by byte
flips, truncations, insertions and big integers written over header fields, plus plain random bytes. The only allowed
outcomes of :func:`decode_image` / :func:`decode_mask`: an array of a sane shape and dtype, or
:class:`~inpaint_core.errors.InpaintError` (``MaskError`` for masks). Bounded: a pixel limit of
1 MP on the decoders, an address-space limit of +1.5 GiB on the process, a 10 s alarm per example,
and ``INPAINT_FUZZ_EXAMPLES`` examples per test (default 2000: 6,000 decodes, about 15 s on 2 cores).
"""

from __future__ import annotations

import io
import os
import resource
import signal
import struct
import time

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from inpaint_core.errors import InpaintError, MaskError
from inpaint_core.imageio import (VALUE_TYPES, _cloud_optimized, apply_orientation, decode_image, decode_mask,
                                  encode_image, to_8bit)

from ..test_imageio import IIM, XMP, _with_app13

MAX_PIXELS = 1_000_000
EXAMPLES = int(os.environ.get("INPAINT_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=5000, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
STATS = {"examples": 0, "decoded": 0, "refused": 0, "seconds": 0.0}


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def _seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    frames = [rgb, rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    pal = rgb.quantize(8)
    return [
        _save(rgb, "PNG"), _save(rgb.convert("L"), "PNG"), _save(rgb.convert("LA"), "PNG"),
        _save(pal, "PNG", transparency=3), _save(Image.fromarray(np.arange(192, dtype=np.uint16).reshape(12, 16)), "PNG"),
        _save(rgb, "PNG", exif=exif.tobytes()),
        _save(rgb, "JPEG", quality=80), _save(rgb, "JPEG", exif=exif.tobytes()), _save(rgb.convert("CMYK"), "JPEG"),
        _save(rgb, "JPEG", progressive=True),
        _save(rgb, "TIFF"), _save(rgb, "TIFF", compression="tiff_lzw"), _save(rgb.convert("F"), "TIFF"),
        _save(rgb, "WEBP", quality=80), _save(rgb, "WEBP", lossless=True), _save(rgb, "BMP"),
        _save(rgb, "GIF"), _save(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        _save(frames[0], "PNG", save_all=True, append_images=frames[1:]),
        # 16-bit colour, which OpenCV decodes (Pillow would truncate it): 48- and 64-bit PNG, 48-bit TIFF
        *(cv2.imencode(ext, rng.integers(0, 65536, (12, 16, c), dtype=np.uint16))[1].tobytes()
          for ext, c in ((".png", 3), (".png", 4), (".tiff", 3))),
        # what tifffile reads: RGB + near-infrared, planar 16-bit (georeferenced, tiled, deflate), a
        # rotated 16-bit grid, float elevation and reflectance (nodata, NaN), an int16 SRTM tile; and a photo with
        # an ICC profile
        *_tifffile_seeds(rng),
        _save(rgb, "JPEG", icc_profile=_srgb_profile(), exif=exif.tobytes()),
        # an archive's captions and rights: XMP, and IPTC in Photoshop's APP13 (JPEG) or tag 33723 (TIFF)
        _with_app13(_save(rgb, "JPEG", xmp=XMP), IIM), _save(rgb, "WEBP", xmp=XMP),
        _save(rgb, "TIFF", tiffinfo={700: XMP, 33723: IIM + b"\x00"}),
        # a scan's print size and description: dpi in a PNG's pHYs, a JPEG's JFIF and a TIFF with its
        # ImageDescription, Artist and Copyright
        _save(rgb, "PNG", dpi=(600, 600)), _save(rgb, "JPEG", dpi=(300, 150)),
        _save(rgb, "TIFF", dpi=(600, 600), tiffinfo={270: "Kirchenbuch", 315: "Archiv", 33432: "(c)"}),
        # a PNG's text chunks (tEXt, zTXt, iTXt) and a JPEG's comments
        _save(rgb, "PNG", pnginfo=_png_text()), _save(rgb, "JPEG", comment=b"Box 12"),
        # an orthophoto's layout: JPEG tiles, an internal nodata mask, an overview and its mask; and the
        # same laid out as a cloud-optimised GeoTIFF (IFDs first, framed tiles)
        _orthophoto(np.asarray(rgb)), _cloud_optimized(_orthophoto(np.asarray(rgb))),
        # a camera's TIFF: Exif and GPS IFDs pointed to from its first IFD
        _camera_tiff(np.asarray(rgb)),
        # documents: a two-page fax (CCITT G4), a big-endian one with a 16-bit page and a page name
        *DOCUMENTS,
        # BigTIFFs, little- and big-endian: georeferenced, tiled, with a mask and an overview
        *(_bigtiff(np.asarray(rgb), order) for order in "<>"),
    ]


def _bigtiff(rgb: np.ndarray, order: str) -> bytes:
    import tifffile

    geo = [(33922, "d", 6, (0, 0, 0, 5e5, 4e6, 0), True), (42113, "s", 0, "0", True)]
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf, bigtiff=True, byteorder=order) as tif:
        tif.write(rgb, photometric="rgb", tile=(16, 16), compression="zlib", extratags=geo, metadata=None)
        tif.write(rgb[..., 0] > 9, subfiletype=4, photometric=4, compression="zlib", metadata=None)
        tif.write(rgb[::2, ::2].copy(), photometric="rgb", subfiletype=1, metadata=None)
    return buf.getvalue()


def _documents() -> list[bytes]:
    """Multi-page TIFFs, whose pages past the first a TIFF output carries."""
    import tifffile

    rng = np.random.default_rng(1)
    fax = [Image.fromarray(rng.integers(0, 2, (16, 24), dtype=np.uint8) * 255).convert("1") for _ in range(2)]
    big = io.BytesIO()
    with tifffile.TiffWriter(big, byteorder=">") as tif:
        tif.write(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8), photometric="rgb", metadata=None)
        tif.write(rng.integers(0, 65535, (8, 10), dtype=np.uint16), compression="zlib", metadata=None,
                  extratags=[(285, "s", 0, "two", True)])
    return [_save(fax[0], "TIFF", compression="group4", save_all=True, append_images=fax[1:]), big.getvalue()]


DOCUMENTS = _documents()


def _camera_tiff(rgb: np.ndarray) -> bytes:
    from PIL.TiffImagePlugin import IFDRational

    from inpaint_core.imageio import decode_image, encode_image

    exif = Image.Exif()
    exif[0x010F] = "Camera Co"
    exif.get_ifd(0x8769)[0x9003], exif.get_ifd(0x8769)[0x829A] = "2020:01:02 03:04:05", IFDRational(1, 250)
    exif.get_ifd(0x8825)[1] = "N"
    return encode_image(rgb, "tiff", exif=decode_image(_save(Image.fromarray(rgb), "JPEG", exif=exif.tobytes())).exif)


def _orthophoto(rgb: np.ndarray) -> bytes:
    tifffile = pytest.importorskip("tifffile")
    valid = np.ones(rgb.shape[:2], bool)
    valid[2:6, 3:9] = False
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        tif.write(rgb, photometric="rgb", tile=(16, 16), compression="jpeg", metadata=None)
        tif.write(valid, subfiletype=4, photometric=4, compression="zlib", metadata=None)
        tif.write(rgb[::2, ::2].copy(), photometric="rgb", compression="jpeg", subfiletype=1, metadata=None)
        tif.write(valid[::2, ::2].copy(), subfiletype=5, photometric=4, compression="zlib", metadata=None)
    return buf.getvalue()


def _png_text():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Hafen")
    info.add_text("Description", "Hafen, 1902", zip=True)
    info.add_itxt("Author", "Jürgen Müller", lang="de", zip=True)
    return info


def _tifffile_seeds(rng) -> list[bytes]:
    tifffile = pytest.importorskip("tifffile")
    bands = rng.integers(0, 65536, (12, 16, 4), dtype=np.uint16)
    geo = [(33922, "d", 6, (0, 0, 0, 5e5, 4e6, 0), True), (34735, "H", 4, (1, 1, 0, 0), True)]
    out = []
    dem = bands[..., 0].astype(np.float32) - 9000
    dem[3:6, 4:9], dem[0, 0] = -9999, np.nan
    for arr, kw in (((bands // 257).astype(np.uint8), dict(extrasamples=(0,))),
                    (np.moveaxis(bands, -1, 0), dict(planarconfig="separate", extrasamples=(0,), extratags=geo)),
                    (bands, dict(extrasamples=(0,), tile=(16, 16), compression="zlib")),
                    (bands[..., :3], dict(extratags=[(274, "H", 1, 6, True)])),
                    (dem, dict(photometric="minisblack", predictor=3, compression="zlib",
                               extratags=geo + [(42113, "s", 0, "-9999", True)])),
                    (np.where(bands > 60000, np.nan, bands / 65535.0), dict(extrasamples=(0,))),
                    ((bands[..., 1].astype(np.int32) - 32768).astype(np.int16),  # an SRTM tile
                     dict(photometric="minisblack", extratags=[(42113, "s", 0, "-32768", True)]))):
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr, **{"photometric": "rgb", **kw})
        out.append(buf.getvalue())
    return out


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


SEEDS = _seeds()


@st.composite
def mutated(draw, seeds: list[bytes] = SEEDS) -> bytes:
    """A valid seed (of ``seeds``) with 1-4 mutations."""
    blob = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "bigint", "zero"]))
        at = draw(st.integers(0, max(0, len(blob) - 1)))
        if not blob:
            break
        if op == "flip":
            blob[at] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del blob[at:]
        elif op == "insert":
            blob[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "bigint":  # header fields: sizes, offsets, counts, lengths
            value = draw(st.sampled_from([0, 1, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 65500, 100_000]))
            blob[at:at + 4] = struct.pack(draw(st.sampled_from([">I", "<I"])), value)
        else:
            blob[at:at + 16] = bytes(min(16, len(blob) - at))
    return bytes(blob)


SIGNATURES = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"II*\x00", b"MM\x00*", b"GIF89a", b"BM",
              b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"RIFF\x00\x00\x00\x00WEBPVP8L", b"RIFF\x00\x00\x00\x00WEBPVP8X"]
ANY_BYTES = st.one_of(
    mutated(),
    st.binary(max_size=512),
    st.builds(lambda sig, rest: sig + rest, st.sampled_from(SIGNATURES), st.binary(max_size=512)),
)


@pytest.fixture(scope="module", autouse=True)
def bounded():
    """Address-space limit (+1.5 GiB over now) and a 10 s alarm per example; figures printed at the end."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as fh:
        vsize = int(fh.read().split()[0]) * resource.getpagesize()
    limit = vsize + (3 << 29)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, old)
        print(f"\nfuzz: {STATS['examples']} examples in {STATS['seconds']:.1f} s of decoding "
              f"({STATS['decoded']} decoded, {STATS['refused']} refused with a typed error)")


def _alarm(signum, frame):
    raise TimeoutError("decoding took more than 10 s")


def _timed(fn, data):
    STATS["examples"] += 1
    signal.alarm(10)
    t = time.perf_counter()
    try:
        return fn(data)
    finally:
        STATS["seconds"] += time.perf_counter() - t
        signal.alarm(0)


@FUZZ
@given(ANY_BYTES)
def test_decode_image_gives_an_image_or_a_typed_error(data):
    try:
        img = _timed(lambda d: decode_image(d, max_pixels=MAX_PIXELS), data)
    except InpaintError as exc:
        STATS["refused"] += 1
        assert str(exc), "a typed error must say why"
        return
    STATS["decoded"] += 1
    h, w = img.rgb.shape[:2]
    assert img.rgb.dtype == np.uint8 and img.rgb.ndim == 3 and img.rgb.shape[2] == 3
    assert 1 <= h * w <= MAX_PIXELS and img.size == (w, h)
    assert img.alpha is None or (img.alpha.shape == (h, w) and img.alpha.dtype == np.uint8)
    assert img.rgb16 is None or (img.rgb16.shape == (h, w, 3) and img.rgb16.dtype == np.uint16
                                 and np.array_equal(to_8bit(img.rgb16), img.rgb))
    assert img.values is None or (img.values.shape == (h, w, 3) and img.values.dtype in VALUE_TYPES
                                  and img.rgb16 is not None and img.bit_depth in (16, 32, 64))
    assert 1 <= img.orientation <= 8
    assert sorted(img.raw_size) == sorted((w, h))
    assert img.xmp is None or isinstance(img.xmp, bytes)
    assert img.iptc is None or img.iptc[:1] == b"\x1c"


@FUZZ
@given(mutated(DOCUMENTS))
def test_a_documents_pages_go_into_a_tiff_output_or_a_typed_error(data):
    """Whatever a document's later IFDs hold, its TIFF output is written with them or the row gets a
    typed error, and the output reads back with its first page as given."""
    try:
        img = _timed(lambda d: decode_image(d, max_pixels=MAX_PIXELS), data)
        out = encode_image(img.rgb, "tiff", gray=img.gray, pages_from=img.document, max_pixels=MAX_PIXELS)
    except InpaintError as exc:
        assert str(exc), "a typed error must say why"
        return
    again = decode_image(out, max_pixels=MAX_PIXELS)
    assert np.array_equal(again.rgb, img.rgb) and again.pages <= max(img.pages, 1) + 64


@FUZZ
@given(ANY_BYTES)
def test_decode_mask_gives_a_mask_or_a_mask_error(data):
    try:
        mask = _timed(lambda d: decode_mask(d, max_pixels=MAX_PIXELS), data)
    except MaskError as exc:
        STATS["refused"] += 1
        assert str(exc).startswith("cannot read mask") or str(exc)
        return
    STATS["decoded"] += 1
    assert mask.dtype == bool and mask.ndim == 2 and 1 <= mask.size <= MAX_PIXELS


def _exif_jpeg(ifd: bytes) -> bytes:
    blob = SEEDS[6]
    body = b"Exif\x00\x00" + ifd
    return blob[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + blob[2:]


@st.composite
def exif_blobs(draw) -> bytes:
    """A JPEG whose EXIF IFD has random entries around the orientation tag, random types and counts."""
    entries = draw(st.lists(st.tuples(st.sampled_from([0x0112, 0x0112, 0x8769, 0x010F, draw(st.integers(0, 0xFFFF))]),
                                      st.integers(0, 13), st.integers(0, 0xFFFFFFFF), st.binary(min_size=4, max_size=4)),
                            max_size=6))
    little = draw(st.booleans())
    e = "<" if little else ">"
    out = (b"II*\x00" if little else b"MM\x00*") + struct.pack(e + "I", draw(st.sampled_from([8, 8, 0, 4, 99999])))
    out += struct.pack(e + "H", len(entries))
    for tag, typ, count, value in entries:
        out += struct.pack(e + "HHI", tag, typ, count) + value
    out += struct.pack(e + "I", draw(st.sampled_from([0, 8, 10, 0xFFFFFFFF]))) + draw(st.binary(max_size=64))
    return _exif_jpeg(out)


@FUZZ
@given(exif_blobs())
def test_any_exif_gives_an_oriented_photo(data):
    img = _timed(lambda d: decode_image(d, max_pixels=MAX_PIXELS), data)  # the photo itself is intact
    STATS["decoded"] += 1
    assert 1 <= img.orientation <= 8
    assert img.size in ((16, 12), (12, 16)) and (img.size == (16, 12)) == (img.orientation <= 4)


@settings(max_examples=100, deadline=None, database=None)
@given(st.integers(-(2**31), 2**31), st.integers(1, 5), st.integers(1, 5), st.booleans())
def test_apply_orientation_any_value(orientation, h, w, colour):
    arr = np.arange(h * w * (3 if colour else 1), dtype=np.uint8).reshape((h, w, 3) if colour else (h, w))
    out = apply_orientation(arr, orientation)
    swapped = orientation in (5, 6, 7, 8)
    assert out.shape[:2] == ((w, h) if swapped else (h, w)) and out.flags.c_contiguous
    assert sorted(out.ravel().tolist()) == sorted(arr.ravel().tolist())
