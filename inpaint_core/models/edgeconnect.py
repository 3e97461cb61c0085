"""EdgeConnect: K. Nazeri, E. Ng, T. Joseph, F. Qureshi, M. Ebrahimi, "EdgeConnect: Structure Guided Image
Inpainting using Edge Prediction", ICCV Workshops 2019 (arXiv 1901.00212).
Original code (PyTorch, CC BY-NC 4.0): https://github.com/knazeri/edge-connect

Two generators of the same shape (the repo's ``EdgeGenerator`` / ``InpaintGenerator``): 7×7 conv,
two stride-2 4×4 convs, 8 residual blocks with dilation 2 and instance norm
(:class:`~inpaint_core.layers.DilatedResBlock`), two stride-2 4×4 transposed convs, 7×7 conv.

* edge generator (spectral norm on every conv but the last, as the repo): input gray image with holes
  filled, known-region Canny edges, mask -> sigmoid edge map; its prediction replaces the edges inside
  the hole only;
* image generator: input RGB with holes filled + the completed edge map -> tanh image.

The repo fills holes with white (1 in its [0, 1] range); we fill with 1 in our [-1, 1] range (also
white). Gray is ITU-R 601 luma, as ``skimage.color.rgb2gray`` used by the repo up to its weights.

Deviations: output tanh in [-1, 1] instead of ``(tanh + 1) / 2`` (our generator contract); default
``width`` 32 instead of 64 (about a quarter of the parameters, CPU-trainable); when no edge map is
given (``edges=None``) the edge generator starts from an empty one; inputs with a side under 16 px
are padded (replicate) and cropped back. ``forward_train`` detaches the
completed edges before the image generator, as the repo's joint mode (model 4) does.
No weights are shipped (the original's are CC BY-NC).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpaint_core.layers import DilatedResBlock
from inpaint_core.models.prefill import prefilled_build
from inpaint_core.models.spec import ModelSpec, register_model

__all__ = ["EdgeConnectGenerator", "EdgeConnect", "to_gray"]

_LUMA = (0.299, 0.587, 0.114)
MIN_SIDE = 16


def to_gray(image: torch.Tensor) -> torch.Tensor:
    """``B×3×H×W`` -> ``B×1×H×W`` luma (same range as the input)."""
    w = image.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (image * w).sum(1, keepdim=True)


def _sn(module: nn.Module, enabled: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module


class EdgeConnectGenerator(nn.Module):
    """Encoder (2 downsamplings) - ``n_blocks`` dilated residual blocks - decoder (the repo's generators).

    Args:
        in_ch, out_ch: input and output channels.
        width: channels of the first conv (then ``2·width``, ``4·width``).
        spectral_norm: on every conv except the output one (edge generator).
        n_blocks: residual blocks (8 in the paper).

    Shape:
        ``B×in_ch×H×W`` -> ``B×out_ch×H×W`` pre-activation (H, W multiples of 4).
    """

    def __init__(self, in_ch: int, out_ch: int, width: int = 32, spectral_norm: bool = False,
                 n_blocks: int = 8) -> None:
        super().__init__()
        w1, w2, w4 = width, 2 * width, 4 * width
        sn = spectral_norm

        def norm_act(c: int) -> list[nn.Module]:
            return [nn.InstanceNorm2d(c, track_running_stats=False), nn.ReLU(True)]

        bias = not sn  # the repo drops biases under spectral norm
        self.encoder = nn.Sequential(
            nn.ReflectionPad2d(3), _sn(nn.Conv2d(in_ch, w1, 7, bias=bias), sn), *norm_act(w1),
            _sn(nn.Conv2d(w1, w2, 4, 2, 1, bias=bias), sn), *norm_act(w2),
            _sn(nn.Conv2d(w2, w4, 4, 2, 1, bias=bias), sn), *norm_act(w4),
        )
        self.middle = nn.Sequential(*[DilatedResBlock(w4, dilation=2, norm="instance", spectral_norm=sn)
                                      for _ in range(n_blocks)])
        self.decoder = nn.Sequential(
            _sn(nn.ConvTranspose2d(w4, w2, 4, 2, 1, bias=bias), sn), *norm_act(w2),
            _sn(nn.ConvTranspose2d(w2, w1, 4, 2, 1, bias=bias), sn), *norm_act(w1),
            nn.ReflectionPad2d(3), nn.Conv2d(w1, out_ch, 7),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.middle(self.encoder(x)))


class EdgeConnect(nn.Module):
    """``forward(image, mask, edges) -> B×3×H×W`` in [-1, 1]; H and W multiples of 4.

    ``edges`` are Canny edges (0/1) of the image; only their known part is used. ``None`` = no edges.
    """

    def __init__(self, width: int = 32, n_blocks: int = 8) -> None:
        super().__init__()
        if width < 1 or n_blocks < 1:
            raise ValueError(f"edgeconnect: width and n_blocks must be >= 1, got {width}, {n_blocks}")
        self.edge_generator = EdgeConnectGenerator(3, 1, width, spectral_norm=True, n_blocks=n_blocks)
        self.image_generator = EdgeConnectGenerator(4, 3, width, spectral_norm=False, n_blocks=n_blocks)

    @staticmethod
    def _check(image: torch.Tensor, mask: torch.Tensor) -> None:
        if image.shape[-1] % 4 or image.shape[-2] % 4:
            raise ValueError(f"edgeconnect: input sides must be multiples of 4, got {tuple(image.shape[-2:])}")
        if mask.shape[0] != image.shape[0] or mask.shape[1] != 1 or mask.shape[-2:] != image.shape[-2:]:
            raise ValueError(f"edgeconnect: mask {tuple(mask.shape)} does not fit image {tuple(image.shape)}")

    def predict_edges(self, image: torch.Tensor, mask: torch.Tensor,
                      edges: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Edge stage: ``(raw edge probabilities, completed edges)``, both ``B×1×H×W`` in [0, 1]."""
        known = 1 - mask
        gray = to_gray(image) * known + mask  # holes white, as the repo
        known_edges = torch.zeros_like(mask) if edges is None else edges * known
        pred = torch.sigmoid(self.edge_generator(torch.cat([gray, known_edges, mask], 1)))
        return pred, pred * mask + known_edges

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        """Image stage: RGB with holes + a full edge map -> ``B×3×H×W`` in [-1, 1]."""
        filled = image * (1 - mask) + mask
        return torch.tanh(self.image_generator(torch.cat([filled, edges], 1)))

    def forward(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None) -> torch.Tensor:
        self._check(image, mask)
        h, w = image.shape[-2:]
        # reflection pads of the dilated blocks need >= 3 px at 1/4 scale: grow tiny inputs, crop back
        pad = (0, max(0, MIN_SIDE - w), 0, max(0, MIN_SIDE - h))
        if any(pad):
            image, mask = F.pad(image, pad, mode="replicate"), F.pad(mask, pad, mode="replicate")
            edges = None if edges is None else F.pad(edges, pad)
        _, completed = self.predict_edges(image, mask, edges)
        return self.inpaint(image, mask, completed)[..., :h, :w]

    def forward_train(self, image: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor | None = None,
                      stage: str = "joint", true_edges: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Both stages for training.

        Args:
            stage: ``'joint'`` (the repo's model 4: predicted edges, detached, feed the image generator),
                ``'edge'`` (edge generator only; ``output`` is then the image generator fed predicted
                edges without gradient bookkeeping for it) or ``'inpaint'`` (image generator fed the true
                edges ``true_edges``, the repo's model 2).

        Returns:
            ``{"edges_pred": raw edge probabilities, "edges": edges given to the image generator,
            "output": image}``.
        """
        self._check(image, mask)
        if stage not in ("edge", "inpaint", "joint"):
            raise ValueError(f"stage must be 'edge', 'inpaint' or 'joint', got {stage!r}")
        with torch.set_grad_enabled(torch.is_grad_enabled() and stage != "inpaint"):
            pred, completed = self.predict_edges(image, mask, edges)
        if stage == "inpaint":
            completed = true_edges if true_edges is not None else completed
        completed = completed.detach()
        if stage == "edge":
            with torch.no_grad():
                output = self.inpaint(image, mask, completed)
        else:
            output = self.inpaint(image, mask, completed)
        return {"edges_pred": pred, "edges": completed, "output": output}


SPEC = register_model(ModelSpec(
    name="edgeconnect",
    build=prefilled_build("edgeconnect", EdgeConnect),
    default_config={"width": 32, "n_blocks": 8, "prefill": None, "prefill_dilations": None},
    resolution=256,
    multiple=4,
    needs_edges=True,
    description="EdgeConnect (Nazeri et al. 2019): an edge generator completes the Canny edges in the hole, "
                "an image generator fills the hole guided by them.",
    paper="https://arxiv.org/abs/1901.00212",
    repo="https://github.com/knazeri/edge-connect",
))
