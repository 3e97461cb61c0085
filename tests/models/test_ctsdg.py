"""CTSDG: the coupled texture/structure branches, Bi-GFF, CFA, the discriminator and the recipe."""

import torch

from inpaint_core.models.ctsdg import CTSDGGenerator
from inpaint_core.models.ctsdg_train import CTSDGDiscriminator
from inpaint_core.training.recipe import get_recipe


def _inputs(b=2, side=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, 3, side, side, generator=g) * 2 - 1
    edges = (torch.rand(b, 1, side, side, generator=g) > 0.8).float()
    mask = torch.zeros(b, 1, side, side)
    mask[..., 10:40, 20:50] = 1
    return image, mask, edges


def _model(seed=0):
    torch.manual_seed(seed)
    return CTSDGGenerator(width=4, depth=5).eval()


def test_hole_pixels_and_hole_edges_are_never_seen():
    model = _model()
    image, mask, edges = _inputs()
    noisy_image = image + torch.randn_like(image) * 3 * mask
    noisy_edges = torch.where(mask > 0, 1 - edges, edges)
    with torch.no_grad():
        assert torch.equal(model(image, mask, edges), model(noisy_image, mask, noisy_edges))


def test_known_edges_steer_the_output_and_the_structure_prediction():
    model = _model()
    image, mask, edges = _inputs()
    with torch.no_grad():
        a = model.forward_train(image, mask, edges)
        b = model.forward_train(image, mask, torch.zeros_like(edges))
    assert not torch.allclose(a["output"], b["output"])
    assert not torch.allclose(a["projected_image"], b["projected_image"])  # texture decoder starts from structure
    assert a["projected_edge"].shape == mask.shape and 0 <= a["projected_edge"].min() <= a["projected_edge"].max() <= 1
    assert a["projected_image"].shape == image.shape and a["projected_image"].abs().max() <= 1


def test_width_scales_everything():
    full = sum(p.numel() for p in CTSDGGenerator(width=64).parameters())
    default = sum(p.numel() for p in CTSDGGenerator().parameters())
    assert 45e6 < full < 60e6 and 1e6 < default < 6e6


def test_discriminator_judges_texture_and_structure():
    d = CTSDGDiscriminator(width=8).eval()  # eval: spectral norm stops its power iteration
    image, _, edges = _inputs()
    gray = image.mean(1, keepdim=True)
    logits, detected = d(image, gray, edges)
    assert logits.shape[:2] == (2, 2) and detected.shape == edges.shape
    fake_logits, _ = d(image, gray)  # generated: the detector's edges are judged
    assert not torch.allclose(logits[:, 1], fake_logits[:, 1]) and torch.allclose(logits[:, 0], fake_logits[:, 0])


def test_recipe_steps_train_generator_and_discriminator():
    torch.manual_seed(0)
    model = CTSDGGenerator(width=4, depth=4).train()
    recipe = get_recipe("ctsdg")(model, {"d_width": 4}, resolution=32)
    image, mask, edges = _inputs(side=32)
    batch = {"image": image, "mask": mask, "edges": edges}
    loss, logs, out = recipe.generator_step(batch)
    assert {"valid", "hole", "perceptual", "style", "intermediate", "adv_g"} <= set(logs)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    d_loss, d_logs = recipe.discriminator_step(batch, out)
    d_loss.backward()
    assert set(d_logs) == {"adv_d", "edge_detector"}
    assert all(p.grad is not None for p in recipe.discriminators["d"].parameters())
