"""Multi-Scale Neural Patch Synthesis: C. Yang, X. Lu, Z. Lin, E. Shechtman, O. Wang, H. Li,
"High-Resolution Image Inpainting using Multi-Scale Neural Patch Synthesis", CVPR 2017.
https://arxiv.org/abs/1611.09969
Original code (Torch/Lua): https://github.com/leehomyc/Faster-High-Res-Neural-Inpainting

Two stages, as the paper:

1. Content network (:class:`ContentNet`): a Context-Encoder-like encoder-decoder (stride-2 4x4
   convolutions, batch norm, LeakyReLU(0.2) down; transposed convolutions, batch norm, ReLU up; tanh)
   predicting the hole. Trained by the ``msnps`` recipe with L2 + adversarial loss.
2. Texture optimisation (:func:`texture_refine`), coarse to fine over ``texture_scales`` scales
   (factor 2): at each scale the hole pixels ``x`` (known pixels fixed) are optimised with Adam for
   ``texture_iters`` steps to minimise ``E = E_c + texture_weight E_t + tv_weight TV``:
   ``E_c`` the holistic content loss (squared distance to the content network's prediction, hole
   pixels), ``E_t`` the local texture loss (every 3x3 neural patch of ``phi(x)`` centred in the hole
   pulled towards its nearest known patch of ``phi(x)``, cosine-normalised nearest-neighbour search,
   recomputed every step) and TV. The result of a scale, upsampled, initialises the next one.

Deviations, on purpose:
- ``phi`` is a fixed, deterministically seeded random-init conv encoder (:class:`RandomFeatures`:
  three 3x3 convs with ReLU, the last two stride 2, so the features are at 1/4 like VGG relu3_1),
  not VGG-19 (no pretrained network can be downloaded here). Its weights are non-persistent buffers
  rebuilt from ``feature_seed``, so checkpoints hold only the content network. Patches are compared
  after L2 normalisation (scale-free, since a random network's feature scale is arbitrary).
- The content network is fully convolutional (a dilated 3x3 bottleneck instead of Context Encoder's
  fully connected one) and sees the full frame plus the mask; it predicts the full frame, composited.
- Defaults are small (2 scales x 10 Adam steps) so CPU inference stays usable; the paper runs 100
  L-BFGS steps per scale on 3 scales. ``texture_iters=0`` returns the content prediction.
- In training mode ``forward`` returns the content prediction only (the recipe trains that network).
No weights are shipped.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from inpaint_core.models.prefill import prefilled_build
from inpaint_core.models.spec import ModelSpec, register_model

__all__ = ["MSNPSGenerator", "ContentNet", "RandomFeatures", "texture_refine"]


def _pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


class ContentNet(nn.Module):
    """``(image, mask) -> B x 3 x H x W`` in [-1, 1]; ``depth`` stride-2 levels, any input side."""

    def __init__(self, width: int = 32, depth: int = 5) -> None:
        super().__init__()
        if width < 1 or depth < 2:
            raise ValueError(f"msnps: need width >= 1 and depth >= 2, got {width}, {depth}")
        self.depth = depth
        chans = [min(width * 2 ** i, 8 * width) for i in range(depth)]
        enc, c_in = [], 4
        for i, c in enumerate(chans):
            enc += [nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0), *([nn.BatchNorm2d(c)] if i else []),
                    nn.LeakyReLU(0.2, inplace=True)]
            c_in = c
        self.encoder = nn.Sequential(*enc)
        self.bottleneck = nn.Sequential(nn.Conv2d(c_in, c_in, 3, 1, 2, dilation=2, bias=False), nn.BatchNorm2d(c_in),
                                        nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(c_in, c_in, 1, bias=False),
                                        nn.BatchNorm2d(c_in), nn.LeakyReLU(0.2, inplace=True))
        dec = []
        for c in reversed(chans[:-1]):
            dec += [nn.ConvTranspose2d(c_in, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        dec += [nn.ConvTranspose2d(c_in, 3, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        m = _pad_to(mask, 2 ** self.depth)
        x = torch.cat([_pad_to(image, 2 ** self.depth) * (1 - m), m], dim=1)
        return self.decoder(self.bottleneck(self.encoder(x)))[..., :h, :w]


class RandomFeatures(nn.Module):
    """Fixed random conv encoder ``B x 3 x H x W -> B x 2c x H/4 x W/4`` (weights rebuilt from ``seed``)."""

    def __init__(self, channels: int = 16, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        shapes = [(channels, 3), (2 * channels, channels), (2 * channels, 2 * channels)]
        for i, (c_out, c_in) in enumerate(shapes):
            w = torch.randn(c_out, c_in, 3, 3, generator=g) * (2.0 / (9 * c_in)) ** 0.5  # He init
            self.register_buffer(f"w{i}", w, persistent=False)
        self.strides = (1, 2, 2)

    def weights(self) -> list[torch.Tensor]:
        return [getattr(self, f"w{i}") for i in range(len(self.strides))]

    def forward(self, x: torch.Tensor, weights: list[torch.Tensor] | None = None) -> torch.Tensor:
        """``weights`` replaces the buffers (e.g. plain copies when the buffers are inference tensors)."""
        for w, s in zip(weights or self.weights(), self.strides):
            x = F.relu(F.conv2d(x, w.to(x.dtype), stride=s, padding=1))
        return x


def _texture_loss(feat: torch.Tensor, hole: torch.Tensor, max_keys: int) -> torch.Tensor:
    """Mean squared distance of each normalised 3x3 patch centred in the hole to its nearest known patch.

    ``feat``: ``B x C x h x w``; ``hole``: ``B x 1 x h x w`` in {0, 1} (dilated so that known patches
    do not touch the hole). Samples without hole or known patches contribute 0.
    """
    B, _, h, w = feat.shape
    patches = F.unfold(feat, 3, padding=1)  # B x (9C) x N
    centre_hole = (hole.view(B, -1) > 0)
    known = (F.max_pool2d(hole, 3, 1, 1).view(B, -1) == 0)
    total, count = feat.new_zeros(()), 0
    for b in range(B):
        q_idx = centre_hole[b].nonzero().flatten()
        k_idx = known[b].nonzero().flatten()
        if len(q_idx) == 0 or len(k_idx) == 0:
            continue
        if len(k_idx) > max_keys:
            k_idx = k_idx[torch.linspace(0, len(k_idx) - 1, max_keys).long()]
        queries = F.normalize(patches[b][:, q_idx], dim=0)
        keys = F.normalize(patches[b][:, k_idx], dim=0)
        with torch.no_grad():
            nearest = (queries.t() @ keys).argmax(dim=1)
        total = total + (queries - keys[:, nearest].detach()).pow(2).sum(0).mean()
        count += 1
    return total / max(count, 1)


def texture_refine(image: torch.Tensor, mask: torch.Tensor, content: torch.Tensor,
                   features: Callable[[torch.Tensor], torch.Tensor], *,
                   scales: int = 2, iters: int = 10, lr: float = 0.02, texture_weight: float = 0.05,
                   tv_weight: float = 0.05, max_keys: int = 4096) -> torch.Tensor:
    """Coarse-to-fine texture optimisation of the hole pixels (the paper's joint optimisation).

    Args:
        image: ``B x 3 x H x W`` in [-1, 1] (hole values ignored); mask: ``B x 1 x H x W``, 1 = hole.
        content: ``B x 3 x H x W`` content-network prediction (the holistic content target).
        features: fixed feature network ``phi`` (stride 4).
        scales: number of scales (factor 2 apart); iters: Adam steps per scale.
        texture_weight, tv_weight: weights of the local texture and TV terms (content has weight 1).
        max_keys: known patches searched per sample (evenly subsampled beyond that).

    Returns:
        ``B x 3 x H x W`` in [-1, 1]: known pixels of ``image``, optimised hole pixels. Needs autograd:
        call outside inference mode.
    """
    H, W = image.shape[-2:]
    x = None
    for s in reversed(range(scales)):
        size = (max(H >> s, 1), max(W >> s, 1))
        img_s = F.interpolate(image, size=size, mode="bilinear", align_corners=False) if s else image
        content_s = F.interpolate(content, size=size, mode="bilinear", align_corners=False) if s else content
        mask_s = (F.interpolate(mask, size=size, mode="bilinear", align_corners=False) > 0).to(image.dtype) if s else mask
        start = content_s if x is None else F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        hole_pixels = start.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([hole_pixels], lr=lr)
        for _ in range(iters):
            x = hole_pixels * mask_s + img_s * (1 - mask_s)
            content_loss = ((x - content_s) ** 2 * mask_s).sum() / (3 * mask_s.sum()).clamp_min(1)
            feat = features(x)
            hole_f = (F.adaptive_max_pool2d(mask_s, feat.shape[-2:]) > 0).to(feat.dtype)
            loss = (content_loss + texture_weight * _texture_loss(feat, hole_f, max_keys)
                    + tv_weight * _tv(x, mask_s))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                hole_pixels.clamp_(-1, 1)
        x = (hole_pixels * mask_s + img_s * (1 - mask_s)).detach()
    return x


def _tv(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    region = F.max_pool2d(mask, 3, 1, 1)
    dh = (x[..., 1:, :] - x[..., :-1, :]).pow(2) * region[..., 1:, :]
    dw = (x[..., :, 1:] - x[..., :, :-1]).pow(2) * region[..., :, 1:]
    return (dh.sum() + dw.sum()) / (3 * region.sum()).clamp_min(1)


class MSNPSGenerator(nn.Module):
    """``forward(image, mask, edges=None) -> B x 3 x H x W`` in [-1, 1], any ``H, W``.

    Training mode: the content network's prediction (differentiable in its parameters). Eval mode:
    content prediction refined by :func:`texture_refine` (skipped when ``texture_iters`` is 0).
    """

    def __init__(self, width: int = 32, depth: int = 5, texture_scales: int = 2, texture_iters: int = 10,
                 texture_lr: float = 0.02, texture_weight: float = 0.05, tv_weight: float = 0.05,
                 feature_width: int = 16, feature_seed: int = 0) -> None:
        super().__init__()
        if texture_scales < 1 or texture_iters < 0:
            raise ValueError(f"msnps: need texture_scales >= 1 and texture_iters >= 0, got "
                             f"{texture_scales}, {texture_iters}")
        self.content = ContentNet(width, depth)
        self.features = RandomFeatures(feature_width, feature_seed)
        self.texture = {"scales": texture_scales, "iters": texture_iters, "lr": texture_lr,
                        "texture_weight": texture_weight, "tv_weight": tv_weight}

    def forward(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None) -> torch.Tensor:
        if image.ndim != 4 or image.shape[1] != 3 or mask.shape != (image.shape[0], 1, *image.shape[-2:]):
            raise ValueError(f"msnps: expected B x 3 x H x W image and B x 1 x H x W mask, got "
                             f"{tuple(image.shape)} and {tuple(mask.shape)}")
        content = self.content(image, mask)
        if self.training or self.texture["iters"] == 0:
            return content
        # The wrapper runs in inference mode; the texture stage optimises pixels, so it needs autograd
        # on plain (non-inference) copies. The content network's parameters take no part.
        with torch.inference_mode(False), torch.enable_grad():
            weights = [w.clone() for w in self.features.weights()]
            out = content.clone().detach()
            box = _hole_box(mask, margin=16)
            if box is None:
                return out
            y0, y1, x0, x1 = box  # the texture stage only needs the hole and its surroundings
            out[..., y0:y1, x0:x1] = texture_refine(image[..., y0:y1, x0:x1].clone(), mask[..., y0:y1, x0:x1].clone(),
                                                    out[..., y0:y1, x0:x1].clone(),
                                                    lambda x: self.features(x, weights), **self.texture)
            return out


def _hole_box(mask: torch.Tensor, margin: int) -> tuple[int, int, int, int] | None:
    """Bounding box (over the batch) of the hole, grown by half its size plus ``margin``; None without hole."""
    ys = torch.nonzero(mask.amax(dim=(0, 1, 3)) > 0).flatten()
    xs = torch.nonzero(mask.amax(dim=(0, 1, 2)) > 0).flatten()
    if len(ys) == 0:
        return None
    H, W = mask.shape[-2:]
    y0, y1, x0, x1 = int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1
    gy, gx = (y1 - y0) // 2 + margin, (x1 - x0) // 2 + margin
    return max(y0 - gy, 0), min(y1 + gy, H), max(x0 - gx, 0), min(x1 + gx, W)


SPEC = register_model(ModelSpec(
    name="msnps",
    build=prefilled_build("msnps", MSNPSGenerator),
    default_config={"width": 32, "depth": 5, "texture_scales": 2, "texture_iters": 10, "texture_lr": 0.02,
                    "texture_weight": 0.05, "tv_weight": 0.05, "feature_width": 16, "feature_seed": 0,
                    "prefill": None, "prefill_dilations": None},
    resolution=256,
    multiple=32,
    description="Multi-scale neural patch synthesis (Yang et al. 2017): content network, then coarse-to-fine "
                "texture optimisation matching neural patches in the hole to known ones.",
    paper="https://arxiv.org/abs/1611.09969",
    repo="https://github.com/leehomyc/Faster-High-Res-Neural-Inpainting",
))
