"""Every learned model, found through ``list_inpainters("learned")``: a new model is tested once registered.

Small widths and resolutions keep the whole file to a few seconds on two CPU cores.
"""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import inpaint_core.models.wrapper as wrapper
from inpaint_core import create_inpainter, list_inpainters
from inpaint_core.edges import canny_edges
from inpaint_core.errors import CheckpointError
from inpaint_core.models import get_model_spec, load_checkpoint, save_checkpoint
from inpaint_core.models.checkpoint import checkpoint_sha256

LEARNED = list_inpainters("learned")
SMALL = {"width": 4}  # applied where the model has that config key
RES = 32


def small_config(name, resolution=RES):
    spec = get_model_spec(name)
    config = {**spec.default_config, **{k: v for k, v in SMALL.items() if k in spec.default_config}}
    if spec.fixed_size:
        config["resolution"] = resolution
    return config


def small_options(name):
    spec = get_model_spec(name)
    return {k: v for k, v in SMALL.items() if k in spec.default_config} | {"resolution": RES}


def build(name, resolution=RES, seed=0):
    torch.manual_seed(seed)
    return get_model_spec(name).build(small_config(name, resolution))


def batch(b, side, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(b, 1, side, side)
    mask[..., side // 4: side // 2, side // 3: side * 2 // 3] = 1
    image = (torch.rand(b, 3, side, side, generator=g) * 2 - 1) * (1 - mask)
    return image, mask


def run(inpainter, photos, masks):
    """Call ``inpainter``, with the Canny edges of the known pixels when the model needs edge maps."""
    edges = [canny_edges(p, np.asarray(m) != 0) for p, m in zip(photos, masks)] if inpainter.needs_edges else None
    return inpainter(photos, masks, edges=edges)


def holes(h, w, seed):
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 3: h // 2, w // 4: w // 2] = 255
    mask[:3, -5:] = 1  # touching a corner
    mask[rng.integers(0, h), :] = 1  # a scratch across the image
    return mask


@pytest.fixture
def photos():
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (97, 131, 3), dtype=np.uint8), rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)]


@pytest.fixture
def no_shipped_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(wrapper, "WEIGHTS_DIR", tmp_path / "weights")
    return tmp_path / "weights"


def test_both_survey_models_are_registered():
    assert {"context_encoder", "glcic"} <= set(LEARNED)
    for name in LEARNED:
        spec = get_model_spec(name)
        assert spec.paper and spec.repo and spec.description


@pytest.mark.parametrize("name", LEARNED)
@pytest.mark.parametrize("resolution", [RES, 2 * RES])
@pytest.mark.parametrize("b", [1, 2])
def test_forward_shape_and_range(name, resolution, b):
    model = build(name, resolution).eval()
    image, mask = batch(b, resolution)
    with torch.inference_mode():
        out = model(image, mask, None)
    assert out.shape == (b, 3, resolution, resolution) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= -1 and out.max() <= 1


@pytest.mark.parametrize("name", LEARNED)
def test_inpainter_keeps_known_pixels_on_odd_sizes(name, photos, no_shipped_weights):
    inpainter = create_inpainter(name, weights="random", **small_options(name))
    assert inpainter.kind == "learned" and inpainter.params["model"] == name
    masks = [holes(*p.shape[:2], seed=i) for i, p in enumerate(photos)]
    masks[1] = masks[1] > 0
    before = [p.copy() for p in photos]
    outputs = run(inpainter, photos, masks)
    for photo, orig, mask, out in zip(photos, before, masks, outputs):
        assert np.array_equal(photo, orig)
        assert out.shape == photo.shape and out.dtype == np.uint8
        known = np.asarray(mask) == 0
        assert np.array_equal(out[known], photo[known])
        assert not np.array_equal(out[~known], photo[~known])


@pytest.mark.parametrize("name", LEARNED)
def test_gradients_reach_every_parameter(name):
    model = build(name).train()
    image, mask = batch(2, RES)
    target = torch.rand(2, 3, RES, RES) * 2 - 1
    loss = ((model(image, mask, None) - target).abs() * (1 + mask)).mean()
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} gets no gradient"


@pytest.mark.parametrize("name", LEARNED)
def test_eval_mode_is_deterministic(name, photos):
    inpainter = create_inpainter(name, weights="random", **small_options(name))
    mask = holes(*photos[0].shape[:2], 3)
    assert np.array_equal(run(inpainter, [photos[0]], [mask])[0], run(inpainter, [photos[0]], [mask])[0])


def _round_trip(name, uri, photos, **save_kw):
    torch.manual_seed(0)
    made = create_inpainter(name, weights="random", **small_options(name))
    save_checkpoint(made.model, name, made.config, uri, {"resolution": made.resolution, "steps": 0}, **save_kw)
    loaded = create_inpainter(name, checkpoint=uri)
    assert loaded.config == made.config and loaded.resolution == made.resolution
    assert loaded.params["checkpoint_sha256"] == checkpoint_sha256(uri)
    masks = [holes(*p.shape[:2], seed=i) for i, p in enumerate(photos)]
    return run(made, photos, masks), run(loaded, photos, masks)


