"""Losses of the surveyed inpainting papers, as small pure functions on tensors.

Conventions: images B×3×H×W in [-1, 1]; masks B×1×H×W with 1 = hole. Discriminator outputs are
raw logits/scores of any shape.

- reconstruction: L1/L2 with separate hole and valid weights (PConv: valid 1, hole 6);
- adversarial: ``vanilla`` (non-saturating BCE, Context Encoder/GLCIC), ``lsgan`` (Shift-Net,
  PGGAN's patch head), ``hinge`` (DeepFill v2 SN-PatchGAN, EdgeConnect-style variants),
  ``wgan`` + :func:`gradient_penalty` (DeepFill v1's WGAN-GP);
- feature matching (EdgeConnect): L1 between discriminator features of real and fake;
- perceptual and style (PConv, EdgeConnect): L1 between feature maps / Gram matrices of a feature
  network given by the caller (no pretrained VGG can be downloaded here; see the model cards);
- total variation on the hole's 1-px dilation (PConv);
- SSIM (the evaluation's metric, scikit-image's default form: 7×7 uniform window, sample covariance)
  over the windows that touch the hole, as a loss: ``1 - SSIM`` (Zhao et al. 2017 pair it with L1).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

ADVERSARIAL = ("vanilla", "lsgan", "hinge", "wgan")


def masked_reconstruction(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *, hole_weight: float = 1.0,
                          valid_weight: float = 1.0, norm: str = "l1") -> torch.Tensor:
    """Mean per-pixel error, weighted separately inside and outside the hole."""
    if pred.shape != target.shape or mask.shape[-2:] != pred.shape[-2:]:
        raise ValueError(f"shapes differ: pred {tuple(pred.shape)}, target {tuple(target.shape)}, mask {tuple(mask.shape)}")
    err = (pred - target).abs() if norm == "l1" else (pred - target) ** 2 if norm == "l2" else None
    if err is None:
        raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")
    w = hole_weight * mask + valid_weight * (1 - mask)
    return (err * w).mean()


def generator_adversarial(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """The generator's adversarial loss for the discriminator's output on generated images."""
    if kind == "vanilla":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if kind == "lsgan":
        return ((fake_logits - 1) ** 2).mean()
    if kind in ("hinge", "wgan"):
        return -fake_logits.mean()
    raise ValueError(f"adversarial kind must be one of {ADVERSARIAL}, got {kind!r}")


def discriminator_adversarial(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """The discriminator's (critic's) loss; for ``wgan`` add :func:`gradient_penalty` yourself."""
    if kind == "vanilla":
        return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))) / 2
    if kind == "lsgan":
        return (((real_logits - 1) ** 2).mean() + (fake_logits ** 2).mean()) / 2
    if kind == "hinge":
        return (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()) / 2
    if kind == "wgan":
        return fake_logits.mean() - real_logits.mean()
    raise ValueError(f"adversarial kind must be one of {ADVERSARIAL}, got {kind!r}")


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor | None = None,
                     weight: float = 10.0) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017) on random interpolates; with ``mask``, DeepFill v1's variant
    that penalises the gradient inside the hole only."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(x)
    out = out[0] if isinstance(out, (tuple, list)) else out
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    if mask is not None:
        grad = grad * mask
    norm = grad.flatten(1).norm(2, dim=1)
    return weight * ((norm - 1) ** 2).mean()


def feature_matching(real_feats: Sequence[torch.Tensor], fake_feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean L1 between the discriminator's intermediate features of real and generated images."""
    if len(real_feats) != len(fake_feats) or not real_feats:
        raise ValueError("feature lists must be non-empty and of equal length")
    return sum(F.l1_loss(f, r.detach()) for r, f in zip(real_feats, fake_feats)) / len(real_feats)


def gram(x: torch.Tensor) -> torch.Tensor:
    """Gram matrix B×C×C of B×C×H×W features, normalised by C·H·W (PConv's K_p)."""
    b, c, h, w = x.shape
    f = x.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def perceptual(real_feats: Sequence[torch.Tensor], fake_feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the mean L1 between feature maps."""
    return sum(F.l1_loss(f, r.detach()) for r, f in zip(real_feats, fake_feats))


def style(real_feats: Sequence[torch.Tensor], fake_feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the mean L1 between Gram matrices."""
    return sum(F.l1_loss(gram(f), gram(r).detach()) for r, f in zip(real_feats, fake_feats))


def total_variation(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute difference of neighbours; with ``mask``, only pairs within the hole's 1-px dilation."""
    dh = (x[..., 1:, :] - x[..., :-1, :]).abs()
    dw = (x[..., :, 1:] - x[..., :, :-1]).abs()
    if mask is None:
        return dh.mean() + dw.mean()
    region = F.max_pool2d(mask, 3, stride=1, padding=1)
    mh = region[..., 1:, :] * region[..., :-1, :]
    mw = region[..., :, 1:] * region[..., :, :-1]
    return (dh * mh).sum() / mh.sum().clamp_min(1) / x.shape[1] + (dw * mw).sum() / mw.sum().clamp_min(1) / x.shape[1]


def ssim_map(x: torch.Tensor, y: torch.Tensor, *, win: int = 7) -> torch.Tensor:
    """Per-window, per-channel SSIM of images in [-1, 1], as ``skimage.metrics.structural_similarity``
    computes it by default on the 0-255 images (uniform ``win``×``win`` window, sample covariance,
    K1 0.01, K2 0.03); B×C×(H-win+1)×(W-win+1), the windows that lie inside the image.
    (The luminance term is not shift-invariant, hence the mapping to [0, 1] first.)"""
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} and {tuple(y.shape)}")
    x, y = (x + 1) / 2, (y + 1) / 2
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    cov_norm = win * win / (win * win - 1)
    mean = lambda t: F.avg_pool2d(t, win, stride=1)  # noqa: E731
    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))


def masked_ssim_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *, win: int = 7) -> torch.Tensor:
    """``1 - SSIM`` averaged over the windows that touch the hole, with ``pred`` composited over ``target``
    (what the evaluation scores; windows away from the hole score 1 whatever the network does)."""
    comp = pred * mask + target * (1 - mask)
    touch = F.max_pool2d(mask, win, stride=1)  # B×1×h×w: 1 where the window holds a hole pixel
    s = ssim_map(comp, target, win=win)
    return ((1 - s) * touch).sum() / (touch.sum() * s.shape[1]).clamp_min(1)
