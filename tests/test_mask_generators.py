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
