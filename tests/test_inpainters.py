"""Registry and Inpainter contract, tested on every registered method; telea/ns windowed == full frame."""

import time

import cv2
import numpy as np
import pytest
from skimage import data

from inpaint_core.errors import UnknownMethodError
from inpaint_core.inpainters import (
    Inpainter,
    create_inpainter,
    inpainter_info,
    list_inpainters,
    register_inpainter,
)
from inpaint_core.inpainters import registry

CLASSICAL = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def _holes(shape, seed, n=12):
    """Blobs, a scratch and holes touching the border and a corner."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    for _ in range(n):
        y, x = rng.integers(0, shape)
        cv2.circle(mask, (int(x), int(y)), int(rng.integers(2, 14)), 255, -1)
    cv2.line(mask, (5, shape[0] // 3), (shape[1] - 40, shape[0] // 2), 255, 3)
    mask[:4, :6] = 255
    mask[shape[0] // 2: shape[0] // 2 + 9, -3:] = 255
    return mask


def _options(name):
    """Learned methods ship no weights yet: the contract tests run them untrained, and narrow
    (the ``width`` convention of every model) so the suite stays fast; tests/models covers them."""
    if inpainter_info(name)["kind"] != "learned":
        return {}
    from inpaint_core.models import get_model_spec

    return {"weights": "random"} | ({"width": 4} if "width" in get_model_spec(name).default_config else {})


@pytest.fixture(scope="module")
def images():
    return [data.astronaut(), data.chelsea(), data.coffee()]


def test_registry_lists_and_describes():
    assert list_inpainters() == sorted(list_inpainters())
    assert {"telea", "ns"} <= set(list_inpainters("classical"))
    info = inpainter_info("telea")
    assert info["name"] == "telea" and info["kind"] == "classical" and info["description"]
    with pytest.raises(ValueError):
        list_inpainters("quantum")


def test_unknown_method_lists_known_names():
    with pytest.raises(UnknownMethodError) as exc:
        create_inpainter("no-such-method")
    assert "no-such-method" in str(exc.value) and "telea" in str(exc.value)
    with pytest.raises(KeyError):  # UnknownMethodError is also a KeyError
        inpainter_info("no-such-method")


def test_unknown_option_is_refused_by_name():
    with pytest.raises(TypeError, match="radios"):
        create_inpainter("telea", radios=5)
    with pytest.raises(ValueError):
        create_inpainter("telea", radius=0)
    with pytest.raises(ValueError):
        create_inpainter("ns", checkpoint="weights.safetensors")
    with pytest.raises(ValueError):
        create_inpainter("ns", device="cuda")


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError):
        register_inpainter("telea", kind="classical", description="dup")(lambda **kw: None)
    with pytest.raises(ValueError):
        register_inpainter("x", kind="magic", description="bad kind")


@pytest.mark.parametrize("name", list_inpainters())
def test_every_method_keeps_known_pixels_and_inputs(name, images):
    inpainter = create_inpainter(name, **_options(name))
    assert isinstance(inpainter, Inpainter)
    assert inpainter.name == name and inpainter.kind == inpainter_info(name)["kind"]
    assert isinstance(inpainter.params, dict) and inpainter.window_margin >= 0
    masks = [_holes(img.shape[:2], seed=i) for i, img in enumerate(images)]
    masks[1] = masks[1] > 0  # bool masks work as well as uint8
    before = [img.copy() for img in images]
    outputs = inpainter(images, masks)
    assert len(outputs) == len(images)
    for img, orig, mask, out in zip(images, before, masks, outputs):
        assert np.array_equal(img, orig)  # inputs untouched
        assert out.shape == img.shape and out.dtype == np.uint8
        known = np.asarray(mask) == 0
        assert np.array_equal(out[known], img[known])
        assert not np.array_equal(out[~known], img[~known])  # something was filled


@pytest.mark.parametrize("name", list_inpainters())
def test_batch_sizes_and_empty_masks(name, images):
    inpainter = create_inpainter(name, **_options(name))
    assert inpainter([], []) == []
    assert inpainter.inpaint_windows([], []) == []
    img = images[0]
    (out,) = inpainter([img], [np.zeros(img.shape[:2], bool)])
    assert np.array_equal(out, img) and out is not img


@pytest.mark.parametrize("name", list_inpainters())
def test_bad_inputs_name_the_index(name, images):
    inpainter = create_inpainter(name, **_options(name))
    img, mask = images[0], _holes(images[0].shape[:2], 0)
    with pytest.raises(ValueError, match=r"masks\[1\]"):
        inpainter([img, img], [mask, mask[:-1]])
    with pytest.raises(ValueError, match=r"images\[0\]"):
        inpainter([img.astype(np.float32)], [mask])
    with pytest.raises(ValueError, match=r"images\[0\]"):
        inpainter([img[..., 0]], [mask])
    with pytest.raises(ValueError):
        inpainter([img], [mask, mask])
    with pytest.raises(ValueError, match=r"masks\[0\]"):
        inpainter([img], [mask.astype(np.float32)])


@pytest.mark.parametrize("name", sorted(CLASSICAL))
@pytest.mark.parametrize("radius", [3, 7])
def test_windowed_equals_full_frame(name, radius, images):
    """Measured tolerance: 0 (bit-exact) at the default margin 2 * radius + 2."""
    inpainter = create_inpainter(name, radius=radius)
    masks = [_holes(img.shape[:2], seed=10 + i, n=25) for i, img in enumerate(images)]
    outputs = inpainter(images, masks)
    for img, mask, out in zip(images, masks, outputs):
        full = cv2.inpaint(img, mask, radius, CLASSICAL[name])
        assert np.array_equal(out, full)


@pytest.mark.parametrize("name", [*sorted(CLASSICAL), "spline"])
def test_classical_methods_fill_16bit_images_at_16_bits(name, images):
    """A 16-bit image comes back 16-bit, its known pixels kept and its hole the method's own 16-bit
    fill (windowed == full frame, as at 8 bits)."""
    from inpaint_core.spline import spline_fill

    img = images[1].astype(np.uint16) * 257 + 100
    mask = _holes(img.shape[:2], 3)
    inpainter = create_inpainter(name)
    assert inpainter.sixteen_bit
    [out] = inpainter([img], [mask])
    assert out.dtype == np.uint16 and np.array_equal(out[mask == 0], img[mask == 0])
    if name == "spline":
        full = spline_fill(img, mask != 0)
    else:
        full = np.dstack([cv2.inpaint(np.ascontiguousarray(img[..., c]), mask, 3, CLASSICAL[name])
                          for c in range(3)])
    assert np.array_equal(out, full)


def test_methods_that_fill_at_8_bits_refuse_16bit_images(images):
    inpainter = create_inpainter("glcic", **_options("glcic"))
    assert not inpainter.sixteen_bit
    with pytest.raises(ValueError, match=r"images\[0\]: expected dtype uint8, got uint16"):
        inpainter([images[0].astype(np.uint16)], [_holes(images[0].shape[:2], 0)])


def test_inpaint_windows_matches_call_on_precut_crops(images):
    inpainter = create_inpainter("telea")
    img = images[2]
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[100:120, 200:230] = 1
    m = inpainter.window_margin
    crop, crop_mask = img[100 - m:120 + m, 200 - m:230 + m], mask[100 - m:120 + m, 200 - m:230 + m]
    (filled,) = inpainter.inpaint_windows([crop], [crop_mask])
    (whole,) = inpainter([img], [mask])
    assert np.array_equal(filled, whole[100 - m:120 + m, 200 - m:230 + m])


def test_rgb_in_rgb_out(images):
    # cv2.inpaint works per channel, so channel order does not matter: no BGR leaks through.
    img = images[0]
    mask = _holes(img.shape[:2], 5)
    (rgb,) = create_inpainter("telea")([img], [mask])
    (bgr,) = create_inpainter("telea")([np.ascontiguousarray(img[..., ::-1])], [mask])
    assert np.array_equal(rgb, bgr[..., ::-1])


def test_hook_gets_one_batch_and_only_holes_are_pasted(images):
    calls = []

    class Painter(Inpainter):
        window_margin = 4

        def _inpaint_batch(self, crops, crop_masks, crop_edges):
            calls.append(len(crops))
            return [np.full_like(c, 7) for c in crops]  # also scribbles over known pixels

    img = images[0]
    mask = np.zeros(img.shape[:2], bool)
    mask[10:20, 10:20] = mask[300:310, 300:310] = True
    out_a, out_b = Painter()([img, img], [mask, np.zeros_like(mask)])
    assert calls == [2]  # two windows of the first image, one hook call; empty mask skipped
    assert (out_a[mask] == 7).all() and np.array_equal(out_a[~mask], img[~mask])
    assert np.array_equal(out_b, img)


def test_edges_given_or_computed_when_needed(images):
    """Edge-guided methods get the caller's edge maps, or Canny of the known region without them."""
    from inpaint_core.edges import canny_edges

    seen = []

    class EdgePainter(Inpainter):
        needs_edges = True
        window_margin = 2

        def _inpaint_batch(self, crops, crop_masks, crop_edges):
            seen.extend(crop_edges)
            return crops

    img = images[0]
    mask = np.zeros(img.shape[:2], bool)
    mask[40:60, 50:80] = True
    EdgePainter()([img], [mask], edges=[np.zeros_like(mask)])
    assert seen[-1].dtype == np.bool_ and not seen[-1].any()
    EdgePainter()([img], [mask])
    (win,) = __import__("inpaint_core.windows", fromlist=["hole_windows"]).hole_windows(mask, margin=2)
    assert np.array_equal(seen[-1], canny_edges(img, mask)[win.slices]) and seen[-1].any()


