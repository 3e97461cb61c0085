"""DeepFill v2 (Yu et al. 2019): L1 on the coarse and the refined output (whole image, weight 1 each,
as the reference ``inpaint.yml``) plus the SN-PatchGAN hinge loss on ``[completed image, mask]``."""

from __future__ import annotations

import torch

from ...layers import SNPatchGAN
from ..recipe import Recipe, register_recipe


@register_recipe("deepfill_v2")
class DeepFillV2Recipe(Recipe):
    default_options = {"coarse_weight": 1.0, "l1_weight": 1.0, "adv_weight": 1.0, "d_width": 32}
    adversarial = "hinge"
    notes = ("L1 on coarse and refined outputs (weight 1 each) + SN-PatchGAN hinge loss (weight 1, the "
             "reference's GAN alpha; every cell of the flattened map is a score) on the composited image "
             "with the mask as a fourth channel; no perceptual loss.")

    def build_discriminators(self):
        return {"d": SNPatchGAN(4, base=self.opt["d_width"])}

    def _d(self, x, mask):
        return self.discriminators["d"](torch.cat([x, mask], dim=1))

    def generator_step(self, batch):
        out = self.forward_generator(batch)
        image, mask, o = batch["image"], batch["mask"], self.opt
        l1 = (o["coarse_weight"] * (out["coarse"] - image).abs().mean()
              + o["l1_weight"] * (out["output"] - image).abs().mean())
        adv = self.adv_g(self._d(self.composite(out["output"], batch), mask))
        loss = l1 + o["adv_weight"] * adv
        return loss, {"l1": l1.item(), "adv_g": adv.item()}, out

    def discriminator_step(self, batch, outputs):
        mask = batch["mask"]
        fake = self.composite(outputs["output"].detach(), batch)
        loss = self.adv_d(self._d(batch["image"], mask), self._d(fake, mask))
        return loss, {"adv_d": loss.item()}
