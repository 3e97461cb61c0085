"""CTSDG (Guo et al. 2021): L1 valid (1) + hole (6), perceptual (0.05) and style (250) on output and
composite, intermediate losses on the projections (L1 image + BCE edge, 1), vanilla (BCE) GAN (0.1)
with the two-branch texture/structure discriminator.

``ssim_weight`` (default 0, the paper's loss) adds ``1 - SSIM`` of the composite over the hole's
windows (:func:`~inpaint_core.training.losses.masked_ssim_loss`), as the ``context_encoder`` recipe's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...models.ctsdg import to_gray
from ...models.ctsdg_train import CTSDGDiscriminator
from .. import losses as L
from ..recipe import Recipe, register_recipe
from .pconv import freeze_encoder_bn, loss_network, perceptual_style_terms


def bce(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE on probabilities in float32 outside autocast (PyTorch refuses to autocast it)."""
    with torch.autocast(prob.device.type, enabled=False):
        return F.binary_cross_entropy(prob.float().clamp(1e-6, 1 - 1e-6), target.float())


@register_recipe("ctsdg")
class CTSDGRecipe(Recipe):
    default_options = {"valid_weight": 1.0, "hole_weight": 6.0, "perceptual_weight": 0.05, "style_weight": 250.0,
                       "intermediate_weight": 1.0, "adv_weight": 0.1, "detector_weight": 1.0,
                       "d_width": 32, "feature_width": 32, "feature_weights": None, "freeze_encoder_bn": False,
                       "ssim_weight": 0.0}
    adversarial = "vanilla"
    notes = ("CTSDG loss: L1 valid 1 / hole 6, perceptual 0.05 and style 250 (output and composite), "
             "intermediate 1 (L1 of the projected image + BCE of the projected edge map vs Canny edges of the "
             "full crop), vanilla BCE GAN 0.1 (as the repository's nn.BCELoss) on the raw output with a "
             "spectral-norm texture PatchGAN + structure PatchGAN on [edges, gray]. Perceptual/style on a "
             "fixed seeded random-init VGG-shaped encoder (no ImageNet VGG-16 offline; give its file as "
             "feature_weights to use it). The discriminator's "
             "edge detector is also fitted to the real image's Canny edges (BCE, detector_weight). With "
             "ssim_weight > 0, + 1-SSIM of the composite over the windows touching the hole.")

    def __init__(self, generator, options=None, resolution: int = 128):
        super().__init__(generator, options, resolution)
        self.features = loss_network(self)

    def build_discriminators(self):
        return {"d": CTSDGDiscriminator(width=self.opt["d_width"])}

    def generator_step(self, batch):
        if self.opt["freeze_encoder_bn"]:  # the repository's fine-tuning stage (freeze_ec_bn)
            freeze_encoder_bn(self.generator)
        out = self.forward_generator(batch)
        pred, image, mask, edges = out["output"], batch["image"], batch["mask"], batch["edges"]
        comp = self.composite(pred, batch)
        valid = L.masked_reconstruction(pred, image, mask, hole_weight=0.0, valid_weight=1.0)
        hole = L.masked_reconstruction(pred, image, mask, hole_weight=1.0, valid_weight=0.0)
        perc, sty = perceptual_style_terms(self.features, pred, comp, image)
        inter = (F.l1_loss(out["projected_image"], image)
                 + bce(out["projected_edge"], edges))
        logits, _ = self.discriminators["d"](pred, to_gray(image))
        adv = self.adv_g(logits)
        o = self.opt
        loss = (o["valid_weight"] * valid + o["hole_weight"] * hole + o["perceptual_weight"] * perc
                + o["style_weight"] * sty + o["intermediate_weight"] * inter + o["adv_weight"] * adv)
        logs = {"valid": valid.item(), "hole": hole.item(), "perceptual": perc.item(), "style": sty.item(),
                "intermediate": inter.item(), "adv_g": adv.item()}
        if o["ssim_weight"]:
            ssim = L.masked_ssim_loss(pred, image, mask)
            loss = loss + o["ssim_weight"] * ssim
            logs["ssim"] = ssim.item()
        return loss, logs, out

    def discriminator_step(self, batch, outputs):
        d = self.discriminators["d"]
        image, edges = batch["image"], batch["edges"]
        gray = to_gray(image)
        real, detected = d(image, gray, edges)
        fake, _ = d(outputs["output"].detach(), gray)
        adv = self.adv_d(real, fake)
        detector = bce(detected, edges)
        loss = adv + self.opt["detector_weight"] * detector
        return loss, {"adv_d": adv.item(), "edge_detector": detector.item()}
