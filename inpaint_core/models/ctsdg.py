"""CTSDG: X. Guo, H. Yang, D. Huang, "Image Inpainting via Conditional Texture and Structure Dual Generation",
ICCV 2021. https://arxiv.org/abs/2108.09760
Original code (PyTorch; no licence file, weights not shipped here): https://github.com/Xiefan-Guo/CTSDG

What makes it CTSDG, as implemented here (layout of the repository's ``models/generator``):
    * two partial-convolution U-Nets (:class:`inpaint_core.models.pconv.PConvBlock`, per-channel masks;
      encoder kernels 7, 5, 5, 3..., BN but on the first layer, ReLU; decoder bilinear upsampling,
      skip concat, 3x3 partial conv, BN, LeakyReLU(0.2)): a *texture* branch on the masked image and a
      *structure* branch on the masked edge map + gray image;
    * the coupling: the texture decoder starts from the structure encoder's bottleneck and the structure
      decoder from the texture encoder's (structure-constrained texture synthesis, texture-guided
      structure reconstruction); each decoder uses its own branch's skips;
    * projection heads (residual bottleneck + 1x1 conv) map the decoders' features to an image (tanh)
      and an edge map (sigmoid), supervised in training (``forward_train``);
    * Bi-GFF: each branch adds the other's features through a learned sigmoid gate scaled by a learned
      gamma; the concatenation goes on;
    * CFA: a stride-2 fusion conv, region affinity learning (patch self-attention at 1/2 of that
      resolution, raw 4x4 patches pasted back: :func:`inpaint_core.layers.contextual_attention` with
      ``rate=2``, no fusion, no mask, as the original RAL) then multi-scale aggregation (dilations
      1, 2, 4, 8 weighted by a softmax of a predicted per-pixel map), a second fusion conv, upsampling,
      and a 1x1 output conv with tanh on [CFA, Bi-GFF] features.

Deviations:
    * ``width`` 16 instead of 64 by default (all channels scale with it): 3.3 M parameters instead of 52 M;
    * the output conv also sees the two projections (image, edge: 4 more input channels). In the
      original the projections only feed the intermediate losses; here they also reach the output so
      every parameter is used by ``forward`` (the project's generator contract) and the fused output
      can use the explicit structure prediction;
    * Bi-GFF's gammas start at 0.1, not 0: with 0 the gate convolutions get no gradient at the start;
    * sizes need not be powers of two (upsampling goes to the skip's size; CFA pads odd sides);
    * ``edges=None`` means no known edges (zeros); the pipeline always supplies them (``needs_edges``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpaint_core.layers import contextual_attention
from inpaint_core.models.pconv import PConvBlock, encoder_channels, encoder_kernels
from inpaint_core.models.prefill import prefilled_build
from inpaint_core.models.spec import ModelSpec, register_model

__all__ = ["CTSDGGenerator", "BiGFF", "CFA", "to_gray"]


def to_gray(image: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of a ``B x 3 x H x W`` image, same range."""
    w = image.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (image * w).sum(1, keepdim=True)


class _PConvUNetBranch(nn.Module):
    """Encoder and decoder of one branch; the decoder may start from another branch's bottleneck."""

    def __init__(self, c_in: int, width: int, depth: int) -> None:
        super().__init__()
        chans, kernels = encoder_channels(width, depth), encoder_kernels(depth)
        self.enc = nn.ModuleList()
        c = c_in
        for i, (c_out, k) in enumerate(zip(chans, kernels)):
            self.enc.append(PConvBlock(c, c_out, k, 2, bn=i > 0, act=nn.ReLU(inplace=True)))
            c = c_out
        skips = [c_in] + chans[:-1]
        outs = [width] + chans[:-1]  # the last decoder layer keeps `width` channels (features, not an image)
        self.dec = nn.ModuleList()
        c = chans[-1]
        for i in reversed(range(depth)):
            self.dec.append(PConvBlock(c + skips[i], outs[i], 3, 1, act=nn.LeakyReLU(0.2, inplace=True)))
            c = outs[i]

    def encode(self, x: torch.Tensor, valid: torch.Tensor):
        feats, masks = [x], [valid]
        for block in self.enc:
            x, valid = block(x, valid)
            feats.append(x)
            masks.append(valid)
        return feats, masks

    def decode(self, x: torch.Tensor, valid: torch.Tensor, feats, masks) -> torch.Tensor:
        for block, skip, skip_valid in zip(self.dec, reversed(feats[:-1]), reversed(masks[:-1])):
            size = skip.shape[-2:]
            x = torch.cat([F.interpolate(x, size=size, mode="bilinear", align_corners=False), skip], 1)
            valid = torch.cat([F.interpolate(valid, size=size, mode="nearest"), skip_valid], 1)
            x, valid = block(x, valid)
        return x


