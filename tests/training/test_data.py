"""Training data: crops, flips, masks and edges, reproducible from the seed, from any folder."""

import numpy as np
import pytest
import torch
from skimage import data as skdata

from inpaint_core.errors import InpaintError
from inpaint_core.models.prefill import classical_fill
from inpaint_core.training.data import InpaintingDataset, list_images

from ..collections import png_bytes, write


def _folder(tmp_path):
    write(tmp_path, "a/one.png", png_bytes(skdata.astronaut()))
    write(tmp_path, "a/one_mask.png", png_bytes(np.zeros((8, 8), np.uint8)))
    write(tmp_path, "b/two.png", png_bytes(skdata.coffee()[:100, :90]))  # smaller than the crop
    write(tmp_path, "b/broken.png", b"not an image")
    write(tmp_path, "notes.txt", b"x")
    return str(tmp_path)


def test_list_images_skips_masks_and_non_images(tmp_path):
    assert list_images(_folder(tmp_path)) == ["a/one.png", "b/broken.png", "b/two.png"]


def test_items_are_crops_with_masks_and_edges(tmp_path):
    ds = InpaintingDataset([_folder(tmp_path)], size=128, seed=1, with_edges=True)
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (3, 128, 128) and item["mask"].shape == (1, 128, 128)
        assert item["image"].min() >= -1 and item["image"].max() <= 1
        assert 0 < item["mask"].mean() < 1 and set(item["mask"].unique().tolist()) <= {0.0, 1.0}
        assert item["edges"].shape == (1, 128, 128)


def test_an_unreadable_image_is_replaced_and_named_with_its_reason(tmp_path):
    ds = InpaintingDataset([_folder(tmp_path)], size=64, seed=1)
    items = [ds[i] for i in range(len(ds))]  # a/one.png, b/broken.png, b/two.png
    assert [bool(it["unreadable"]) for it in items] == [False, True, False]
    url, _, why = items[1]["unreadable"].partition("\t")
    assert url == (tmp_path / "b" / "broken.png").as_uri() and why.startswith("not a decodable image")
    assert items[1]["image"].shape == (3, 64, 64)  # another image took its place
    for i in range(3):  # nothing readable: an error that says why
        write(tmp_path, f"bad/{i}.png", b"")
    with pytest.raises(InpaintError, match=r"could not read 5 training images in a row "
                       r".*bad/0.png: empty file \(0 bytes\); [^;]*bad/2.png"):
        InpaintingDataset([str(tmp_path / "bad")], size=64)[0]


def test_reproducible_per_seed_and_epoch(tmp_path):
    folder = _folder(tmp_path)
    a, b = InpaintingDataset([folder], seed=3), InpaintingDataset([folder], seed=3)
    assert torch.equal(a[0]["image"], b[0]["image"]) and torch.equal(a[0]["mask"], b[0]["mask"])
    b.set_epoch(1)
    assert not torch.equal(a[0]["mask"], b[0]["mask"])


def test_hole_range_gives_every_crop_a_large_hole(tmp_path):
    ds = InpaintingDataset([_folder(tmp_path)], size=96, seed=2, hole_range=(0.4, 0.5))
    fractions = [ds[i]["mask"].mean().item() for i in range(len(ds))]
    assert all(0.4 <= f <= 0.52 for f in fractions), fractions


@pytest.mark.parametrize("method", ["telea", "spline"])
def test_items_carry_the_classical_fill_the_model_would_compute(tmp_path, method):
    """A Prefilled model's fill is made in the loader's workers; it must be the very fill the model
    makes itself from the masked image, or training would see another input than inference."""
    ds = InpaintingDataset([_folder(tmp_path)], size=96, seed=2, prefill=method, hole_range=(0.2, 0.5))
    for i in range(3):
        item = ds[i]
        image, mask = item["image"][None], item["mask"][None]
        want = classical_fill(image * (1 - mask), mask, method)
        assert item["fill"].shape == (3, 96, 96)
        assert torch.equal(item["fill"][None] * mask, want * mask)


