"""Partial Convolutions (Liu et al. 2018), Eq. 7: L_valid + 6 L_hole + 0.05 L_perceptual
+ 120 (L_style_out + L_style_comp) + 0.1 L_tv. No discriminator (the paper has none).

``freeze_encoder_bn`` is the paper's fine-tuning stage (Sec. 4.1: encoder batch norm frozen, lr 5e-5 set
in the trainer) so BN statistics are not polluted by hole pixels' zeros."""

from __future__ import annotations

import torch
from torch import nn

from ...models.pconv_train import RandomFeatureNet
from ...perceptual import VGGFeatures
from .. import losses as L
from ..recipe import Recipe, register_recipe

#: the layers of ImageNet VGG-16 that PConv's (and CTSDG's) perceptual and style losses read
PAPER_TAPS = ("pool1", "pool2", "pool3")


def loss_network(recipe: Recipe) -> nn.Module:
    """The feature network of the perceptual and style losses: the paper's ImageNet VGG (pool1-3) from
    the ``feature_weights`` file when the user gives one (torchvision's ``vgg16-397923af.pth``), else
    the fixed seeded random encoder. Says which in the recipe's card notes."""
    url = recipe.opt["feature_weights"]
    if not url:
        return RandomFeatureNet(recipe.opt["feature_width"])
    net = VGGFeatures.from_file(url, taps=PAPER_TAPS)
    recipe.notes = (f"{type(recipe).notes} feature_weights given: perceptual/style on ImageNet "
                    f"{net.config.upper()} {', '.join(PAPER_TAPS)} from {url} (sha256 {net.sha256}), "
                    "not the random encoder.")
    return net


def perceptual_style_terms(features: nn.Module, out: torch.Tensor, comp: torch.Tensor,
                           target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """PConv's L_perceptual (out and comp vs target) and L_style_out + L_style_comp on ``features``."""
    features.to(target.device)
    f_gt, f_out, f_comp = features(target), features(out), features(comp)
    perc = L.perceptual(f_gt, f_out) + L.perceptual(f_gt, f_comp)
    sty = L.style(f_gt, f_out) + L.style(f_gt, f_comp)
    return perc, sty


def freeze_encoder_bn(generator: nn.Module) -> None:
    """Put the encoder's batch norms (modules under an ``enc`` list) in eval mode: running statistics used
    and kept, affine parameters still trained (PConv's and CTSDG's fine-tuning stage)."""
    for name, module in generator.named_modules():
        if isinstance(module, nn.BatchNorm2d) and (name.startswith("enc.") or ".enc." in name):
            module.eval()


@register_recipe("pconv")
class PConvRecipe(Recipe):
    default_options = {"valid_weight": 1.0, "hole_weight": 6.0, "perceptual_weight": 0.05,
                       "style_weight": 120.0, "tv_weight": 0.1, "feature_width": 32,
                       "feature_weights": None, "freeze_encoder_bn": False}
    notes = ("Loss of the paper (valid 1, hole 6, perceptual 0.05, style 120 on output and composite, "
             "TV 0.1 on the hole's 1-px dilation); perceptual/style on a fixed seeded random-init "
             "VGG-shaped encoder (3 conv-conv-pool stages), not ImageNet VGG-16 (no download offline; "
             "give its file as feature_weights to use it). No discriminator.")

    def __init__(self, generator, options=None, resolution: int = 128):
        super().__init__(generator, options, resolution)
        self.features = loss_network(self)

    def generator_step(self, batch):
        if self.opt["freeze_encoder_bn"]:
            freeze_encoder_bn(self.generator)
        out = self.forward_generator(batch)
        pred, image, mask = out["output"], batch["image"], batch["mask"]
        comp = self.composite(pred, batch)
        valid = L.masked_reconstruction(pred, image, mask, hole_weight=0.0, valid_weight=1.0)
        hole = L.masked_reconstruction(pred, image, mask, hole_weight=1.0, valid_weight=0.0)
        perc, sty = perceptual_style_terms(self.features, pred, comp, image)
        tv = L.total_variation(comp, mask)
        o = self.opt
        loss = (o["valid_weight"] * valid + o["hole_weight"] * hole + o["perceptual_weight"] * perc
                + o["style_weight"] * sty + o["tv_weight"] * tv)
        logs = {"valid": valid.item(), "hole": hole.item(), "perceptual": perc.item(), "style": sty.item(),
                "tv": tv.item()}
        return loss, logs, out