class _Projection(nn.Module):
    """Feature2Texture / Feature2Structure: residual bottleneck (``c -> c/4 -> c``, BN, ReLU) + 1x1 conv."""

    def __init__(self, c: int, c_out: int, out_act: nn.Module) -> None:
        super().__init__()
        mid = max(1, c // 4)
        self.body = nn.Sequential(nn.Conv2d(c, mid, 3, 1, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                                  nn.Conv2d(mid, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
        self.out = nn.Sequential(nn.Conv2d(c, c_out, 1), out_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(x + self.body(x)))


class BiGFF(nn.Module):
    """Bi-directional Gated Feature Fusion: ``(texture, structure) -> cat(texture', structure')``, 2c channels.

    ``texture' = texture + gamma_t * sigmoid(conv([t, s])) * structure``, then
    ``structure' = structure + gamma_s * sigmoid(conv([t, s])) * texture'``.
    """

    def __init__(self, c: int, gamma_init: float = 0.1) -> None:
        super().__init__()
        self.structure_gate = nn.Sequential(nn.Conv2d(2 * c, c, 3, 1, 1), nn.Sigmoid())
        self.texture_gate = nn.Sequential(nn.Conv2d(2 * c, c, 3, 1, 1), nn.Sigmoid())
        self.texture_gamma = nn.Parameter(torch.full((1,), gamma_init))
        self.structure_gamma = nn.Parameter(torch.full((1,), gamma_init))

    def forward(self, texture: torch.Tensor, structure: torch.Tensor) -> torch.Tensor:
        energy = torch.cat([texture, structure], 1)
        texture = texture + self.texture_gamma * self.structure_gate(energy) * structure
        structure = structure + self.structure_gamma * self.texture_gate(energy) * texture
        return torch.cat([texture, structure], 1)


class CFA(nn.Module):
    """Contextual Feature Aggregation: region affinity learning + multi-scale feature aggregation.

    Shape: ``B x c x H x W -> B x c x H x W`` (odd sides are replicate-padded for the rate-2 matching).
    """

    def __init__(self, c: int, dilations: tuple[int, ...] = (1, 2, 4, 8), rate: int = 2,
                 softmax_scale: float = 10.0) -> None:
        super().__init__()
        self.rate, self.softmax_scale = rate, softmax_scale
        self.branches = nn.ModuleList(nn.Sequential(nn.Conv2d(c, c, 3, 1, d, dilation=d), nn.ReLU(inplace=True))
                                      for d in dilations)
        self.weight_calc = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(inplace=True),
                                         nn.Conv2d(c, len(dilations), 1), nn.ReLU(inplace=True), nn.Softmax(dim=1))

    def affinity(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = -h % self.rate, -w % self.rate
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        out = contextual_attention(x, x, None, ksize=3, rate=self.rate, fuse=False, softmax_scale=self.softmax_scale)
        return out[..., :h, :w]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.affinity(x)
        weights = self.weight_calc(x)
        return sum(weights[:, i:i + 1] * branch(x) for i, branch in enumerate(self.branches))


class CTSDGGenerator(nn.Module):
    """``forward(image, mask, edges=None) -> B x 3 x H x W`` in [-1, 1]; ``forward_train`` adds
    ``projected_image`` (B x 3, tanh) and ``projected_edge`` (B x 1, sigmoid)."""

    def __init__(self, width: int = 16, depth: int = 7) -> None:
        super().__init__()
        if width < 4 or depth < 2:
            raise ValueError(f"ctsdg: width must be >= 4 and depth >= 2, got {width}, {depth}")
        self.texture = _PConvUNetBranch(3, width, depth)
        self.structure = _PConvUNetBranch(2, width, depth)
        self.texture_projection = _Projection(width, 3, nn.Tanh())
        self.structure_projection = _Projection(width, 1, nn.Sigmoid())
        self.bigff = BiGFF(width)
        self.fusion1 = nn.Sequential(nn.Conv2d(2 * width, width, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True))
        self.cfa = CFA(width)
        self.fusion2 = nn.Sequential(nn.Conv2d(2 * width, width, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True))
        self.out = nn.Sequential(nn.Conv2d(3 * width + 4, 3, 1), nn.Tanh())

    def forward_train(self, image: torch.Tensor, mask: torch.Tensor,
                      edges: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        valid = 1 - mask
        if edges is None:
            edges = torch.zeros_like(mask)
        image = image * valid
        structure_in = torch.cat([edges, to_gray(image)], 1) * valid
        t_feats, t_masks = self.texture.encode(image, valid.expand(-1, 3, -1, -1))
        s_feats, s_masks = self.structure.encode(structure_in, valid.expand(-1, 2, -1, -1))
        # the coupling: each decoder starts from the other branch's bottleneck
        texture = self.texture.decode(s_feats[-1], s_masks[-1], t_feats, t_masks)
        structure = self.structure.decode(t_feats[-1], t_masks[-1], s_feats, s_masks)
        projected_image = self.texture_projection(texture)
        projected_edge = self.structure_projection(structure)

        fused = self.bigff(texture, structure)
        x = self.fusion1(fused)
        x = self.fusion2(torch.cat([x, self.cfa(x)], 1))
        x = F.interpolate(x, size=fused.shape[-2:], mode="bilinear", align_corners=False)
        output = self.out(torch.cat([x, fused, projected_image, projected_edge], 1))
        return {"output": output, "projected_image": projected_image, "projected_edge": projected_edge}

    def forward(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_train(image, mask, edges)["output"]


SPEC = register_model(ModelSpec(
    name="ctsdg",
    build=prefilled_build("ctsdg", CTSDGGenerator),
    default_config={"width": 16, "depth": 7, "prefill": None, "prefill_dilations": None},
    resolution=256,
    multiple=128,
    needs_edges=True,
    description="CTSDG (Guo et al. 2021): coupled texture/structure partial-conv U-Nets, Bi-GFF fusion, "
                "contextual feature aggregation; two-branch SN discriminator.",
    paper="https://arxiv.org/abs/2108.09760",
    repo="https://github.com/Xiefan-Guo/CTSDG",
))
