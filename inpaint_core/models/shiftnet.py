"""Shift-Net: Z. Yan, X. Li, M. Li, W. Zuo, S. Shan, "Shift-Net: Image Inpainting via Deep Feature
Rearrangement", ECCV 2018. https://arxiv.org/abs/1801.09392
Original code (PyTorch, MIT licence): https://github.com/Zhaoyi-Yan/Shift-Net_pytorch

Architecture (the repo's ``UnetGeneratorShiftTriple``): a pix2pix U-Net. Encoder: stride-2 4x4
convolutions, LeakyReLU(0.2) before each one, batch norm after each but the first and the innermost;
decoder: ReLU, stride-2 4x4 transposed convolution, batch norm (tanh at the output), every level
concatenated with the encoder feature of the same resolution (skip connections). At one decoder level
(``shift_level``: 3, i.e. 32x32 for a 256 input, as the paper) the shift-connection layer
(:class:`inpaint_core.layers.ShiftLayer`) copies, for every hole location of the decoder feature, the
encoder feature of the known location whose feature is nearest (cosine similarity), and the
transposed convolution above it sees ``[decoder, encoder, shifted]`` (3x channels). Shift and guidance
act on the ReLU'd features, as in the repo (``InnerCos`` and ``InnerShiftTriple`` follow ``uprelu``).
The input is the image with holes zeroed plus the mask (the repo's ``add_mask2input``).
:meth:`ShiftNetGenerator.forward_train` returns the decoder feature at the shift level and
:meth:`ShiftNetGenerator.guidance_target` the encoder feature of the ground truth at that level, for
the guidance loss (:func:`inpaint_core.layers.guidance_loss`, in the ``shiftnet`` recipe).

Deviations: ``depth`` 6 stride-2 levels by default (a 4x4 bottleneck at 256) instead of the
unet_256's 8 (1x1), and ``width`` 24 instead of 64 (channels ``width * 2^i`` capped at ``8 width``),
so the generator has about 4 M parameters and trains on a CPU; fully convolutional, inputs are padded
(replicate) to a multiple of ``2^depth`` inside the network and cropped back. No dropout (the repo's
default ``no_dropout``).
Project option ``prefill="telea"`` (:mod:`inpaint_core.models.prefill`): the holes of the input are
filled by Telea instead of zeros and the output is a residual on that fill (the output layer starts at
zero, so an untrained model returns Telea); the U-Net's skips let the residual use the fill's detail.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpaint_core.layers import ShiftLayer
from inpaint_core.models.prefill import check_prefill, classical_fill, zero_init_
from inpaint_core.models.spec import ModelSpec, register_model

__all__ = ["ShiftNetGenerator"]


def _pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


class ShiftNetGenerator(nn.Module):
    """``forward(image, mask, edges=None) -> B x 3 x H x W`` in [-1, 1], any ``H, W``.

    Args:
        width: channels of the first encoder level (doubled per level, capped at ``8 width``).
        depth: number of stride-2 levels (the bottleneck is at ``1 / 2^depth``).
        shift_level: the level (``1 / 2^shift_level`` resolution) whose decoder gets the shift layer;
            ``1 <= shift_level < depth``.
        shift_threshold: hole fraction above which a feature cell is hole (repo: ``mask_thred``).
        shift_patch: patch side of the nearest-neighbour search (repo: ``shift_sz`` 1).
    """

    def __init__(self, width: int = 24, depth: int = 6, shift_level: int = 3,
                 shift_threshold: float = 5 / 16, shift_patch: int = 1, prefill: str | None = None) -> None:
        super().__init__()
        check_prefill("shiftnet", prefill)
        self.prefill = prefill
        if width < 1:
            raise ValueError(f"shiftnet: width must be >= 1, got {width}")
        if depth < 2 or not 1 <= shift_level < depth:
            raise ValueError(f"shiftnet: need depth >= 2 and 1 <= shift_level < depth, got {depth}, {shift_level}")
        self.depth, self.shift_level = depth, shift_level
        chans = [min(width * 2 ** i, 8 * width) for i in range(depth)]  # encoder level k -> chans[k-1]
        down = [nn.Conv2d(4, chans[0], 4, 2, 1)]
        for k in range(1, depth):
            innermost = k == depth - 1
            down.append(nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(chans[k - 1], chans[k], 4, 2, 1, bias=innermost),
                                      *([] if innermost else [nn.BatchNorm2d(chans[k])])))
        self.down = nn.ModuleList(down)
        up = []  # up[k] maps level k+1 (its input) to level k; up[0] is the output layer
        for k in range(depth):
            c_in = chans[k] if k == depth - 1 else (3 if k + 1 == shift_level else 2) * chans[k]
            if k == 0:
                up.append(nn.Sequential(nn.ConvTranspose2d(c_in, 3, 4, 2, 1), nn.Tanh()))
            else:
                up.append(nn.Sequential(nn.ConvTranspose2d(c_in, chans[k - 1], 4, 2, 1, bias=False),
                                        nn.BatchNorm2d(chans[k - 1])))
        self.up = nn.ModuleList(up)
        if prefill:
            zero_init_(self.up[0][0])  # residual head: an untrained model returns the classical fill
        self.shift = ShiftLayer(shift_threshold, shift_patch, concat=True)

    def _encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for layer in self.down:
            x = layer(x)
            feats.append(x)
        return feats

    def _inputs(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != 3 or mask.shape != (image.shape[0], 1, *image.shape[-2:]):
            raise ValueError(f"shiftnet: expected B x 3 x H x W image and B x 1 x H x W mask, got "
                             f"{tuple(image.shape)} and {tuple(mask.shape)}")
        if self.prefill:
            image = image * (1 - mask) + classical_fill(image, mask, self.prefill) * mask
            return _pad_to(image, 2 ** self.depth), _pad_to(mask, 2 ** self.depth)
        mask = _pad_to(mask, 2 ** self.depth)
        return _pad_to(image, 2 ** self.depth) * (1 - mask), mask

    def forward_train(self, image: torch.Tensor, mask: torch.Tensor,
                      edges: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``output`` (B x 3 x H x W), ``decoder_feat`` (ReLU'd decoder feature at the shift level, on the
        padded frame) and ``mask`` (the hole mask of the padded frame, for :func:`guidance_loss`)."""
        h, w = image.shape[-2:]
        x, pmask = self._inputs(image, mask)
        feats = self._encode(torch.cat([x, pmask], dim=1))
        y = self.up[-1](F.relu(feats[-1]))
        decoder_feat = None
        for k in range(self.depth - 1, 0, -1):  # y is at level k
            if k == self.shift_level:
                decoder_feat, enc = F.relu(y), F.relu(feats[k - 1])
                y = self.up[k - 1](self.shift(decoder_feat, enc, pmask))
            else:
                y = self.up[k - 1](F.relu(torch.cat([y, feats[k - 1]], dim=1)))
        if self.prefill:
            y = (x + y).clamp(-1, 1)
        return {"output": y[..., :h, :w], "decoder_feat": decoder_feat, "mask": pmask}

    def forward(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_train(image, mask)["output"]

    def guidance_target(self, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ReLU'd encoder feature of the ground truth at the shift level (no gradient), the guidance target."""
        with torch.no_grad():
            pmask = _pad_to(mask, 2 ** self.depth)
            y = torch.cat([_pad_to(target, 2 ** self.depth), pmask], dim=1)  # holes not zeroed
            for layer in self.down[:self.shift_level]:
                y = layer(y)
            return F.relu(y)


SPEC = register_model(ModelSpec(
    name="shiftnet",
    build=lambda config: ShiftNetGenerator(**config),
    default_config={"width": 24, "depth": 6, "shift_level": 3, "shift_threshold": 5 / 16, "shift_patch": 1,
                    "prefill": None},
    resolution=256,
    multiple=64,
    description="Shift-Net (Yan et al. 2018): U-Net with a shift-connection layer copying known encoder "
                "features into the hole, guidance loss, PatchGAN.",
    paper="https://arxiv.org/abs/1801.09392",
    repo="https://github.com/Zhaoyi-Yan/Shift-Net_pytorch",
))
