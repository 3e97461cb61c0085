"""FID and LPIPS for the evaluation, from network weights the user gives (nothing is downloaded).

Both metrics are defined by pretrained networks, and published figures are only comparable when the
very same weights are used, so this module builds the networks and loads the standard files:

- **FID** (Heusel et al. 2017): the Frechet distance between Gaussians fitted to the 2048-d pool3
  features of the restored and the original images. The network is the TensorFlow Inception v3 of
  the original FID code as ported to PyTorch by ``pytorch-fid``, ``pt_inception-2015-12-05-6726825d.pth``
  (its three patched blocks: average pools that ignore padding, a max pool in the last block).
  Images are resized to 299 x 299 (bilinear) and scaled to [-1, 1], as ``pytorch-fid`` does.
  torchvision's ImageNet Inception (1000 classes) gives other numbers and is refused.
- **LPIPS** (Zhang et al. 2018, v0.1): unit-normalised activations of five layers of AlexNet or
  VGG16, squared differences weighted by the learned 1x1 layers, averaged over space, summed over
  layers. Two files: the backbone (torchvision's ``alexnet-owt-7be5be79.pth`` or
  ``vgg16-397923af.pth``, keys ``features.N.*``) and the linear layers (the ``lpips`` package's
  ``weights/v0.1/alex.pth`` or ``vgg.pth``, keys ``linK.model.1.weight``). Inputs in [-1, 1].

:class:`VGGFeatures` reads torchvision's VGG16/VGG19 files at named layers for the perceptual and
style losses of training (``feature_weights`` of the ``pconv`` and ``ctsdg`` recipes).

Files are read through :func:`inpaint_core.storage.read_uri` (a path or any fsspec URL) as a
PyTorch state dict (``torch.load(weights_only=True)``) or safetensors. A file of the wrong shape is
refused with the keys it lacks, before any image is scored.

    >>> import numpy as np
    >>> a = np.random.default_rng(0).normal(size=(500, 4))
    >>> round(fid_from_features(a, a), 6)
    0.0
"""

from __future__ import annotations

import hashlib
import io
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .models.wrapper import resolve_device
from .storage import read_uri

__all__ = ["FIDInception", "LPIPS", "PerceptualScorer", "VGGFeatures", "fid_from_features", "frechet_distance",
           "read_weights", "vgg_layers"]


def read_weights(url: str, storage_options: dict | None = None) -> tuple[dict[str, torch.Tensor], str]:
    """``(state dict, sha256 of the file)`` from a path or URL: a PyTorch file (tensors only) or
    safetensors. One read serves both (the files run to hundreds of MB; the cards record the hash)."""
    data = read_uri(url, storage_options)
    try:
        if url.endswith(".safetensors"):
            from safetensors.torch import load as st_load

            sd = st_load(data)
        else:
            sd = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling error means "not a state dict"
        raise ValueError(f"{url}: not a PyTorch state dict or safetensors file ({exc})") from exc
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ValueError(f"{url}: not a state dict of tensors")
    return sd, hashlib.sha256(data).hexdigest()


def _under(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of ``sd`` under ``prefix``, with the prefix taken off their keys."""
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def _load_strict(module: nn.Module, sd: dict[str, torch.Tensor], url: str, what: str, ignore: Sequence[str] = ()):
    own = module.state_dict()
    sd = {k: v for k, v in sd.items() if not any(k.startswith(p) for p in ignore)}
    missing = [k for k in own if k not in sd]
    wrong = [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or wrong:
        detail = (f"missing {missing[:4]}{' ...' if len(missing) > 4 else ''}" if missing else
                  f"shape of {wrong[0]} is {tuple(sd[wrong[0]].shape)}, expected {tuple(own[wrong[0]].shape)}")
        raise ValueError(f"{url} is not {what}: {detail}")
    module.load_state_dict({k: sd[k].float() for k in own})


# ---------------------------------------------------------------- FID: the FID Inception v3

class _Conv(nn.Module):
    """Conv (no bias) + batch norm (eps 1e-3) + ReLU: Inception's basic unit."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg3(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class _MixedA(nn.Module):
    def __init__(self, cin: int, pool: int):
        super().__init__()
        self.branch1x1 = _Conv(cin, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = _Conv(cin, 48, 1), _Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _Conv(cin, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _Conv(64, 96, 3, padding=1), _Conv(96, 96, 3, padding=1)
        self.branch_pool = _Conv(cin, pool, 1)

    def forward(self, x):
        d = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)), d,
                          self.branch_pool(_avg3(x))], 1)


