"""Multi-scale neural patch synthesis specifics: content stage, texture optimisation, fixed features."""

import torch
import torch.nn.functional as F

from inpaint_core.models.msnps import MSNPSGenerator, RandomFeatures, _texture_loss, texture_refine


def _batch(side=48):
    torch.manual_seed(0)
    mask = torch.zeros(2, 1, side, side)
    mask[..., side // 3: side * 2 // 3, side // 3: side * 2 // 3] = 1
    stripes = torch.sin(torch.arange(side) * 1.5).view(1, 1, 1, side).expand(2, 3, side, side)
    return stripes * (1 - mask), mask


def test_texture_stage_off_gives_the_content_prediction():
    torch.manual_seed(1)
    g = MSNPSGenerator(width=4, texture_iters=0).eval()
    image, mask = _batch()
    with torch.inference_mode():
        assert torch.equal(g(image, mask), g.content(image, mask))


def test_texture_stage_runs_under_inference_mode_and_changes_the_hole():
    torch.manual_seed(1)
    g = MSNPSGenerator(width=4, texture_iters=5).eval().requires_grad_(False)
    image, mask = _batch()
    with torch.inference_mode():
        content, out = g.content(image, mask), g(image, mask)
    hole = mask.bool().expand_as(out)
    assert out.min() >= -1 and out.max() <= 1
    assert not torch.allclose(out[hole], content[hole])


def test_texture_optimisation_lowers_the_texture_loss():
    image, mask = _batch()
    features = RandomFeatures(8, seed=0)
    content = torch.zeros_like(image)  # a flat fill: nothing like the stripes around it

    def texture(x):
        f = features(x)
        return _texture_loss(f, (F.adaptive_max_pool2d(mask, f.shape[-2:]) > 0).float(), 4096)

    start = texture(content * mask + image * (1 - mask))
    out = texture_refine(image, mask, content, features, scales=1, iters=30, lr=0.05, texture_weight=10.0,
                         tv_weight=0.0)
    assert torch.equal(out * (1 - mask), image * (1 - mask))
    assert texture(out) < 0.8 * start


def test_feature_network_is_fixed_by_its_seed_not_the_global_rng():
    torch.manual_seed(0)
    a = RandomFeatures(8, seed=3)
    torch.manual_seed(1)
    b = RandomFeatures(8, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.weights(), b.weights()))
    assert not list(a.parameters()) and not a.state_dict()  # never trained, never saved


def test_training_mode_returns_the_content_prediction():
    g = MSNPSGenerator(width=4).train()
    image, mask = _batch()
    out = g(image, mask)
    assert out.requires_grad and out.shape == image.shape