def test_factory_function_registration(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    class Dummy(Inpainter):
        def __init__(self, strength):
            super().__init__()
            self.params = {"strength": strength}

    @register_inpainter("dummy-fn", kind="learned", description="test factory")
    def make(*, checkpoint=None, device="auto", strength=1.0):
        return Dummy(strength)

    made = create_inpainter("dummy-fn", strength=2.0)
    assert made.name == "dummy-fn" and made.kind == "learned" and made.params == {"strength": 2.0}
    assert "dummy-fn" in list_inpainters("learned")
    with pytest.raises(TypeError, match="strenght"):
        create_inpainter("dummy-fn", strenght=2.0)


def test_large_image_with_small_holes_is_fast():
    image = cv2.resize(data.astronaut(), (6000, 4000), interpolation=cv2.INTER_LINEAR)
    mask = np.zeros(image.shape[:2], np.uint8)
    rng = np.random.default_rng(0)
    for _ in range(5):
        y, x = rng.integers(50, [3950, 5950])
        cv2.circle(mask, (int(x), int(y)), 8, 255, -1)
    telea = create_inpainter("telea")
    telea([image[:600, :600]], [mask[:600, :600]])  # warm-up: OpenCV starts its threads lazily
    cv2.inpaint(image[:600, :600], mask[:600, :600], 3, cv2.INPAINT_TELEA)
    start = time.perf_counter()
    (out,) = telea([image], [mask])
    windowed = time.perf_counter() - start
    start = time.perf_counter()
    full = cv2.inpaint(image, mask, 3, cv2.INPAINT_TELEA)
    full_frame = time.perf_counter() - start
    print(f"6000x4000, 5 small holes: windowed {windowed * 1000:.0f} ms, full frame {full_frame * 1000:.0f} ms")
    assert windowed < 2.0
    assert windowed < full_frame
    assert np.array_equal(out, full)
