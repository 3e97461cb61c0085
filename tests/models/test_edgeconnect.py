"""EdgeConnect: known edges steer the fill, edges inside the hole are ignored, the stages train separately."""

import pytest
import torch

from inpaint_core.models import get_model_spec
from inpaint_core.models.edgeconnect_train import RandomFeatureNet
from inpaint_core.training.recipe import get_recipe

SIDE = 32


def model(seed=0):
    torch.manual_seed(seed)
    return get_model_spec("edgeconnect").build({"width": 4, "n_blocks": 2}).eval()


def inputs():
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(1, 1, SIDE, SIDE)
    mask[..., 8:20, 10:24] = 1
    image = (torch.rand(1, 3, SIDE, SIDE, generator=g) * 2 - 1) * (1 - mask)
    edges = (torch.rand(1, 1, SIDE, SIDE, generator=g) > 0.8).float()
    return image, mask, edges


def test_spec_asks_for_edges_and_has_two_generators():
    assert get_model_spec("edgeconnect").needs_edges
    m = model()
    assert {"edge_generator", "image_generator"} <= {n for n, _ in m.named_children()}


def test_known_edges_change_the_fill_but_edges_inside_the_hole_do_not():
    m, (image, mask, edges) = model(), inputs()
    with torch.inference_mode():
        base = m(image, mask, edges)
        assert not torch.equal(base, m(image, mask, torch.zeros_like(edges)))
        assert torch.equal(base, m(image, mask, torch.maximum(edges, mask)))


def test_joint_training_detaches_edges_like_the_repo():
    m, (image, mask, edges) = model(), inputs()
    m.train()
    out = m.forward_train(image, mask, edges * (1 - mask), stage="joint")
    assert set(out) >= {"edges_pred", "edges", "output"}
    out["output"].mean().backward()
    assert all(p.grad is None for p in m.edge_generator.parameters())
    assert any(p.grad is not None for p in m.image_generator.parameters())


@pytest.mark.parametrize("stage", ["edge", "inpaint", "joint"])
def test_recipe_stages_train_the_right_generator(stage):
    torch.manual_seed(0)
    g = get_model_spec("edgeconnect").build({"width": 4, "n_blocks": 2})
    r = get_recipe("edgeconnect")(g, {"stage": stage, "d_width": 4}, resolution=64)
    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 16:40, 20:44] = 1
    batch = {"image": torch.rand(2, 3, 64, 64) * 2 - 1, "mask": mask,
             "edges": (torch.rand(2, 1, 64, 64) > 0.9).float()}
    loss, logs, out = r.generator_step(batch)
    loss.backward()
    edge_trained = any(p.grad is not None for p in g.edge_generator.parameters())
    image_trained = any(p.grad is not None for p in g.image_generator.parameters())
    assert (edge_trained, image_trained) == (stage != "inpaint", stage != "edge")
    assert ("edge_fm" in logs) == (stage != "inpaint") and ("style" in logs) == (stage != "edge")
    d_loss, _ = r.discriminator_step(batch, out)
    assert torch.isfinite(d_loss)


def test_unknown_stage_is_refused():
    g = get_model_spec("edgeconnect").build({"width": 4, "n_blocks": 1})
    with pytest.raises(ValueError, match="stage"):
        get_recipe("edgeconnect")(g, {"stage": "both"}, resolution=64)


def test_feature_net_is_fixed_and_reproducible():
    a, b = RandomFeatureNet(4, seed=1), RandomFeatureNet(4, seed=1)
    x = torch.randn(1, 3, 32, 32)
    assert all(torch.equal(u, v) for u, v in zip(a(x), b(x)))
    assert not list(a.parameters()) and not a.state_dict()
    assert [f.shape[-1] for f in a(x)] == [32, 16, 8, 4]