class _MixedB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = _Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = _Conv(cin, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _Conv(64, 96, 3, padding=1), _Conv(96, 96, 3, stride=2)

    def forward(self, x):
        d = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), d, F.max_pool2d(x, 3, stride=2)], 1)


class _MixedC(nn.Module):
    def __init__(self, cin: int, c7: int):
        super().__init__()
        row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        self.branch1x1 = _Conv(cin, 192, 1)
        self.branch7x7_1, self.branch7x7_2, self.branch7x7_3 = _Conv(cin, c7, 1), _Conv(c7, c7, **row), \
            _Conv(c7, 192, **col)
        self.branch7x7dbl_1, self.branch7x7dbl_2 = _Conv(cin, c7, 1), _Conv(c7, c7, **col)
        self.branch7x7dbl_3, self.branch7x7dbl_4 = _Conv(c7, c7, **row), _Conv(c7, c7, **col)
        self.branch7x7dbl_5 = _Conv(c7, 192, **row)
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x):
        s = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), s, d, self.branch_pool(_avg3(x))], 1)


class _MixedD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = _Conv(cin, 192, 1), _Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _Conv(cin, 192, 1)
        self.branch7x7x3_2 = _Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _Conv(192, 192, 3, stride=2)

    def forward(self, x):
        s = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), s, F.max_pool2d(x, 3, stride=2)], 1)


class _MixedE(nn.Module):
    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool  # the FID network's last block max-pools (TensorFlow's graph did)
        self.branch1x1 = _Conv(cin, 320, 1)
        self.branch3x3_1 = _Conv(cin, 384, 1)
        self.branch3x3_2a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1, self.branch3x3dbl_2 = _Conv(cin, 448, 1), _Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x):
        s = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pool = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg3(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(s), self.branch3x3_2b(s),
                          self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d), self.branch_pool(pool)], 1)


