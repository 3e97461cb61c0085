"""decode_image / encode_image / decode_mask: every bad input gives a typed, readable error."""

import io
import struct
import time

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from inpaint_core.errors import DecodeError, ImageTooLargeError, MaskError, UnsupportedImageError
from inpaint_core.imageio import (
    TiffStorage,
    apply_orientation,
    decode_image,
    decode_mask,
    encode_image,
    image_format_for_extension,
    to_8bit,
    widen_to_16bit,
)

RGB = data.astronaut()[:96, :128].copy()


def save(im: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def test_empty_file():
    with pytest.raises(DecodeError, match=r"empty file \(0 bytes\)"):
        decode_image(b"")


def test_text_is_not_an_image():
    with pytest.raises(DecodeError, match="not a decodable image"):
        decode_image(b"<html>404 not found</html>")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated(fmt):
    blob = save(Image.fromarray(data.astronaut()), fmt)
    with pytest.raises(DecodeError, match="truncated"):
        decode_image(blob[: len(blob) // 2])


def test_truncated_png_header():
    blob = save(Image.fromarray(RGB), "PNG")
    with pytest.raises(DecodeError, match="truncated"):
        decode_image(blob[:40])


def test_huge_png_refused_fast_from_header():
    blob = cv2.imencode(".png", np.zeros((2000, 2000), np.uint8))[1].tobytes()
    # Patch the IHDR to claim 20000x20000: same header a real zero-filled bomb has, no 400 MB here.
    bomb = blob[:16] + (20000).to_bytes(4, "big") * 2 + blob[24:]
    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match=r"20000x20000.*100,000,000"):
        decode_image(bomb)
    assert time.perf_counter() - start < 0.5


def test_max_pixels_from_header_for_jpeg():
    blob = save(Image.fromarray(RGB), "JPEG")
    with pytest.raises(ImageTooLargeError, match=r"128x96 = 12,288 pixels.*10,000"):
        decode_image(blob, max_pixels=10_000)


def test_pillow_bomb_error_is_typed():
    blob = save(Image.new("L", (1, 1)), "GIF")
    bomb = blob[:6] + (60000).to_bytes(2, "little") * 2 + blob[10:]  # GIF logical screen size
    with pytest.raises(ImageTooLargeError):
        decode_image(bomb, max_pixels=10**12)


SIXTEEN = np.random.default_rng(5).integers(0, 65536, (6, 9, 4), dtype=np.uint16)


@pytest.mark.parametrize("ext", [".png", ".tiff"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_samples_are_kept_beside_their_8bit_view(ext, channels):
    """Pillow opens 48/64-bit colour as 8-bit: the full samples come from OpenCV, the 8-bit view is
    their nearest value, and encoding them back is bit-exact."""
    stored = SIXTEEN[..., 0] if channels == 1 else SIXTEEN[..., :channels]
    img = decode_image(cv2.imencode(ext, stored)[1].tobytes())
    rgb16 = np.repeat(stored[..., None], 3, 2) if channels == 1 else stored[..., 2::-1]  # OpenCV is BGR
    assert img.bit_depth == 16 and img.rgb16.dtype == np.uint16 and np.array_equal(img.rgb16, rgb16)
    assert img.gray == (channels == 1) and img.format == ("PNG" if ext == ".png" else "TIFF")
    assert np.array_equal(img.rgb, np.round(rgb16 / 257).astype(np.uint8))
    if channels == 4:
        assert np.array_equal(img.alpha16, stored[..., 3]) and np.array_equal(img.alpha, to_8bit(stored[..., 3]))
    else:
        assert img.alpha is None and img.alpha16 is None
    again = decode_image(encode_image(img.rgb16, ext[1:], gray=img.gray, alpha=img.alpha16))
    assert np.array_equal(again.rgb16, img.rgb16) and again.gray == img.gray
    assert (again.alpha16 is None) == (img.alpha16 is None)
    assert decode_image(encode_image(img.rgb, "png")).bit_depth == 8


def test_a_16bit_fourth_band_is_alpha_only_when_the_tiff_says_so():
    """A satellite tile's RGB + near-infrared TIFF (ExtraSamples 0, unspecified) is RGB: its fourth
    band is no transparency (read as alpha, its values would have become holes). Pillow does the
    same at 8 bits."""
    tifffile = pytest.importorskip("tifffile")
    for extra, alpha in (("unspecified", False), ("unassalpha", True), ("assocalpha", True)):
        buf = io.BytesIO()
        tifffile.imwrite(buf, SIXTEEN, photometric="rgb", extrasamples=[extra])
        img = decode_image(buf.getvalue())
        assert np.array_equal(img.rgb16, SIXTEEN[..., :3]) and (img.alpha16 is not None) == alpha, extra
        assert (img.alpha is not None) == alpha, extra
        # as a colour mask: holes from the three colour bands only
        expected = SIXTEEN[..., :3].any(axis=2) & (SIXTEEN[..., 3] > 0 if alpha else True)
        assert np.array_equal(decode_mask(buf.getvalue()), expected), extra
        buf = io.BytesIO()
        tifffile.imwrite(buf, (SIXTEEN // 257).astype(np.uint8), photometric="rgb", extrasamples=[extra])
        assert (decode_image(buf.getvalue()).alpha is not None) == alpha, extra


def test_only_narrow_16bit_data_get_a_stretched_view():
    from inpaint_core.imageio import narrow_range, stretch_to_8bit, unstretch_to_16bit

    hole = np.zeros((6, 9), bool)
    assert narrow_range(SIXTEEN[..., :3], hole) is None  # the whole range: the plain view will do
    assert narrow_range(np.full((6, 9, 3), 900, np.uint16), hole) is None  # flat: nothing to stretch
    twelve = (SIXTEEN[..., :3] // 16).astype(np.uint16)  # 12-bit data
    span = narrow_range(twelve, hole)
    assert span is not None and span[0] >= twelve.min() and span[1] <= twelve.max()
    view = stretch_to_8bit(twelve, span)
    assert view.min() == 0 and view.max() == 255
    back = unstretch_to_16bit(view, span).astype(int)
    inside = (twelve >= span[0]) & (twelve <= span[1])
    assert np.abs(back - twelve)[inside].max() <= (span[1] - span[0]) / 255 / 2 + 1


def _tiff(array: np.ndarray, **kwargs) -> bytes:
    tifffile = pytest.importorskip("tifffile")
    buf = io.BytesIO()
    tifffile.imwrite(buf, array, **kwargs)
    return buf.getvalue()


BANDS = np.random.default_rng(6).integers(0, 65536, (7, 10, 6), dtype=np.uint16)


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("planar", ["contig", "separate"])
@pytest.mark.parametrize("codes", [(0,), (0, 0), (2, 0), (0, 1, 0)])
def test_tiff_bands_past_colour_are_kept_at_their_depth(depth, planar, codes):
    """An RGB + near-infrared tile (or more bands, with or without alpha, either planar layout) gives
    its colour, its alpha and every other band, each sample exact, and writes them back in the
    file's order. (OpenCV used to scramble planar 16-bit colour, and Pillow dropped the bands.)"""
    stored = BANDS[..., :3 + len(codes)]
    stored = stored if depth == 16 else (stored // 257).astype(np.uint8)
    blob = _tiff(stored if planar == "contig" else np.moveaxis(stored, -1, 0), photometric="rgb",
                 planarconfig=planar, extrasamples=codes)
    img = decode_image(blob)
    alpha_at = next((3 + i for i, c in enumerate(codes) if c), None)
    bands = [3 + i for i in range(len(codes)) if 3 + i != alpha_at]
    colour, alpha = (img.rgb16, img.alpha16) if depth == 16 else (img.rgb, img.alpha)
    assert img.bit_depth == depth and np.array_equal(colour, stored[..., :3])
    assert np.array_equal(img.extra, stored[..., bands]) and img.extra_samples == codes
    assert (alpha is None) == (alpha_at is None)
    if alpha_at is not None:
        assert np.array_equal(alpha, stored[..., alpha_at])
    back = tifffile_read(encode_image(colour, "tiff", alpha=alpha, extra=img.extra, extra_samples=img.extra_samples))
    assert back.dtype == stored.dtype and np.array_equal(back, stored)
    # as a mask: the colour bands (and the alpha) only
    expected = stored[..., :3].any(axis=2) & (stored[..., alpha_at] > 0 if alpha_at else True)
    assert np.array_equal(decode_mask(blob), expected)
    with pytest.raises(ValueError, match="png cannot hold extra bands"):
        encode_image(colour, "png", extra=img.extra)


def tifffile_read(blob: bytes) -> np.ndarray:
    tifffile = pytest.importorskip("tifffile")
    with tifffile.TiffFile(io.BytesIO(blob)) as tif:
        return tif.pages[0].asarray()


def test_gray_tiffs_with_declared_bands_keep_them_and_undeclared_ones_are_refused():
    """A gray TIFF whose ExtraSamples tag declares its other samples is gray + bands; one with
    several samples and no such tag is a multi-band image with no colour meaning: refused, named
    by its band count (Pillow cannot open it, and the message used to call a valid file corrupt)."""
    blob = _tiff(np.moveaxis(BANDS, -1, 0), photometric="minisblack", planarconfig="separate")
    img = decode_image(blob)
    assert img.gray and np.array_equal(img.rgb16[..., 0], BANDS[..., 0])
    assert np.array_equal(img.extra, BANDS[..., 1:]) and img.extra_samples == (0,) * 5
    undeclared = bytearray(blob)  # the same file with its ExtraSamples entry renamed to a private tag
    at = undeclared.find(struct.pack("<HH", 338, 3))
    undeclared[at:at + 2] = struct.pack("<H", 65000)
    with pytest.raises(UnsupportedImageError, match=r"TIFF with 6 samples per pixel \(a multi-band image\)"):
        decode_image(bytes(undeclared))


GEO = [(33550, "d", 3, (10.0, 10.0, 0.0), True), (33922, "d", 6, (0, 0, 0, 500000.0, 4000000.0, 0), True),
       (34735, "H", 8, (1, 1, 0, 1, 3072, 0, 1, 32633), True), (34737, "s", 0, "WGS 84 / UTM zone 33N|", True),
       (42113, "s", 0, "0", True)]


@pytest.mark.parametrize("depth, samples", [(8, 3), (16, 3), (8, 4), (16, 1)])
def test_a_geotiffs_georeferencing_is_written_back_unless_its_grid_is_rotated(depth, samples):
    """A tile's GeoTIFF and GDAL tags (where it lies, its projection, its nodata value) come back on
    a TIFF output; a TIFF stored rotated (Orientation 6) is decoded turned, so its tags would place
    the wrong grid: they are left out."""
    stored = BANDS[..., :samples] if depth == 16 else (BANDS[..., :samples] // 257).astype(np.uint8)
    kind = dict(photometric="rgb", extrasamples=(0,)) if samples == 4 else \
        dict(photometric="rgb" if samples == 3 else "minisblack")
    img = decode_image(_tiff(stored[..., 0] if samples == 1 else stored, extratags=GEO, **kind))
    assert [t[0] for t in img.tiff_tags] == [t[0] for t in GEO]
    colour = img.rgb16 if depth == 16 else img.rgb
    blob = encode_image(colour, "tiff", gray=img.gray, extra=img.extra, extra_samples=img.extra_samples,
                        tiff_tags=img.tiff_tags)
    tifffile = pytest.importorskip("tifffile")
    with tifffile.TiffFile(io.BytesIO(blob)) as tif:
        page = tif.pages[0]
        assert np.array_equal(page.asarray(), stored[..., 0] if samples == 1 else stored)
        assert page.geotiff_tags["ProjectedCSTypeGeoKey"] == 32633
        assert page.geotiff_tags["ModelTiepoint"] == [0, 0, 0, 500000.0, 4000000.0, 0]
        assert page.tags[42113].value == "0"
    turned = decode_image(_tiff(stored[..., 0] if samples == 1 else stored, extratags=GEO + [(274, "H", 1, 6, True)],
                                **kind))
    assert turned.size == (7, 10) and turned.tiff_tags == ()


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("planar", ["contig", "separate"])
def test_a_rotated_tiff_is_turned_once(depth, planar):
    """Orientation 6 turns the stored grid 90 degrees clockwise, once, at either depth. (OpenCV turned a
    16-bit TIFF itself, and the decoder turned it again: the output came back upside down.)"""
    stored = BANDS[..., :3] if depth == 16 else (BANDS[..., :3] // 257).astype(np.uint8)
    blob = _tiff(stored if planar == "contig" else np.moveaxis(stored, -1, 0), photometric="rgb",
                 planarconfig=planar, extratags=[(274, "H", 1, 6, True)])
    img = decode_image(blob)
    assert img.size == (7, 10)
    assert np.array_equal(img.rgb16 if depth == 16 else img.rgb, np.rot90(stored, k=-1))
    assert np.array_equal(decode_mask(blob), np.rot90(stored.any(axis=2), k=-1))


def _profile(space: str) -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile(space)).tobytes()


@pytest.mark.parametrize("source", ["JPEG", "PNG", "WEBP"])
def test_colour_profile_and_exif_are_carried_to_every_output_that_holds_them(source):
    """A photo's ICC profile (its colours mean something else in sRGB) and its EXIF (camera,
    capture time) reach the output; the EXIF's orientation becomes 1, as the pixels are written
    turned, so a viewer does not turn them again."""
    profile = _profile("sRGB")
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "Camera Co"
    exif.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"
    img = decode_image(save(Image.fromarray(RGB), source, exif=exif, icc_profile=profile))
    assert img.orientation == 6 and img.icc_profile == profile
    for fmt in ("png", "jpeg", "webp", "tiff"):
        out = encode_image(img.rgb, fmt, icc_profile=img.icc_profile, exif=img.exif)
        back = Image.open(io.BytesIO(out))
        assert back.info.get("icc_profile") == profile, fmt
        again = decode_image(out)
        assert again.size == img.size and again.icc_profile == profile, fmt
        if fmt != "tiff":  # a TIFF's tags are its own; EXIF is not written there
            tags = back.getexif()
            assert tags.get(0x010F) == "Camera Co" and tags.get(0x0112) == 1, fmt
            assert tags.get_ifd(0x8769).get(0x9003) == "2020:01:02 03:04:05", fmt
    sixteen = encode_image(img.rgb.astype(np.uint16) * 257, "png", icc_profile=profile, exif=img.exif)
    assert decode_image(sixteen).icc_profile == profile and Image.open(io.BytesIO(sixteen)).getexif()[0x010F]


def test_metadata_that_a_format_cannot_take_never_fails_the_output():
    """GDAL writes its metadata in UTF-8 (tifffile writes only 7-bit ASCII text from a str), and a PNG's
    EXIF may be larger than a JPEG's one APP1 segment holds: both outputs are still written."""
    text = "Zürich|".encode("utf-8") + b"\x00"
    img = decode_image(_tiff(RGB, photometric="rgb", extratags=[(34737, 2, len(text), text, True)]))
    tifffile = pytest.importorskip("tifffile")
    with tifffile.TiffFile(io.BytesIO(encode_image(img.rgb, "tiff", tiff_tags=img.tiff_tags))) as tif:
        assert tif.pages[0].tags[34737].value == "Zürich|"
    exif = Image.Exif()
    exif[0x010E] = "x" * 70_000
    big = decode_image(save(Image.fromarray(RGB), "PNG", exif=exif))
    assert len(big.exif) > 65_535
    assert decode_image(encode_image(big.rgb, "jpeg", exif=big.exif)).exif is None  # left out
    assert len(decode_image(encode_image(big.rgb, "png", exif=big.exif)).exif) == len(big.exif)
    broken = ((34735, 3, 4, (1, 2)),)  # a count its value does not have: tifffile refuses it
    assert decode_image(encode_image(RGB, "tiff", tiff_tags=broken)).tiff_tags == ()


XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
       b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/'
       b'elements/1.1/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
       b'tiff:Orientation="6"><dc:rights><rdf:Alt><rdf:li xml:lang="x-default">(c) The Archive</rdf:li></rdf:Alt>'
       b'</dc:rights><xmp:Thumbnails><rdf:Alt><rdf:li>OLDPIXELS</rdf:li></rdf:Alt></xmp:Thumbnails>'
       b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
#: IPTC-IIM: record version, copyright notice (2:116), caption (2:120)
IIM = b"\x1c\x02\x00\x00\x02\x00\x04" + b"\x1c\x02\x74\x00\x0f(c) The Archive" + b"\x1c\x02\x78\x00\x09Harbour!!"


def _with_app13(jpeg: bytes, iim: bytes) -> bytes:
    """A JPEG with Photoshop's APP13 as Photoshop writes it: a thumbnail resource (0x040C, an odd
    name) before the IPTC one (0x0404)."""
    thumb = b"8BIM\x04\x0c\x03abc" + struct.pack(">I", 5) + b"THUMB\x00"
    irb = b"Photoshop 3.0\x00" + thumb + b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim
    return jpeg[:2] + b"\xff\xed" + struct.pack(">H", len(irb) + 2) + irb + jpeg[2:]


@pytest.mark.parametrize("source", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_xmp_and_iptc_are_carried_to_every_output_that_holds_them(source):
    """A photo's XMP (rights, captions, keywords, ratings) reaches PNG, JPEG, WebP and TIFF outputs,
    its IPTC-IIM (caption, copyright notice) JPEG and TIFF ones, where Pillow's own IPTC reader finds
    it. The XMP's orientation becomes 1, as the EXIF's does, and its thumbnail of the unrestored
    photo is cut out. A TIFF's IPTC stored as LONGs (as Photoshop writes it) is read as its bytes."""
    from PIL import IptcImagePlugin

    if source == "TIFF":
        tifffile = pytest.importorskip("tifffile")
        padded = IIM + b"\x00" * (-len(IIM) % 4)
        longs = struct.unpack(f"<{len(padded) // 4}I", padded)
        buf = io.BytesIO()
        tifffile.imwrite(buf, RGB, photometric="rgb", extratags=[(700, 1, len(XMP), XMP, True),
                                                                 (33723, "I", len(longs), longs, True)])
        blob = buf.getvalue()
    elif source == "PNG":  # (Pillow writes a PNG's XMP only as a text chunk)
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP.decode())
        blob = save(Image.fromarray(RGB), source, pnginfo=info)
    else:
        blob = save(Image.fromarray(RGB), source, xmp=XMP)
        blob = _with_app13(blob, IIM) if source == "JPEG" else blob
    img = decode_image(blob)
    assert b"(c) The Archive" in img.xmp and b'tiff:Orientation="1"' in img.xmp
    assert b"OLDPIXELS" not in img.xmp and b"Thumbnails" not in img.xmp
    assert (img.iptc or b"").rstrip(b"\x00") == (IIM if source in ("JPEG", "TIFF") else b"")
    for fmt in ("png", "jpeg", "webp", "tiff"):
        out = encode_image(img.rgb, fmt, xmp=img.xmp, iptc=img.iptc)
        again = decode_image(out)
        assert again.xmp == img.xmp, fmt
        if img.iptc and fmt in ("jpeg", "tiff"):
            assert again.iptc == img.iptc, fmt
            info = IptcImagePlugin.getiptcinfo(Image.open(io.BytesIO(out)))
            assert info[(2, 116)] == b"(c) The Archive" and info[(2, 120)] == b"Harbour!!", fmt
    sixteen = encode_image(img.rgb.astype(np.uint16) * 257, "png", xmp=img.xmp)
    assert decode_image(sixteen).xmp == img.xmp


def test_metadata_that_is_not_what_it_claims_or_too_large_is_left_out():
    """Text that is not XMP, and an APP13 that is not IPTC, are not carried; an XMP packet larger
    than one JPEG segment is left out of a JPEG output (and kept in a PNG one); the JPEG with the
    record still decodes to the same pixels, with its EXIF and profile."""
    assert decode_image(save(Image.fromarray(RGB), "WEBP", xmp=b"not xmp at all")).xmp is None
    noise = _with_app13(save(Image.fromarray(RGB), "JPEG"), b"\x00\x01garbage")
    assert decode_image(noise).iptc is None
    big = XMP.replace(b"(c) The Archive", b"x" * 70_000)
    assert decode_image(encode_image(RGB, "jpeg", xmp=big)).xmp is None
    assert b"x" * 70_000 in decode_image(encode_image(RGB, "png", xmp=big)).xmp
    exif = Image.Exif()
    exif[0x010F] = "Camera Co"
    src = decode_image(save(Image.fromarray(RGB), "JPEG", exif=exif, icc_profile=_profile("sRGB")))
    upright = XMP.replace(b'Orientation="6"', b'Orientation="1"')  # (an XMP orientation turns the pixels too)
    plain = decode_image(encode_image(src.rgb, "jpeg", exif=src.exif, icc_profile=src.icc_profile))
    tagged = decode_image(encode_image(src.rgb, "jpeg", exif=src.exif, icc_profile=src.icc_profile,
                                       xmp=upright, iptc=IIM))
    assert np.array_equal(plain.rgb, tagged.rgb) and tagged.exif == plain.exif and b"Camera Co" in tagged.exif
    assert tagged.icc_profile == _profile("sRGB") and tagged.iptc == IIM and b"(c) The Archive" in tagged.xmp


def test_a_profile_that_does_not_describe_the_written_samples_is_left_out():
    """A CMYK photo's profile does not describe its RGB conversion, nor an RGB profile a gray output."""
    cmyk = decode_image(save(Image.fromarray(RGB).convert("CMYK"), "JPEG", icc_profile=_cmyk_like()))
    assert cmyk.icc_profile is not None
    assert decode_image(encode_image(cmyk.rgb, "png", icc_profile=cmyk.icc_profile)).icc_profile is None
    assert decode_image(encode_image(RGB, "png", gray=True, icc_profile=_profile("sRGB"))).icc_profile is None
    gray = decode_image(encode_image(RGB, "png", gray=True, icc_profile=_gray_like()))
    assert gray.icc_profile == _gray_like()


def _cmyk_like() -> bytes:  # an sRGB profile relabelled CMYK: enough for the colour-space check
    p = bytearray(_profile("sRGB"))
    p[16:20] = b"CMYK"
    return bytes(p)


def _gray_like() -> bytes:
    p = bytearray(_profile("sRGB"))
    p[16:20] = b"GRAY"
    return bytes(p)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_odd_tiff_tags_neither_warn_nor_fail(dtype, recwarn):
    """An Orientation with 147 entries and a numeric nodata tag: ignored quietly (Pillow warns when a
    tag's value is read; one line per photo would flood a run's log)."""
    blob = _tiff(np.zeros((4, 5, 3), dtype), photometric="rgb",
                 extratags=[(274, "H", 147, tuple(range(147)), True), (42113, "H", 3, (1, 2, 3), True)])
    img = decode_image(blob)
    assert img.orientation == 1 and img.nodata is None and decode_mask(blob).shape == (4, 5)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_truncated_multi_band_tiffs_fail_as_truncated():
    blob = _tiff(BANDS[..., :4], photometric="rgb", extrasamples=(0,), compression="zlib", rowsperstrip=2)
    with pytest.raises(DecodeError, match="truncated or corrupt TIFF data"):
        decode_image(blob[: len(blob) // 2])


def test_16bit_samples_take_the_exif_orientation_too():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    stored = SIXTEEN[..., 0]
    buf = io.BytesIO()
    Image.fromarray(stored).save(buf, "PNG", exif=exif.tobytes())
    blob = buf.getvalue()
    img = decode_image(blob)
    assert img.orientation == 6 and img.size == (6, 9)
    assert np.array_equal(img.rgb16[..., 0], np.rot90(stored, k=-1))
    # an eXIf chunk after the pixels (allowed; Pillow finds it only by decoding them) counts too
    at = blob.index(b"eXIf") - 4
    chunk = blob[at:at + 12 + int.from_bytes(blob[at:at + 4], "big")]
    rest = blob[:at] + blob[at + len(chunk):]
    end = rest.index(b"IEND") - 4
    late = decode_image(rest[:end] + chunk + rest[end:])
    assert late.orientation == 6 and np.array_equal(late.rgb16, img.rgb16)
    assert decode_image(rest).orientation == 1


@pytest.mark.parametrize("ext", [".png", ".tiff"])
def test_16bit_colour_masks_keep_holes_stored_below_256(ext):
    """Pillow keeps the high byte of 16-bit colour: a hole stored as 1 would vanish."""
    stored = np.zeros((6, 9, 3), np.uint16)
    stored[1:3, 2:5, 1] = 1
    stored[4, 7] = 65535
    hole = decode_mask(cv2.imencode(ext, stored)[1].tobytes())
    assert np.array_equal(hole, stored.any(axis=2))
    with_alpha = np.dstack([stored, np.full((6, 9), 65535, np.uint16)])
    with_alpha[4, 7, 3] = 0  # fully transparent: never a hole
    expected = stored.any(axis=2)
    expected[4, 7] = False
    assert np.array_equal(decode_mask(cv2.imencode(ext, with_alpha)[1].tobytes()), expected)


def test_widening_keeps_every_unchanged_pixel_exact():
    img = decode_image(cv2.imencode(".png", SIXTEEN[..., :3])[1].tobytes())
    hole = np.zeros((6, 9), bool)
    hole[2:4, 3:6] = True
    restored = img.rgb.copy()
    restored[hole] = 7
    restored[0, 0] += 1  # a pixel a blend changed outside the hole
    out = widen_to_16bit(restored, img, hole)
    touched = hole.copy()
    touched[0, 0] = True
    assert np.array_equal(out[~touched], img.rgb16[~touched])
    assert (out[hole] == 7 * 257).all()  # a flat fill amid texture: the cell's centre (tests/test_dequantize.py)
    assert np.array_equal(out[0, 0], img.rgb16[0, 0] + 257)  # nudged by one level: its fine bits kept
    assert np.array_equal(to_8bit(out), restored)
    extremes = img.rgb.copy()  # changes that would leave the 16-bit range stay inside it, 8-bit view exact
    extremes[1, 1], extremes[1, 2] = 255, 0
    assert np.array_equal(to_8bit(widen_to_16bit(extremes, img, np.zeros((6, 9), bool))), extremes)
    with pytest.raises(ValueError, match="jpeg cannot hold 16-bit samples"):
        encode_image(out, "jpeg")


@pytest.mark.parametrize(
    "array, words",
    [
        (np.zeros((8, 8), np.int64), r"64-bit signed TIFF samples: only 8- and 16-bit unsigned samples are "
                                     r"supported, and in a gray or RGB TIFF 32- or 64-bit float, 16- or 32-bit signed"),
        (np.zeros((8, 8), np.uint64), r"64-bit unsigned TIFF samples"),
        (np.zeros((8, 8), np.float16), r"16-bit float TIFF samples"),
    ],
)
def test_half_float_and_64bit_integer_samples_are_refused(array, words):
    with pytest.raises(UnsupportedImageError, match=words):
        decode_image(_tiff(array))


def test_a_tiff_of_values_with_alpha_is_refused():
    with pytest.raises(UnsupportedImageError, match="float32 TIFF with an alpha sample"):
        decode_image(_tiff(np.zeros((8, 8, 4), np.float32), photometric="rgb", extrasamples=[2]))
    with pytest.raises(UnsupportedImageError, match="int16 TIFF with an alpha sample"):
        decode_image(_tiff(np.zeros((8, 8, 2), np.int16), photometric="minisblack", extrasamples=[2]))


@pytest.mark.parametrize("dtype, writer", [(np.int16, "tifffile"), (np.int16, "opencv"), (np.int32, "tifffile"),
                                           (np.int32, "opencv"), (np.uint32, "tifffile")])  # (OpenCV: no uint32)
def test_an_srtm_tile_of_signed_metres_is_read_with_its_values(dtype, writer):
    """An SRTM tile: int16 metres, below sea level negative, voids at -32768 (its GDAL_NODATA). Its
    values are kept in their type; the proxy spans the terrain, not the void value. int32 and uint32
    rasters (counts, larger ranges) the same way."""
    yy, xx = np.mgrid[0:30, 0:40]
    low = 5 if dtype == np.uint32 else -28
    heights = (low + 3 * xx + 2 * yy).astype(dtype)
    void = np.iinfo(dtype).min if dtype != np.uint32 else np.iinfo(dtype).max
    heights[10:20, 10:20] = void
    if writer == "tifffile":
        blob = _tiff(heights, extratags=[(42113, "s", 0, str(void), True)])
    else:
        blob = cv2.imencode(".tiff", heights)[1].tobytes()
    img = decode_image(blob)
    assert (img.bit_depth, img.sample_format) == (np.dtype(dtype).itemsize * 8, "uint" if dtype == np.uint32 else "int")
    assert img.values.dtype == dtype and np.array_equal(img.values[..., 0], heights) and img.gray
    if writer == "tifffile":
        assert img.value_span == (low, low + 3 * 39 + 2 * 29) and img.nodata == str(void)
    again = decode_image(encode_image(img.values, "tiff", gray=True))
    assert again.values.dtype == dtype and np.array_equal(again.values, img.values)


@pytest.mark.parametrize("writer", ["tifffile", "pillow", "opencv"])
def test_a_float_elevation_model_is_read_with_its_values_and_a_16bit_proxy(writer):
    """A float32 DEM (as GDAL, Pillow or OpenCV write one) keeps its values; the stages get a 16-bit
    proxy of its known range, whose ends are the least and greatest value that is not the -9999
    nodata fill (which would squash the terrain into a few levels). The manifest's depth is 32."""
    yy, xx = np.mgrid[0:30, 0:40]
    dem = (500 + 3.25 * xx + 2 * yy).astype(np.float32)
    dem[10:20, 10:20] = -9999
    if writer == "tifffile":
        blob = _tiff(dem, extratags=[(42113, "s", 0, "-9999", True)])
    elif writer == "pillow":
        blob = save(Image.fromarray(dem), "TIFF")
    else:
        blob = cv2.imencode(".tiff", dem)[1].tobytes()
    img = decode_image(blob)
    assert (img.bit_depth, img.gray, img.mode, img.values.dtype) == (32, True, "L", np.float32)
    assert np.array_equal(img.values[..., 0], dem) and (img.values[..., 1] == img.values[..., 0]).all()
    lo, hi = img.value_span
    assert img.rgb16.dtype == np.uint16 and np.array_equal(img.rgb, to_8bit(img.rgb16))
    if writer == "tifffile":  # the tag says what the fill is: the span is the terrain's
        assert (lo, hi, img.nodata) == (500.0, 500 + 3.25 * 39 + 2 * 29, "-9999")
        assert img.rgb16[0, 0, 0] == 0 and img.rgb16[29, 39, 0] == 65535 and (img.rgb16[10:20, 10:20] == 0).all()
    else:  # no tag: -9999 is data, and no NaN says otherwise
        assert (lo, img.nodata) == (-9999.0, None)


def test_float_rgb_with_a_band_nan_voids_and_a_float_tiff_output_round_trip():
    """Float64 reflectance, RGB + NIR: NaN voids make the nodata "nan" when no tag declares one;
    the NIR band stays float; encode_image writes float samples back exactly (NaN too), and refuses
    to put them in a PNG."""
    rng = np.random.default_rng(3)
    refl = rng.random((12, 16, 4))
    refl[2:5, 3:7, :3] = np.nan
    img = decode_image(_tiff(refl, photometric="rgb", extrasamples=[0]))
    assert (img.bit_depth, img.nodata, img.extra.dtype, img.extra.shape) == (64, "nan", np.float64, (12, 16, 1))
    assert np.array_equal(img.values, refl[..., :3], equal_nan=True)
    assert img.value_span == (float(np.nanmin(refl[..., :3])), float(np.nanmax(refl[..., :3])))
    blob = encode_image(img.values, "tiff", extra=img.extra, extra_samples=img.extra_samples)
    again = decode_image(blob)
    assert np.array_equal(again.values, img.values, equal_nan=True) and np.array_equal(again.extra, img.extra)
    gray = decode_image(_tiff(refl[..., 3]))
    assert np.array_equal(decode_image(encode_image(gray.values, "tiff", gray=True)).values, gray.values)
    with pytest.raises(ValueError, match="png cannot hold float64 samples"):
        encode_image(img.values, "png")


def test_grayscale():
    gray = RGB[..., 1]
    img = decode_image(save(Image.fromarray(gray), "PNG"))
    assert img.gray and img.mode == "L" and img.alpha is None
    assert all(np.array_equal(img.rgb[..., c], gray) for c in range(3))


def test_la_and_one_bit():
    la = decode_image(save(Image.fromarray(np.dstack([RGB[..., 0], RGB[..., 1]])), "PNG"))
    assert la.gray and np.array_equal(la.alpha, RGB[..., 1])
    bw = decode_image(save(Image.fromarray(RGB[..., 0] > 128), "PNG"))
    assert bw.mode == "1" and bw.gray and set(np.unique(bw.rgb)) <= {0, 255}


def test_palette_with_transparency():
    pal = Image.fromarray(RGB).quantize(16)
    expected = np.asarray(pal.convert("RGB"))
    img = decode_image(save(pal, "PNG", transparency=3))
    assert img.mode == "P" and not img.gray
    assert np.array_equal(img.rgb, expected)
    assert np.array_equal(img.alpha == 0, np.asarray(pal) == 3)


def test_rgba_alpha_returned():
    alpha = RGB[..., 2]
    img = decode_image(save(Image.fromarray(np.dstack([RGB, alpha])), "PNG"))
    assert np.array_equal(img.rgb, RGB) and np.array_equal(img.alpha, alpha)


def test_cmyk_jpeg_converted():
    cmyk = Image.fromarray(RGB).convert("CMYK")
    img = decode_image(save(cmyk, "JPEG", quality=98))
    assert img.mode == "CMYK" and img.rgb.shape == RGB.shape
    assert np.abs(img.rgb.astype(int) - RGB).mean() < 6


def test_exif_orientation_6_jpeg():
    exif = Image.Exif()
    exif[0x0112] = 6
    img = decode_image(save(Image.fromarray(RGB), "JPEG", quality=98, exif=exif))
    assert img.orientation == 6 and img.raw_size == (128, 96) and img.size == (96, 128)
    rotated = np.rot90(RGB, k=-1)  # orientation 6: display = stored rotated 90° clockwise
    assert np.abs(img.rgb.astype(int) - rotated).mean() < 4


@pytest.mark.parametrize("orientation", range(1, 9))
def test_apply_orientation_matches_pillow(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    blob = save(Image.fromarray(RGB), "PNG", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(blob))))
    assert np.array_equal(apply_orientation(RGB, orientation), expected)
    assert np.array_equal(decode_image(blob).rgb, expected)


@pytest.mark.parametrize("fmt, count", [("GIF", "more than one frame"), ("PNG", "2 frames"), ("WEBP", "2 frames")])
def test_animations_are_refused_not_cut_to_one_frame(fmt, count):
    frames = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (10, 200)]
    blob = save(frames[0], fmt, save_all=True, append_images=frames[1:])
    with pytest.raises(UnsupportedImageError, match=rf"animated {fmt} \({count}\): only still images"):
        decode_image(blob)
    with pytest.raises(MaskError, match=rf"cannot read mask: animated {fmt}"):
        decode_mask(blob)


def test_single_frame_gif_and_webp_are_stills():
    still = Image.fromarray(np.full((8, 8, 3), 10, np.uint8))
    assert (decode_image(save(still, "GIF")).rgb == 10).all()
    assert decode_image(save(still, "WEBP", lossless=True)).rgb.tolist() == np.asarray(still).tolist()


def test_multi_page_tiff_gives_its_first_page():
    pages = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (10, 200)]
    assert (decode_image(save(pages[0], "TIFF", save_all=True, append_images=pages[1:])).rgb == 10).all()


def _fax_letter(pages: int = 3) -> bytes:
    """A fax letter: ``pages`` bilevel pages of lines of text, CCITT G4, 200 dpi."""
    rng = np.random.default_rng(3)
    frames = []
    for k in range(pages):
        page = np.full((120, 96), 255, np.uint8)
        rows = range(10 + k, 110, 9)
        page[rows, 6:90] = rng.integers(0, 2, (len(rows), 84)) * 255
        frames.append(Image.fromarray(page).convert("1"))
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", compression="group4", dpi=(200, 200), save_all=True, append_images=frames[1:])
    return buf.getvalue()


def test_a_tiff_output_carries_a_documents_other_pages_as_stored():
    """A fax letter's pages past the first go into the TIFF output as they were stored: still CCITT
    G4, their compressed bytes identical, their resolution kept; the first page is the one given."""
    import tifffile

    letter = _fax_letter()
    image = decode_image(letter)
    assert (image.pages, image.document) == (3, letter)
    out = encode_image(image.rgb, "tiff", gray=True, dpi=image.dpi, tiff_storage=image.tiff_storage,
                       pages_from=image.document)
    with tifffile.TiffFile(io.BytesIO(out)) as got, tifffile.TiffFile(io.BytesIO(letter)) as src:
        assert len(got.pages) == 3
        assert (got.pages[0].asarray() == src.pages[0].asarray()).all()
        for a, b in zip(got.pages, src.pages):
            assert (a.compression, a.bitspersample, a.resolution) == (4, 1, (200.0, 200.0))
        for a, b in zip(got.pages[1:], src.pages[1:]):
            assert [out[o:o + n] for o, n in zip(a.dataoffsets, a.databytecounts)] == \
                [letter[o:o + n] for o, n in zip(b.dataoffsets, b.databytecounts)]
            assert (a.asarray() == b.asarray()).all()
    assert Image.open(io.BytesIO(out)).n_frames == 3 and decode_image(out).pages == 3  # (libtiff, as viewers)
    assert _frame(out, 2).tolist() == _frame(letter, 2).tolist()
    # not a TIFF output: one page
    assert decode_image(encode_image(image.rgb, "png", gray=True, pages_from=image.document)).pages == 1


@pytest.mark.parametrize("compression, code", [("group4", 4), ("group3", 3), ("tiff_lzw", 5), ("packbits", 32773)])
def test_a_bilevel_scans_tiff_output_stays_bilevel_and_stored_as_it_was(compression, code):
    """A 1-bit scan's TIFF output is 1-bit with the source's compression (CCITT G4 or G3 by Pillow's
    libtiff, which tifffile cannot write), not 8-bit gray: a fill's grays become black or white at
    mid-gray, and the known pixels are exact. Its tags (resolution, XMP) are kept."""
    import tifffile

    page = np.full((120, 96), 255, np.uint8)
    page[10:110:9, 6:90] = 0
    buf = io.BytesIO()
    Image.fromarray(page).convert("1").save(buf, "TIFF", compression=compression, dpi=(300, 300))
    image = decode_image(buf.getvalue())
    assert image.tiff_storage.bilevel and image.tiff_storage.compression == code
    filled = image.rgb.copy()
    filled[40:50, 20:50], filled[50:60, 20:50] = 100, 200  # a fill of two grays
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>' \
          b'</x:xmpmeta>'
    out = encode_image(filled, "tiff", gray=True, dpi=image.dpi, xmp=xmp, tiff_storage=image.tiff_storage)
    with tifffile.TiffFile(io.BytesIO(out)) as tif:
        [got] = tif.pages
        assert (got.compression, got.bitspersample, got.resolution) == (code, 1, (300.0, 300.0))
        assert got.tags[700].value and len(out) < page.size // 4
    assert (decode_image(out).rgb == np.where(filled >= 128, 255, 0)).all()
    assert (decode_image(out).rgb[:40] == image.rgb[:40]).all()


def _frame(data: bytes, k: int) -> np.ndarray:
    """Page ``k`` of a TIFF as Pillow (libtiff) shows it."""
    im = Image.open(io.BytesIO(data))
    im.seek(k)
    return np.asarray(im.convert("L"))


def test_a_big_endian_documents_pages_keep_their_samples_and_tags():
    """A Motorola-order document: an 8-bit tiled page's compressed bytes are copied, its tags turned
    little-endian (a page name, a page number, a palette's colour map); 16-bit and float pages, whose
    bytes would read swapped, are compressed again with their own compression, every sample exact."""
    import tifffile

    rng = np.random.default_rng(5)
    stored = [rng.integers(0, 255, (40, 56, 3), dtype=np.uint8), rng.integers(0, 255, (50, 70), dtype=np.uint8),
              rng.integers(0, 65535, (40, 30, 3), dtype=np.uint16), rng.random((40, 30)).astype(np.float32),
              rng.integers(0, 255, (40, 30), dtype=np.uint8)]
    colormap = rng.integers(0, 65535, (3, 256), dtype=np.uint16)
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf, byteorder=">") as tif:
        tif.write(stored[0], photometric="rgb", metadata=None)
        tif.write(stored[1], compression="zlib", predictor=2, tile=(16, 16), metadata=None, resolution=(300, 300),
                  extratags=[(285, "s", 0, "page two", True), (297, "H", 2, (1, 5), True)])
        tif.write(stored[2], photometric="rgb", compression="lzw", metadata=None)
        tif.write(stored[3], compression="zlib", predictor=3, metadata=None)
        tif.write(stored[4], photometric="palette", colormap=colormap, metadata=None)
    doc = buf.getvalue()
    image = decode_image(doc)
    assert image.pages == 5
    out = encode_image(image.rgb, "tiff", tiff_storage=image.tiff_storage, pages_from=image.document)
    assert out[:2] == b"II"
    with tifffile.TiffFile(io.BytesIO(out)) as tif:
        pages = tif.pages[1:]
        assert [p.compression for p in pages] == [8, 5, 8, 1]
        for page, samples in zip(pages, stored[1:]):
            assert page.asarray().dtype == samples.dtype and (page.asarray() == samples).all()
        assert (pages[0].tags[285].value, pages[0].tags[297].value, pages[0].is_tiled) == ("page two", (1, 5), True)
        assert pages[0].resolution == (300.0, 300.0) and pages[1].photometric == 2
        assert (pages[3].colormap == colormap).all()
        with tifffile.TiffFile(io.BytesIO(doc)) as src:
            was = src.pages[1]
            assert [out[o:o + n] for o, n in zip(pages[0].dataoffsets, pages[0].databytecounts)] == \
                [doc[o:o + n] for o, n in zip(was.dataoffsets, was.databytecounts)]


def test_a_documents_chain_of_pages_that_loops_back_ends_where_it_loops():
    """An IFD chain whose last page points back to the second (a corrupt or hostile file): its
    pages are counted once, and its TIFF output carries each once, at once (the walk used to go
    round for ever)."""
    import tifffile

    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        for k in range(3):
            tif.write(np.full((8, 8), 50 * k, np.uint8), metadata=None)
    data = bytearray(buf.getvalue())
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tif:
        second, last = tif.pages[1].offset, tif.pages[2].offset
    (count,) = struct.unpack_from("<H", data, last)
    struct.pack_into("<I", data, last + 2 + 12 * count, second)
    image = decode_image(bytes(data))
    assert image.pages == 3
    out = encode_image(image.rgb, "tiff", gray=True, pages_from=image.document)
    with tifffile.TiffFile(io.BytesIO(out)) as tif:
        assert [int(p.asarray()[0, 0]) for p in tif.pages] == [0, 50, 100]


def test_a_document_whose_later_page_is_truncated_fails_with_a_reason():
    """A scan cut off in its last page's data: its first page decodes and its pages are counted, but
    a TIFF output refuses to write the document without that page, saying which and why."""
    import tifffile

    rng = np.random.default_rng(2)
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        for _ in range(3):
            tif.write(rng.integers(0, 255, (64, 48), dtype=np.uint8), compression="zlib", metadata=None)
    whole = buf.getvalue()
    with tifffile.TiffFile(io.BytesIO(whole)) as tif:
        last = tif.pages[2]
        assert last.offset < last.dataoffsets[0]  # (its IFD before its data: the cut leaves the IFD)
        cut = whole[:last.dataoffsets[0] + last.databytecounts[0] // 2]
    image = decode_image(cut)
    assert image.pages == 3
    with pytest.raises(DecodeError, match=r"truncated TIFF: the image data of IFD 2 lie past the end of the file"):
        encode_image(image.rgb, "tiff", gray=True, pages_from=image.document)


@pytest.mark.parametrize("builder", ["png_claiming", "jpeg_claiming", "tiff_claiming", "gif_claiming",
                                     "bmp_claiming"])
def test_every_format_is_size_checked_from_its_header(builder):
    from tests.faults import hostile_corpus

    blob = getattr(hostile_corpus, builder)(60_000, 50_000)
    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match=r"60000x50000 = 3,000,000,000 pixels, above the limit of 100,000,000"):
        decode_image(blob)
    assert time.perf_counter() - start < 0.1


def test_webp_size_checked_from_its_header():
    from tests.faults.hostile_corpus import webp_claiming

    with pytest.raises(ImageTooLargeError, match=r"16384x12000 = 196,608,000 pixels"):
        decode_image(webp_claiming(16_384, 12_000))
    blob = save(Image.fromarray(RGB), "WEBP", quality=80)  # lossy (VP8) header too
    with pytest.raises(ImageTooLargeError, match=r"128x96 = 12,288 pixels, above the limit of 1,000"):
        decode_image(blob, max_pixels=1_000)


@pytest.mark.parametrize("value", [0, 9, 255, 65535])
def test_out_of_range_orientation_is_ignored_quietly(value, recwarn):
    exif = Image.Exif()
    exif[0x0112] = value
    img = decode_image(save(Image.fromarray(RGB), "JPEG", exif=exif.tobytes()))
    assert img.orientation == 1 and img.rgb.shape == RGB.shape
    assert not [w for w in recwarn if "EXIF" in str(w.message)]


def test_input_bytes_untouched():
    blob = bytearray(save(Image.fromarray(RGB), "PNG"))
    before = bytes(blob)
    decode_image(blob)
    assert bytes(blob) == before


@pytest.mark.parametrize("fmt", ["png", "tiff", "tif", "bmp"])
def test_lossless_round_trip_bit_exact(fmt):
    assert np.array_equal(decode_image(encode_image(RGB, fmt)).rgb, RGB)
    gray3 = np.repeat(RGB[..., :1], 3, axis=2)
    back = decode_image(encode_image(gray3, fmt, gray=True))
    assert back.gray and np.array_equal(back.rgb, gray3)


@pytest.mark.parametrize("fmt", ["png", "tiff", "webp"])
def test_alpha_round_trip(fmt):
    alpha = RGB[..., 0]
    back = decode_image(encode_image(RGB, fmt, alpha=alpha))
    assert np.array_equal(back.alpha, alpha)
    if fmt != "webp":
        assert np.array_equal(back.rgb, RGB)


def test_png_is_bgr_converted_once():
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    assert tuple(decode_image(encode_image(red)).rgb[0, 0]) == (255, 0, 0)


def test_gray_is_rounded_mean():
    rgb = np.array([[[10, 11, 11], [0, 0, 1]]], np.uint8)
    assert decode_image(encode_image(rgb, gray=True)).rgb[0, :, 0].tolist() == [11, 0]


@pytest.mark.parametrize("fmt", ["jpeg", "jpg", "webp"])
def test_lossy_close(fmt):
    assert np.abs(decode_image(encode_image(RGB, fmt)).rgb.astype(int) - RGB).mean() < 4


def test_encode_bad_input():
    with pytest.raises(ValueError, match="H×W×3 uint8"):
        encode_image(RGB.astype(np.int64))
    with pytest.raises(ValueError, match="png cannot hold int16 samples; write tiff"):
        encode_image(RGB.astype(np.int16))
    with pytest.raises(ValueError, match="H×W×3 uint8, uint16 or VALUE_TYPES"):
        encode_image(RGB[..., 0].astype(np.float32), "tiff")
    with pytest.raises(ValueError, match="unknown image format"):
        encode_image(RGB, "gif")
    with pytest.raises(ValueError, match="alpha"):
        encode_image(RGB, "jpeg", alpha=RGB[..., 0])


def test_format_for_extension():
    assert image_format_for_extension(".JPG") == "jpeg"
    assert image_format_for_extension("tif") == "tiff"
    with pytest.raises(UnsupportedImageError, match="gif"):
        image_format_for_extension(".gif")


def test_decode_mask_modes():
    hole = np.zeros((6, 8), bool)
    hole[2:4, 3:6] = True
    as_l = (hole * 200).astype(np.uint8)
    assert np.array_equal(decode_mask(save(Image.fromarray(as_l), "PNG")), hole)
    assert np.array_equal(decode_mask(save(Image.fromarray(hole), "PNG")), hole)
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[hole, 2] = 9  # any channel non-zero
    assert np.array_equal(decode_mask(save(Image.fromarray(rgb), "PNG")), hole)
    assert np.array_equal(decode_mask(save(Image.fromarray(rgb).quantize(4), "PNG")), hole)


def test_a_float_mask_is_its_non_zero_values():
    """A mask saved as float (numpy's 0.0 / 1.0, say) is read by its values: all 1.0 is all hole, all
    0.0 none, any non-zero value (NaN too) a hole; not by the 16-bit proxy of a float image."""
    hole = np.zeros((6, 8), bool)
    hole[2:4, 3:6] = True
    values = np.where(hole, 0.25, 0.0).astype(np.float32)
    values[5, 7] = np.nan
    expected = hole.copy()
    expected[5, 7] = True
    for blob in (save(Image.fromarray(values), "TIFF"), _tiff(values.astype(np.float64))):
        assert np.array_equal(decode_mask(blob), expected)
    assert decode_mask(save(Image.fromarray(np.ones((6, 8), np.float32)), "TIFF")).all()
    assert not decode_mask(save(Image.fromarray(np.zeros((6, 8), np.float32)), "TIFF")).any()


def test_decode_mask_rgba_needs_alpha():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, :, :3] = 255  # white but fully transparent: not a hole
    rgba[1, :, :] = 255  # white and opaque: hole
    rgba[2, :, 3] = 255  # black and opaque: not a hole
    assert decode_mask(save(Image.fromarray(rgba), "PNG")).tolist() == [[False] * 4, [True] * 4, [False] * 4, [False] * 4]


def test_decode_mask_errors_are_mask_errors():
    with pytest.raises(MaskError, match="empty file"):
        decode_mask(b"")
    with pytest.raises(MaskError, match="not a decodable image"):
        decode_mask(b"hello")


def test_min_side_lets_a_large_jpeg_decode_at_a_reduced_scale():
    """Training crops downscale anyway: a JPEG may decode at 1/2, 1/4 or 1/8 scale (DCT scaling) as long
    as its shorter side stays at least ``min_side``. Other formats, and small JPEGs, decode whole."""
    from .collections import jpeg_bytes

    photo = cv2.resize(data.astronaut(), (2048, 1536))
    jpeg = jpeg_bytes(Image.fromarray(photo))
    assert decode_image(jpeg).rgb.shape == (1536, 2048, 3)
    reduced = decode_image(jpeg, min_side=300).rgb
    assert reduced.shape == (384, 512, 3)  # 1/4: the smallest scale keeping 300 px
    assert decode_image(jpeg, min_side=1000).rgb.shape == (1536, 2048, 3)  # 1/2 would be 768: too small
    small = cv2.resize(photo, (reduced.shape[1], reduced.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(reduced.astype(int) - small).mean() < 3  # the same picture, not a different crop
    png = cv2.imencode(".png", photo[:, :, ::-1])[1].tobytes()
    assert decode_image(png, min_side=300).rgb.shape == (1536, 2048, 3)


def test_an_srtm_hgt_tile_is_read_as_int16_metres_and_written_back_byte_for_byte():
    """A ``.hgt`` file (no header: 1201 x 1201 big-endian int16, voids -32768) decodes as a raster of
    values with -32768 as its nodata; encoding its samples as ``hgt`` gives the same bytes back. Any
    other size or type is refused by the encoder, naming what the format holds."""
    from inpaint_core.imageio import HGT_SHAPES, image_format_for_extension

    z = (np.arange(1201 * 1201, dtype=np.int64) % 9000 - 500).astype(np.int16).reshape(1201, 1201)
    z[10:20, 30:40] = -32768
    blob = z.astype(">i2").tobytes()
    assert len(blob) in HGT_SHAPES and image_format_for_extension(".HGT") == "hgt"
    img = decode_image(blob)
    assert (img.format, img.gray, img.bit_depth, img.sample_format, img.nodata) == ("HGT", True, 16, "int", "-32768")
    assert np.array_equal(img.values[..., 0], z) and img.value_span == (-500, 8499)
    assert encode_image(img.values, "hgt", gray=True) == blob
    for bad in (img.values[:100], img.values.astype(np.int32), img.values):
        with pytest.raises(ValueError, match="hgt holds one gray band of int16"):
            encode_image(bad, "hgt", gray=bad is not img.values)
    with pytest.raises(ImageTooLargeError):
        decode_image(blob, max_pixels=1000)


@pytest.mark.parametrize("fmt,depth", [("png", 8), ("png", 16), ("jpeg", 8), ("tiff", 8), ("tiff", 16), ("bmp", 8)])
def test_a_scans_resolution_is_written_and_read_back(fmt, depth):
    """600 x 300 dpi goes into each format that has a place for it and reads back (a PNG's pixels per
    metre as the whole dpi they stand for); WebP has none."""
    rgb = np.random.default_rng(1).integers(0, 256, (12, 20, 3)).astype(np.uint8)
    pixels = rgb.astype(np.uint16) * 257 if depth == 16 else rgb
    decoded = decode_image(encode_image(pixels, fmt, dpi=(600.0, 300.0)))
    assert decoded.dpi == pytest.approx((600, 300), abs=1e-9 if fmt == "png" else 1e-3)
    if fmt != "bmp":  # (a BMP always holds one: Pillow writes 96 dpi by default)
        assert decode_image(encode_image(pixels, fmt)).dpi is None
    assert decode_image(encode_image(rgb, "webp", dpi=(600.0, 300.0))).dpi is None


def test_a_tiffs_resolution_is_read_in_inches_and_turned_with_its_pixels():
    """A TIFF in pixels per centimetre reads as pixels per inch; one with ResolutionUnit none (only an
    aspect ratio) has no dpi; a TIFF stored turned (Orientation 6), at any depth, swaps x and y."""
    for dtype in (np.uint8, np.uint16, np.float32):
        stored = np.zeros((10, 7, 3), dtype)
        cm = decode_image(_tiff(stored, photometric="rgb", resolution=(100, 50), resolutionunit="CENTIMETER"))
        assert cm.dpi == pytest.approx((254, 127))
        assert decode_image(_tiff(stored, photometric="rgb", resolution=(100, 50), resolutionunit="NONE")).dpi is None
        turned = decode_image(_tiff(stored, photometric="rgb", resolution=(300, 100), resolutionunit="INCH",
                                    extratags=[(274, "H", 1, 6, True)]))
        assert turned.size == (10, 7) and turned.dpi == pytest.approx((100, 300)), dtype


def test_a_tiffs_description_artist_and_copyright_reach_every_output():
    """An archive scan's ImageDescription, Artist and Copyright (UTF-8) come out in a TIFF output as
    tags and in a JPEG's or PNG's EXIF, and a photo's EXIF gives them to a TIFF output; tifffile's own
    JSON description of a file's layout is not taken for a description."""
    from PIL import Image

    tags = [(270, "s", 0, "Taufregister, Seite 12".encode(), True), (315, "s", 0, "Jürgen Müller".encode(), True),
            (33432, "s", 0, "© Stadtarchiv".encode(), True)]
    scan = decode_image(_tiff(np.zeros((8, 10, 3), np.uint8), photometric="rgb", metadata=None, extratags=tags))
    assert scan.tiff_tags == tuple((code, 2, len(v) + 1, v + b"\x00") for code, _, _, v, _ in tags)
    as_tiff = decode_image(encode_image(scan.rgb, "tiff", tiff_tags=scan.tiff_tags, exif=scan.exif))
    assert as_tiff.tiff_tags == scan.tiff_tags
    for fmt in ("jpeg", "png"):
        out = encode_image(scan.rgb, fmt, exif=scan.exif)
        exif = Image.open(io.BytesIO(out)).getexif()  # (Pillow reads EXIF text as Latin-1)
        assert exif[315].encode("latin-1").decode() == "Jürgen Müller" and exif[270] == "Taufregister, Seite 12"
        assert decode_image(encode_image(scan.rgb, "tiff", exif=decode_image(out).exif)).tiff_tags == scan.tiff_tags
    assert decode_image(_tiff(np.zeros((8, 10, 3), np.uint8), photometric="rgb")).tiff_tags == ()  # {"shape": ...}


def _big_endian_exif() -> bytes:
    """TIFF-structured EXIF as a Motorola-order camera writes it: an Exif IFD with an exposure time
    (RATIONAL), ISO (SHORT), a capture time (ASCII) and an Interop IFD."""
    taken = b"2019:05:06 07:08:09\x00"
    ifd0 = struct.pack(">H", 1) + struct.pack(">HHII", 34665, 4, 1, 26) + b"\x00" * 4
    values = 26 + 2 + 12 * 4 + 4
    interop = values + 8 + len(taken)
    exif = (struct.pack(">H", 4) + struct.pack(">HHII", 33434, 5, 1, values)
            + struct.pack(">HHIHH", 34855, 3, 1, 400, 0) + struct.pack(">HHII", 36867, 2, len(taken), values + 8)
            + struct.pack(">HHII", 40965, 4, 1, interop) + b"\x00" * 4 + struct.pack(">II", 1, 250) + taken)
    return b"MM\x00*" + struct.pack(">I", 8) + ifd0 + exif + struct.pack(">HHHI", 1, 1, 2, 4) + b"R98\x00" + b"\x00" * 4


def test_a_photos_exif_ifds_go_into_a_tiff_output():
    """A camera JPEG's Exif IFD (capture time, exposure, ISO), its GPS IFD and, from a Motorola-order
    EXIF, its Interop IFD are written into a TIFF output (little-endian, the IFDs appended and
    pointed to), beside tiles, overviews and a mask; its MakerNote, whose offsets would point
    nowhere once moved, is left out; Pillow and tifffile find them. Such a TIFF's own IFDs reach
    its JPEG, PNG and TIFF outputs in turn."""
    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    tifffile = pytest.importorskip("tifffile")
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "Camera Co", 6
    shot = exif.get_ifd(0x8769)
    shot[0x9003], shot[0x829A], shot[0x8827], shot[0x927C] = "2020:01:02 03:04:05", IFDRational(1, 250), 400, b"mk\x01"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (IFDRational(52, 1), IFDRational(31, 1), IFDRational(1234, 100))
    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, "JPEG", exif=exif.tobytes())
    photo = decode_image(buf.getvalue())
    out = encode_image(photo.rgb, "tiff", exif=photo.exif, tiff_storage=TiffStorage(8, 2, (32, 32), ((48, 64),)),
                       nodata_mask=np.eye(*photo.size[::-1], dtype=bool))
    with Image.open(io.BytesIO(out)) as im:
        tags = im.getexif()
        assert tags[0x010F] == "Camera Co" and 0x0112 not in tags  # written turned: no orientation
        assert dict(tags.get_ifd(0x8769)) == {0x9003: "2020:01:02 03:04:05", 0x829A: 0.004, 0x8827: 400}
        assert dict(tags.get_ifd(0x8825)) == {1: "N", 2: (52.0, 31.0, 12.34)}
    with tifffile.TiffFile(io.BytesIO(out)) as tif:
        codes = [t.code for t in tif.pages[0].tags.values()]
        assert codes == sorted(codes) and len(tif.pages) == 4  # image, mask, overview, its mask
        assert tif.pages[0].tags["ExifTag"].value["DateTimeOriginal"] == "2020:01:02 03:04:05"
    assert np.array_equal(decode_image(out).rgb, photo.rgb)
    tiff = decode_image(out)  # a TIFF with its own Exif and GPS IFDs, as a camera's: read, and carried on
    for fmt in ("jpeg", "png", "tiff"):
        again = encode_image(tiff.rgb, fmt, exif=tiff.exif, tiff_tags=tiff.tiff_tags if fmt == "tiff" else ())
        with Image.open(io.BytesIO(again)) as im:
            tags = im.getexif()
            assert tags[0x010F] == "Camera Co" and tags.get_ifd(0x8769)[0x9003] == "2020:01:02 03:04:05", fmt
            assert dict(tags.get_ifd(0x8825)) == {1: "N", 2: (52.0, 31.0, 12.34)}, fmt
    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, "JPEG", exif=b"Exif\x00\x00" + _big_endian_exif())
    with Image.open(io.BytesIO(encode_image(RGB, "tiff", exif=decode_image(buf.getvalue()).exif))) as im:
        tags = im.getexif()
        assert dict(tags.get_ifd(0x8769)) | {0xA005: 0} == {0x829A: 0.004, 0x8827: 400, 0x9003: "2019:05:06 07:08:09",
                                                             0xA005: 0}
        assert dict(tags.get_ifd(0xA005)) == {1: "R98"}


def test_a_pngs_text_and_a_jpegs_comments_are_carried_into_outputs_of_their_kind():
    """A PNG's Title (tEXt), Description (zTXt) and Author (iTXt, UTF-8) come back in order, byte for
    byte, in 8-bit, 16-bit and gray + alpha PNG outputs; its XMP is the XMP's (not copied twice); a
    JPEG's comments come back in a JPEG output beside its IPTC; neither goes into another format."""
    from PIL import Image, PngImagePlugin

    rgb = np.random.default_rng(2).integers(0, 256, (12, 20, 3)).astype(np.uint8)
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Hafen")
    info.add_text("Description", "Hafen, 1902", zip=True)
    info.add_itxt("Author", "Jürgen Müller", lang="de")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", pnginfo=info)
    png = decode_image(buf.getvalue())
    assert [kind for kind, _ in png.text] == [b"tEXt", b"zTXt", b"iTXt"] and png.xmp is not None
    want = {"Title": "Hafen", "Description": "Hafen, 1902", "Author": "Jürgen Müller"}
    for pixels, alpha in ((rgb, None), (rgb.astype(np.uint16) * 257, None), (rgb, rgb[..., 0])):
        out = encode_image(pixels, "png", gray=alpha is not None, alpha=alpha, text=png.text, xmp=png.xmp)
        assert decode_image(out).text == png.text
        with Image.open(io.BytesIO(out)) as im:
            im.load()
            assert {k: im.text[k] for k in want} == want and b"(c) The Archive" in im.info["xmp"]
    assert decode_image(encode_image(rgb, "jpeg", text=png.text)).text == ()
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", comment=b"Scanned by K. Lee, 600 dpi")
    jpeg = decode_image(buf.getvalue())
    assert jpeg.text == ((b"COM", b"Scanned by K. Lee, 600 dpi"),)
    out = decode_image(encode_image(rgb, "jpeg", text=jpeg.text, iptc=IIM))
    assert out.text == jpeg.text and out.iptc == IIM
    assert decode_image(encode_image(rgb, "png", text=jpeg.text)).text == ()


def _with_mask_page(image: np.ndarray, valid: np.ndarray, mask_kw: dict | None = None, **kw) -> bytes:
    """A TIFF as GDAL writes one with an internal mask: the image, then its per-dataset mask."""
    tifffile = pytest.importorskip("tifffile")
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        tif.write(image, metadata=None, **{"photometric": "rgb", **kw})
        tif.write(valid, subfiletype=4, photometric=4, metadata=None, **(mask_kw or {"compression": "zlib"}))
    return buf.getvalue()


def test_a_tiffs_internal_nodata_mask_marks_its_missing_pixels():
    """GDAL's internal mask (an IFD of the image's size, NewSubfileType and Photometric "mask", 1 bit,
    0 = nodata) is the nodata of the pixels, turned with them; a mask IFD of another size is not it;
    a mask IFD whose samples cannot be read fails the image instead of being guessed."""
    rgb = np.random.default_rng(3).integers(0, 256, (10, 14, 3)).astype(np.uint8)
    valid = np.ones((10, 14), bool)
    valid[2:5, 3:9] = False
    for dtype in (np.uint8, np.uint16, np.float32):
        decoded = decode_image(_with_mask_page(rgb.astype(dtype), valid))
        assert np.array_equal(decoded.nodata_mask, ~valid), dtype
    for dtype in (np.uint8, np.uint16, np.float32):  # (Pillow, OpenCV and tifffile turn them)
        turned = decode_image(_with_mask_page(rgb.astype(dtype), valid, extratags=[(274, "H", 1, 6, True)]))
        assert turned.size == (10, 14) and np.array_equal(turned.nodata_mask, np.rot90(~valid, -1)), dtype
        assert np.array_equal(turned.samples[..., 0], np.rot90(rgb[..., 0], -1).astype(dtype))
    assert decode_image(_with_mask_page(rgb, valid[:5])).nodata_mask is None
    assert decode_image(_tiff(rgb, photometric="rgb")).nodata_mask is None
    blob = bytearray(_with_mask_page(rgb, valid))
    tifffile = pytest.importorskip("tifffile")
    with tifffile.TiffFile(io.BytesIO(bytes(blob))) as tif:
        at = tif.pages[1].dataoffsets[0]
    blob[at:at + 8] = b"\xde\xad\xbe\xef" * 2  # the mask's deflate stream, broken
    with pytest.raises(DecodeError, match="nodata mask"):
        decode_image(bytes(blob))


def test_a_tiff_output_is_stored_as_its_source_with_its_overviews_made_again():
    """A tiled JPEG TIFF with two overviews (an orthophoto COG's layout) comes back JPEG-compressed in
    the same tiles with overviews of the same sizes, made from the restored pixels; a float elevation
    model keeps deflate with the floating-point predictor, its overviews picking samples (no invented
    heights); JPEG for samples it cannot hold (alpha, 16 bits) becomes deflate; a nodata mask is
    written as GDAL's internal mask, at each overview too."""
    tifffile = pytest.importorskip("tifffile")
    yy, xx = np.mgrid[0:96, 0:128]
    rgb = np.dstack([128 + 60 * np.sin(xx / 9), 128 + 60 * np.cos(yy / 7), 100 + 0 * xx]).astype(np.uint8)
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        for level in (1, 2, 4):
            tif.write(np.ascontiguousarray(rgb[::level, ::level]), photometric="rgb", tile=(32, 32), compression="jpeg",
                      subfiletype=0 if level == 1 else 1, metadata=None)
    source = decode_image(buf.getvalue())
    assert source.tiff_storage == TiffStorage(7, 1, (32, 32), ((48, 64), (24, 32)))
    nodata = np.zeros((96, 128), bool)
    nodata[:8, :16] = True
    out = encode_image(source.rgb, "tiff", tiff_storage=source.tiff_storage, nodata_mask=nodata, jpeg_quality=90)
    with tifffile.TiffFile(io.BytesIO(out)) as tif:
        pages = [(p.subfiletype, p.photometric, p.compression, p.shape[:2], p.tilelength) for p in tif.pages]
        # (JPEG colour is stored YCbCr, Photometric 6, as GDAL stores it)
        assert pages == [(0, 6, 7, (96, 128), 32), (4, 4, 8, (96, 128), 32), (1, 6, 7, (48, 64), 32),
                         (5, 4, 8, (48, 64), 32), (1, 6, 7, (24, 32), 32), (5, 4, 8, (24, 32), 32)]
        half = cv2.resize(source.rgb, (64, 48), interpolation=cv2.INTER_AREA)  # made from the pixels given
        assert np.abs(tif.pages[2].asarray().astype(int) - half).mean() < 3
        assert np.array_equal(tif.pages[5].asarray(), ~nodata[2::4, 2::4])
    decoded = decode_image(out)
    assert np.array_equal(decoded.nodata_mask, nodata) and np.abs(decoded.rgb.astype(int) - source.rgb).mean() < 3

    dem = (1000 + 300 * np.sin(xx / 20) * np.cos(yy / 15)).astype(np.float32)
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        tif.write(dem, photometric="minisblack", compression="zlib", predictor=3, metadata=None)
        tif.write(dem[::2, ::2], photometric="minisblack", compression="zlib", predictor=3, subfiletype=1,
                  metadata=None)
    source = decode_image(buf.getvalue())
    assert source.tiff_storage == TiffStorage(8, 3, None, ((48, 64),))
    out = encode_image(source.values, "tiff", gray=True, tiff_storage=source.tiff_storage)
    with tifffile.TiffFile(io.BytesIO(out)) as tif:
        assert [(p.compression, p.predictor, p.shape) for p in tif.pages] == [(8, 3, (96, 128)), (8, 3, (48, 64))]
        assert set(np.unique(tif.pages[1].asarray())) <= set(np.unique(dem))  # picked, not averaged
    for pixels, alpha in ((rgb.astype(np.uint16) * 257, None), (rgb, rgb[..., 0])):
        out = encode_image(pixels, "tiff", alpha=alpha, tiff_storage=TiffStorage(7, 1, (32, 32)))
        with tifffile.TiffFile(io.BytesIO(out)) as tif:
            assert tif.pages[0].compression == 8 and np.array_equal(tif.pages[0].asarray()[..., :3], pixels)


def _cog_errors(data: bytes) -> list[str]:
    """What makes ``data`` not a cloud-optimised GeoTIFF by the rules of GDAL's
    validate_cloud_optimized_geotiff.py: the main IFD right after the header and GDAL's structural
    metadata, the IFDs in order and before every tile, the smallest overview's tiles first and the
    full-resolution image's last, each level's tiles in row-major order, each tile led by its
    length and trailed by its last 4 bytes as the metadata promises."""
    import tifffile

    errors = []
    if data[8:38] != b"GDAL_STRUCTURAL_METADATA_SIZE=":
        return ["no structural metadata"]
    size = int(data[38:44])
    layout = data[8 + 43:8 + 43 + size]
    if b"LAYOUT=IFDS_BEFORE_DATA" not in layout or b"BLOCK_LEADER=SIZE_AS_UINT4" not in layout:
        errors.append(f"layout {layout!r}")
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        pages = list(tif.pages)
        ifds = [p.offset for p in pages]
        if ifds[0] != 8 + 43 + size + (8 + 43 + size) % 2 or ifds != sorted(ifds):
            errors.append(f"IFDs at {ifds}")
        starts = [min(o for o in p.dataoffsets if o) for p in pages if p.photometric != 4]
        if max(ifds) > min(starts) or starts != sorted(starts, reverse=True):
            errors.append(f"levels' tiles start at {starts}")
        for p in pages:
            tiles = [(o, n) for o, n in zip(p.dataoffsets, p.databytecounts) if o]
            if [o for o, _ in tiles] != sorted(o for o, _ in tiles):
                errors.append(f"IFD at {p.offset}: tiles not in row-major order")
            if any(struct.unpack_from("<I", data, o - 4)[0] != n or data[o + n - 4:o + n] != data[o + n:o + n + 4]
                   for o, n in tiles):
                errors.append(f"IFD at {p.offset}: a tile's leader or trailer is wrong")
    return errors


def test_a_cloud_optimised_geotiff_is_restored_into_one():
    """A TIFF laid out as a cloud-optimised GeoTIFF (IFDs first, smallest overview's tiles first,
    as GDAL's COG driver writes them) is known as one, and its TIFF output is laid out the same way
    by GDAL's rules, its tiles, mask and overviews what they would be otherwise; a tiled TIFF of
    tifffile's layout (each IFD before its own tiles) is written in its own layout, as before."""
    import tifffile

    from inpaint_core.imageio import _cloud_optimized

    yy, xx = np.mgrid[0:256, 0:320]
    rgb = np.dstack([128 + 60 * np.sin(xx / 9), 128 + 60 * np.cos(yy / 7), 100 + 0 * xx]).astype(np.uint8)
    valid = np.ones((256, 320), bool)
    valid[40:90, 100:180] = False
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        tif.write(rgb, photometric="rgb", tile=(64, 64), compression="jpeg", metadata=None)
        tif.write(valid, subfiletype=4, photometric=4, compression="zlib", tile=(64, 64), metadata=None)
        for level in (2, 4):
            tif.write(np.ascontiguousarray(rgb[::level, ::level]), photometric="rgb", tile=(64, 64),
                      compression="jpeg", subfiletype=1, metadata=None)
    plain = buf.getvalue()
    cog = _cloud_optimized(plain)
    assert _cog_errors(plain) == ["no structural metadata"] and _cog_errors(cog) == []
    with tifffile.TiffFile(io.BytesIO(cog)) as a, tifffile.TiffFile(io.BytesIO(plain)) as b:
        assert len(a.pages) == len(b.pages) == 4
        assert all(np.array_equal(x.asarray(), y.asarray()) for x, y in zip(a.pages, b.pages))
    outputs = {}
    for name, source in (("plain", plain), ("cog", cog)):
        image = decode_image(source)
        assert image.tiff_storage.cloud_optimized == (name == "cog")
        outputs[name] = encode_image(image.rgb, "tiff", tiff_storage=image.tiff_storage,
                                     nodata_mask=image.nodata_mask)
    assert _cog_errors(outputs["cog"]) == [] and _cog_errors(outputs["plain"]) == ["no structural metadata"]
    with tifffile.TiffFile(io.BytesIO(outputs["cog"])) as a, tifffile.TiffFile(io.BytesIO(outputs["plain"])) as b:
        assert [p.shape for p in a.pages] == [p.shape for p in b.pages]
        assert all(np.array_equal(x.asarray(), y.asarray()) for x, y in zip(a.pages, b.pages))
    assert decode_image(outputs["cog"]).tiff_storage.cloud_optimized


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_bigtiff_keeps_its_map_place_nodata_storage_and_pages(order, dtype):
    """A BigTIFF (GDAL writes one with BIGTIFF=YES, or past 4 GiB), little- or big-endian: its
    samples are read at their depth (Pillow reads no big-endian BigTIFF), and its georeferencing,
    GDAL nodata, dpi, description, XMP, storage (deflate tiles, an overview), internal mask and
    other pages reach its TIFF output, as a classic TIFF's do. (Until 2026-11-29 a BigTIFF lost them
    all: its first IFD was read by Pillow's classic-TIFF parser only.)"""
    import tifffile

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (128, 160, 3)).astype(dtype) * (257 if dtype == np.uint16 else 1)
    valid = np.ones((128, 160), bool)
    valid[10:30, 20:60] = False
    geo = [(33922, "d", 6, (0, 0, 0, 5e5, 4e6, 0), True), (33550, "d", 3, (0.5, 0.5, 0), True),
           (34735, "H", 4, (1, 1, 0, 0), True), (42113, "s", 0, "7", True), (270, "s", 0, "ortho", True),
           (700, "B", 0, b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>', True)]
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf, bigtiff=True, byteorder=order) as tif:
        tif.write(pixels, photometric="rgb", tile=(32, 32), compression="zlib", metadata=None, extratags=geo,
                  resolution=(300, 300))
        tif.write(valid, subfiletype=4, photometric=4, compression="zlib", tile=(32, 32), metadata=None)
        tif.write(np.ascontiguousarray(pixels[::2, ::2]), photometric="rgb", tile=(32, 32), compression="zlib",
                  subfiletype=1, metadata=None)
        tif.write(np.ascontiguousarray(pixels[:50, :40]), photometric="rgb", compression="zlib", metadata=None,
                  extratags=[(285, "s", 0, "page 2", True)])
    image = decode_image(buf.getvalue())
    assert np.array_equal(image.samples, pixels) and image.pages == 2 and image.dpi == (300.0, 300.0)
    assert image.nodata == "7" and np.array_equal(image.nodata_mask, ~valid) and image.xmp is not None
    assert image.tiff_storage == TiffStorage(8, 1, (32, 32), ((64, 80),))
    assert {tag[0] for tag in image.tiff_tags} == {33922, 33550, 34735, 42113, 270}
    out = encode_image(image.samples, "tiff", tiff_tags=image.tiff_tags, dpi=image.dpi, xmp=image.xmp,
                       tiff_storage=image.tiff_storage, nodata_mask=image.nodata_mask, pages_from=image.document)
    with tifffile.TiffFile(io.BytesIO(out)) as tif:
        first, page = tif.pages[0], tif.pages[-1]
        assert {33922, 33550, 34735, 42113, 270, 700} <= set(first.tags.keys()) and first.is_tiled
        assert len(tif.pages) == 5 and page.tags[285].value == "page 2"
        assert np.array_equal(page.asarray(), pixels[:50, :40])
    again = decode_image(out)
    assert np.array_equal(again.samples, pixels) and np.array_equal(again.nodata_mask, ~valid)


def test_an_hgt_tiles_name_places_it_on_the_map():
    """``S05E012.hgt`` (3601 x 3601): its north-west sample at 4 S 12 E, 1/3600 degree apart; a
    3601 x 1801 tile is 1/1800 degree apart east-west; a name that says nowhere places nothing."""
    from inpaint_core.imageio import hgt_geo_tags

    scale, tie, keys = hgt_geo_tags("srtm/S05E012.hgt", (3601, 3601))
    assert scale[3] == (1 / 3600, 1 / 3600, 0.0) and tie[3] == (0.0, 0.0, 0.0, 12.0, -4.0, 0.0)
    assert keys[3][:4] == (1, 1, 0, 6) and 4326 in keys[3] and 5773 in keys[3]  # WGS 84, EGM96 heights
    assert hgt_geo_tags("N61W150.hgt", (3601, 1801))[0][3] == (1 / 1800, 1 / 3600, 0.0)
    assert hgt_geo_tags("tile.hgt", (1201, 1201)) == () and hgt_geo_tags("N90E000.hgt", (1201, 1201)) == ()
    assert hgt_geo_tags("W180", (1201, 1201)) == () and hgt_geo_tags("S90W180.hgt", (1201, 1201)) != ()
