"""Patch discriminators.

* :class:`PatchDiscriminator`: the 70×70 PatchGAN of pix2pix (Isola et al., "Image-to-Image Translation
  with Conditional Adversarial Networks", CVPR 2017) as used, with spectral normalisation, by EdgeConnect
  (Nazeri et al. 2019; https://github.com/knazeri/edge-connect) and PGGAN (Demir & Unal 2018). Returns a
  logits map; optionally every block's output for the feature-matching loss.
* :class:`SNPatchGAN`: DeepFill v2's discriminator (Yu et al., "Free-Form Image Inpainting with Gated
  Convolution", ICCV 2019): six 5×5 stride-2 spectral-norm convolutions with LeakyReLU(0.2), output
  flattened, for the hinge loss. Its input is usually ``cat([image, mask], 1)``.

Example:
    >>> import torch
    >>> PatchDiscriminator(4, base=8)(torch.randn(2, 4, 64, 64)).shape
    torch.Size([2, 1, 6, 6])
    >>> SNPatchGAN(4, base=8)(torch.randn(2, 4, 64, 64)).shape
    torch.Size([2, 32])
"""

from __future__ import annotations

from typing import List, Tuple, Union

import torch
from torch import nn

from ._utils import check_bchw, make_norm, maybe_spectral_norm

__all__ = ["PatchDiscriminator", "SNPatchGAN"]


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``n_layers`` stride-2 4×4 convolutions, one stride-1, then a 1-channel stride-1 conv.

    Args:
        in_ch: input channels.
        base: channels of the first layer (doubled per layer, capped at ``8·base``).
        n_layers: number of stride-2 layers (3: 70×70 receptive field).
        spectral_norm: on every convolution (EdgeConnect); biases are dropped when it is on.
        norm: ``'none'`` (with spectral norm), ``'instance'`` or ``'batch'``; never on the first layer.

    Shape:
        ``B×in_ch×H×W`` -> ``B×1×(H/2^n - 2)×(W/2^n - 2)`` logits (``H, W`` divisible by ``2^n``).
    """

    def __init__(self, in_ch: int, base: int = 64, n_layers: int = 3, spectral_norm: bool = True,
                 norm: str = "none") -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        self.in_ch = in_ch

        def block(cin: int, cout: int, stride: int, normed: bool, act: bool = True) -> nn.Sequential:
            bias = not spectral_norm and (norm == "none" or not normed)  # as EdgeConnect: no bias with SN
            layers = [maybe_spectral_norm(nn.Conv2d(cin, cout, 4, stride, 1, bias=bias), spectral_norm)]
            if normed:
                layers.append(make_norm(norm, cout))
            if act:
                layers.append(nn.LeakyReLU(0.2, inplace=True))
            return nn.Sequential(*layers)

        channels = [base * min(2 ** i, 8) for i in range(n_layers + 1)]
        blocks = [block(in_ch, channels[0], 2, normed=False)]
        blocks += [block(channels[i - 1], channels[i], 2, normed=True) for i in range(1, n_layers)]
        blocks.append(block(channels[n_layers - 1], channels[n_layers], 1, normed=True))
        blocks.append(block(channels[n_layers], 1, 1, normed=False, act=False))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor,
                return_features: bool = False) -> Union[torch.Tensor, Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Logits map; with ``return_features`` also the list of every block's output (last = logits)."""
        check_bchw(x, "x", channels=self.in_ch)
        features = []
        for blk in self.blocks:
            x = blk(x)
            features.append(x)
        return (x, features) if return_features else x


class SNPatchGAN(nn.Module):
    """DeepFill v2's SN-PatchGAN discriminator.

    Args:
        in_ch: input channels (DeepFill v2: RGB + mask, 4; the TF code adds a ones channel, 5).
        base: channels of the first layer; then ``2·base``, and ``4·base`` for the last four.
        n_layers: stride-2 layers (6 in the paper).

    Shape:
        ``B×in_ch×H×W`` -> ``B×(4·base·⌈H/2^n⌉·⌈W/2^n⌉)`` flattened feature map.
    """

    def __init__(self, in_ch: int, base: int = 64, n_layers: int = 6) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        self.in_ch = in_ch
        channels = [base * min(2 ** i, 4) for i in range(n_layers)]
        layers, cin = [], in_ch
        for cout in channels:
            layers += [nn.utils.parametrizations.spectral_norm(nn.Conv2d(cin, cout, 5, 2, 2)),
                       nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_bchw(x, "x", channels=self.in_ch)
        return self.body(x).flatten(1)
