"""Losses: hand-computed values, the right signs, gradients."""

import pytest
import torch

from inpaint_core.training import losses as L


def test_masked_reconstruction_weights_hole_and_valid():
    pred, target = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    # one hole pixel (weight 6) and three valid (weight 1), error 1 everywhere: (6 + 3) / 4
    assert L.masked_reconstruction(pred, target, mask, hole_weight=6, valid_weight=1).item() == pytest.approx(9 / 4)
    assert L.masked_reconstruction(pred, 3 * target, mask, norm="l2").item() == pytest.approx(9.0)
    with pytest.raises(ValueError):
        L.masked_reconstruction(pred, target[..., :1], mask)


@pytest.mark.parametrize("kind", L.ADVERSARIAL)
def test_adversarial_losses_reward_fooling(kind):
    confident_real, confident_fake = torch.full((4, 1), 5.0), torch.full((4, 1), -5.0)
    if kind == "lsgan":
        confident_real, confident_fake = torch.ones(4, 1), torch.zeros(4, 1)
    good_d = L.discriminator_adversarial(confident_real, confident_fake, kind)
    bad_d = L.discriminator_adversarial(confident_fake, confident_real, kind)
    assert good_d < bad_d
    assert L.generator_adversarial(confident_real, kind) < L.generator_adversarial(confident_fake, kind)


def test_hinge_values_by_hand():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25 ; relu(1-2)=0, relu(1+0)=1 -> 0.5 ; mean = 0.375
    assert L.discriminator_adversarial(real, fake, "hinge").item() == pytest.approx(0.375)


def test_gradient_penalty_is_zero_for_unit_gradient_critic():
    critic = lambda x: x.flatten(1).sum(1) / (x[0].numel() ** 0.5)  # noqa: E731  |grad| = 1 everywhere
    real, fake = torch.randn(3, 3, 4, 4), torch.randn(3, 3, 4, 4)
    assert L.gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-6)
    assert L.gradient_penalty(lambda x: 3 * critic(x), real, fake).item() == pytest.approx(10 * 4.0, rel=1e-5)


def test_gram_and_style():
    x = torch.ones(1, 2, 2, 2)
    assert torch.allclose(L.gram(x), torch.full((1, 2, 2), 4 / 8))
    feats = [torch.randn(2, 4, 8, 8, requires_grad=True)]
    assert L.style(feats, feats).item() == 0 and L.perceptual(feats, feats).item() == 0
    s = L.style([torch.zeros(2, 4, 8, 8)], feats)
    s.backward()
    assert feats[0].grad is not None


def test_total_variation_only_counts_the_hole_region():
    x = torch.zeros(1, 1, 8, 8)
    x[..., 0, 0] = 1.0  # a spike far from the hole
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 5, 5] = 1
    assert L.total_variation(x, mask).item() == 0
    assert L.total_variation(x).item() > 0


def test_feature_matching_detaches_real():
    real = [torch.randn(1, 2, 3, 3, requires_grad=True)]
    fake = [torch.randn(1, 2, 3, 3, requires_grad=True)]
    L.feature_matching(real, fake).backward()
    assert real[0].grad is None and fake[0].grad is not None


def test_ssim_map_is_scikit_images_ssim():
    import numpy as np
    from skimage import data as skdata
    from skimage.metrics import structural_similarity

    ref = skdata.astronaut()[100:164, 150:214].astype(np.float64)
    noisy = np.clip(ref + np.random.default_rng(0).normal(0, 25, ref.shape), 0, 255)
    to_t = lambda a: torch.from_numpy(a / 127.5 - 1).permute(2, 0, 1)[None]  # noqa: E731
    ours = L.ssim_map(to_t(noisy), to_t(ref)).mean().item()
    assert ours == pytest.approx(structural_similarity(ref, noisy, data_range=255, channel_axis=-1), abs=1e-6)


def test_masked_ssim_loss_scores_the_composite_around_the_hole():
    torch.manual_seed(0)
    target = torch.rand(1, 3, 32, 32) * 2 - 1
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 10:20, 10:20] = 1
    wrong = target.clone()
    wrong[..., 10:20, 10:20] = 0  # a flat fill loses the texture
    assert L.masked_ssim_loss(target.clone(), target, mask).item() == pytest.approx(0, abs=1e-6)
    close = target + 0.05 * torch.randn_like(target)  # the texture kept, a little noise
    assert L.masked_ssim_loss(wrong, target, mask).item() > 0.2 > L.masked_ssim_loss(close, target, mask).item() > 0
    # only the hole is scored: whatever the network puts outside it is replaced by the known pixels
    outside = wrong.clone()
    outside[..., :5, :] = 1
    assert L.masked_ssim_loss(outside, target, mask).item() == pytest.approx(L.masked_ssim_loss(wrong, target, mask).item())
    pred = wrong.clone().requires_grad_()
    L.masked_ssim_loss(pred, target, mask).backward()
    assert pred.grad[..., 10:20, 10:20].abs().sum() > 0 and (pred.grad * (1 - mask)).abs().sum() == 0
