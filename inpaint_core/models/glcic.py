"""GLCIC: S. Iizuka, E. Simo-Serra, H. Ishikawa, "Globally and Locally Consistent Image Completion",
ACM Transactions on Graphics 36(4), SIGGRAPH 2017. http://iizuka.cs.tsukuba.ac.jp/projects/completion/
Original code (Torch/Lua; weights for non-commercial use only): https://github.com/satoshiiizuka/siggraph2017_inpainting

Generator (paper, Table 1, with widths scaled by ``width`` / 64): 5x5 conv, two stride-2 3x3 convs
with 3x3 convs between, dilated 3x3 convs (dilation 2, 4, 8, 16) at 1/4 resolution, two 4x4
transposed convs back up, output conv. Batch norm and ReLU after every hidden layer.
The paper's discriminators are in :mod:`inpaint_core.models.glcic_train`; its FMM + Poisson
post-process is :func:`inpaint_core.blend.glcic_blend`, applied by the pipeline (``--blend auto``).

Deviations: output tanh in [-1, 1] instead of sigmoid in [0, 1] (our generator contract; the two
differ by an affine map); default ``width`` 32 instead of 64 (about a quarter of the parameters);
input is RGB with holes zeroed plus the mask (the paper fills holes with the dataset mean).
Project option ``prefill="telea"`` (:class:`inpaint_core.models.prefill.Prefilled`): a
full-resolution head turns the network's prediction into a residual over the Telea fill, starting
at zero. The original's weights are Torch7 files under a non-commercial licence; the project's are
trained here.
"""

from __future__ import annotations

import torch
from torch import nn

from inpaint_core.models.prefill import prefilled_build
from inpaint_core.models.spec import ModelSpec, register_model

__all__ = ["GLCICGenerator"]


def _conv(c_in: int, c_out: int, k: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    pad = dilation * (k - 1) // 2
    return [nn.Conv2d(c_in, c_out, k, stride, pad, dilation=dilation, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def _deconv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class GLCICGenerator(nn.Module):
    """``forward(image, mask, edges=None) -> B x 3 x H x W`` in [-1, 1]; H and W multiples of 4."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        if width < 2:
            raise ValueError(f"glcic: width must be >= 2, got {width}")
        w1, w2, w4 = width, 2 * width, 4 * width
        layers = [*_conv(4, w1, 5), *_conv(w1, w2, 3, 2), *_conv(w2, w2, 3),
                  *_conv(w2, w4, 3, 2), *_conv(w4, w4, 3), *_conv(w4, w4, 3)]
        for d in (2, 4, 8, 16):
            layers += _conv(w4, w4, 3, dilation=d)
        layers += [*_conv(w4, w4, 3), *_conv(w4, w4, 3),
                   *_deconv(w4, w2), *_conv(w2, w2, 3),
                   *_deconv(w2, w1), *_conv(w1, w1 // 2, 3),
                   nn.Conv2d(w1 // 2, 3, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None) -> torch.Tensor:
        if image.shape[-1] % 4 or image.shape[-2] % 4:
            raise ValueError(f"glcic: input sides must be multiples of 4, got {tuple(image.shape[-2:])}")
        return self.net(torch.cat([image * (1 - mask), mask], dim=1))


SPEC = register_model(ModelSpec(
    name="glcic",
    build=prefilled_build("glcic", GLCICGenerator),
    default_config={"width": 32, "prefill": None, "prefill_dilations": None},
    resolution=256,
    multiple=4,
    description="GLCIC (Iizuka et al. 2017): dilated-conv generator, global+local discriminators; "
                "pair with the FMM+Poisson blend.",
    paper="http://iizuka.cs.tsukuba.ac.jp/projects/completion/data/completion_sig2017.pdf",
    repo="https://github.com/satoshiiizuka/siggraph2017_inpainting",
))
