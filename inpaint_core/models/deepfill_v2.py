"""DeepFill v2: J. Yu, Z. Lin, J. Yang, X. Shen, X. Lu, T. S. Huang, "Free-Form Image Inpainting with
Gated Convolution", ICCV 2019. https://arxiv.org/abs/1806.03589
Original code (TensorFlow, ``master``; CC BY-NC 4.0): https://github.com/JiahuiYu/generative_inpainting

Generator as the reference ``inpaint_model.py`` of v2, every hidden layer a gated convolution
(:class:`~inpaint_core.layers.GatedConv2d`: ELU features times a sigmoid gate; upsampling by
:class:`~inpaint_core.layers.GatedDeconv2d`, nearest x2 + gated conv):

* coarse stage: input RGB + ones + mask; 5x5, two stride-2 3x3 gated convs with 3x3 between, dilated
  gated convs (2, 4, 8, 16) at 1/4 resolution, two gated upsamplings, a plain 3-channel conv, tanh;
* refinement stage on the coarse result pasted into the hole: a dilated gated-conv branch and a
  contextual-attention branch (ReLU-gated features, :class:`~inpaint_core.layers.ContextualAttention`,
  3x3 patches, rate 2), concatenated and decoded as the coarse stage.

``width`` is the number of feature channels of the first layer. The reference's ``cnum`` = 48 counts
features and gates together (its ``gen_conv`` splits the output in two), so ``width`` 24 is the
paper's network (about 4 M parameters, the paper's "4.1M"). ``forward_train`` returns
``{"coarse", "output", "flow"}`` (flow: ``B x 2 x H/8 x W/8``, the contextual attention's
best-match displacement in 1/4-resolution pixels). The SN-PatchGAN discriminator is
:class:`~inpaint_core.layers.SNPatchGAN`, used by the ``deepfill_v2`` recipe.

Deviations: the optional user-sketch channel is left out (``needs_edges`` False); the contextual
attention is the project's version (per-sample masks, true cosine, 2-D fusion); any ``H, W`` that
are multiples of 8 work; no weights are shipped (the original's are under a non-commercial licence).
"""

from __future__ import annotations

import torch
from torch import nn

from inpaint_core.layers import ContextualAttention, GatedConv2d, GatedDeconv2d
from inpaint_core.models.deepfill_v1 import CoarseToFine
from inpaint_core.models.prefill import prefilled_build
from inpaint_core.models.spec import ModelSpec, register_model

__all__ = ["DeepFillV2Generator"]


def _encoder(c_in: int, w: int, down: tuple[int, int], dilated: bool,
             last_act: type[nn.Module] = nn.ELU) -> nn.Sequential:
    """5x5, stride-2 (``down[0]`` channels), 3x3, stride-2 (``down[1]``), two 3x3 (the last with
    ``last_act``), optional dilated stack; channels as the reference's three encoders."""
    g = GatedConv2d
    layers = [g(c_in, w, 5), g(w, down[0], 3, 2), g(down[0], 2 * w, 3), g(2 * w, down[1], 3, 2),
              g(down[1], 4 * w, 3), g(4 * w, 4 * w, 3, activation=last_act)]
    if dilated:
        layers += [g(4 * w, 4 * w, 3, dilation=d) for d in (2, 4, 8, 16)]
    return nn.Sequential(*layers)


def _decoder(c_in: int, w: int) -> nn.Sequential:
    """Two 3x3 gated convs, two gated upsamplings with a gated conv after each, plain RGB conv, tanh."""
    g = GatedConv2d
    return nn.Sequential(g(c_in, 4 * w, 3), g(4 * w, 4 * w, 3), GatedDeconv2d(4 * w, 2 * w), g(2 * w, 2 * w, 3),
                         GatedDeconv2d(2 * w, w), g(w, max(w // 2, 1), 3),
                         nn.Conv2d(max(w // 2, 1), 3, 3, 1, 1), nn.Tanh())


class DeepFillV2Generator(CoarseToFine):
    """``forward(image, mask, edges=None) -> B x 3 x H x W`` in [-1, 1] (tanh); H and W multiples of 8."""

    name = "deepfill_v2"

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        if width < 2:
            raise ValueError(f"deepfill_v2: width must be >= 2, got {width}")
        w = width
        self.coarse = nn.Sequential(_encoder(5, w, (2 * w, 4 * w), dilated=True), _decoder(4 * w, w))
        self.hallucinate = _encoder(5, w, (w, 2 * w), dilated=True)
        self.attend_in = _encoder(5, w, (w, 4 * w), dilated=False, last_act=nn.ReLU)
        self.attention = ContextualAttention(ksize=3, stride=1, rate=2, fuse_k=3, softmax_scale=10.0,
                                             return_flow=True)
        self.attend_out = nn.Sequential(GatedConv2d(4 * w, 4 * w, 3), GatedConv2d(4 * w, 4 * w, 3))
        self.refine = _decoder(8 * w, w)


SPEC = register_model(ModelSpec(
    name="deepfill_v2",
    build=prefilled_build("deepfill_v2", DeepFillV2Generator),
    default_config={"width": 24, "prefill": None, "prefill_dilations": None},
    resolution=256,
    multiple=8,
    description="DeepFill v2 (Yu et al. 2019): gated-conv coarse-to-fine generator with contextual "
                "attention, SN-PatchGAN hinge loss; free-form masks.",
    paper="https://arxiv.org/abs/1806.03589",
    repo="https://github.com/JiahuiYu/generative_inpainting",
))
