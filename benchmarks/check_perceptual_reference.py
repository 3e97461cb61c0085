"""Check inpaint_core.perceptual against the reference code: pytorch-fid and lpips.

    pip install torchvision lpips pytorch-fid     # the torchvision that matches your torch
    python benchmarks/check_perceptual_reference.py

The networks are built with random weights (no pretrained file is needed, none can be downloaded
here), loaded into both implementations from the same state dicts, and run on the same inputs:
the FID Inception's pool3 features, the Frechet distance (a full-rank and a singular case) and
LPIPS over AlexNet and VGG16 with the lpips package's own linear layers, and the VGG16/VGG19
features the training losses can use. Prints the largest differences. Not a test: it needs three packages the project does not depend on.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _import_torchvision():
    try:
        import torchvision
    except RuntimeError as exc:  # a CUDA torchvision wheel beside a CPU torch: its C ops do not load
        if "torchvision::nms" not in str(exc):
            raise
        for mod in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[mod]
        lib = torch.library.Library("torchvision", "DEF")  # the models need none of those ops
        for op in ("nms", "qnms"):
            lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _import_torchvision.lib = lib
        import torchvision
    return torchvision


def main() -> int:
    torchvision = _import_torchvision()
    import lpips as ref_lpips
    import pytorch_fid.inception as ref_inception
    from pytorch_fid.fid_score import calculate_frechet_distance

    from inpaint_core.perceptual import LPIPS, FIDInception, VGGFeatures, frechet_distance

    torch.manual_seed(0)
    tmp = tempfile.mkdtemp()
    # the FID Inception as pytorch-fid builds it, random weights and non-trivial batch-norm statistics
    P = ref_inception
    inc = P._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    inc.Mixed_5b, inc.Mixed_5c = P.FIDInceptionA(192, pool_features=32), P.FIDInceptionA(256, pool_features=64)
    inc.Mixed_5d, inc.Mixed_6b = P.FIDInceptionA(288, pool_features=64), P.FIDInceptionC(768, channels_7x7=128)
    inc.Mixed_6c, inc.Mixed_6d = P.FIDInceptionC(768, channels_7x7=160), P.FIDInceptionC(768, channels_7x7=160)
    inc.Mixed_6e, inc.Mixed_7b = P.FIDInceptionC(768, channels_7x7=192), P.FIDInceptionE_1(1280)
    inc.Mixed_7c = P.FIDInceptionE_2(2048)
    for m in inc.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    sd = inc.state_dict()
    torch.save(sd, f"{tmp}/pt_inception.pth")
    P.fid_inception_v3.__globals__["load_state_dict_from_url"] = lambda *a, **k: sd  # instead of the download
    ref = P.InceptionV3([3], resize_input=True, normalize_input=True, use_fid_inception=True).eval()
    ours = FIDInception.from_file(f"{tmp}/pt_inception.pth")
    x = torch.rand(3, 3, 256, 256)
    with torch.no_grad():
        r, o = ref(x)[0].flatten(1), ours(x)
    print(f"FID Inception pool3 features: max |diff| {float((r - o).abs().max()):.3g} "
          f"(features up to {float(r.abs().max()):.3g})")
    rng = np.random.default_rng(1)
    for n, d in ((60, 20), (50, 200)):
        a, b = rng.normal(size=(n, d)), rng.normal(0.2, 1.1, size=(n, d))
        args = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
        print(f"Frechet distance, {n} samples of {d} dims: ours {frechet_distance(*args):.6f}, "
              f"pytorch-fid {calculate_frechet_distance(*args):.6f}")
    for net, build in (("alex", torchvision.models.alexnet), ("vgg", torchvision.models.vgg16)):
        backbone = build(weights=None)
        torch.save(backbone.state_dict(), f"{tmp}/{net}.pth")
        ref = ref_lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
        for sl in (ref.net.slice1, ref.net.slice2, ref.net.slice3, ref.net.slice4, ref.net.slice5):
            for name, mod in sl.named_children():
                if isinstance(mod, torch.nn.Conv2d):
                    mod.load_state_dict(backbone.features[int(name)].state_dict())
        lin = os.path.join(os.path.dirname(ref_lpips.__file__), "weights", "v0.1", f"{net}.pth")
        ours = LPIPS.from_files(f"{tmp}/{net}.pth", lin)
        x, y = torch.rand(4, 3, 64, 64) * 2 - 1, torch.rand(4, 3, 64, 64) * 2 - 1
        with torch.no_grad():
            r, o = ref(x, y).flatten(), ours(x, y)
        print(f"LPIPS {net} (lpips's linear layers): max |diff| {float((r - o).abs().max()):.3g} "
              f"(values {float(r.min()):.4f}-{float(r.max()):.4f})")
    # the training losses' VGG features (PConv's pool1-3) against torchvision's own VGG
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    for name, build, pools in (("vgg16", torchvision.models.vgg16, (4, 9, 16)),
                               ("vgg19", torchvision.models.vgg19, (4, 9, 18))):
        tv = build(weights=None).eval()
        torch.save(tv.state_dict(), f"{tmp}/{name}-full.pth")
        ours = VGGFeatures.from_file(f"{tmp}/{name}-full.pth", taps=("pool1", "pool2", "pool3"))
        x = torch.rand(2, 3, 64, 64) * 2 - 1
        with torch.no_grad():
            ref = [tv.features[:p + 1](((x + 1) / 2 - mean) / std) for p in pools]
            diff = max(float((a - b).abs().max()) for a, b in zip(ref, ours(x)))
        print(f"{name} pool1-3 features for the training losses: max |diff| {diff:.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