class FIDInception(nn.Module):
    """The FID Inception v3 up to its 2048-d pool3 features (``pt_inception-2015-12-05`` weights).

    ``forward`` takes N x 3 x H x W floats in [0, 1] and returns N x 2048.
    """

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = _MixedA(192, 32), _MixedA(256, 64), _MixedA(288, 64)
        self.Mixed_6a = _MixedB(288)
        self.Mixed_6b, self.Mixed_6c = _MixedC(768, 128), _MixedC(768, 160)
        self.Mixed_6d, self.Mixed_6e = _MixedC(768, 160), _MixedC(768, 192)
        self.Mixed_7a = _MixedD(768)
        self.Mixed_7b, self.Mixed_7c = _MixedE(1280, max_pool=False), _MixedE(2048, max_pool=True)

    @classmethod
    def from_file(cls, url: str, storage_options: dict | None = None) -> "FIDInception":
        sd, sha256 = read_weights(url, storage_options)
        fc = sd.get("fc.weight")
        if fc is not None and fc.shape[0] != 1008:
            raise ValueError(f"{url} has a {fc.shape[0]}-class head: that is an ImageNet Inception (torchvision's?), "
                             "not the FID network; FID needs pt_inception-2015-12-05-6726825d.pth (1008 classes)")
        net = cls()
        _load_strict(net, sd, url, "the FID Inception v3", ignore=("fc.", "AuxLogits."))
        net.sha256 = sha256
        return net.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, stride=2)))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return x.mean((2, 3))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` of two Gaussians.

    ``tr (S1 S2)^(1/2)`` is the sum of the square roots of the eigenvalues of ``S1 S2`` (real and
    non-negative for covariance matrices; rounding's tiny negative or imaginary parts are dropped),
    which needs no matrix square root and stays defined when the covariances are singular (fewer
    images than feature dimensions).
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError("the two Gaussians have different dimensions")
    eig = np.linalg.eigvals(s1 @ s2)
    tr_sqrt = float(np.sqrt(np.clip(eig.real, 0, None)).sum())
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt, 0.0))


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two feature sets (N x D each; at least 2 rows)."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("FID needs at least two images per set")
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


# ---------------------------------------------------------------- LPIPS

#: backbone layer slices of torchvision's ``features`` (end indices), the layers LPIPS reads
_ALEX = [(3, 64, 11, 4, 2), "R", "M", (64, 192, 5, 1, 2), "R", "M", (192, 384, 3, 1, 1), "R",
         (384, 256, 3, 1, 1), "R", (256, 256, 3, 1, 1), "R"]
_ALEX_TAPS = (2, 5, 8, 10, 12)
#: torchvision's VGG ``features`` configurations (channels; "M" = 2x2 max pool)
VGG_CONFIGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
_VGG16_TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")  # LPIPS's layers


def vgg_layers(config: str) -> tuple[nn.Sequential, dict[str, int]]:
    """torchvision's VGG ``features`` (same indices, so its state dict loads) and each layer's index
    by name: ``conv{block}_{k}``, ``relu{block}_{k}``, ``pool{block}``."""
    layers: list[nn.Module] = []
    names: dict[str, int] = {}
    cin, block, k = 3, 1, 0
    for spec in VGG_CONFIGS[config]:
        if spec == "M":
            names[f"pool{block}"] = len(layers)
            layers.append(nn.MaxPool2d(2, 2))
            block, k = block + 1, 0
        else:
            k += 1
            names[f"conv{block}_{k}"], names[f"relu{block}_{k}"] = len(layers), len(layers) + 1
            layers += [nn.Conv2d(cin, spec, 3, padding=1), nn.ReLU()]
            cin = spec
    return nn.Sequential(*layers), names


def _features(net: str) -> tuple[nn.Sequential, tuple[int, ...], list[int]]:
    layers: list[nn.Module] = []
    if net == "alex":
        for spec in _ALEX:
            layers.append(nn.ReLU() if spec == "R" else nn.MaxPool2d(3, 2) if spec == "M"
                          else nn.Conv2d(spec[0], spec[1], spec[2], stride=spec[3], padding=spec[4]))
        return nn.Sequential(*layers), _ALEX_TAPS, [64, 192, 384, 256, 256]
    features, names = vgg_layers("vgg16")
    taps = tuple(names[t] + 1 for t in _VGG16_TAPS)
    return features[:taps[-1]], taps, [64, 128, 256, 512, 512]


class VGGFeatures(nn.Module):
    """A fixed ImageNet VGG (torchvision's ``vgg16-397923af.pth`` or ``vgg19-dcbb9e9d.pth``, which the
    user gives) read at named layers, for the perceptual and style losses of training.

    ``forward`` takes B x 3 x H x W in [-1, 1] (the trainer's range), applies ImageNet's
    normalisation and returns the feature maps at ``taps`` (e.g. PConv's ``pool1, pool2, pool3``).
    The weights are frozen: gradients flow to the input only.
    """

    def __init__(self, config: str = "vgg16", taps: Sequence[str] = ("pool1", "pool2", "pool3")):
        super().__init__()
        features, names = vgg_layers(config)
        unknown = [t for t in taps if t not in names]
        if unknown:
            raise ValueError(f"{config} has no layer {unknown[0]!r}; layers: {', '.join(names)}")
        self.config = config
        self.ends = [names[t] + 1 for t in taps]
        self.features = features[:max(self.ends)]
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_file(cls, url: str, taps: Sequence[str] = ("pool1", "pool2", "pool3"),
                  storage_options: dict | None = None) -> "VGGFeatures":
        sd, sha256 = read_weights(url, storage_options)
        convs = sorted({int(k.split(".")[1]) for k in sd if k.startswith("features.") and k.endswith(".weight")})
        config = {28: "vgg16", 34: "vgg19"}.get(convs[-1] if convs else -1)
        if config is None:
            raise ValueError(f"{url} is not a torchvision VGG16 or VGG19 state dict (features.N.* keys)")
        net = cls(config, taps)
        _load_strict(net.features, _under(sd, "features."), url, f"a torchvision {config.upper()}")
        net.sha256 = sha256
        return net

    def train(self, mode: bool = True) -> "VGGFeatures":
        return super().train(False)  # fixed network

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1) / 2 - self.mean) / self.std
        at = {}
        for i, layer in enumerate(self.features, 1):
            x = layer(x)
            if i in self.ends:
                at[i] = x
        return [at[e] for e in self.ends]


class _Lin(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(c, 1, 1, bias=False))  # [Dropout, 1x1] in lpips


class LPIPS(nn.Module):
    """LPIPS v0.1 over AlexNet (``net="alex"``) or VGG16 features. ``forward(x, y)``: N x 3 x H x W in [-1, 1]."""

    def __init__(self, net: str = "alex"):
        super().__init__()
        if net not in ("alex", "vgg"):
            raise ValueError(f"LPIPS backbone {net!r}: expected 'alex' or 'vgg'")
        self.net = net
        self.features, self.taps, chans = _features(net)
        self.lins = nn.ModuleList(_Lin(c) for c in chans)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    @classmethod
    def from_files(cls, backbone: str, lin: str, storage_options: dict | None = None) -> "LPIPS":
        bsd, backbone_sha256 = read_weights(backbone, storage_options)
        first = bsd.get("features.0.weight")
        if first is None:
            raise ValueError(f"{backbone} is not a torchvision AlexNet or VGG16 state dict (no features.0.weight)")
        model = cls("alex" if first.shape[-1] == 11 else "vgg")
        _load_strict(model.features, _under(bsd, "features."), backbone,
                     f"a torchvision {'AlexNet' if model.net == 'alex' else 'VGG16'}")
        lsd, lin_sha256 = read_weights(lin, storage_options)
        _load_strict(model.lins, _under(lsd, "lin"), lin, f"the LPIPS linear layers for {model.net}")
        model.sha256 = {"backbone": backbone_sha256, "lin": lin_sha256}
        return model.eval()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx, fy = (x - self.shift) / self.scale, (y - self.shift) / self.scale
        total = torch.zeros(x.shape[0], device=x.device)
        start = 0
        for lin, end in zip(self.lins, self.taps):
            fx, fy = self.features[start:end](fx), self.features[start:end](fy)
            start = end
            nx = fx / (fx.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            ny = fy / (fy.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + lin.model((nx - ny) ** 2).mean((1, 2, 3))
        return total


# ---------------------------------------------------------------- what the evaluation calls

class PerceptualScorer:
    """The perceptual metrics the user gave weights for, run on uint8 RGB batches.

    Args:
        fid_weights: the FID Inception's file, or None (no FID).
        lpips_backbone, lpips_lin: LPIPS's two files, both or neither.
        device: ``"cpu"``, ``"cuda"``..., or ``"auto"`` (CUDA when present).

    ``files`` records each given file's ``uri`` and ``sha256`` (for reports and model cards).
    """

    def __init__(self, fid_weights: str | None = None, lpips_backbone: str | None = None,
                 lpips_lin: str | None = None, device: str = "auto", storage_options: dict | None = None):
        if bool(lpips_backbone) != bool(lpips_lin):
            raise ValueError("LPIPS needs both files: the backbone (torchvision AlexNet/VGG16) and the linear "
                             "layers (the lpips package's weights/v0.1/alex.pth or vgg.pth)")
        self.device = torch.device(resolve_device(device))
        self.inception = FIDInception.from_file(fid_weights, storage_options).to(self.device) if fid_weights else None
        self.lpips = (LPIPS.from_files(lpips_backbone, lpips_lin, storage_options).to(self.device)
                      if lpips_backbone else None)
        self.files = {}
        if self.inception is not None:
            self.files["fid_weights"] = {"uri": fid_weights, "sha256": self.inception.sha256}
        if self.lpips is not None:
            self.files["lpips_backbone"] = {"uri": lpips_backbone, "sha256": self.lpips.sha256["backbone"]}
            self.files["lpips_lin"] = {"uri": lpips_lin, "sha256": self.lpips.sha256["lin"]}

    def _tensor(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255).to(self.device)

    @torch.no_grad()
    def lpips_distance(self, a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> np.ndarray:
        """LPIPS of each pair (uint8 RGB, same sizes within a batch)."""
        return self.lpips(self._tensor(a) * 2 - 1, self._tensor(b) * 2 - 1).cpu().numpy().astype(np.float64)

    @torch.no_grad()
    def fid_features(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """FID Inception pool3 features (N x 2048, float64) of uint8 RGB images."""
        return self.inception(self._tensor(images)).cpu().numpy().astype(np.float64)
