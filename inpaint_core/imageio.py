"""Decode and encode image bytes at the edge of the library.

Everything the pipeline reads goes through :func:`decode_image` (photos) or :func:`decode_mask`
(masks); everything it writes goes through :func:`encode_image`. Bad inputs are turned into the
typed errors of :mod:`inpaint_core.errors` so one broken file becomes one failed manifest row.

Pixels leave this module as RGB ``uint8`` ``H×W×3`` with the EXIF orientation applied; masks leave
it as ``H×W`` ``bool`` with ``True`` = hole. A 16-bit PNG or TIFF also keeps its full samples
(``DecodedImage.rgb16``, ``uint16``): every stage works on the 8-bit view, and the restored image is
written back at 16 bits with each pixel the pipeline did not change exactly as it was, and the fill
lifted to 16 bits without its 8-bit steps. A TIFF's bands past colour and alpha (near-infrared)
are kept too (``DecodedImage.extra``), for a TIFF output to write back. A TIFF of values rather than
levels (float, signed or 32-bit samples: an elevation model, reflectance) keeps its samples
(``DecodedImage.values``) and is restored through a 16-bit proxy: its known range mapped onto
0..65535 (``rgb16``), every stage unchanged, and a TIFF output written in the source's sample type
with each pixel the pipeline did not change exactly as it was.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import struct
import warnings
import zlib
from dataclasses import dataclass, field, replace
from typing import Iterator

import cv2
import numpy as np
from PIL import Image, TiffImagePlugin, UnidentifiedImageError

from inpaint_core.dequantize import dequantize_fill
from inpaint_core.errors import DecodeError, ImageTooLargeError, MaskError, UnsupportedImageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".hgt"})
#: SRTM height files (``N37W122.hgt``): rows x columns of big-endian int16 metres, voids -32768, no
#: header (the size says which: 3 and 1 arc-second tiles, and 1 arc-second ones of half the columns)
HGT_SHAPES = {2 * h * w: (h, w) for h, w in ((1201, 1201), (3601, 3601), (3601, 1801))}
#: formats that hold a raster of values (:data:`VALUE_TYPES`) as they are: TIFF, and ``.hgt`` its int16
VALUE_FORMATS = ("tiff", "hgt")
DEFAULT_MAX_PIXELS = 100_000_000

_log = logging.getLogger(__name__)
_FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff"}
_ENCODE_FORMATS = ("png", "jpeg", "tiff", "webp", "bmp", "hgt")
_NO_ALPHA_FORMATS = ("jpeg", "bmp")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_HIGH_DEPTH_MODES = ("I", "F")  # plus every "I;16*" mode
#: formats :func:`encode_image` writes with 16-bit samples (OpenCV's PNG and TIFF encoders)
SIXTEEN_BIT_FORMATS = ("png", "tiff")
_EXIF_ORIENTATION_TAG = 0x0112
_TIFF_BITS_PER_SAMPLE = 258
_TIFF_SAMPLE_FORMAT = 339
_TIFF_SAMPLES_PER_PIXEL = 277
_TIFF_PHOTOMETRIC = 262
_TIFF_PLANAR_CONFIG = 284
_TIFF_ICC_PROFILE = 34675
_JPEG_EXIF_MAX = 65_527  # one APP1 segment: 65,533 bytes after its length, the "Exif\0\0" prefix first
_JPEG_XMP_MAX = 65_504  # one APP1 segment, after the "http://ns.adobe.com/xap/1.0/\0" prefix
_TIFF_XMP = 700
_TIFF_IPTC = 33723
_PHOTOSHOP = b"Photoshop 3.0\x00"  # a JPEG APP13's prefix; its 8BIM resource 0x0404 is the IPTC-IIM record
#: GeoTIFF (ModelPixelScale, ModelTiepoint, ModelTransformation, GeoKeyDirectory, GeoDoubleParams,
#: GeoAsciiParams) and GDAL (metadata, nodata) tags: what places a tile on the map
GEO_TAGS = (33550, 33922, 34264, 34735, 34736, 34737, 42112, 42113)
#: TIFF tags that say what an image is and whose, the same in EXIF's first IFD: ImageDescription,
#: Make, Model, DateTime, Artist, Copyright. A TIFF output carries them from a TIFF's tags or a
#: photo's EXIF; a PNG, JPEG or WebP output of a TIFF gets them as its EXIF.
DESCRIPTIVE_TAGS = (270, 271, 272, 306, 315, 33432)
_TIFF_X_RESOLUTION, _TIFF_Y_RESOLUTION, _TIFF_RESOLUTION_UNIT = 282, 283, 296
_TIFF_MASK = 4  # NewSubfileType's transparency-mask bit, and PhotometricInterpretation's mask
_TIFF_HEADERS = (b"II*\x00", b"MM\x00*")  # a classic TIFF's header (little-, big-endian): 4-byte offsets
_BIGTIFF = (b"II+\x00", b"MM\x00+")  # a BigTIFF's header: 8-byte offsets
_MASK_PAGES_LOOKED_AT = 64  # IFDs past the first searched for a GDAL nodata mask
_PNG_TEXT = (b"tEXt", b"zTXt", b"iTXt")  # a PNG's textual chunks
_TEXT_MAX = 1 << 22  # bytes of PNG text chunks or JPEG comments an output carries, at most
_TIFF_EXTRA_SAMPLES = 338
_TIFF_FLOAT = 3
#: sample types of TIFFs of values (elevation models, reflectance, counts), restored through a 16-bit
#: proxy and written back in their own type; and their (SampleFormat, bits) in the TIFF header
VALUE_TYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.int16, np.int32, np.uint32))
_VALUE_FORMATS = frozenset(({"u": 1, "i": 2, "f": _TIFF_FLOAT}[t.kind], t.itemsize * 8) for t in VALUE_TYPES)
_TIFF_WIDTH, _TIFF_LENGTH = 256, 257
# Formats whose extra frames are an animation: restoring one frame would silently drop the rest.
# (MPO photos and multi-page TIFF keep their first frame, which is the primary image by convention.)
_ANIMATION_FORMATS = ("GIF", "PNG", "WEBP")
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


#: TIFF compressions a TIFF output can keep (tifffile's names; the rest are written LZW)
TIFF_COMPRESSIONS = {1: None, 5: "lzw", 7: "jpeg", 8: "zlib", 32946: "zlib", 32773: "packbits", 34925: "lzma",
                     50000: "zstd", 50001: "webp"}
_PREDICTED = ("lzw", "zlib", "lzma", "zstd")  # compressions a predictor goes with


@dataclass(frozen=True)
class TiffStorage:
    """How a TIFF source stores its first page, for a TIFF output to store its pixels the same way.

    Attributes:
        compression: the TIFF Compression code (1 none, 5 LZW, 7 JPEG, 8 deflate, 50000 ZSTD, ...).
        predictor: the Predictor (1 none, 2 horizontal, 3 floating point).
        tile: ``(rows, columns)`` of a tile, or ``None`` for strips.
        overviews: ``(rows, columns)`` of each reduced-resolution page (a COG's or ``gdaladdo``'s
            overviews), largest first; a TIFF output has them made again from its restored pixels.
        bilevel: one sample of 1 bit (a fax, a document scan): a gray TIFF output is written 1-bit
            too, its fill made black or white at mid-gray, CCITT G3/G4 again where the source's was.
        cloud_optimized: tiled with every IFD (its mask's and overviews' too) before its image data,
            as a cloud-optimised GeoTIFF: a TIFF output is laid out the same way
            (:func:`_cloud_optimized`).
    """

    compression: int = 5
    predictor: int = 1
    tile: tuple[int, int] | None = None
    overviews: tuple[tuple[int, int], ...] = ()
    bilevel: bool = False
    cloud_optimized: bool = False


@dataclass
class DecodedImage:
    """A decoded photo, oriented as a viewer would show it.

    Attributes:
        rgb: ``H×W×3`` uint8, EXIF orientation applied.
        alpha: ``H×W`` uint8 in the same orientation, or ``None`` when the source had none.
        mode: The original PIL mode (``"L"``, ``"P"``, ``"RGBA"``, ``"CMYK"``, ...).
        format: The PIL format name (``"JPEG"``, ``"PNG"``, ...).
        orientation: EXIF orientation that was applied (1 = none, 2..8 as in the EXIF spec).
        raw_size: ``(w, h)`` of the stored pixels, before orientation.
        gray: The source was single-channel, so the output should be written single-channel.
        rgb16: ``H×W×3`` uint16 of a 16-bit PNG or TIFF (``rgb`` is then its nearest 8-bit value,
            ``round(v / 257)``), in the same orientation; ``None`` for 8-bit sources.
        alpha16: the 16-bit alpha of such a source, or ``None``.
        extra: ``H×W×k`` samples past colour and alpha, at the source's depth (uint8 or uint16), in
            the same orientation: the bands of a TIFF that are not colour or transparency (a
            satellite tile's near-infrared band, say); ``None`` when there are none.
        extra_samples: the TIFF ExtraSamples code of each sample past colour, in the file's order
            (0 an extra band, 1 or 2 the alpha), so a TIFF output puts the bands back where they were.

        tiff_tags: a TIFF's georeferencing and GDAL tags (:data:`GEO_TAGS`; not of a TIFF stored
            rotated: its grid is not the one they place) and its :data:`DESCRIPTIVE_TAGS`, as
            ``(code, datatype, count, value)`` (text as NUL-terminated UTF-8 bytes), for a TIFF
            output to carry; ``()`` for other formats.
        icc_profile: the embedded ICC colour profile (a Display P3 or Adobe RGB photo's colours
            mean something else in sRGB), for the output to carry; ``None`` when there is none.
        exif: the EXIF of a JPEG, PNG or WebP (camera, capture time, GPS) as TIFF-structured bytes,
            ready for the output: its Orientation set to 1 (the pixels are decoded turned) and its
            thumbnail cut off (it shows the unrestored image); of a TIFF, its
            :data:`DESCRIPTIVE_TAGS` and its Exif and GPS IFDs (MakerNote left out) made into EXIF;
            ``None`` when absent or unreadable.
        dpi: ``(x, y)`` pixels per inch as shown (after orientation), from a JPEG's JFIF or EXIF, a
            PNG's pHYs, a TIFF's resolution tags (in inches or centimetres) or a BMP's header: a
            scan's print size; ``None`` when the file gives none, or only an aspect ratio.
        nodata_mask: ``H×W`` bool, ``True`` where a TIFF's internal mask (GDAL's per-dataset mask: an
            IFD of the first page's size with NewSubfileType and PhotometricInterpretation "mask",
            as ``GDAL_TIFF_INTERNAL_MASK`` and orthophoto COGs write it) says a pixel is nodata, in
            the same orientation; ``None`` when there is none.
        pages: the full-resolution images of a multi-page TIFF (a document's pages; not its
            overviews or masks), counted among its first 65 IFDs; 1 for other sources. Only the
            first is decoded.
        document: a multi-page TIFF's bytes (``None`` when ``pages`` is 1), for a TIFF output to
            carry its pages past the first as they are stored (:func:`encode_image`'s ``pages_from``).
        jpeg_tables: a JPEG's quantization tables and chroma subsampling (Pillow's code: 0 = 4:4:4,
            1 = 4:2:2, 2 = 4:2:0), for a JPEG output to be compressed as its source was
            (:func:`encode_image`'s ``jpeg_tables``); ``None`` for other formats.
        tiff_storage: how a TIFF stores its pixels (:class:`TiffStorage`: compression, predictor,
            tiles, overviews), for a TIFF output to store them the same way (of a TIFF stored
            rotated, only its compression and predictor); ``None`` for other formats.
        text: a PNG's ``tEXt``, ``zTXt`` and ``iTXt`` chunks other than its XMP (Title, Author,
            Description, Copyright, Comment, a generator's parameters) and a JPEG's ``COM`` comments,
            as ``(type, payload)`` pairs as stored, in the file's order (4 MiB at most), for an
            output of the same kind to carry.
        xmp: the XMP packet of a JPEG, PNG, WebP or TIFF (captions, keywords, rights, ratings), ready
            for the output: its ``tiff:Orientation`` set to 1 and its thumbnails cut out, as for
            ``exif``; ``None`` when absent or not XMP.
        iptc: the IPTC-IIM records of a JPEG (its APP13's resource 0x0404) or TIFF (tag 33723):
            caption, byline, copyright notice, keywords; ``None`` when absent.
        nodata: a TIFF's GDAL_NODATA text (``"0"``, ``"-9999"``): the value its missing pixels hold.
            A float TIFF without the tag whose colour samples hold NaN gets ``"nan"``: NaN is the
            missing value of float rasters.
        values: ``H×W×3`` colour samples of a TIFF of values (:data:`VALUE_TYPES`: float32, float64,
            int16, int32, uint32; NaN and infinities as stored), in the same orientation (of a gray
            one, a read-only view of its one plane); ``None`` for 8- and 16-bit unsigned sources.
            ``rgb16`` is then their 16-bit proxy (:func:`values_to_16bit` over ``value_span``) and
            ``rgb`` its 8-bit view.
        value_span: ``(lo, hi)``, the least and greatest finite colour sample of such a TIFF that is
            not its nodata value: the values the proxy's 0 and 65535 stand for.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    mode: str
    format: str
    orientation: int
    raw_size: tuple[int, int]
    gray: bool
    rgb16: np.ndarray | None = None
    alpha16: np.ndarray | None = None
    extra: np.ndarray | None = None
    extra_samples: tuple[int, ...] = ()
    tiff_tags: tuple[tuple, ...] = ()
    icc_profile: bytes | None = None
    exif: bytes | None = None
    nodata: str | None = None
    values: np.ndarray | None = None
    xmp: bytes | None = None
    iptc: bytes | None = None
    value_span: tuple[float, float] | None = None
    dpi: tuple[float, float] | None = None
    text: tuple[tuple[bytes, bytes], ...] = ()
    nodata_mask: np.ndarray | None = None
    tiff_storage: TiffStorage | None = None
    pages: int = 1
    document: bytes | None = field(default=None, repr=False)
    jpeg_tables: tuple[tuple[tuple[int, ...], ...], int] | None = field(default=None, repr=False)

    @property
    def bit_depth(self) -> int:
        """Bits per sample of the source: 8 or 16; 16, 32 or 64 for a TIFF of values."""
        if self.values is not None:
            return self.values.dtype.itemsize * 8
        return 8 if self.rgb16 is None else 16

    @property
    def samples(self) -> np.ndarray:
        """``H×W×3`` colour samples at the source's own depth and type: ``values``, ``rgb16`` or ``rgb``."""
        return self.values if self.values is not None else self.rgb16 if self.rgb16 is not None else self.rgb

    @property
    def sample_format(self) -> str:
        """``"uint"`` (8 or 16 bits, levels), or a TIFF of values' ``"int"``, ``"uint"`` or ``"float"``."""
        if self.values is None:
            return "uint"
        return {"f": "float", "i": "int"}.get(self.values.dtype.kind, "uint")

    @property
    def size(self) -> tuple[int, int]:
        """``(w, h)`` after orientation."""
        return (int(self.rgb.shape[1]), int(self.rgb.shape[0]))


def image_format_for_extension(ext: str) -> str:
    """Map a file extension to the format name :func:`encode_image` takes.

    Args:
        ext: ``".jpg"``, ``"JPG"``, ``".tif"``, ...

    Returns:
        One of ``"png"``, ``"jpeg"``, ``"tiff"``, ``"webp"``, ``"bmp"``.

    Raises:
        UnsupportedImageError: The extension is not in :data:`IMAGE_EXTENSIONS`.
    """
    norm = "." + ext.lower().lstrip(".")
    if norm not in IMAGE_EXTENSIONS:
        raise UnsupportedImageError(
            f"unsupported image extension {ext!r}; known: {', '.join(sorted(IMAGE_EXTENSIONS))}"
        )
    return _normalise_format(norm[1:])


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to pixels, as ``PIL.ImageOps.exif_transpose`` does.

    Args:
        array: ``H×W`` or ``H×W×C`` stored (raw) pixels.
        orientation: EXIF orientation 1..8; any other value is treated as 1, like Pillow does.

    Returns:
        A contiguous array in display orientation (``W×H[×C]`` for 5..8).
    """
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, k=1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(array)) if op else array


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int | None = None) -> DecodedImage:
    """Decode image bytes into oriented RGB (+ alpha).

    Args:
        data: The encoded file. It is not modified.
        max_pixels: Refuse images with more pixels than this, judged from the header before any
            pixel is decoded (our own parse for PNG, JPEG, TIFF, WebP, GIF and BMP, so the refusal
            costs microseconds). Pillow's own bomb guard (``2 × Image.MAX_IMAGE_PIXELS``) still applies.
        min_side: Only for consumers that downscale anyway (training crops): a JPEG may be decoded
            at 1/2, 1/4 or 1/8 of its size (the decoder's DCT scaling, several times faster) as long
            as its shorter side stays at least ``min_side``. Other formats decode at full size.

    Returns:
        A :class:`DecodedImage`. Of an MPO photo or a multi-page TIFF, the first frame (the primary
        image by the formats' convention).

    Raises:
        DecodeError: Empty, not an image, truncated or corrupt.
        ImageTooLargeError: More pixels than ``max_pixels``.
        UnsupportedImageError: samples of another type than 8- or 16-bit unsigned, or a gray or
            RGB TIFF's :data:`VALUE_TYPES`; a mode that cannot be converted
            to RGB, or an animation (GIF, APNG, WebP with more than one frame: restoring one frame
            would silently drop the others).
    """
    layout = _tiff_layout(data)
    if layout is not None:  # a multi-band TIFF, or a 16-bit one OpenCV misreads: tifffile reads it
        return _decode_tiff(data, layout, max_pixels)
    if len(data) in HGT_SHAPES and not data.startswith(_KNOWN_MAGIC):
        return _decode_hgt(data, max_pixels)
    sixteen = _sixteen_bit_header(data)  # OpenCV decodes those pixels: Pillow only reads the header
    with _open(data, max_pixels, min_side, load=not sixteen) as im:
        _refuse_depth(im, data)
        fmt = im.format or ""
        mode = im.mode
        raw_size = (im.width, im.height)
        orientation = _orientation(im, data if sixteen else None)
        rgb16 = alpha16 = None
        if sixteen:  # Pillow truncates 48/64-bit colour to 8 bits: OpenCV reads the samples
            gray, rgb16, alpha16 = _decode_16bit(data, raw_size, fmt, mode)
            rgb, alpha = to_8bit(rgb16), None if alpha16 is None else to_8bit(alpha16)
        else:
            gray, rgb, alpha = _to_rgb_alpha(im)
        icc, exif = im.info.get("icc_profile"), im.info.get("exif") if fmt != "TIFF" else None
        xmp, iptc = _xmp_iptc(data, im.info, getattr(im, "applist", ()))
        dpi = _sane_dpi(im.info.get("dpi"))
        tables = _jpeg_tables(im) if fmt == "JPEG" else None
        if dpi is not None and fmt in ("PNG", "BMP"):  # stored per metre: 150 dpi reads 150.0124
            dpi = tuple(float(round(v)) if abs(v - round(v)) < 0.02 else v for v in dpi)
    tags, stored, nodata_mask, storage, pages = (), orientation, None, None, 1
    if fmt == "TIFF":  # (Pillow turns an 8-bit TIFF's pixels as it loads them: `orientation` is then 1)
        stored = _tiff_orientation(data)
        tags, dpi = _tiff_carried(data, stored), _tiff_dpi(data)
        nodata_mask, storage, pages = _tiff_pages(data, stored)

    def orient(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else apply_orientation(a, orientation)

    return DecodedImage(rgb=orient(rgb), alpha=orient(alpha), mode=mode, format=fmt, orientation=orientation,
                        raw_size=raw_size, gray=gray, rgb16=orient(rgb16), alpha16=orient(alpha16),
                        tiff_tags=tags, icc_profile=icc if isinstance(icc, bytes) and icc else None,
                        exif=_exif_for_output(exif) if isinstance(exif, bytes) else _tiff_exif(data, tags),
                        nodata=_tiff_nodata(data) if fmt == "TIFF" else None, xmp=xmp, iptc=iptc,
                        dpi=_oriented_dpi(dpi, stored),  # the dpi of the pixels as stored, turned with them
                        text=_text_of(data) if fmt in ("PNG", "JPEG") else (),
                        nodata_mask=None if nodata_mask is None else apply_orientation(nodata_mask, stored),
                        tiff_storage=storage, pages=pages, document=data if pages > 1 else None, jpeg_tables=tables)


def _jpeg_tables(im: Image.Image) -> tuple[tuple[tuple[int, ...], ...], int] | None:
    """A JPEG's quantization tables (in their order) and chroma subsampling (Pillow's code), or
    ``None`` when Pillow gives no tables or a subsampling it cannot write again."""
    from PIL import JpegImagePlugin

    tables = getattr(im, "quantization", None)
    try:
        sampling = JpegImagePlugin.get_sampling(im)
        if not tables or not 1 <= len(tables) <= 4 or sampling not in (0, 1, 2):
            return None
        out = tuple(tuple(int(v) for v in tables[k]) for k in sorted(tables))
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return (out, sampling) if all(len(t) == 64 and all(1 <= v <= 65535 for v in t) for t in out) else None


def to_8bit(samples: np.ndarray) -> np.ndarray:
    """The nearest 8-bit value of 16-bit samples, ``round(v / 257)`` (65535 -> 255, 257 k -> k)."""
    return ((samples.astype(np.uint32) + 128) // 257).astype(np.uint8)


NARROW_RANGE = 65535 / 4  # 16-bit data spanning less than this get a stretched 8-bit view for 8-bit methods


def narrow_range(rgb16: np.ndarray, hole: np.ndarray) -> tuple[float, float] | None:
    """``(lo, hi)``, the 0.1 and 99.9 percentiles of the known samples (all channels together, so
    colours keep their balance), when they span less than a quarter of the 16-bit range (12-bit
    sensor data, a dark scan); ``None`` otherwise (the plain 8-bit view is good enough)."""
    step = max(1, int(math.sqrt(hole.size / 250_000)))  # a quarter million pixels tell the range
    known = rgb16[::step, ::step][~hole[::step, ::step]]
    if known.size == 0:
        return None
    lo, hi = (float(v) for v in np.percentile(known, (0.1, 99.9)))
    return (lo, hi) if 1.0 <= hi - lo < NARROW_RANGE else None


def stretch_to_8bit(samples16: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    """``[lo, hi]`` of 16-bit samples mapped onto 0..255 (outside it, clipped)."""
    lo, hi = span
    return np.clip(np.rint((samples16.astype(np.float32) - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)


def unstretch_to_16bit(samples8: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    """The inverse of :func:`stretch_to_8bit`: 8-bit values back to the 16-bit ``[lo, hi]``."""
    lo, hi = span
    return np.clip(np.rint(samples8.astype(np.float32) * ((hi - lo) / 255.0) + lo), 0, 65535).astype(np.uint16)


def nodata_sample(nodata: str | float | None, dtype) -> np.generic | None:
    """A GDAL_NODATA text (or number) as a sample of ``dtype``: for floats the value as they store it
    (NaN for ``"nan"``), for integers the whole number within the type's range; None when it is no
    number, or no sample of this type can hold it (``-9999`` in uint16)."""
    try:
        value = float(str(nodata).strip().rstrip("\x00"))
    except ValueError:
        return None
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        with np.errstate(over="ignore"):  # 1e39 in float32: inf, which no finite sample equals
            return dtype.type(value)
    info = np.iinfo(dtype)
    if not np.isfinite(value) or value != int(value) or not info.min <= value <= info.max:
        return None
    return dtype.type(int(value))


def sample_span(samples: np.ndarray, nodata: str | float | None = None) -> tuple[float, float]:
    """``(lo, hi)`` of a TIFF of values: the least and greatest finite sample that is not the ``nodata``
    value (GDAL_NODATA text), so a -9999, -32768 or -3.4e38 fill does not squash the data's levels;
    ``hi`` is ``lo + 1`` when they are all one value, and the span ``(0, 1)`` when none is usable."""
    usable = np.isfinite(samples)
    value = None if nodata is None else nodata_sample(nodata, samples.dtype)
    if value is not None and not np.isnan(value):
        with np.errstate(invalid="ignore"):  # (comparing a signalling NaN)
            usable &= samples != value
    if usable.all():
        lo, hi = float(samples.min()), float(samples.max())
    elif usable.any():
        lo, hi = float(np.where(usable, samples, np.inf).min()), float(np.where(usable, samples, -np.inf).max())
    else:
        return 0.0, 1.0
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def values_to_16bit(samples: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    """Samples' 16-bit proxy: ``[lo, hi]`` mapped onto 0..65535, rounded; values outside it (a
    nodata fill) clipped to its ends, NaN to 0."""
    lo, hi = span
    wide = samples.dtype in (np.float64, np.int32, np.uint32)
    scaled = samples.astype(np.float64 if wide else np.float32)  # float32 keeps
    with np.errstate(invalid="ignore", over="ignore"):  # a level to within 1/100 at half the memory and
        scaled -= lo  # time; a signalling NaN or an infinity is clipped below, never a warning per file
        scaled *= 1.0 / _level(span)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    np.clip(scaled, 0, 65535, out=scaled)
    return np.rint(scaled, out=scaled).astype(np.uint16)


def _level(span: tuple[float, float]) -> float:
    """The value one proxy level stands for: ``(hi - lo) / 65535``, finite even when ``hi - lo`` is
    not (float64 samples from -1e308 to 1e308)."""
    lo, hi = span
    return hi / 65535.0 - lo / 65535.0


def values_from_16bit(samples16: np.ndarray, span: tuple[float, float], dtype=np.float32) -> np.ndarray:
    """The inverse of :func:`values_to_16bit`, in ``dtype`` (an integer type: rounded, within its
    range): proxy levels back to the data's values."""
    lo, hi = span
    t = samples16.astype(np.float64) / 65535.0
    out = lo * (1.0 - t) + hi * t  # the ends exactly, and no overflow on any span
    if np.dtype(dtype).kind != "f":
        info = np.iinfo(dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(dtype)


def restore_values(image: DecodedImage, pixels16: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """A TIFF of values' restoration from its 16-bit proxy's (``pixels16``, ``H×W×3``): the ``hole``
    and every pixel whose proxy the restoration changed (a blend's band) from the proxy, mapped
    back; every other pixel the source's own samples, exactly (NaN included)."""
    if image.values is None or image.value_span is None:
        raise ValueError("the image has no samples of values")
    changed = hole | (pixels16 != image.rgb16).any(axis=2)
    out = image.values.copy()
    out[changed] = values_from_16bit(pixels16[changed], image.value_span, image.values.dtype)
    return out


def eight_bit_view(image: DecodedImage, hole: np.ndarray | None = None
                   ) -> tuple[np.ndarray, tuple[float, float] | None]:
    """``(view, span)``: the 8-bit RGB a method that fills at 8 bits sees, in restoring, training
    and evaluation alike. A 16-bit image whose known samples (outside ``hole``) span a narrow range
    (:func:`narrow_range`) gets its stretched view and that ``span``; any other image its plain
    8-bit view and ``None``."""
    if image.rgb16 is None:
        return image.rgb, None
    span = narrow_range(image.rgb16, np.zeros(image.rgb.shape[:2], bool) if hole is None else hole)
    return (image.rgb, None) if span is None else (stretch_to_8bit(image.rgb16, span), span)


def widen_to_16bit(restored: np.ndarray, image: DecodedImage, hole: np.ndarray,
                   fill16: np.ndarray | None = None, filled16: np.ndarray | None = None) -> np.ndarray:
    """The 16-bit image of a restoration made on ``image``'s 8-bit view.

    Outside the ``hole``, the source's own samples, plus 257 times whatever the restoration changed
    in 8 bits there (a blend's band), so a pixel nothing changed is its source sample exactly, and one
    a blend nudged keeps its fine precision. In the hole, ``fill16`` where the method filled at 16
    bits (the ``filled16`` pixels, default the whole hole; ``restored`` is then its 8-bit view, plus
    any blend change, added the same way); the rest of the hole (``auto``'s windows that a learned
    model filled) is the 8-bit fill lifted to 16 bits without its 8-bit staircase
    (:func:`inpaint_core.dequantize.dequantize_fill`): the smoothest values that meet the samples
    around the hole and stay within each 8-bit value's cell. The 8-bit view of the result
    (:func:`to_8bit`) is ``restored`` itself.
    """
    if image.rgb16 is None:
        raise ValueError("the image has no 16-bit samples")
    base, base8, lifted = image.rgb16, image.rgb, hole  # the change is measured from base (16 bits) and base8
    if fill16 is not None:
        done = hole if filled16 is None else filled16 & hole
        base, base8, lifted = np.where(done[..., None], fill16, image.rgb16), image.rgb.copy(), hole & ~done
        base8[done] = to_8bit(fill16[done])
    change = (restored.astype(np.int32) - base8.astype(np.int32)) * 257
    kept = np.clip(base.astype(np.int32) + change, 0, 65535).astype(np.uint16)
    return dequantize_fill(restored, kept, lifted) if lifted.any() else kept


@dataclass(frozen=True)
class _TiffLayout:
    """How a TIFF's samples divide: ``colour`` samples (1 gray, 3 RGB), then ``codes``, the ExtraSamples
    code of each sample past colour (0 an extra band, 1 associated and 2 unassociated alpha)."""

    colour: int
    codes: tuple[int, ...]

    @property
    def alpha(self) -> int | None:
        """Index (among the samples past colour) of the alpha: the first marked so; None if none is."""
        return next((i for i, c in enumerate(self.codes) if c in (1, 2)), None)


def _tiff_layout(data: bytes) -> _TiffLayout | None:
    """The layout of a gray or RGB TIFF that tifffile reads: one of values (:data:`VALUE_TYPES`: neither
    Pillow nor OpenCV keeps them all), or of 8- or 16-bit unsigned samples: one with
    16-bit samples that OpenCV reads wrong (planar ones: it scrambles them; and a rotated grid, an
    Orientation tag other than 1: it turns the pixels itself, and they were turned again), or with
    samples past colour that are not its one alpha (Pillow drops them); ``None`` for every other file
    (Pillow or OpenCV reads it, or refuses it). OpenCV reads interleaved unrotated 16-bit TIFFs right,
    and a third faster than tifffile.

    A sample past colour is alpha when ExtraSamples says so (1 or 2). Without that tag, the fourth
    sample of RGB is alpha (Pillow's reading, and OpenCV writes RGBA that way), and a second sample
    of gray is an extra band. A gray TIFF with two or more undeclared samples past its first is a
    multi-band image with no colour meaning and is refused.
    """
    if data[:4] not in _TIFF_HEADERS + _BIGTIFF:
        return None
    tags = _tiff_tags(data, _TIFF_BITS_PER_SAMPLE, _TIFF_SAMPLE_FORMAT, _TIFF_PHOTOMETRIC, _TIFF_SAMPLES_PER_PIXEL,
                      _TIFF_PLANAR_CONFIG)
    ifd = _tiff_ifd(data)
    if tags is None or ifd is None:
        return None
    bits, sample_format, photometric, spp, planar = tags
    valued = len(set(sample_format)) == 1 and (sample_format[0], bits[0]) in _VALUE_FORMATS
    if (len(set(bits)) != 1 or not (valued or bits[0] in (8, 16) and set(sample_format) <= {1})
            or photometric[:1] not in ((1,), (2,)) or not spp):
        return None
    colour = 3 if photometric[0] == 2 else 1
    past = spp[0] - colour
    if past < 0:
        return None
    try:
        with _quiet():  # Pillow reads a tag's value when asked for it, and warns of odd ones then
            declared = _as_ints(ifd[_TIFF_EXTRA_SAMPLES]) if _TIFF_EXTRA_SAMPLES in ifd else ()
    except (TypeError, ValueError):
        declared = ()
    if colour == 1 and past - len(declared) >= 2:
        raise UnsupportedImageError(
            f"TIFF with {spp[0]} samples per pixel (a multi-band image): only gray, RGB and RGBA images, with "
            "any extra bands their ExtraSamples tag declares, are restored; write the bands to restore as an "
            "RGB TIFF first")
    if not declared and colour == 3 and past == 1:
        codes = (2,)
    else:
        codes = tuple(declared[:past]) + (0,) * (past - len(declared))
    layout = _TiffLayout(colour, codes)
    has_extra = past - (layout.alpha is not None) > 0
    opencv_wrong = planar[:1] == (2,) or _tiff_orientation(data) != 1
    big = data[:4] in _BIGTIFF  # (Pillow reads no big-endian BigTIFF, OpenCV no 16-bit one)
    return layout if valued or (bits[0] == 16 and opencv_wrong) or has_extra or big else None


def hgt_geo_tags(name: str, shape: tuple[int, int]) -> tuple[tuple, ...]:
    """The GeoTIFF tags that place an SRTM ``.hgt`` tile of this ``shape`` (rows, columns) named
    ``name`` (``N37W122.hgt``: the latitude and longitude of its south-west sample), for a TIFF
    output: WGS 84 degrees (EPSG:4326), pixel-is-point (each sample sits on a whole arc-second, the
    edge rows and columns on the degree lines), heights in metres above the EGM96 geoid (EPSG:5773);
    ``()`` for a name that does not say where."""
    match = re.match(r"^([NSns])(\d{1,2})([EWew])(\d{1,3})", name.rsplit("/", 1)[-1])
    if not match or min(shape) < 2:
        return ()
    lat = int(match.group(2)) * (1 if match.group(1) in "Nn" else -1)
    lon = int(match.group(4)) * (1 if match.group(3) in "Ee" else -1)
    if not (-90 <= lat <= 89 and -180 <= lon <= 179):  # the tile's south-west corner
        return ()
    scale = (1.0 / (shape[1] - 1), 1.0 / (shape[0] - 1), 0.0)  # a tile spans one degree, edge to edge
    keys = (1, 1, 0, 6,  # version 1.1.0, six keys:
            1024, 0, 1, 2,  # GTModelType: geographic
            1025, 0, 1, 2,  # GTRasterType: pixel is point
            2048, 0, 1, 4326,  # GeographicType: WGS 84
            2054, 0, 1, 9102,  # GeogAngularUnits: degree
            4096, 0, 1, 5773,  # VerticalCSType: EGM96 height (SRTM's heights are above that geoid)
            4099, 0, 1, 9001)  # VerticalUnits: metre
    return ((33550, 12, 3, scale), (33922, 12, 6, (0.0, 0.0, 0.0, float(lon), float(lat + 1), 0.0)),
            (34735, 3, len(keys), keys))


_KNOWN_MAGIC = (b"\x89PNG", b"\xff\xd8", *_TIFF_HEADERS, *_BIGTIFF, b"RIFF", b"BM", b"GIF8")


def _decode_hgt(data: bytes, max_pixels: int) -> DecodedImage:
    """An SRTM ``.hgt`` tile (:data:`HGT_SHAPES`) as the int16 raster of values it is, with -32768 as
    its nodata: read as the same samples in a TIFF with that GDAL_NODATA would be, format ``HGT``."""
    import tifffile

    h, w = HGT_SHAPES[len(data)]
    _check_pixels(w, h, max_pixels)
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.frombuffer(data, ">i2").reshape(h, w).astype(np.int16), photometric="minisblack",
                     extratags=[(42113, "s", 0, "-32768", True)])
    tiff = buf.getvalue()
    return replace(_decode_tiff(tiff, _tiff_layout(tiff), max_pixels), format="HGT")


def _decode_tiff(data: bytes, layout: _TiffLayout, max_pixels: int) -> DecodedImage:
    """Decode a TIFF of this ``layout`` (first page) with tifffile, every sample at its own depth."""
    size = _header_size(data)
    if size is not None:
        _check_pixels(size[0], size[1], max_pixels)
    orientation = _tiff_orientation(data)
    try:
        with _tifffile_page(data) as page:
            axes, arr = page.axes, page.asarray()
            icc = page.tags.get(_TIFF_ICC_PROFILE)
            icc = icc.value if icc is not None and isinstance(icc.value, bytes) and icc.value else None
            tags = _carried_tags(page, geo=orientation == 1)
    except MemoryError as exc:
        raise ImageTooLargeError(_memory_message(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - tifffile and its codecs raise ValueError, zlib.error, KeyError...
        raise DecodeError(f"truncated or corrupt TIFF data: {_reason(exc)}") from exc
    if arr.ndim != len(axes):
        raise DecodeError(f"corrupt TIFF: {arr.ndim}-dimensional pixels for axes {axes}")
    if "S" in axes:
        arr = np.moveaxis(arr, axes.index("S"), -1)
        axes = axes.replace("S", "") + "S"
    valued = arr.dtype.newbyteorder("=") in VALUE_TYPES
    if axes not in ("YX", "YXS") or not (valued or arr.dtype in (np.uint8, np.uint16)):
        raise UnsupportedImageError(f"TIFF whose first page is not one gray or colour image "
                                    f"(axes {page.axes}, {arr.dtype})")
    if valued:
        arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)  # native order, for numpy and OpenCV
        if layout.alpha is not None:
            raise UnsupportedImageError(f"{arr.dtype} TIFF with an alpha sample: a TIFF of values is restored as "
                                        "gray or RGB, with any extra bands; mark its holes with nodata "
                                        "(GDAL_NODATA, or NaN)")
    arr = arr.reshape(arr.shape[:2] + (-1,))
    if arr.shape[2] != layout.colour + len(layout.codes):
        raise DecodeError(f"corrupt TIFF: {arr.shape[2]} samples per pixel decoded, "
                          f"{layout.colour + len(layout.codes)} declared")

    def orient(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.ascontiguousarray(apply_orientation(a, orientation))

    colour = orient(arr[..., :layout.colour])  # a gray's three channels are made below, at its final depth
    a = layout.alpha
    alpha = None if a is None else orient(arr[..., layout.colour + a])
    others = [layout.colour + i for i in range(len(layout.codes)) if i != a]
    extra = orient(arr[..., others]) if others else None
    sixteen = arr.dtype == np.uint16
    mode = ("L" if layout.colour == 1 else "RGB") + ("A" if a is not None else "")
    nodata = _tiff_nodata(data)
    nodata_mask, storage, pages = _tiff_pages(data, orientation)
    if valued:
        span = sample_span(colour, nodata)
        if nodata is None and colour.dtype.kind == "f" and np.isnan(colour).any():
            nodata = "nan"  # float rasters' own missing value
        values, colour, sixteen = colour, values_to_16bit(colour, span), True
        if layout.colour == 1:  # a read-only view: a 100 MP elevation model's values are 400 MB, not 1.2 GB
            values = np.broadcast_to(values, values.shape[:2] + (3,))
    if layout.colour == 1:
        colour = np.repeat(colour, 3, axis=2)
    return DecodedImage(
        rgb=to_8bit(colour) if sixteen else colour,
        alpha=None if alpha is None else (to_8bit(alpha) if sixteen else alpha),
        mode=mode, format="TIFF", orientation=orientation, raw_size=(arr.shape[1], arr.shape[0]),
        gray=layout.colour == 1, rgb16=colour if sixteen else None, alpha16=alpha if sixteen else None,
        extra=extra, extra_samples=layout.codes, tiff_tags=tags, icc_profile=icc, nodata=nodata,
        values=values if valued else None, value_span=span if valued else None, exif=_tiff_exif(data, tags),
        dpi=_oriented_dpi(_tiff_dpi(data), orientation), nodata_mask=orient(nodata_mask), tiff_storage=storage,
        pages=pages, document=data if pages > 1 else None,
        **dict(zip(("xmp", "iptc"), _xmp_iptc(data))))


def _tiff_pages(data: bytes, orientation: int) -> tuple[np.ndarray | None, TiffStorage | None, int]:
    """``(nodata_mask, storage, pages)`` of a TIFF: its internal nodata mask
    (:attr:`DecodedImage.nodata_mask`) in the stored orientation, ``True`` = nodata, or ``None``; how
    it stores its first page (:class:`TiffStorage`; no tiles or overviews when ``orientation`` turns
    the pixels); and its count of full-resolution images (:attr:`DecodedImage.pages`). The mask is
    the first of the IFDs after the first (at most :data:`_MASK_PAGES_LOOKED_AT`) that is a
    transparency mask of one sample and the first page's size; the overviews are the reduced-resolution
    pages among them, the other pages the document's. A single-page TIFF is known from its first IFD
    alone (tifffile is not opened).

    Raises:
        DecodeError: the mask's IFD is there but its samples cannot be read (which pixels are
            missing is then unknown: filling from a guess is not done).
    """
    ifd = _tiff_ifd(data)
    if ifd is None:
        return None, None, 1
    try:
        with _quiet():
            compression, predictor, bits, samples = (int(_as_ints(ifd.get(tag, 1))[0]) for tag in (259, 317, 258, 277))
            tiled = 322 in ifd and 323 in ifd
            tile = (int(_as_ints(ifd[323])[0]), int(_as_ints(ifd[322])[0])) if tiled else None
    except (TypeError, ValueError, IndexError):
        compression, predictor, tile, bits, samples = 5, 1, None, 8, 1
    upright = orientation == 1
    storage = TiffStorage(compression, predictor, tile if upright else None, bilevel=(bits, samples) == (1, 1))
    if not ifd.next:
        if storage.tile is not None:  # its IFD before its tiles: a cloud-optimised GeoTIFF without overviews
            with _quiet():
                tiles = _as_ints(ifd.get(324, ()))
            order = "<" if data[:2] == b"II" else ">"
            (at,) = struct.unpack_from(order + "Q", data, 8) if data[:4] in _BIGTIFF else \
                struct.unpack_from(order + "I", data, 4)
            storage = replace(storage, cloud_optimized=_ifds_before_data([at], tiles))
        return None, storage, 1
    mask, overviews, pages, headers, tiles = None, [], 1, [], ()
    try:
        with _tifffile(data) as tif:
            first = tif.pages[0]
            size, samples = (first.imagelength, first.imagewidth), first.samplesperpixel
            headers.append(first.offset)
            tiles = first.dataoffsets
            for index, page in _later_ifds(tif, _MASK_PAGES_LOOKED_AT, ends_on=(IndexError,)):
                kind = page.subfiletype
                if kind & _TIFF_MASK and page.photometric == _TIFF_MASK and page.samplesperpixel == 1:
                    if mask is None and (page.imagelength, page.imagewidth) == size:
                        mask = (index, page)
                    headers.append(page.offset)
                elif kind & 1 and page.samplesperpixel == samples and page.imagelength < size[0]:
                    overviews.append((page.imagelength, page.imagewidth))
                    headers.append(page.offset)
                elif not kind & (1 | _TIFF_MASK):
                    pages += 1
            if mask is not None:
                index, page = mask
                try:
                    valid = page.asarray()
                except Exception as exc:  # noqa: BLE001 - tifffile and its codecs raise many types
                    raise DecodeError(f"corrupt TIFF: its nodata mask (IFD {index}) cannot be read: "
                                      f"{_reason(exc)}") from exc
                mask = valid.reshape(valid.shape[-2:]) if valid.ndim > 2 else valid
    except DecodeError:
        raise
    except Exception:  # noqa: BLE001 - a broken IFD chain past the image: no mask to find, as for tags
        mask = None
    if mask is not None and mask.shape != size:
        raise DecodeError(f"corrupt TIFF: its nodata mask is {mask.shape[1]}x{mask.shape[0]}, the image "
                          f"{size[1]}x{size[0]}")
    if upright and overviews:
        storage = replace(storage, overviews=tuple(sorted(set(overviews), reverse=True)))
    if storage.tile is not None and headers:  # every IFD of the first page's levels before its tiles
        storage = replace(storage, cloud_optimized=_ifds_before_data(headers, tiles))
    return (None if mask is None else mask == 0), storage, pages


def _ifds_before_data(ifds: list[int], tiles) -> bool:
    """Whether every IFD (their offsets ``ifds``) lies before the first page's image data (its
    ``tiles``' offsets, 0 for a sparse tile): a cloud-optimised GeoTIFF's layout."""
    first_data = min((o for o in tiles if o), default=0)
    return 0 < min(ifds) and max(ifds) < first_data


def _later_ifds(tif, limit: int, ends_on: tuple[type[BaseException], ...]) -> Iterator[tuple[int, object]]:
    """``(index, page)`` of a tifffile ``tif``'s IFDs after the first, at most ``limit``: the walk
    ends at the last, at an error of ``ends_on`` reading the next (others are raised), and where the
    chain loops back to an IFD already seen."""
    seen = {tif.pages[0].offset}
    for index in range(1, limit + 1):
        try:
            page = tif.pages[index]
        except ends_on:
            return
        if page is None or page.offset in seen:
            return
        seen.add(page.offset)
        yield index, page


def _tiff_nodata(data: bytes) -> str | None:
    """A TIFF's GDAL_NODATA tag (42113), as text; None when it has none or it is unreadable."""
    ifd = _tiff_ifd(data)
    try:
        with _quiet():
            value = ifd.get(42113) if ifd is not None else None
    except (TypeError, ValueError, KeyError):
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 ") or None if isinstance(value, str) else None


def _exif_for_output(raw: bytes) -> bytes | None:
    """The TIFF part of EXIF bytes (``Exif\\0\\0`` prefix or not), with its Orientation set to 1 and
    its next-IFD link (the thumbnail's IFD1) cut, patched in place so every other tag and sub-IFD
    stays as it was; ``None`` when the bytes are not a readable EXIF."""
    tiff = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
    if tiff[:4] not in _TIFF_HEADERS:
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    out = bytearray(tiff)
    try:
        (first,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, first)
        for at in range(first + 2, first + 2 + 12 * count, 12):
            tag, kind, n = struct.unpack_from(order + "HHI", tiff, at)
            if tag == _EXIF_ORIENTATION_TAG and kind == 3 and n == 1:
                struct.pack_into(order + "H", out, at + 8, 1)
        struct.pack_into(order + "I", out, first + 2 + 12 * count, 0)
    except struct.error:
        return None
    return bytes(out)


def _profile_fits(profile: bytes | None, gray: bool) -> bool:
    """Whether an ICC profile describes the samples written: RGB for colour, GRAY for gray (a CMYK
    photo's profile does not describe its RGB conversion)."""
    if not profile or len(profile) < 128 or profile[36:40] != b"acsp":
        return False
    return profile[16:20] == (b"GRAY" if gray else b"RGB ")


def _xmp_iptc(data: bytes, info: dict | None = None, applist=()) -> tuple[bytes | None, bytes | None]:
    """``(xmp, iptc)`` of a file (:attr:`DecodedImage.xmp`, :attr:`DecodedImage.iptc`): a TIFF's from
    its tags 700 and 33723, another's XMP from Pillow's ``info`` and a JPEG's IPTC from its APP13
    segments (``applist``). Unreadable metadata is left out: it never fails the photo."""
    xmp = iptc = None
    try:
        if data[:4] in _TIFF_HEADERS + _BIGTIFF:
            ifd = _tiff_ifd(data)  # (cheap: the tifffile page only when one of the tags is there)
            if ifd is not None and (_TIFF_XMP in ifd or _TIFF_IPTC in ifd):
                with _tifffile_page(data) as page:  # (Pillow reads tag 33723 as one LONG, cutting the rest)
                    xmp, iptc = (page.tags[c].value if c in page.tags else None for c in (_TIFF_XMP, _TIFF_IPTC))
                if isinstance(iptc, tuple) and all(isinstance(v, int) for v in iptc):  # Photoshop's LONGs
                    iptc = struct.pack(f"{'<' if data[:2] == b'II' else '>'}{len(iptc)}L", *iptc)
        else:
            xmp = (info or {}).get("xmp")
            iptc = _iim_of_photoshop(b"".join(v[len(_PHOTOSHOP):] for k, v in applist
                                              if k == "APP13" and v.startswith(_PHOTOSHOP)))
    except Exception:  # noqa: BLE001 - as above: unreadable metadata is left out
        return None, None
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    return (_xmp_for_output(xmp) if isinstance(xmp, bytes) else None,
            iptc if isinstance(iptc, bytes) and iptc[:1] == b"\x1c" else None)


def _text_of(data: bytes) -> tuple[tuple[bytes, bytes], ...]:
    """A PNG's textual chunks but its XMP, or a JPEG's COM segments (:attr:`DecodedImage.text`), read
    from the chunk and segment headers (nothing decompressed); what follows a broken header is left
    out, as is all past :data:`_TEXT_MAX` bytes."""
    found: list[tuple[bytes, bytes]] = []
    if data.startswith(_PNG_SIGNATURE):
        at = len(_PNG_SIGNATURE)
        while at + 12 <= len(data):
            length, kind = struct.unpack(">I4s", data[at:at + 8])
            if kind == b"IEND" or at + 8 + length > len(data):
                break
            if kind in _PNG_TEXT:  # (only these are copied: not the IDAT chunks)
                body = data[at + 8:at + 8 + length]
                key = body.split(b"\x00", 1)[0]
                named = 1 <= len(key) <= 79 and len(key) < len(body)  # a keyword of 1-79 bytes, then its NUL
                if named and key != b"XML:com.adobe.xmp":
                    found.append((kind, body))
            at += 12 + length
    elif data[:2] == b"\xff\xd8":
        at = 2
        while at + 4 <= len(data) and data[at] == 0xFF:
            marker = data[at + 1]
            if marker == 0xFF:  # a fill byte
                at += 1
                continue
            if marker in (0xDA, 0xD9):  # the scan, or the end: no segments past it
                break
            length = int.from_bytes(data[at + 2:at + 4], "big")
            if length < 2:
                break
            if marker == 0xFE:
                found.append((b"COM", data[at + 4:at + 2 + length]))
            at += 2 + length
    kept, total = [], 0
    for item in found:
        total += len(item[1])
        if total > _TEXT_MAX:
            break
        kept.append(item)
    return tuple(kept)


def _iim_of_photoshop(irb: bytes) -> bytes | None:
    """The IPTC-IIM record (image resource 0x0404) of Photoshop image resource blocks (``8BIM`` id,
    Pascal name padded to even, size, data padded to even); ``None`` when there is none."""
    at = 0
    while at + 12 <= len(irb) and irb[at:at + 4] == b"8BIM":
        rid = int.from_bytes(irb[at + 4:at + 6], "big")
        at += 6 + ((irb[at + 6] + 2) & ~1)  # the name: its length byte and text, padded to even
        if at + 4 > len(irb):
            break
        size = int.from_bytes(irb[at:at + 4], "big")
        if rid == 0x0404:
            return irb[at + 4:at + 4 + size] or None
        at += 4 + size + (size & 1)
    return None


def _xmp_for_output(xmp: bytes) -> bytes | None:
    """An XMP packet with its ``tiff:Orientation`` set to 1 (the pixels are written turned) and its
    ``xmp:Thumbnails`` cut out (they show the unrestored image); ``None`` when it is not XMP."""
    if b"<x:xmpmeta" not in xmp and b"<rdf:RDF" not in xmp:
        return None
    xmp = re.sub(rb"(tiff:Orientation\s*=\s*[\"'])\s*\d+\s*([\"'])", rb"\g<1>1\2", xmp)
    xmp = re.sub(rb"(<tiff:Orientation>)\s*\d+\s*(</tiff:Orientation>)", rb"\g<1>1\2", xmp)
    return re.sub(rb"<xmp:Thumbnails\b.*?</xmp:Thumbnails>", b"", xmp, flags=re.DOTALL)


def _jpeg_with_segments(jpeg: bytes, iptc: bytes | None, comments: tuple[bytes, ...] = ()) -> bytes:
    """``jpeg`` with an APP13 segment holding ``iptc`` (as resource 0x0404; left out when the record
    does not fit one segment), then a COM segment for each of ``comments`` (those that fit one),
    after its APPn segments."""
    segments = []
    if iptc:
        block = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc + b"\x00" * (len(iptc) & 1)
        segments.append((b"\xff\xed", _PHOTOSHOP + block))
    segments += [(b"\xff\xfe", c) for c in comments]
    body = b"".join(m + struct.pack(">H", len(p) + 2) + p for m, p in segments if len(p) <= 65_533)
    at = 2  # after SOI: past the encoder's APP0 (JFIF), APP1 (EXIF, XMP) and APP2 (ICC) segments
    while at + 4 <= len(jpeg) and jpeg[at] == 0xFF and 0xE0 <= jpeg[at + 1] <= 0xEF:
        at += 2 + int.from_bytes(jpeg[at + 2:at + 4], "big")
    return jpeg[:at] + body + jpeg[at:]


def _png_with_chunks(png: bytes, icc_profile: bytes | None, exif: bytes | None, gray: bool,
                     xmp: bytes | None = None, dpi: tuple[float, float] | None = None,
                     text: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """``png`` with an ``iCCP`` (the profile, when it fits), an ``eXIf``, an XMP ``iTXt``, a ``pHYs``
    (``dpi`` as pixels per metre) and the ``text`` chunks (:attr:`DecodedImage.text`) after its IHDR."""
    chunks = []
    if dpi is not None:
        chunks.append((b"pHYs", struct.pack(">IIB", *(round(v / 0.0254) for v in dpi), 1)))
    if _profile_fits(icc_profile, gray):
        chunks.append((b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        chunks.append((b"eXIf", exif))
    if xmp:  # keyword, no compression, no language, no translated keyword
        chunks.append((b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp))
    chunks += [(kind, body) for kind, body in text if kind in _PNG_TEXT]
    if not chunks:
        return png
    at = len(_PNG_SIGNATURE) + 8 + 13 + 4  # signature, IHDR's length + type, its 13 bytes, its CRC
    body = b"".join(struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d)) for t, d in chunks)
    return png[:at] + body + png[at:]


@contextlib.contextmanager
def _tifffile(data: bytes) -> Iterator:
    """A TIFF opened by tifffile, quietly: tifffile logs each odd tag it skips, and what matters
    reaches the caller as an exception (or as a tag left out)."""
    import tifffile  # a dependency; imported here as only some TIFFs need it

    log = logging.getLogger("tifffile")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        with _quiet(), tifffile.TiffFile(io.BytesIO(data)) as tif:
            yield tif
    finally:
        log.setLevel(level)


@contextlib.contextmanager
def _tifffile_page(data: bytes) -> Iterator:
    """The first page of a TIFF opened by :func:`_tifffile`."""
    with _tifffile(data) as tif:
        yield tif.pages[0]


def _carried_tags(page, geo: bool = True) -> tuple[tuple, ...]:
    """A tifffile page's :data:`GEO_TAGS` (unless not ``geo``) and :data:`DESCRIPTIVE_TAGS` as
    ``(code, datatype, count, value)``, text as UTF-8 bytes (NUL-terminated): tifffile writes a str
    only if it is 7-bit ASCII, and GDAL writes its metadata in UTF-8."""
    codes = (GEO_TAGS if geo else ()) + DESCRIPTIVE_TAGS
    tags = [(t.code, int(t.dtype), t.count, t.value) for t in page.tags.values() if t.code in codes
            and not (t.code in DESCRIPTIVE_TAGS and (int(t.dtype) != 2 or not str(t.value).strip("\x00 ")))
            # tifffile's and ImageJ's descriptions are their layout, not what the image shows
            and not (t.code == 270 and str(t.value).startswith(('{"shape":', "ImageJ=")))]
    text = {c: v.encode("utf-8") + b"\x00" for c, d, _, v in tags if d == 2 and isinstance(v, str)}
    return tuple((c, 2, len(text[c]), text[c]) if c in text else (c, d, n, v) for c, d, n, v in tags)


def _tiff_carried(data: bytes, orientation: int) -> tuple[tuple, ...]:
    """A TIFF's :data:`GEO_TAGS` and :data:`DESCRIPTIVE_TAGS` (:func:`_carried_tags`) for a file Pillow
    decodes; no GEO_TAGS when its pixels are stored rotated (an ``orientation`` other than 1: the
    decoded grid is not the one the tags place). Unreadable tags are left out: a broken tag never
    fails the photo (as a broken EXIF orientation does not)."""
    ifd = _tiff_ifd(data)
    codes = (GEO_TAGS if orientation == 1 else ()) + DESCRIPTIVE_TAGS
    if ifd is None or not any(code in ifd for code in codes):
        return ()
    try:
        with _tifffile_page(data) as page:
            return _carried_tags(page, geo=orientation == 1)
    except Exception:  # noqa: BLE001 - as above: any tifffile error means no tags to carry
        return ()


def _tiff_exif(data: bytes, tags: tuple[tuple, ...]) -> bytes | None:
    """EXIF for a TIFF source's outputs: its :data:`DESCRIPTIVE_TAGS` (among its carried ``tags``) and
    its own Exif and GPS IFDs (a camera's or scanner's TIFF), as little-endian TIFF-structured bytes;
    ``None`` when it has none of them."""
    subs = _exif_sub_ifds(data) if data[:4] in _TIFF_HEADERS else {}
    text = [(code, 2, len(v), v) for code, dtype, _, v in tags
            if code in DESCRIPTIVE_TAGS and dtype == 2 and isinstance(v, bytes)]
    if not text and not subs:
        return None
    return b"II*\x00" + struct.pack("<I", 8) + _ifd_bytes(text + [(tag, 4, 1, subs[tag]) for tag in subs], 8)


def _tags_of_exif(exif: bytes | None) -> tuple[tuple, ...]:
    """The :data:`DESCRIPTIVE_TAGS` of TIFF-structured EXIF bytes as TIFF tags (text as NUL-terminated
    UTF-8 bytes), for a TIFF output of a photo; ``()`` when it has none or is unreadable."""
    if not exif:
        return ()
    try:
        with _quiet():
            loaded = Image.Exif()
            loaded.load(b"Exif\x00\x00" + exif)
            items = [(code, loaded.get(code)) for code in DESCRIPTIVE_TAGS]
    except Exception:  # noqa: BLE001 - broken EXIF: nothing to carry, as elsewhere
        return ()
    # (Pillow reads EXIF text as Latin-1: encoding it back gives the bytes as stored, UTF-8 as a rule)
    raw = [(code, v if isinstance(v, bytes) else v.encode("latin-1", "replace")) for code, v in items
           if isinstance(v, (str, bytes))]
    text = [(code, v.rstrip(b"\x00") + b"\x00") for code, v in raw if v.strip(b"\x00 ")]
    return tuple((code, 2, len(v), v) for code, v in text)


_EXIF_IFD, _GPS_IFD, _INTEROP_IFD, _MAKER_NOTE = 34665, 34853, 40965, 37500
#: private tags tifffile writes in their place (it will not write 34665 or 34853), renamed afterwards
_EXIF_STAND_INS = {_EXIF_IFD: 65000, _GPS_IFD: 65001}
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 1, 7: 1, 8: 2, 9: 4, 10: 4, 11: 4, 12: 8, 13: 4}
_TYPE_COUNTS = {5: 2, 10: 2}  # rationals: two 4-byte numbers each


def _little_endian(raw: bytes, size: int, order: str) -> bytes:
    """A tag's value bytes of numbers of ``size`` bytes in byte ``order``, little-endian."""
    return np.frombuffer(raw, f">u{size}").astype(f"<u{size}").tobytes() if order == ">" and size > 1 else raw


def _exif_sub_ifds(exif: bytes | None) -> dict[int, list[tuple]]:
    """The Exif and GPS IFDs of TIFF-structured EXIF bytes, ``{34665 | 34853: entries}``, each entry
    ``(tag, type, count, little-endian value bytes)`` and an Interop IFD as a nested entry list, for a
    TIFF output (which is little-endian). The MakerNote is left out: its vendor's offsets would point
    nowhere once moved. ``{}`` when there are none or the bytes are unreadable."""
    if not exif or exif[:4] not in _TIFF_HEADERS:
        return {}
    order = "<" if exif[:2] == b"II" else ">"

    def entries(at: int, depth: int) -> list[tuple]:
        (count,) = struct.unpack_from(order + "H", exif, at)
        out = []
        for k in range(min(count, 1000)):
            tag, kind, n = struct.unpack_from(order + "HHI", exif, at + 2 + 12 * k)
            size = _TYPE_SIZES.get(kind)
            if size is None or tag == _MAKER_NOTE:
                continue
            length = size * n * _TYPE_COUNTS.get(kind, 1)
            where = at + 2 + 12 * k + 8
            if length > 4:
                (where,) = struct.unpack_from(order + "I", exif, where)
            raw = exif[where:where + length]
            if len(raw) < length:
                continue  # points past the end: left out, as a broken tag never fails a photo
            if tag == _INTEROP_IFD and depth == 0:
                out.append((tag, 4, 1, entries(struct.unpack_from(order + "I", raw)[0], 1)))
                continue
            out.append((tag, kind, n, _little_endian(raw, size, order)))
        return out

    found = {}
    try:
        (first,) = struct.unpack_from(order + "I", exif, 4)
        (count,) = struct.unpack_from(order + "H", exif, first)
        for k in range(count):
            tag, kind, n, value = struct.unpack_from(order + "HHII", exif, first + 2 + 12 * k)
            if tag in (_EXIF_IFD, _GPS_IFD) and kind in (4, 13) and n == 1:
                found[tag] = entries(value, 0)
    except (struct.error, ValueError):
        return {}
    return {tag: e for tag, e in found.items() if e}


def _ifd_bytes(entries: list[tuple], at: int) -> bytes:
    """A little-endian IFD of ``entries`` (:func:`_exif_sub_ifds`) placed at file offset ``at``: its
    entries sorted by tag, no next IFD, then the values longer than 4 bytes and any nested IFD."""
    entries = sorted(entries, key=lambda e: e[0])
    head = 2 + 12 * len(entries) + 4
    table, data = [struct.pack("<H", len(entries))], b""
    for tag, kind, n, raw in entries:
        if isinstance(raw, list):  # a nested IFD (Interop): written after the values, pointed to
            raw = None, raw
        if isinstance(raw, tuple):
            nested_at = at + head + len(data) + (len(data) & 1)
            data += b"\x00" * (len(data) & 1)
            nested = _ifd_bytes(raw[1], nested_at)
            table.append(struct.pack("<HHII", tag, 4, 1, nested_at))
            data += nested
        elif len(raw) <= 4:
            table.append(struct.pack("<HHI", tag, kind, n) + raw.ljust(4, b"\x00"))
        else:
            data += b"\x00" * (len(data) & 1)  # values start on a word boundary
            table.append(struct.pack("<HHII", tag, kind, n, at + head + len(data)))
            data += raw
    return b"".join(table) + b"\x00\x00\x00\x00" + data


def _with_exif_ifds(tiff: bytes, ifds: dict[int, list[tuple]]) -> bytes:
    """A little-endian ``tiff`` whose first IFD has stand-in entries (:data:`_EXIF_STAND_INS`) for
    the ``ifds`` tags (34665, 34853): those IFDs appended, the entries renamed to them, pointing at
    them, and the first IFD's entries sorted again; unchanged if it is not such a TIFF or has none."""
    if tiff[:4] != b"II*\x00" or not ifds:
        return tiff
    out = bytearray(tiff)
    (first,) = struct.unpack_from("<I", out, 4)
    (count,) = struct.unpack_from("<H", out, first)
    named = {stand_in: tag for tag, stand_in in _EXIF_STAND_INS.items() if tag in ifds}
    for k in range(count):
        at = first + 2 + 12 * k
        code, kind, n = struct.unpack_from("<HHI", out, at)
        if code in named and kind == 4 and n == 1:
            out += b"\x00" * (len(out) & 1)
            struct.pack_into("<HHII", out, at, named[code], 4, 1, len(out))
            out += _ifd_bytes(ifds[named[code]], len(out))
    table = sorted((bytes(out[first + 2 + 12 * k:first + 14 + 12 * k]) for k in range(count)),
                   key=lambda e: struct.unpack_from("<H", e)[0])  # (entries hold no offsets to themselves)
    out[first + 2:first + 2 + 12 * count] = b"".join(table)
    return bytes(out)


_PAGES_COPIED = 10_000  # IFDs past the first a TIFF output carries from its source, at most
#: tags that point at a page's image data, each with the tag of its lengths: moved with the data
_SEGMENT_TAGS = {273: 279, 324: 325, 513: 514}
#: tags that point at other IFDs or the source's free space: left out of a copied page
_POINTER_TAGS = frozenset({288, 289, 330, 400, 34665, 34853, 40965})
#: bytes of the numbers of a page's tag types (a BigTIFF's LONG8 and SLONG8 too; not IFD pointers)
_PAGE_TYPE_SIZES = {**{k: v for k, v in _TYPE_SIZES.items() if k != 13}, 16: 8, 17: 8}


def _with_pages(tiff: bytes, source: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """``tiff`` (a little-endian classic TIFF, as tifffile and Pillow write them) with ``source``'s
    IFDs from its second full-resolution page on appended: a document's other pages, with any
    overviews or masks of theirs. Each is copied as stored: its compressed strips or tiles byte for
    byte (a fax page stays CCITT G4, a JPEG page is not decoded again) and its tags (orientation,
    resolution, page name and number, colour map...), turned little-endian; tags pointing at other
    IFDs (SubIFDs, Exif, GPS) are left out, a BigTIFF's 8-byte values made 4-byte. A chain of IFDs
    that loops back ends where it does; at most :data:`_PAGES_COPIED` IFDs. A big-endian page
    of samples wider than 8 bits (their bytes would read swapped) is compressed again instead, with its
    own compression where tifffile writes it (else LZW), losslessly but for JPEG. A chain of IFDs that
    breaks ends the copy where :func:`_tiff_pages` stops counting. ``tiff`` unchanged when it is not
    such a TIFF or ``source`` has no other page.

    Raises:
        DecodeError: a page's image data lie past the end of ``source`` (a truncated file) or cannot be
            read, or the pages would take the output past 4 GiB.
    """
    if tiff[:4] != b"II*\x00":
        return tiff
    pages = []
    try:
        with _tifffile(source) as tif:
            found = False
            for index, page in _later_ifds(tif, _PAGES_COPIED, ends_on=(Exception,)):  # (a broken chain too)
                found = found or not page.subfiletype & (1 | _TIFF_MASK)
                if found:
                    try:
                        tags = _tags_of_page(page, tif.byteorder, source)
                    except Exception as exc:  # noqa: BLE001 - a value tifffile read but no number
                        raise DecodeError(f"corrupt TIFF: the tags of IFD {index} cannot be copied into the "
                                          f"output: {_reason(exc)}") from exc
                    swapped = tif.byteorder == ">" and page.bitspersample > 8 and page.compression != 7
                    pages.append((index, tags, _little_endian_page(page, index, max_pixels) if swapped else None))
    except DecodeError:
        raise
    except Exception:  # noqa: BLE001 - as _tiff_pages: a source tifffile cannot open has no pages to copy
        return tiff
    out = bytearray(tiff)
    link = _last_ifd_link(out)
    for index, tags, again in pages:
        if again is not None:  # its storage from the page compressed again, the rest from the source
            with _tifffile(again) as tif:
                tags = _restored_storage(tags, _tags_of_page(tif.pages[0], "<", again))
        at = _append_ifd(out, tags, source if again is None else again, index)
        struct.pack_into("<I", out, link, at)
        link = at + 2 + 12 * struct.unpack_from("<H", out, at)[0]
    return bytes(out)


def _restored_storage(tags: list[tuple], stored: list[tuple]) -> list[tuple]:
    """A page's ``tags`` (:func:`_tags_of_page`) with those of how its samples are stored
    (:data:`_STORAGE_TAGS`) taken from ``stored``, the tags of the same pixels stored another way."""
    return [t for t in tags if t[0] not in _STORAGE_TAGS] + [t for t in stored if t[0] in _STORAGE_TAGS]


def _append_ifd(out: bytearray, tags: list[tuple], held: bytes, index: int) -> int:
    """Append to the little-endian classic TIFF ``out`` the image data of a page (read from ``held``,
    the bytes its ``tags`` point into) and then its IFD of ``tags``, the data's offsets moved; the
    IFD's offset, its next IFD 0.

    Raises:
        DecodeError: the page's data lie past the end of ``held``, or ``out`` would pass 4 GiB.
    """
    segments = _segments(tags, held, index)
    placed = {code: [_place(out, piece) for piece in pieces] for code, _, pieces in segments}
    out += b"\x00" * (len(out) & 1)
    at = len(out)
    out += _ifd_bytes(_ifd_entries(tags, segments, placed), at)
    if len(out) >= 1 << 32:
        raise DecodeError("the document's pages past the first would take the TIFF output past 4 GiB")
    return at


def _segments(tags: list[tuple], held: bytes, index: int) -> list[tuple[int, int, list[bytes]]]:
    """The image data a page's ``tags`` (:func:`_tags_of_page`) point at in ``held``:
    ``(offsets tag, lengths tag, pieces)`` for each of :data:`_SEGMENT_TAGS` it has (a sparse tile an
    empty piece).

    Raises:
        DecodeError: as many offsets as lengths they are not, or a piece lies past the end of ``held``.
    """
    found = []
    for code, lengths_code in _SEGMENT_TAGS.items():
        offsets = next((t[4] for t in tags if t[0] == code), None)
        if offsets is None:
            continue
        lengths = next((t[4] for t in tags if t[0] == lengths_code), ())
        if len(offsets) != len(lengths):
            raise DecodeError(f"corrupt TIFF: IFD {index} has {len(offsets)} pieces of image data and "
                              f"{len(lengths)} lengths")
        if any(length and offset + length > len(held) for offset, length in zip(offsets, lengths)):
            end = max(offset + length for offset, length in zip(offsets, lengths))
            raise DecodeError(f"truncated TIFF: the image data of IFD {index} lie past the end of the "
                              f"file ({end:,} > {len(held):,} bytes); its pages cannot be "
                              "copied into the output (only its first page is restored)")
        found.append((code, lengths_code, [held[o:o + n] if n else b"" for o, n in zip(offsets, lengths)]))
    return found


def _place(out: bytearray, piece: bytes, framed: bool = False) -> int:
    """Append ``piece`` to ``out`` on a word boundary; its offset (0 for an empty piece: a sparse tile).
    ``framed``: led by its length (4 bytes) and trailed by its last 4 bytes, as GDAL frames a
    cloud-optimised GeoTIFF's tiles (a reader learns a tile's length without the lengths array)."""
    if not piece:
        return 0
    out += b"\x00" * ((len(out) + 4 * framed) & 1)
    if framed:
        out += struct.pack("<I", len(piece))
    at = len(out)
    out += piece
    if framed:
        out += piece[-4:]
    return at


def _ifd_entries(tags: list[tuple], segments: list[tuple[int, int, list[bytes]]],
                 placed: dict[int, list[int]]) -> list[tuple]:
    """The IFD entries (:func:`_ifd_bytes`) of a page's ``tags`` with its ``segments`` at the offsets
    ``placed`` gives for each offsets tag."""
    moved = {code for code, _, _ in segments} | {lengths for _, lengths, _ in segments}
    entries = [t[:4] for t in tags if t[0] not in moved]
    for code, lengths_code, pieces in segments:
        entries += [(code, 4, len(pieces), np.asarray(placed[code], "<u4").tobytes()),
                    (lengths_code, 4, len(pieces), np.asarray([len(p) for p in pieces], "<u4").tobytes())]
    return entries


_COG_LAYOUT = (b"LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n"
               b"BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n ")
#: GDAL's structural metadata after the header of a cloud-optimised GeoTIFF: what its layout promises
#: (GDAL then reports it as LAYOUT=COG, and reads a tile's length from its leader)
_COG_GHOST = b"GDAL_STRUCTURAL_METADATA_SIZE=%06d bytes\n" % len(_COG_LAYOUT) + _COG_LAYOUT


def _cloud_optimized(tiff: bytes) -> bytes:
    """A tiled little-endian classic ``tiff`` (its image, any internal mask, then its overviews
    largest first, each with any mask: as :func:`_encode_tifffile` writes them) laid out as a
    cloud-optimised GeoTIFF: every IFD first, in that order, then the tiles of the smallest overview
    and so on up to the full-resolution image's, each level's mask after its image, so a reader
    gets every header with one range request and a zoomed-out view without the rest. The same tags
    and compressed tiles. ``tiff`` unchanged if tifffile cannot read it back."""
    try:
        with _tifffile(tiff) as tif:
            ifds = [_tags_of_page(page, "<", tiff) for page in tif.pages]
            masks = [page.photometric == _TIFF_MASK for page in tif.pages]
        segments = [_segments(tags, tiff, index) for index, tags in enumerate(ifds)]
    except Exception:  # noqa: BLE001 - left as written: it is a valid TIFF, only not cloud-optimised
        return tiff
    if any(0 < len(piece) < 4 for s in segments for _, _, pieces in s for piece in pieces):
        return tiff  # (a tile too short to be trailed by its last 4 bytes: none is, compressed)
    levels: list[list[int]] = []  # each level's image IFD, then its mask's
    for index, mask in enumerate(masks):
        if mask and levels:
            levels[-1].append(index)
        else:
            levels.append([index])
    unplaced = [{code: [0] * len(pieces) for code, _, pieces in s} for s in segments]
    at, ifd_at = 8 + len(_COG_GHOST), []
    for tags, s, placed in zip(ifds, segments, unplaced):  # (an IFD's size does not depend on its offsets)
        at += at & 1
        ifd_at.append(at)
        at += len(_ifd_bytes(_ifd_entries(tags, s, placed), at))
    out = bytearray(at)
    placed = [{} for _ in ifds]
    for level in reversed(levels):
        for index in level:
            for code, _, pieces in segments[index]:
                placed[index][code] = [_place(out, piece, framed=True) for piece in pieces]
    out[:8 + len(_COG_GHOST)] = b"II*\x00" + struct.pack("<I", ifd_at[0]) + _COG_GHOST
    for index, (tags, where) in enumerate(zip(ifds, ifd_at)):
        entries = _ifd_entries(tags, segments[index], placed[index])
        block = bytearray(_ifd_bytes(entries, where))
        if index + 1 < len(ifds):
            struct.pack_into("<I", block, 2 + 12 * len(entries), ifd_at[index + 1])
        out[where:where + len(block)] = block
    return bytes(out)


#: tags of how a page's samples are stored, taken from the page compressed again (:func:`_little_endian_page`)
_STORAGE_TAGS = frozenset({256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 292, 293, 317, 322, 323, 324,
                           325, 338, 339, 347, 530})


def _tags_of_page(page, order: str, data: bytes) -> list[tuple]:
    """A tifffile ``page``'s tags (of a file of byte ``order`` whose bytes are ``data``) to copy, as
    ``(code, datatype, count, little-endian value bytes, value)``: the first of a repeated tag, none
    that points at another IFD, a LONG8 as a LONG when it fits (else left out), none of an unknown
    type or whose value lies past the file's end."""
    tags, seen = [], set()
    for t in page.tags.values():
        code, kind, count = t.code, int(t.dtype), t.count
        if code in seen or code in _POINTER_TAGS or kind not in _PAGE_TYPE_SIZES:
            continue
        seen.add(code)
        size = _PAGE_TYPE_SIZES[kind]
        length = count * size * _TYPE_COUNTS.get(kind, 1)
        raw = data[t.valueoffset:t.valueoffset + length]
        if len(raw) != length:
            continue
        raw = _little_endian(raw, size, order)
        if kind in (16, 17):
            values = np.frombuffer(raw, "<u8" if kind == 16 else "<i8")
            small = values.astype("<u4" if kind == 16 else "<i4")
            if not (small == values).all():
                continue
            kind, raw = kind - 12, small.tobytes()
        value = _as_ints(t.value) if code in _SEGMENT_TAGS or code in _SEGMENT_TAGS.values() else None
        tags.append((code, kind, count, raw, value))
    return tags


def _little_endian_page(page, index: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """A tifffile ``page`` (the ``index``-th IFD) compressed again into a one-page little-endian
    TIFF, stored as it was where tifffile writes its compression (else LZW)."""
    import tifffile

    pixels = int(page.imagelength) * int(page.imagewidth) * max(1, int(page.imagedepth))
    if pixels > max_pixels:  # (decoded to be turned: a decompression bomb's claim is refused first)
        raise ImageTooLargeError(f"TIFF page {index + 1} (IFD {index}) claims {pixels:,} pixels, above the limit "
                                 f"of {max_pixels:,}: it cannot be copied into the output")
    try:
        samples = page.asarray()
        compression = TIFF_COMPRESSIONS.get(page.compression, "lzw")
        options = dict(photometric=page.photometric, planarconfig=page.planarconfig, compression=compression,
                       metadata=None, extrasamples=page.extrasamples or None,
                       colormap=page.colormap if page.photometric == 3 else None,
                       predictor=page.predictor if page.predictor in (2, 3) and compression in _PREDICTED else None,
                       tile=(page.tilelength, page.tilewidth) if page.is_tiled else None)
        out = io.BytesIO()
        tifffile.imwrite(out, samples, **options)
        return out.getvalue()
    except Exception as exc:  # noqa: BLE001 - tifffile and its codecs raise many types
        raise DecodeError(f"corrupt TIFF: page {index + 1} (IFD {index}) cannot be read to copy it into the "
                          f"output: {_reason(exc)}") from exc


def _last_ifd_link(tiff: bytearray) -> int:
    """Where the last IFD of a little-endian classic ``tiff`` stores its next IFD's offset (0)."""
    link, seen = 4, set()
    (at,) = struct.unpack_from("<I", tiff, link)
    while at and at not in seen and at + 2 <= len(tiff):
        seen.add(at)
        (count,) = struct.unpack_from("<H", tiff, at)
        link = at + 2 + 12 * count
        (at,) = struct.unpack_from("<I", tiff, link)
    return link


def _sane_dpi(dpi) -> tuple[float, float] | None:
    """``(x, y)`` pixels per inch when both are finite and between 1/1000 and a million; else None."""
    try:
        x, y = (float(v) for v in dpi)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return (x, y) if all(1e-3 < v < 1e6 for v in (x, y)) else None


def _tiff_dpi(data: bytes) -> tuple[float, float] | None:
    """A TIFF's XResolution and YResolution in pixels per inch (ResolutionUnit inch, the default, or
    centimetre); ``None`` without them, with ResolutionUnit none (an aspect ratio), or unreadable."""
    ifd = _tiff_ifd(data)
    if ifd is None or _TIFF_X_RESOLUTION not in ifd or _TIFF_Y_RESOLUTION not in ifd:
        return None
    try:
        with _quiet():
            unit = int(_as_ints(ifd.get(_TIFF_RESOLUTION_UNIT, 2))[0])
            dpi = _sane_dpi((ifd[_TIFF_X_RESOLUTION], ifd[_TIFF_Y_RESOLUTION]))
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    if dpi is None or unit not in (2, 3):
        return None
    return dpi if unit == 2 else (dpi[0] * 2.54, dpi[1] * 2.54)


def _oriented_dpi(dpi: tuple[float, float] | None, orientation: int) -> tuple[float, float] | None:
    """``dpi`` of the stored pixels as shown: x and y swapped by an orientation that transposes."""
    return None if dpi is None else (dpi[1], dpi[0]) if orientation in (5, 6, 7, 8) else dpi


def _decode_16bit(data: bytes, raw_size: tuple[int, int], fmt: str, mode: str
                  ) -> tuple[bool, np.ndarray, np.ndarray | None]:
    """``(gray, rgb16 H×W×3, alpha16 H×W or None)`` of a 16-bit PNG or TIFF, stored orientation.

    ``mode``: Pillow's, from the header. A fourth sample is alpha only when the file says so (Pillow's
    ``RGBA``/``LA``: a TIFF's ExtraSamples 1 or 2); an unspecified one (ExtraSamples 0: a satellite
    tile's near-infrared band, say) is not transparency and is left out, as Pillow does at 8 bits."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # libpng/libtiff complaints: our error
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)  # never rotates by EXIF
    except cv2.error as exc:
        raise DecodeError(f"corrupt 16-bit {fmt} data: {_reason(exc)}") from exc
    finally:
        cv2.utils.logging.setLogLevel(level)
    if arr is None:
        raise DecodeError(f"truncated or corrupt 16-bit {fmt} data")
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    if arr.dtype != np.uint16 or channels not in (1, 3, 4) or (arr.shape[1], arr.shape[0]) != raw_size:
        raise UnsupportedImageError(f"16-bit {fmt} that cannot be read as gray, RGB or RGBA "
                                    f"(decoded as {arr.dtype} with {channels} channels, {arr.shape[1]}x{arr.shape[0]})")
    if channels == 1:
        return True, np.repeat(arr[..., None], 3, axis=2), None
    rgb = np.ascontiguousarray(arr[..., 2::-1])  # OpenCV's BGR(A)
    has_alpha = channels == 4 and mode.upper().endswith("A")
    return False, rgb, (arr[..., 3].copy() if has_alpha else None)


def decode_mask(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a mask file; non-zero = hole.

    The rule per mode: single-channel (``1``, ``L``, 16-bit ``I;16``/``I``/``F``): value != 0.
    Colour (``RGB``, palette, ``CMYK``, ...): any RGB channel != 0. With alpha (``RGBA``, ``LA``,
    palette with transparency): additionally alpha > 0, so a fully transparent pixel is never a
    hole whatever colour it stores (editors keep junk colours under transparent pixels).
    The mask file's own EXIF orientation is applied.

    Args:
        data: The encoded mask file.
        max_pixels: Same guard as :func:`decode_image`.

    Returns:
        ``H×W`` bool, ``True`` = hole.

    Raises:
        MaskError: Any reason the mask cannot be read, with that reason in the message.
    """
    try:
        layout = _tiff_layout(data)
        if layout is not None:  # (as in decode_image) its colour (and alpha) make the mask
            image = _decode_tiff(data, layout, max_pixels)  # a mask of values: its own, not its proxy's
            return _colour_hole(image.samples, image.alpha16 if image.alpha16 is not None else image.alpha)
        sixteen = _sixteen_bit_header(data)
        with _open(data, max_pixels, load=not sixteen) as im:
            orientation = _orientation(im, data if sixteen else None)
            if sixteen:  # Pillow keeps only the high byte of 16-bit colour: a hole stored as 1..255 would vanish
                _, rgb16, alpha16 = _decode_16bit(data, (im.width, im.height), im.format or "", im.mode)
                hole = _colour_hole(rgb16, alpha16)
            else:
                hole = _mask_pixels(im)
    except MaskError:
        raise
    except (DecodeError, ImageTooLargeError, UnsupportedImageError) as exc:
        raise MaskError(f"cannot read mask: {exc}") from exc
    return apply_orientation(hole, orientation)


def encode_image(
    rgb: np.ndarray,
    fmt: str = "png",
    *,
    gray: bool = False,
    alpha: np.ndarray | None = None,
    png_compression: int = 1,
    jpeg_quality: int = 95,
    extra: np.ndarray | None = None,
    extra_samples: tuple[int, ...] = (),
    tiff_tags: tuple[tuple, ...] = (),
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    xmp: bytes | None = None,
    iptc: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    text: tuple[tuple[bytes, bytes], ...] = (),
    tiff_storage: TiffStorage | None = None,
    nodata_mask: np.ndarray | None = None,
    pages_from: bytes | None = None,
    jpeg_tables: tuple[tuple[tuple[int, ...], ...], int] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> bytes:
    """Encode RGB pixels to file bytes.

    Args:
        rgb: ``H×W×3`` uint8, or uint16 for a 16-bit PNG or TIFF (:data:`SIXTEEN_BIT_FORMATS`), or
            one of :data:`VALUE_TYPES` for a TIFF of values (NaN and infinities written as they are).
        fmt: ``png``, ``jpeg``/``jpg``, ``tiff``/``tif``, ``webp`` or ``bmp``.
        gray: Write one channel, the rounded mean of R, G, B (exactly the original gray value when
            the three channels are equal, as :func:`decode_image` returns gray sources).
        alpha: ``H×W`` of ``rgb``'s dtype to write as RGBA / LA. Not possible for JPEG and BMP. (16-bit
            gray with alpha is written as RGBA: neither encoder writes 16-bit gray + alpha.)
        png_compression: zlib level 0..9 for PNG; 1 is several times faster than Pillow's 6 and
            only a few percent larger on photos.
        jpeg_quality: Quality 1..100 of the lossy formats (JPEG, WebP).
        extra: ``H×W×k`` bands past colour and alpha, of ``rgb``'s dtype (TIFF only): written as extra
            samples (ExtraSamples 0), so an RGB + near-infrared tile keeps its fourth band.
        extra_samples: with ``extra``, the source's ExtraSamples codes in its order
            (:attr:`DecodedImage.extra_samples`): the alpha and the bands are put back where they were.
        tiff_tags: ``(code, datatype, count, value)`` tags a TIFF is written with
            (:attr:`DecodedImage.tiff_tags`: a tile's georeferencing); ignored by other formats.
        icc_profile: an ICC profile to embed (PNG, JPEG, WebP, TIFF) when it describes the samples
            written (RGB, or GRAY for one channel); otherwise left out.
        exif: TIFF-structured EXIF bytes (:attr:`DecodedImage.exif`) to embed in a PNG, JPEG or WebP;
            a TIFF gets its :data:`DESCRIPTIVE_TAGS` (those ``tiff_tags`` does not already hold) and
            its Exif and GPS IFDs (capture settings, dates, position; the MakerNote left out).
        xmp: an XMP packet (:attr:`DecodedImage.xmp`) to embed in a PNG, JPEG, WebP or TIFF (in a JPEG
            when it fits one segment, 65,504 bytes; otherwise left out).
        iptc: IPTC-IIM records (:attr:`DecodedImage.iptc`) to embed in a JPEG (APP13) or TIFF (tag
            33723); PNG and WebP have no place for them (their fields are usually in the XMP too).
        dpi: ``(x, y)`` pixels per inch (:attr:`DecodedImage.dpi`) for a PNG (pHYs), JPEG (JFIF),
            TIFF or BMP; WebP has no place for it (but its EXIF, if any, keeps the source's).
        text: ``(type, payload)`` text (:attr:`DecodedImage.text`): PNG ``tEXt``/``zTXt``/``iTXt``
            chunks go into a PNG, JPEG ``COM`` comments into a JPEG; other formats and kinds are left out.
        tiff_storage: how a TIFF stores its pixels (:attr:`DecodedImage.tiff_storage`): its
            compression (JPEG at ``jpeg_quality``; one tifffile cannot write, or JPEG/WebP for samples
            they cannot hold, becomes LZW), predictor and tiles, and its overviews, made from ``rgb``
            (area average; nearest for samples of values, as ``gdaladdo``'s default); TIFF only.
            Without it a TIFF is LZW-compressed in strips.
        nodata_mask: ``H×W`` bool, ``True`` = nodata: written as the TIFF's internal mask (GDAL's
            per-dataset mask), and one per overview, when any pixel is ``True``; TIFF only.
        pages_from: a multi-page TIFF (:attr:`DecodedImage.document`) whose pages past the first go
            into a TIFF output after the image, as they are stored (:func:`_with_pages`); TIFF only.
            A page that must be decoded to be copied (big-endian, samples wider than 8 bits) is
            refused past ``max_pixels``, as :func:`decode_image` refuses an image.
        jpeg_tables: a JPEG source's quantization tables and chroma subsampling
            (:attr:`DecodedImage.jpeg_tables`): a JPEG output is compressed with them instead of at
            ``jpeg_quality`` (as the source was: about its size, and its known pixels change least); JPEG only.

    Returns:
        The encoded bytes. PNG, TIFF (but one whose ``tiff_storage`` is JPEG) and BMP round-trip
        bit-exactly through :func:`decode_image`.

    Raises:
        ValueError: Bad array shape/dtype, unknown format, alpha with JPEG/BMP, or 16-bit samples
            for a format that has none.
        DecodeError: a page of ``pages_from`` cannot be copied (its data lie past the file's end).
    """
    fmt = _normalise_format(fmt)
    if fmt == "tiff" and icc_profile is not None:
        tiff_tags = tuple(tiff_tags) + ((_TIFF_ICC_PROFILE, 7, len(icc_profile), icc_profile),) \
            if _profile_fits(icc_profile, gray) else tuple(tiff_tags)  # (tifffile writes gray + alpha as gray)
    if fmt == "tiff":
        tiff_tags = tuple(tiff_tags) + tuple((code, dtype, len(v), v) for code, dtype, v in
                                             ((_TIFF_XMP, 1, xmp), (_TIFF_IPTC, 7, iptc)) if v)
        held = {tag[0] for tag in tiff_tags}
        tiff_tags += tuple(tag for tag in _tags_of_exif(exif) if tag[0] not in held)
        exif_ifds = _exif_sub_ifds(exif)  # (a camera's Exif and GPS IFDs: appended after tifffile writes)
        tiff_tags += tuple((_EXIF_STAND_INS[tag], 4, 1, 0) for tag in exif_ifds if tag not in held)
    dpi = _sane_dpi(dpi)
    valued = isinstance(rgb, np.ndarray) and rgb.dtype in VALUE_TYPES
    if fmt == "hgt":
        return _encode_hgt(rgb, gray)
    if valued and fmt != "tiff":
        raise ValueError(f"{fmt} cannot hold {rgb.dtype} samples; write tiff")
    if nodata_mask is not None:
        if not isinstance(nodata_mask, np.ndarray) or nodata_mask.dtype != bool or nodata_mask.shape != rgb.shape[:2]:
            raise ValueError(f"nodata_mask must be an H×W bool array of shape {rgb.shape[:2]}, got "
                             f"{getattr(nodata_mask, 'dtype', type(nodata_mask).__name__)} "
                             f"{getattr(nodata_mask, 'shape', '')}")
        nodata_mask = nodata_mask if fmt == "tiff" and nodata_mask.any() else None
    if extra is not None or valued or (fmt == "tiff" and (tiff_tags or dpi or tiff_storage or nodata_mask is not None
                                                          or pages_from is not None)):
        out = _encode_tifffile(rgb, fmt, gray, alpha, extra, extra_samples, tiff_tags, dpi, tiff_storage,
                               nodata_mask, jpeg_quality)
        if fmt != "tiff":
            return out
        out = _with_exif_ifds(out, exif_ifds)
        return out if pages_from is None else _with_pages(out, pages_from, max_pixels)
    if isinstance(rgb, np.ndarray) and rgb.dtype == np.uint16:
        out = _encode_16bit(rgb, fmt, gray, alpha, png_compression)
        return _png_with_chunks(out, icc_profile, exif, gray and alpha is None, xmp, dpi, text) if fmt == "png" else out
    _check_rgb(rgb, "rgb")
    if alpha is not None:
        _check_plane(alpha, rgb.shape[:2], "alpha")
        if fmt in _NO_ALPHA_FORMATS:  # Pillow reads 32-bit BMP back as RGB: alpha would vanish
            raise ValueError(f"{fmt} cannot keep alpha; drop it or write png/tiff/webp")
    planes = _gray_of(rgb) if gray else rgb
    if fmt == "png" and not (gray and alpha is not None):  # OpenCV cannot write 2-channel PNG
        return _png_with_chunks(_encode_png_cv2(planes, alpha, png_compression), icc_profile, exif, gray, xmp, dpi,
                                text)
    out = _encode_pillow(planes, alpha, fmt, png_compression, jpeg_quality,
                         icc_profile if _profile_fits(icc_profile, gray) else None, exif, xmp, dpi, jpeg_tables)
    if fmt == "png":  # (gray + alpha: Pillow wrote the profile and EXIF)
        return _png_with_chunks(out, None, None, gray, xmp, dpi, text)
    comments = tuple(body for kind, body in text if kind == b"COM")
    return _jpeg_with_segments(out, iptc, comments) if (iptc or comments) and fmt == "jpeg" else out


# --- decoding helpers ------------------------------------------------------------------------


class _Opened:
    """Context manager around an opened, size-checked, fully loaded PIL image."""

    def __init__(self, im: Image.Image) -> None:
        self.im = im

    def __enter__(self) -> Image.Image:
        return self.im

    def __exit__(self, *exc: object) -> None:
        self.im.close()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence Pillow's warnings about the file: we enforce max_pixels ourselves (its warning
    between its two limits is noise), and "Corrupt EXIF data" / "Tag data larger than file" only
    mean a tag is ignored (a broken orientation counts as 1). One line per photo would flood logs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


def _open(data: bytes, max_pixels: int, min_side: int | None = None, load: bool = True) -> _Opened:
    """Open ``data``, refuse it if too large, then load the first frame's pixels (a JPEG at a
    reduced scale whose shorter side is still at least ``min_side``, when that is given; none with
    ``load=False``, for files whose pixels another decoder reads)."""
    if len(data) == 0:
        raise DecodeError("empty file (0 bytes)")
    size = _header_size(data)
    if size is not None:  # refuse from our own header parse, before Pillow touches anything
        _check_pixels(size[0], size[1], max_pixels)
    try:
        with _quiet():
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(_bomb_message(exc, max_pixels)) from exc
    except MemoryError as exc:
        raise ImageTooLargeError(_memory_message(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - a malformed file can make Pillow raise any type
        raise _open_failure(data, exc) from exc
    try:
        _check_pixels(im.width, im.height, max_pixels)
        _refuse_animation(im)
        if min_side and im.format == "JPEG" and min(im.size) >= 2 * min_side:
            f = min_side / min(im.size)  # draft picks the smallest DCT scale at least this large
            im.draft(im.mode, (math.ceil(im.width * f), math.ceil(im.height * f)))
        if load:
            _load(im)
    except BaseException:
        im.close()
        raise
    return _Opened(im)


def _load(im: Image.Image) -> None:
    """Decode the pixels, turning Pillow's many failure types into one readable DecodeError."""
    try:
        with _quiet():
            im.load()
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(str(exc)) from exc
    except MemoryError as exc:
        raise ImageTooLargeError(_memory_message(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - fuzzing found TypeError, IndexError... from broken files
        reason = _reason(exc)
        if isinstance(exc, EOFError) or "truncat" in reason.lower():
            raise DecodeError(f"truncated {im.format or 'image'} data: {reason}") from exc
        raise DecodeError(f"corrupt {im.format or 'image'} data: {reason}") from exc


def _refuse_animation(im: Image.Image) -> None:
    if im.format not in _ANIMATION_FORMATS:
        return
    try:
        animated = bool(getattr(im, "is_animated", False))
        # GIF counts frames by walking the whole file: say "more than one" instead.
        frames = f"{im.n_frames} frames" if im.format != "GIF" else "more than one frame"
    except Exception as exc:  # noqa: BLE001 - a malformed file can make Pillow raise any type
        raise DecodeError(f"corrupt {im.format} data: cannot read its frames: {_reason(exc)}") from exc
    if animated:
        raise UnsupportedImageError(f"animated {im.format} ({frames}): only still images are restored; "
                                    "extract the frame to restore as a still image")


def _open_failure(data: bytes, exc: BaseException) -> Exception:
    """Explain why Pillow could not even read the header."""
    sniffed = _sniff_format(data)
    if sniffed is None:
        return DecodeError(f"not a decodable image ({len(data)} bytes, starts with {data[:8]!r})")
    bits = _tiff_sample_info(data)
    if bits is not None and _tiff_refusal(*bits):
        return UnsupportedImageError(_tiff_refusal(*bits))
    (bands,) = _tiff_tags(data, _TIFF_SAMPLES_PER_PIXEL) or ((),)
    if bands and bands[0] > 4:  # a multi-band tile: valid, but no RGB(A) reading of it is right
        return UnsupportedImageError(
            f"TIFF with {bands[0]} samples per pixel (a multi-band image): only gray, RGB and RGBA images are "
            "restored; write the bands to restore as an RGB TIFF first")
    detail = "" if isinstance(exc, UnidentifiedImageError) else f"; {_reason(exc)}"  # that one names a BytesIO
    return DecodeError(
        f"not a decodable image: looks like {sniffed} but its header is truncated or corrupt "
        f"({len(data)} bytes{detail})"
    )


def _sniff_format(data: bytes) -> str | None:
    signatures = {
        _PNG_SIGNATURE: "PNG",
        b"\xff\xd8\xff": "JPEG",
        **dict.fromkeys(_TIFF_HEADERS + _BIGTIFF, "TIFF"),
        b"GIF8": "GIF",
        b"BM": "BMP",
    }
    for prefix, name in signatures.items():
        if data.startswith(prefix):
            return name
    return "WEBP" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None


class _BigTiffIfd(dict):
    """The first IFD of a BigTIFF as Pillow's IFD gives a classic TIFF's (Pillow reads none): tag
    code to value, a number or a tuple of them (a RATIONAL as its float), text as ``str``, and
    ``next``, the offset of the IFD after it (0 for none)."""

    next: int = 0


def _big_tiff_ifd(data: bytes) -> _BigTiffIfd | None:
    """:func:`_tiff_ifd` for a BigTIFF, read by tifffile; None if unreadable."""
    try:
        with _tifffile(data) as tif:
            page = tif.pages[0]
            ifd = _BigTiffIfd()
            for tag in page.tags.values():
                value = tag.value
                if int(tag.dtype) in (5, 10):  # RATIONAL: (numerator, denominator) pairs
                    pairs = np.asarray(value, float).reshape(-1, 2)
                    ratios = tuple(float(n / d) if d else math.nan for n, d in pairs)
                    value = ratios[0] if len(ratios) == 1 else ratios
                elif hasattr(value, "value") and isinstance(value.value, int):  # tifffile's enums
                    value = int(value.value)
                ifd.setdefault(tag.code, value)
            order = "<" if data[:2] == b"II" else ">"
            (count,) = struct.unpack_from(order + "Q", data, page.offset)
            (ifd.next,) = struct.unpack_from(order + "Q", data, page.offset + 8 + 20 * count)
            return ifd
    except Exception:  # noqa: BLE001 - unreadable, as a broken classic IFD is
        return None


def _tiff_ifd(data: bytes) -> TiffImagePlugin.ImageFileDirectory_v2 | _BigTiffIfd | None:
    """The first IFD of a TIFF (or BigTIFF, :class:`_BigTiffIfd`), or None if not a TIFF or unreadable."""
    if data[:4] in _BIGTIFF:
        return _big_tiff_ifd(data)
    if data[:4] not in _TIFF_HEADERS:
        return None
    try:
        with _quiet():
            fp = io.BytesIO(data)
            ifd = TiffImagePlugin.ImageFileDirectory_v2(fp.read(8))
            fp.seek(ifd.next)
            ifd.load(fp)
    except (OSError, SyntaxError, EOFError, ValueError, KeyError, TypeError, struct.error):
        return None
    return ifd


def _tiff_tags(data: bytes, *tags: int) -> tuple[tuple[int, ...], ...] | None:
    """The integer values of these tags on a TIFF's first page (1 where a tag is absent, the TIFF
    default of the tags asked here), or None if unreadable."""
    ifd = _tiff_ifd(data)
    if ifd is None:
        return None
    try:
        with _quiet():
            return tuple(_as_ints(ifd.get(tag, 1)) for tag in tags)
    except (TypeError, ValueError):
        return None


def _tiff_sample_info(data: bytes) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """``(bits_per_sample, sample_format)`` of a TIFF's first page, or None if unreadable."""
    return _tiff_tags(data, _TIFF_BITS_PER_SAMPLE, _TIFF_SAMPLE_FORMAT)


def _header_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` read from the file header without Pillow, or None when not known.

    Covers PNG, GIF, BMP, WebP, JPEG and TIFF, so a decompression bomb is refused before any
    decoder (or Pillow's own bomb check, whose message has no dimensions) sees it.
    """
    try:
        if data.startswith(_PNG_SIGNATURE):
            ihdr = _png_ihdr(data)
            return None if ihdr is None else (ihdr[0], ihdr[1])
        if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
            return struct.unpack("<HH", data[6:10])
        if data[:2] == b"BM" and len(data) >= 26:
            if struct.unpack("<I", data[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER
                return struct.unpack("<HH", data[18:22])
            width, height = struct.unpack("<ii", data[18:26])
            return abs(width), abs(height)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_size(data)
        if data[:3] == b"\xff\xd8\xff":
            return _jpeg_size(data)
        ifd = _tiff_ifd(data)
        if ifd is not None and _TIFF_WIDTH in ifd and _TIFF_LENGTH in ifd:
            with _quiet():  # tag values are parsed (and complained about) on access
                return _as_ints(ifd[_TIFF_WIDTH])[0], _as_ints(ifd[_TIFF_LENGTH])[0]
    except (struct.error, TypeError, ValueError, IndexError):
        return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Size from the first SOF marker, walking the segments (each step moves on by >= 2 bytes)."""
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before them
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if length < 2:
            return None
        i += 2 + length
    return None


def _as_ints(value: object) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, tuple) else (int(value),)


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"image is {width}x{height} = {width * height:,} pixels, above the limit of {max_pixels:,}"
        )


def _bomb_message(exc: Exception, max_pixels: int) -> str:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
    return f"image has {pixels}, above Pillow's decompression-bomb limit (max_pixels={max_pixels:,})"


def _reason(exc: BaseException) -> str:
    """The exception's text; prefixed with its type unless it is one of the usual I/O kinds."""
    text = str(exc) or type(exc).__name__
    usual = (OSError, SyntaxError, EOFError, ValueError, struct.error)
    return text if isinstance(exc, usual) or text == type(exc).__name__ else f"{type(exc).__name__}: {text}"


def _memory_message(exc: MemoryError) -> str:
    return f"decoding needs more memory than this process may use ({_reason(exc)}); lower max_pixels or add memory"


def _png_ihdr(data: bytes) -> tuple[int, int, int, int] | None:
    """``(width, height, bit_depth, colour_type)`` from a PNG header, or None if not a PNG."""
    if len(data) < 26 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour


_DEPTH_WHY = "only 8- and 16-bit unsigned samples are supported"


def _tiff_refusal(bits: tuple[int, ...], sample_format: tuple[int, ...]) -> str | None:
    """Why a TIFF's samples are refused (float; signed or unsigned above 8 bits but 16-bit unsigned), or None."""
    if max(bits) <= 8 and _TIFF_FLOAT not in sample_format:  # Pillow converts what it opens of these
        return None
    if max(bits) == 16 and set(sample_format) <= {1}:
        return None
    kind = "float" if _TIFF_FLOAT in sample_format else "signed" if 2 in sample_format else "unsigned"
    return (f"{max(bits)}-bit {kind} TIFF samples: {_DEPTH_WHY}, and in a gray or RGB TIFF 32- or 64-bit float, "
            f"16- or 32-bit signed and 32-bit unsigned ones (bits per sample {bits}, sample format {sample_format})")


def _sixteen_bit_header(data: bytes) -> bool:
    """The header says 16-bit unsigned samples: a PNG of bit depth 16 or such a TIFF."""
    ihdr = _png_ihdr(data)
    if ihdr is not None:
        return ihdr[2] == 16
    tiff = _tiff_sample_info(data)
    return tiff is not None and max(tiff[0]) == 16 and set(tiff[1]) <= {1}


def _png_has_chunk(data: bytes, kind: bytes) -> bool:
    """Whether a PNG has a chunk of this type, from the chunk headers alone (nothing decompressed)."""
    at = len(_PNG_SIGNATURE)
    while at + 8 <= len(data):
        length, tag = struct.unpack(">I4s", data[at:at + 8])
        if tag == kind:
            return True
        if tag == b"IEND":
            return False
        at += 12 + length
    return False


def _refuse_depth(im: Image.Image, data: bytes) -> None:
    """Refuse float, signed and 32-bit samples (8-bit ones, and the 16-bit unsigned samples of PNG and
    TIFF that :func:`_sixteen_bit_header` sends to OpenCV, are read)."""
    if im.format == "PNG" and _png_ihdr(data) is not None:  # bit depth 1-16, unsigned integers only
        return
    tiff = _tiff_sample_info(data) if im.format == "TIFF" else None
    if tiff is not None:
        refusal = _tiff_refusal(*tiff)
        if refusal:
            raise UnsupportedImageError(refusal)
        return
    if im.mode in _HIGH_DEPTH_MODES or im.mode.startswith("I;16"):
        raise UnsupportedImageError(f"{_DEPTH_WHY} (mode {im.mode})")


def _orientation(im: Image.Image, unloaded: bytes | None = None) -> int:
    """EXIF orientation 1..8; 1 for none, out-of-range values and broken EXIF (never fails the photo).

    ``unloaded``: the file's bytes when Pillow has not decoded its pixels (another decoder reads
    them). Pillow looks for a PNG's EXIF by decoding the whole image, so its chunk headers are
    looked at first: no ``eXIf`` chunk, no orientation.
    """
    if unloaded is not None and im.format == "PNG" and "exif" not in im.info \
            and not _png_has_chunk(unloaded, b"eXIf"):
        return 1
    try:
        with _quiet():
            value = int(im.getexif().get(_EXIF_ORIENTATION_TAG, 1))
    except (TypeError, ValueError, SyntaxError, OSError, EOFError, KeyError, IndexError, struct.error):
        return 1
    return value if 1 <= value <= 8 else 1


def _tiff_orientation(data: bytes) -> int:
    """A TIFF's Orientation tag (1..8; 1 when absent, out of range or unreadable), from its first IFD."""
    tags = _tiff_tags(data, _EXIF_ORIENTATION_TAG)
    value = tags[0][0] if tags and tags[0] else 1
    return value if 1 <= value <= 8 else 1


def _to_rgb_alpha(im: Image.Image) -> tuple[bool, np.ndarray, np.ndarray | None]:
    """``(gray, rgb H×W×3, alpha H×W or None)`` in stored orientation."""
    mode = im.mode
    if mode in ("1", "L", "LA", "La"):
        la = np.asarray(im.convert("LA"))
        alpha = la[..., 1].copy() if mode in ("LA", "La") else None
        return True, np.repeat(la[..., :1], 3, axis=2), alpha
    has_alpha = mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in im.info)
    try:
        rgba = np.asarray(im.convert("RGBA" if has_alpha else "RGB"))
    except Exception as exc:  # noqa: BLE001 - Pillow's converters raise ValueError, OSError, KeyError...
        raise UnsupportedImageError(f"cannot convert mode {mode} to RGB: {_reason(exc)}") from exc
    if has_alpha:
        return False, np.ascontiguousarray(rgba[..., :3]), rgba[..., 3].copy()
    return False, rgba, None


def _mask_pixels(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in ("1", "L", "F", "I") or mode.startswith("I;16"):
        return np.asarray(im) != 0
    if mode in ("LA", "La"):
        la = np.asarray(im.convert("LA"))
        return (la[..., 0] != 0) & (la[..., 1] > 0)
    has_alpha = mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in im.info)
    try:
        px = np.asarray(im.convert("RGBA" if has_alpha else "RGB"))
    except Exception as exc:  # noqa: BLE001 - Pillow's converters raise ValueError, OSError, KeyError...
        raise MaskError(f"cannot read mask of mode {mode}: {_reason(exc)}") from exc
    return _colour_hole(px[..., :3], px[..., 3] if has_alpha else None)


def _colour_hole(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """A colour mask's hole: any channel non-zero (NaN too), and, with alpha, not fully transparent."""
    with np.errstate(invalid="ignore"):  # a float mask's signalling NaN is a hole, not a warning
        hole = rgb.any(axis=2)
    return hole if alpha is None else hole & (alpha > 0)


# --- encoding helpers ------------------------------------------------------------------------


def _normalise_format(fmt: str) -> str:
    norm = fmt.lower().lstrip(".")
    norm = _FORMAT_ALIASES.get(norm, norm)
    if norm not in _ENCODE_FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; use one of {', '.join(_ENCODE_FORMATS)}")
    return norm


def _check_rgb(rgb: np.ndarray, name: str) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        got = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ValueError(f"{name} must be an H×W×3 uint8 array, got {got}")


def _check_plane(plane: np.ndarray, shape: tuple[int, ...], name: str) -> None:
    if not isinstance(plane, np.ndarray) or plane.dtype != np.uint8 or plane.shape != shape:
        got = f"{plane.dtype} {plane.shape}" if isinstance(plane, np.ndarray) else type(plane).__name__
        raise ValueError(f"{name} must be an H×W uint8 array of shape {shape}, got {got}")


def _gray_of(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype.kind == "f":  # a gray source's three equal samples give it back exactly
        same = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
        return np.where(same, rgb[..., 0], rgb.mean(axis=2, dtype=np.float64)).astype(rgb.dtype)
    total = rgb.astype(np.uint32 if rgb.dtype in (np.uint8, np.uint16) else np.int64).sum(axis=2)
    return ((2 * total + 3) // 6).astype(rgb.dtype)  # round(total / 3), halves up, in integers


def as_gray(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` (8 or 16 bits) with each pixel's three channels set to their gray, the value a gray
    output is written with (:func:`encode_image` with ``gray=True``)."""
    return np.repeat(_gray_of(rgb)[..., None], 3, axis=2)


def _encode_png_cv2(planes: np.ndarray, alpha: np.ndarray | None, level: int) -> bytes:
    if planes.ndim == 3:  # OpenCV wants BGR(A); convert once here, never past this function
        order = [planes[..., 2], planes[..., 1], planes[..., 0]]
        planes = np.dstack(order + ([alpha] if alpha is not None else []))
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(planes), [cv2.IMWRITE_PNG_COMPRESSION, int(level)])
    if not ok:
        raise ValueError("OpenCV failed to encode PNG")
    return buf.tobytes()


def _encode_16bit(rgb: np.ndarray, fmt: str, gray: bool, alpha: np.ndarray | None, level: int) -> bytes:
    if fmt not in SIXTEEN_BIT_FORMATS:
        raise ValueError(f"{fmt} cannot hold 16-bit samples; write {' or '.join(SIXTEEN_BIT_FORMATS)}, "
                         "or pass the 8-bit pixels")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an H×W×3 array, got {rgb.dtype} {rgb.shape}")
    if alpha is not None and (alpha.dtype != np.uint16 or alpha.shape != rgb.shape[:2]):
        raise ValueError(f"alpha of a 16-bit image must be H×W uint16 of shape {rgb.shape[:2]}, "
                         f"got {alpha.dtype} {alpha.shape}")
    if gray and alpha is None:
        planes = _gray_of(rgb)
    else:
        planes = np.dstack([rgb[..., 2], rgb[..., 1], rgb[..., 0]] + ([alpha] if alpha is not None else []))
    params = [cv2.IMWRITE_PNG_COMPRESSION, int(level)] if fmt == "png" else \
        [cv2.IMWRITE_TIFF_COMPRESSION, 5]  # LZW, as the 8-bit TIFFs
    ok, buf = cv2.imencode(f".{fmt}", np.ascontiguousarray(planes), params)
    if not ok:
        raise ValueError(f"OpenCV failed to encode a 16-bit {fmt}")
    return buf.tobytes()


def _encode_tifffile(rgb: np.ndarray, fmt: str, gray: bool, alpha: np.ndarray | None, extra: np.ndarray | None,
                     codes: tuple[int, ...], tags: tuple[tuple, ...],
                     dpi: tuple[float, float] | None = None, storage: TiffStorage | None = None,
                     nodata_mask: np.ndarray | None = None, quality: int = 95) -> bytes:
    """A TIFF by tifffile: the colour (or its gray), then the alpha and the ``extra`` bands in the order
    ``codes`` gives (the alpha's place dropped when ``alpha`` is None), with ``tags`` and ``dpi``
    (pixels per inch), stored as ``storage`` says (LZW strips without it) with its overviews, and
    ``nodata_mask`` as the internal mask."""
    import tifffile

    if fmt != "tiff":
        raise ValueError(f"{fmt} cannot hold extra bands; write tiff, or leave them out")
    if not isinstance(rgb, np.ndarray) or not (rgb.dtype in (np.uint8, np.uint16) or rgb.dtype in VALUE_TYPES) \
            or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an H×W×3 uint8, uint16 or VALUE_TYPES array, got {getattr(rgb, 'dtype', rgb)}")
    extra = rgb[..., :0] if extra is None else extra[..., None] if extra.ndim == 2 else extra
    for name, plane in (("alpha", alpha), ("extra", extra)):
        if plane is not None and (plane.dtype != rgb.dtype or plane.shape[:2] != rgb.shape[:2]):
            raise ValueError(f"{name} must be {rgb.dtype} of size {rgb.shape[:2]}, got {plane.dtype} {plane.shape}")
    layout = [c for c in codes if c in (0, 1, 2)]
    alpha_at = next((i for i, c in enumerate(layout) if c in (1, 2)), None)
    if alpha is None and alpha_at is not None:
        del layout[alpha_at]
        alpha_at = None
    if alpha is not None and alpha_at is None:
        layout, alpha_at = [2] + layout, 0
    bands = iter(np.moveaxis(extra, -1, 0))
    layout = [c if i == alpha_at else 0 for i, c in enumerate(layout)]
    while len(layout) - (alpha_at is not None) < extra.shape[2]:
        layout.append(0)
    past = [alpha if i == alpha_at else next(bands) for i in range(len(layout))]
    colour = [_gray_of(rgb)] if gray else [rgb[..., 0], rgb[..., 1], rgb[..., 2]]
    planes = colour + past
    samples = planes[0] if len(planes) == 1 else np.dstack(planes)
    if storage is not None and storage.bilevel and samples.ndim == 2 and samples.dtype == np.uint8:
        samples = samples >= 128  # a fax's black and white (a fill's grays made one or the other)

    resolution = {} if dpi is None else {"resolution": dpi, "resolutionunit": "INCH"}
    stored = _storage_options(storage, samples, quality)

    def write(extratags: list[tuple], how: dict) -> bytes:
        how = dict(how)
        overviews = storage.overviews if how.pop("overviews", False) else ()
        out = io.BytesIO()
        common = dict(photometric="minisblack" if gray else "rgb", extrasamples=layout, metadata=None,
                      planarconfig=None if samples.ndim == 2 else "contig", **how)  # (no JSON shape description)
        # GDAL's layout of a mask: after its image, valid pixels set, deflated, in the image's tiles
        mask_options = dict(photometric=_TIFF_MASK, compression="zlib", metadata=None,
                            **({"tile": how["tile"]} if "tile" in how else {}))
        with tifffile.TiffWriter(out) as tif:
            tif.write(samples, extratags=extratags, **common, **resolution)
            if nodata_mask is not None:
                tif.write(~nodata_mask, subfiletype=_TIFF_MASK, **mask_options)
            for size in overviews:
                tif.write(_overview(samples, size, valued=samples.dtype in VALUE_TYPES), subfiletype=1, **common)
                if nodata_mask is not None:
                    tif.write(~_overview(nodata_mask, size, valued=True), subfiletype=1 | _TIFF_MASK, **mask_options)
        return out.getvalue()

    carried = [(code, dtype, count, value, True) for code, dtype, count, value in tags]
    try:
        out = write(carried, stored)
        if storage is not None and storage.cloud_optimized and "tile" in stored:
            out = _cloud_optimized(out)
        return _as_ccitt(out, samples, storage.compression) if samples.dtype == bool else out
    except Exception as exc:  # noqa: BLE001 - a source's storage never fails its output: LZW strips then
        if stored != {"compression": "lzw"}:
            _log.warning("TIFF written LZW-compressed in strips: its source's storage %s failed: %s", storage,
                         _reason(exc))
    try:
        return write(carried, {"compression": "lzw"})
    except Exception as exc:  # noqa: BLE001 - a source's odd tag never fails its output: written without tags
        _log.warning("TIFF written without its carried tags, which tifffile refused: %s", _reason(exc))
        return write([], {"compression": "lzw"})


def _storage_options(storage: TiffStorage | None, samples: np.ndarray, quality: int) -> dict:
    """tifffile's options that store ``samples`` as ``storage`` says: ``compression`` (and its
    level), ``predictor``, ``tile``, and ``overviews`` (a flag) when it has any."""
    if storage is None:
        return {"compression": "lzw"}
    compression = TIFF_COMPRESSIONS.get(storage.compression, "lzw")
    channels = 1 if samples.ndim == 2 else samples.shape[2]
    if compression == "jpeg" and not (samples.dtype == np.uint8 and channels in (1, 3)):
        compression = "zlib"  # (JPEG holds 8-bit gray or colour; an alpha or a band would be lost)
    if compression == "webp" and not (samples.dtype == np.uint8 and channels in (3, 4)):
        compression = "zlib"
    options: dict = {"compression": compression}
    if compression == "jpeg":
        options["compressionargs"] = {"level": int(quality)}
    if compression in _PREDICTED and storage.predictor in (2, 3) and samples.dtype != bool:
        options["predictor"] = storage.predictor if samples.dtype.kind == "f" else 2
    if storage.tile is not None and all(t % 16 == 0 and t > 0 for t in storage.tile):
        options["tile"] = storage.tile
    if storage.overviews:
        options["overviews"] = True
    return options


def _as_ccitt(tiff: bytes, bits: np.ndarray, compression: int) -> bytes:
    """A one-page bilevel ``tiff`` (written by tifffile, whose ``bits`` it holds) with its strips
    CCITT-compressed (``compression`` 2, 3 or 4: Modified Huffman, Group 3, Group 4) by Pillow's
    libtiff, which tifffile cannot write; its other tags as they were. ``tiff`` unchanged for other
    compressions, with an overview or mask, or when libtiff fails (a warning: it stays as written)."""
    codec = {2: "tiff_ccitt", 3: "group3", 4: "group4"}.get(compression)
    if codec is None:
        return tiff
    try:
        with _tifffile(tiff) as tif:
            if len(tif.pages) != 1:
                return tiff
            tags = _tags_of_page(tif.pages[0], "<", tiff)
        buf = io.BytesIO()
        with _quiet():
            Image.fromarray(bits).save(buf, "TIFF", compression=codec)
        fax = buf.getvalue()
        with _tifffile(fax) as tif:
            tags = _restored_storage(tags, _tags_of_page(tif.pages[0], tif.byteorder, fax))
        out = bytearray(b"II*\x00\x00\x00\x00\x00")
        struct.pack_into("<I", out, 4, _append_ifd(out, tags, fax, 0))
        return bytes(out)
    except Exception as exc:  # noqa: BLE001 - the page stays as tifffile wrote it
        _log.warning("bilevel TIFF written %s instead of CCITT (compression %d): %s",
                     TIFF_COMPRESSIONS.get(compression, "LZW"), compression, _reason(exc))
        return tiff


def _overview(samples: np.ndarray, size: tuple[int, int], valued: bool) -> np.ndarray:
    """``samples`` (H×W or H×W×C) at ``size`` (rows, columns): the area average for levels, the
    nearest sample for values (and masks), which no average may invent."""
    h, w = size
    if not valued and samples.dtype in (np.uint8, np.uint16):
        return cv2.resize(samples, (w, h), interpolation=cv2.INTER_AREA)
    rows = np.minimum(((np.arange(h) + 0.5) * samples.shape[0] / h).astype(np.intp), samples.shape[0] - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * samples.shape[1] / w).astype(np.intp), samples.shape[1] - 1)
    return samples[rows][:, cols]


def _encode_hgt(rgb: np.ndarray, gray: bool) -> bytes:
    """An SRTM ``.hgt`` tile: the gray int16 samples, big-endian, row by row."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.int16 or rgb.ndim != 3 or not gray \
            or 2 * rgb.shape[0] * rgb.shape[1] not in HGT_SHAPES \
            or HGT_SHAPES[2 * rgb.shape[0] * rgb.shape[1]] != rgb.shape[:2]:
        raise ValueError("hgt holds one gray band of int16 samples of "
                         f"{' or '.join(f'{h}x{w}' for h, w in HGT_SHAPES.values())} (rows x columns), got "
                         f"{getattr(rgb, 'shape', None)} {getattr(rgb, 'dtype', type(rgb).__name__)}"
                         f"{'' if gray else ' in colour'}")
    return rgb[..., 0].astype(">i2").tobytes()


def _encode_pillow(
    planes: np.ndarray, alpha: np.ndarray | None, fmt: str, png_level: int, quality: int,
    icc_profile: bytes | None = None, exif: bytes | None = None, xmp: bytes | None = None,
    dpi: tuple[float, float] | None = None, jpeg_tables: tuple | None = None,
) -> bytes:
    if alpha is not None:
        planes = np.dstack([planes, alpha])  # H×W×2 -> LA, H×W×4 -> RGBA in Image.fromarray
    options: dict[str, object] = {
        "png": {"compress_level": int(png_level)},
        # (a quality would scale the tables: given tables go without one)
        "jpeg": {"quality": int(quality)} if jpeg_tables is None else
                {"qtables": [list(t) for t in jpeg_tables[0]], "subsampling": jpeg_tables[1]},
        "webp": {"quality": int(quality)},
        "tiff": {"compression": "tiff_lzw"},
        "bmp": {},
    }[fmt]
    if icc_profile and fmt != "bmp":
        options["icc_profile"] = icc_profile
    if exif and fmt in ("png", "jpeg", "webp") and (fmt != "jpeg" or len(exif) <= _JPEG_EXIF_MAX):
        options["exif"] = b"Exif\x00\x00" + exif if fmt == "jpeg" else exif  # JPEG's APP1 wants the prefix
    if xmp and fmt in ("jpeg", "webp") and (fmt != "jpeg" or len(xmp) <= _JPEG_XMP_MAX):
        options["xmp"] = xmp
    if dpi is not None and fmt in ("jpeg", "bmp"):  # (a TIFF with a dpi is tifffile's)
        options["dpi"] = dpi
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(planes)).save(out, format=fmt.upper(), **options)
    return out.getvalue()