def test_an_unknown_fill_is_refused_when_the_dataset_is_built(tmp_path):
    with pytest.raises(ValueError, match="prefill must be one of"):
        InpaintingDataset([_folder(tmp_path)], prefill="lama")


def _split_photo(w: int = 2400, h: int = 1600) -> np.ndarray:
    """A large photo: red left half, blue right half."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2, 0] = 220
    img[:, w // 2:, 2] = 220
    return img


def test_image_side_crops_whole_scenes_of_large_photos(tmp_path):
    """Native crops of a 2400x1600 photo are patches of one half; downscaled to a 64 px shorter side
    first (96x64), every 64 px crop spans two thirds of the scene, so it holds both halves."""
    from PIL import Image

    from ..collections import jpeg_bytes

    write(tmp_path, "big/split.jpg", jpeg_bytes(Image.fromarray(_split_photo())))
    both = lambda item: (item["image"][0] > 0.3).any() and (item["image"][2] > 0.3).any()  # noqa: E731
    native = InpaintingDataset([str(tmp_path / "big")], size=64, seed=0)
    scenes = InpaintingDataset([str(tmp_path / "big")], size=64, seed=0, image_side=64)
    native_items, scene_items = [], []
    for epoch in range(20):
        native.set_epoch(epoch)
        scenes.set_epoch(epoch)
        native_items.append(native[0])
        scene_items.append(scenes[0])
    assert all(both(it) for it in scene_items)
    assert sum(both(it) for it in native_items) <= 2  # only a crop straddling the middle column
    with pytest.raises(ValueError, match="image_side .* at least the crop size"):
        InpaintingDataset([str(tmp_path / "big")], size=64, image_side=32)


def test_voids_and_transparency_are_never_ground_truth(tmp_path):
    """An elevation tile with a void block and void specks everywhere (SRTM's -32768), an
    orthophoto-like PNG whose left half is transparent (its colour there pure green), and a tile
    that is all void: no crop holds a void's level or the hidden green (crops avoid them where they
    can, the rest is filled from the crop), and the all-void tile is replaced, named with why."""
    import io

    import tifffile

    yy, xx = np.mgrid[0:256, 0:256]
    dem = (1000 + 400 * np.sin(xx / 30) * np.cos(yy / 25)).astype(np.int16)
    dem[:, :128] = -32768
    dem[np.random.default_rng(0).random(dem.shape) < 0.01] = -32768
    buf = io.BytesIO()
    tifffile.imwrite(buf, dem, photometric="minisblack", extratags=[(42113, "s", 0, "-32768", True)])
    write(tmp_path, "dem/N10E010.tif", buf.getvalue())
    rgba = np.dstack([skdata.astronaut()[:256, :256], np.full((256, 256), 255, np.uint8)])
    rgba[:, :128] = (0, 255, 0, 0)
    write(tmp_path, "cut/out.png", png_bytes(rgba))
    ds = InpaintingDataset([str(tmp_path / "dem"), str(tmp_path / "cut")], size=64, seed=2)
    for epoch in range(6):
        ds.set_epoch(epoch)
        dem_item, cut_item = ds[0], ds[1]
        assert dem_item["unreadable"] == "" and cut_item["unreadable"] == ""
        # the proxy maps the tile's least height to 0 (-1 here): a void would be far below it
        assert dem_item["image"].min() > -1.0 - 1e-6 and (dem_item["image"] > -0.999).float().mean() > 0.99
        green = (cut_item["image"][1] > 0.99) & (cut_item["image"][0] < -0.99) & (cut_item["image"][2] < -0.99)
        assert not green.any()
    write(tmp_path, "void/N00E000.tif", _all_void())
    item = InpaintingDataset([str(tmp_path / "void"), str(tmp_path / "cut")], size=64, seed=2)[0]
    url, _, why = item["unreadable"].partition("\t")
    assert url.endswith("void/N00E000.tif") and "every pixel of the image is nodata or transparent" in why
    assert item["image"].shape == (3, 64, 64)


def _all_void() -> bytes:
    import io

    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.full((96, 96), -32768, np.int16), photometric="minisblack",
                     extratags=[(42113, "s", 0, "-32768", True)])
    return buf.getvalue()