@pytest.mark.parametrize("name", LEARNED)
def test_checkpoint_round_trip_gives_the_same_output(name, photos, tmp_path):
    expected, got = _round_trip(name, str(tmp_path / f"{name}.safetensors"), photos)
    for a, b in zip(expected, got):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("name", LEARNED)
def test_fsspec_url_checkpoint(name, photos):
    expected, got = _round_trip(name, f"memory://bucket/run1/{name}.safetensors", photos)
    for a, b in zip(expected, got):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("name", LEARNED)
@pytest.mark.parametrize("file_name", ["model.pt", "model.safetensors"])
@pytest.mark.parametrize("zipped", [True, False])
def test_pickled_checkpoint_is_refused(name, file_name, zipped, tmp_path, monkeypatch):
    model = build(name)
    path = tmp_path / file_name
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=zipped)
    (tmp_path / "model.json").write_text(json.dumps({"architecture": name, "config": small_config(name)}))

    def never(*args, **kwargs):
        raise AssertionError("a pickle was deserialised")

    monkeypatch.setattr(torch, "load", never)
    with pytest.raises(CheckpointError, match="(?i)pickle|zip"):
        create_inpainter(name, checkpoint=str(path))


@pytest.mark.parametrize("name", LEARNED)
@pytest.mark.parametrize("change", ["shape", "dtype"])
def test_wrong_tensor_is_refused_by_name(name, change, tmp_path):
    model = build(name)
    uri = str(tmp_path / f"{name}.safetensors")
    save_checkpoint(model, name, small_config(name), uri, {"resolution": RES})
    state, card = load_checkpoint(uri)
    # sorted: safetensors loads in no fixed order; more than one input channel, or the slice changes nothing
    key = next(k for k, v in sorted(state.items()) if v.ndim == 4 and v.shape[1] > 1)
    state[key] = state[key][:, :1].clone() if change == "shape" else state[key].double()
    save_file(state, uri)
    card["sha256"] = checkpoint_sha256(uri)
    (tmp_path / f"{name}.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=key.replace(".", r"\.") + ".*" + change):
        create_inpainter(name, checkpoint=uri)


@pytest.mark.parametrize("name", LEARNED)
def test_no_weights_says_how_to_get_some(name, no_shipped_weights):
    with pytest.raises(CheckpointError) as exc:
        create_inpainter(name)
    message = str(exc.value)
    assert f"inpaint train --model {name}" in message and "--checkpoint" in message


@pytest.mark.parametrize("name", LEARNED)
def test_shipped_weights_are_used_by_default(name, no_shipped_weights, photos):
    torch.manual_seed(3)
    made = create_inpainter(name, weights="random", **small_options(name))
    save_checkpoint(made.model, name, made.config, str(no_shipped_weights / f"{name}.safetensors"),
                    {"resolution": made.resolution})
    shipped = create_inpainter(name)
    assert shipped.params["weights"].endswith(f"{name}.safetensors")
    mask = holes(*photos[0].shape[:2], 0)
    assert np.array_equal(run(made, [photos[0]], [mask])[0], run(shipped, [photos[0]], [mask])[0])


@pytest.mark.parametrize("name", LEARNED)
def test_options_are_checked(name, tmp_path):
    with pytest.raises(TypeError, match="widht"):
        create_inpainter(name, weights="random", widht=8)
    with pytest.raises(ValueError, match="weights"):
        create_inpainter(name, weights="pretrained")
    with pytest.raises(ValueError):
        create_inpainter(name, weights="random", batch_size=0)
    with pytest.raises(ValueError):
        create_inpainter(name, weights="random", checkpoint=str(tmp_path / "x.safetensors"))


@pytest.mark.parametrize("name", LEARNED)
def test_precision_is_chosen_checked_and_recorded(name, photos):
    """``auto`` is float32 on a CPU; ``bfloat16`` autocasts there too (a nearby, not equal, fill); the
    choice is in ``params`` (the manifest's ``method_params``); a misspelt one is refused by name."""
    torch.manual_seed(0)
    default = create_inpainter(name, weights="random", **small_options(name))
    assert default.params["precision"] == "float32"
    with torch.no_grad():  # a pre-filled model's zero-initialised residual layers would give the fill alone
        for p in default.model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    half = create_inpainter(name, weights="random", precision="bfloat16", **small_options(name))
    half.model.load_state_dict(default.model.state_dict())
    assert half.params["precision"] == "bfloat16"
    mask = holes(*photos[0].shape[:2], 0)
    a, b = run(default, [photos[0]], [mask])[0], run(half, [photos[0]], [mask])[0]
    assert np.array_equal(a[mask == 0], b[mask == 0])  # known pixels are kept exactly either way
    diff = np.abs(a.astype(int) - b.astype(int))[mask > 0]
    assert diff.max() > 0 and diff.mean() < 8, (diff.mean(), diff.max())
    with pytest.raises(ValueError, match="precision"):
        create_inpainter(name, weights="random", precision="fp16", **small_options(name))


@pytest.mark.parametrize("name", LEARNED)
def test_checkpoint_of_another_architecture_is_refused(name, tmp_path):
    other = next(n for n in LEARNED if n != name)
    uri = str(tmp_path / f"{other}.safetensors")
    save_checkpoint(build(other), other, small_config(other), uri)
    with pytest.raises(CheckpointError, match=other):
        create_inpainter(name, checkpoint=uri)


def test_small_crops_and_batching_by_shape(photos):
    """Crops smaller than the working side are padded only; many crops of mixed shapes, one call."""
    inpainter = create_inpainter("glcic", weights="random", width=4, resolution=64, batch_size=2)
    calls = []
    forward = inpainter.model.forward
    inpainter.model.forward = lambda *a: calls.append(tuple(a[0].shape)) or forward(*a)
    crops = [photos[0][:10, :7], photos[0][:50, :64], photos[0][:50, :64], photos[0][:50, :64], photos[1]]
    masks = [np.ones(c.shape[:2], bool) for c in crops]
    outs = inpainter.inpaint_windows(crops, masks)
    assert [o.shape for o in outs] == [c.shape for c in crops]
    assert sorted(calls) == sorted([(1, 3, 12, 8), (2, 3, 52, 64), (1, 3, 52, 64), (1, 3, 64, 44)])


def test_training_components_shapes():
    from inpaint_core.models.context_encoder_train import ContextEncoderDiscriminator
    from inpaint_core.models.glcic_train import GLCICDiscriminator

    d = ContextEncoderDiscriminator(resolution=32, width=4)
    assert d(torch.zeros(2, 3, 32, 32)).shape == (2,)
    d = GLCICDiscriminator(global_size=64, local_size=32, width=4)
    logits = d(torch.zeros(2, 3, 64, 64), torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2,)
    logits.sum().backward()
    assert all(p.grad is not None for p in d.parameters())


@pytest.mark.parametrize("prefill", ["spline", "telea", None])
def test_a_crop_larger_than_the_working_side_gets_the_full_size_fill_plus_the_correction(prefill):
    """``upscale="residual"`` (default): a crop the model sees resized comes back as its pre-fill
    (the spline without one) at full size plus the model's correction, upscaled. A new pre-filled
    model makes no correction, so that is the full-size fill itself, where ``"resize"`` returns the
    small fill blown up (blurred where it meets the known pixels)."""
    from skimage import data as skdata

    from inpaint_core.models.prefill import PREFILL_METHODS

    photo = skdata.astronaut()[:240, 100:340].copy()
    mask = np.zeros(photo.shape[:2], bool)
    mask[60:170, 70:150] = True
    options = {"width": 4, "resolution": 64} | ({"prefill": prefill} if prefill else {})
    torch.manual_seed(0)
    residual = create_inpainter("glcic", weights="random", **options)
    resize = create_inpainter("glcic", weights="random", upscale="resize", **options)
    resize.model.load_state_dict(residual.model.state_dict())
    assert (residual.params["upscale"], resize.params["upscale"]) == ("residual", "resize")
    (a,), (b,) = residual([photo], [mask]), resize([photo], [mask])
    full = PREFILL_METHODS[prefill or "spline"](photo, mask.astype(np.uint8))
    assert np.array_equal(a[~mask], photo[~mask]) and np.array_equal(b[~mask], photo[~mask])
    if prefill:  # an untrained head: no correction
        assert np.abs(a[mask].astype(int) - full[mask]).max() <= 2
        assert np.abs(b[mask].astype(int) - full[mask]).mean() > 2 * np.abs(a[mask].astype(int) - full[mask]).mean()
    else:  # the network's own (random) output, as a correction over the spline
        correction = np.abs(a[mask].astype(int) - full[mask]).mean()
        assert correction > 5
    with pytest.raises(ValueError, match="upscale"):
        create_inpainter("glcic", weights="random", upscale="bicubic", **options)


def test_a_hole_too_large_for_a_quick_full_size_fill_is_resized_back(monkeypatch):
    """Above ``RESIDUAL_MAX_HOLE`` hole pixels a crop the model sees resized is resized back (the
    full-size spline would cost seconds to minutes)."""
    photo = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    mask = np.zeros((200, 200), bool)
    mask[50:150, 60:140] = True
    torch.manual_seed(0)
    residual = create_inpainter("glcic", weights="random", width=4, resolution=64, prefill="spline")
    resize = create_inpainter("glcic", weights="random", width=4, resolution=64, prefill="spline", upscale="resize")
    resize.model.load_state_dict(residual.model.state_dict())
    assert not np.array_equal(residual([photo], [mask])[0], resize([photo], [mask])[0])
    monkeypatch.setattr(wrapper, "RESIDUAL_MAX_HOLE", int(mask.sum()) - 1)
    assert np.array_equal(residual([photo], [mask])[0], resize([photo], [mask])[0])
