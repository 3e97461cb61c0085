"""DeepFill v1: J. Yu, Z. Lin, J. Yang, X. Shen, X. Lu, T. S. Huang, "Generative Image Inpainting with
Contextual Attention", CVPR 2018. https://arxiv.org/abs/1801.07892
Original code (TensorFlow, ``v1.0.0`` tag; CC BY-NC 4.0): https://github.com/JiahuiYu/generative_inpainting

Generator as the reference ``inpaint_model.py`` (with ``cnum`` = ``width``: 32 in the reference, about
3.6 M parameters; 24 by default here, about 2.0 M, to train on a CPU):

* coarse stage: input RGB + ones + mask; 5x5 conv, two stride-2 3x3 convs with 3x3 convs between,
  dilated 3x3 convs (dilation 2, 4, 8, 16) at 1/4 resolution, two nearest-x2 + 3x3 conv upsamplings,
  3-channel output clipped to [-1, 1];
* refinement stage on the coarse result pasted into the hole, two parallel encoders at 1/4 resolution:
  a dilated-conv ("hallucination") branch and a contextual-attention branch (ReLU features,
  :class:`~inpaint_core.layers.ContextualAttention` with 3x3 patches, rate 2, fusion, softmax scale 10,
  the hole mask marking which background patches may be copied); their outputs are concatenated and
  decoded like the coarse stage. ELU everywhere else, no normalisation.

``forward_train`` returns ``{"coarse", "output", "flow"}`` (flow: ``B x 2 x H/8 x W/8``, each
location's displacement to its best-matching known patch in 1/4-resolution pixels, for inspection). Discriminators (global and local WGAN-GP critics) are
in :mod:`inpaint_core.models.deepfill_v1_train`, losses in the ``deepfill_v1`` recipe.

Deviations: the contextual attention is the project's version (per-sample masks, true cosine, 2-D
fusion; see its module); any ``H, W`` that are multiples of 8 work (the reference needs fixed sizes);
no weights are shipped (the original's are under a non-commercial licence).
"""

from __future__ import annotations

import torch
from torch import nn

from inpaint_core.layers import ContextualAttention
from inpaint_core.models.prefill import prefilled_build
from inpaint_core.models.spec import ModelSpec, register_model

__all__ = ["DeepFillV1Generator"]


class _Conv(nn.Sequential):
    """3x3/5x5 'same' convolution + ELU (``act=None``: linear), as the reference ``gen_conv``."""

    def __init__(self, c_in: int, c_out: int, k: int = 3, stride: int = 1, dilation: int = 1,
                 act: type[nn.Module] | None = nn.ELU) -> None:
        pad = dilation * (k - 1) // 2
        super().__init__(nn.Conv2d(c_in, c_out, k, stride, pad, dilation=dilation),
                         *([act()] if act is not None else []))


class _Up(nn.Sequential):
    """The reference ``gen_deconv``: nearest-neighbour x2 then a 3x3 conv + ELU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), _Conv(c_in, c_out))


def _encoder(c_in: int, w: int, down: tuple[int, int], dilated: bool,
             last_act: type[nn.Module] = nn.ELU) -> nn.Sequential:
    """5x5 conv, stride-2 (``down[0]`` channels), conv, stride-2 (``down[1]``), two convs (the last with
    ``last_act``), optional dilated stack; channels as the reference's three encoders."""
    layers = [_Conv(c_in, w, 5), _Conv(w, down[0], 3, 2), _Conv(down[0], 2 * w), _Conv(2 * w, down[1], 3, 2),
              _Conv(down[1], 4 * w), _Conv(4 * w, 4 * w, act=last_act)]
    if dilated:
        layers += [_Conv(4 * w, 4 * w, dilation=d) for d in (2, 4, 8, 16)]
    return nn.Sequential(*layers)


def _decoder(c_in: int, w: int) -> nn.Sequential:
    """Two 3x3 convs, two upsamplings with a conv after each, linear 3-channel output."""
    return nn.Sequential(_Conv(c_in, 4 * w), _Conv(4 * w, 4 * w), _Up(4 * w, 2 * w), _Conv(2 * w, 2 * w),
                         _Up(2 * w, w), _Conv(w, w // 2), _Conv(w // 2, 3, act=None))


class CoarseToFine(nn.Module):
    """The two-stage data flow both DeepFill versions share; subclasses build the stages.

    Subclasses set ``coarse``, ``hallucinate``, ``attend_in``, ``attention`` (returning the flow too),
    ``attend_out`` and ``refine`` modules, ``name`` and ``_finish`` (what bounds an output to [-1, 1]).
    """

    name = ""

    @staticmethod
    def _finish(x: torch.Tensor) -> torch.Tensor:
        return x

    @staticmethod
    def _input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cat([image, torch.ones_like(mask), mask], dim=1)

    def forward_train(self, image: torch.Tensor, mask: torch.Tensor,
                      edges: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if image.shape[-1] % 8 or image.shape[-2] % 8:
            raise ValueError(f"{self.name}: input sides must be multiples of 8, got {tuple(image.shape[-2:])}")
        image = image * (1 - mask)
        coarse = self._finish(self.coarse(self._input(image, mask)))
        x = self._input(coarse * mask + image * (1 - mask), mask)
        feats = self.attend_in(x)
        attended, flow = self.attention(feats, feats, mask)
        x = torch.cat([self.hallucinate(x), self.attend_out(attended)], dim=1)
        return {"coarse": coarse, "output": self._finish(self.refine(x)), "flow": flow}

    def forward(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_train(image, mask)["output"]


class DeepFillV1Generator(CoarseToFine):
    """``forward(image, mask, edges=None) -> B x 3 x H x W`` in [-1, 1]; H and W multiples of 8."""

    name = "deepfill_v1"

    @staticmethod
    def _finish(x: torch.Tensor) -> torch.Tensor:
        return x.clamp(-1, 1)  # linear outputs, clipped as in the reference

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        if width < 2:
            raise ValueError(f"deepfill_v1: width must be >= 2, got {width}")
        w = width
        self.coarse = nn.Sequential(_encoder(5, w, (2 * w, 4 * w), dilated=True), _decoder(4 * w, w))
        self.hallucinate = _encoder(5, w, (w, 2 * w), dilated=True)
        self.attend_in = _encoder(5, w, (w, 4 * w), dilated=False, last_act=nn.ReLU)
        self.attention = ContextualAttention(ksize=3, stride=1, rate=2, fuse_k=3, softmax_scale=10.0,
                                             return_flow=True)
        self.attend_out = nn.Sequential(_Conv(4 * w, 4 * w), _Conv(4 * w, 4 * w))
        self.refine = _decoder(8 * w, w)


SPEC = register_model(ModelSpec(
    name="deepfill_v1",
    build=prefilled_build("deepfill_v1", DeepFillV1Generator),
    default_config={"width": 24, "prefill": None, "prefill_dilations": None},
    resolution=256,
    multiple=8,
    description="DeepFill v1 (Yu et al. 2018): coarse-to-fine generator with contextual attention, "
                "global+local WGAN-GP critics.",
    paper="https://arxiv.org/abs/1801.07892",
    repo="https://github.com/JiahuiYu/generative_inpainting",
))
