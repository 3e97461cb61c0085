"""Training-mask generators: hole sizes in the expected ranges, reproducible, mixed as configured."""

import numpy as np
import pytest

from inpaint_core.masks.generators import GENERATORS, MaskFolder, MaskMixer

from .collections import png_bytes, write


@pytest.mark.parametrize("name, lo, hi", [("free_form", 0.01, 0.6), ("thin", 0.005, 0.4), ("medium", 0.01, 0.6),
                                          ("thick", 0.02, 0.8), ("boxes", 0.005, 0.5), ("rectangle", 0.06, 0.25)])
def test_generators_cover_plausible_hole_fractions(name, lo, hi):
    rng = np.random.default_rng(0)
    fr = [GENERATORS[name](256, 256, rng).mean() for _ in range(40)]
    assert lo <= np.median(fr) <= hi, (name, np.median(fr))
    assert all(0 < f < 1 for f in fr)


def test_thickness_grows_from_thin_to_thick():
    rng = np.random.default_rng(1)
    med = {n: np.median([GENERATORS[n](256, 256, rng).mean() for _ in range(60)]) for n in ("thin", "thick")}
    assert med["thin"] < med["thick"]


def test_generators_are_deterministic_and_sized():
    for gen in GENERATORS.values():
        a, b = gen(97, 131, np.random.default_rng(5)), gen(97, 131, np.random.default_rng(5))
        assert a.shape == (97, 131) and a.dtype == bool and np.array_equal(a, b)


def test_mixer_follows_its_weights_and_seed():
    m1, m2 = MaskMixer({"rectangle": 1, "thin": 0}, seed=3), MaskMixer({"rectangle": 1, "thin": 0}, seed=3)
    for _ in range(5):
        a, b = m1(64, 64), m2(64, 64)
        assert np.array_equal(a, b)
        ys, xs = np.nonzero(a)  # a rectangle fills its bounding box
        assert a[ys.min():ys.max() + 1, xs.min():xs.max() + 1].all()
    with pytest.raises(ValueError, match="unknown mask generator"):
        MaskMixer({"zigzag": 1})


def test_mask_folder_augments_files(tmp_path):
    m = np.zeros((40, 60), np.uint8)
    m[:10, :20] = 255
    write(tmp_path, "masks/a.png", png_bytes(m))
    folder = MaskFolder(str(tmp_path / "masks"))
    rng = np.random.default_rng(0)
    outs = [folder(64, 64, rng) for _ in range(12)]
    assert all(o.shape == (64, 64) for o in outs)
    assert len({o.tobytes() for o in outs}) > 1  # flips and rotations
    mixer = MaskMixer({f"folder:{tmp_path / 'masks'}": 1.0}, seed=0)
    assert mixer(32, 32).any()


def test_the_default_mix_rarely_reaches_large_holes_and_hole_range_does():
    """The mix alone trains on holes mostly under 30%; ``hole_range`` moves training onto the large ones."""
    from inpaint_core.masks.generators import hole_fraction_histogram

    mix = {"free_form": 0.4, "thin": 0.15, "medium": 0.15, "thick": 0.15, "boxes": 0.15}
    plain = hole_fraction_histogram(MaskMixer(mix, seed=0), n=300)
    assert plain["0.3-0.4"] + plain["0.4-0.5"] + plain["0.5-0.6"] < 0.15
    large = MaskMixer(mix, seed=0, hole_range=(0.3, 0.6))
    fr = np.array([large(128, 128).mean() for _ in range(200)])
    assert fr.min() >= 0.3 and fr.max() <= 0.62
    assert (fr < 0.4).mean() > 0.1 and (fr > 0.5).mean() > 0.1  # spread over the range, not one size
    again = MaskMixer(mix, seed=0, hole_range=(0.3, 0.6))
    assert np.array_equal(again(128, 128), MaskMixer(mix, seed=0, hole_range=(0.3, 0.6))(128, 128))


def test_hole_range_is_checked():
    from inpaint_core.masks.generators import parse_hole_range

    assert parse_hole_range("0.1,0.6") == (0.1, 0.6)
    for bad in ("0.6,0.1", "0,0.5", "0.2,1", "0.3", "a,b"):
        with pytest.raises(ValueError, match="hole range"):
            parse_hole_range(bad)
    with pytest.raises(ValueError, match="hole_range"):
        MaskMixer({"thin": 1}, hole_range=(0.5, 0.2))
