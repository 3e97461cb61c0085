"""Shift-Net (Yan et al. 2018): L1 + guidance loss + vanilla GAN, the paper's weights (Sec. 3.3):
``L = L1 + 0.01 L_guidance + 0.002 L_adv``."""

from __future__ import annotations

from inpaint_core.layers import guidance_loss

from ...models.shiftnet_train import ShiftNetDiscriminator
from .. import losses as L
from ..recipe import Recipe, register_recipe


@register_recipe("shiftnet")
class ShiftNetRecipe(Recipe):
    default_options = {"l1_weight": 1.0, "guidance_weight": 0.01, "adv_weight": 0.002, "d_width": 64}
    adversarial = "vanilla"
    notes = ("L1 on the whole image (weight 1) + guidance loss between the decoder feature at the shift level "
             "and the ground truth's encoder feature at that level (weight 0.01, target without gradient) + "
             "vanilla GAN (weight 0.002) with a 70x70 PatchGAN on the raw output, as the repo "
             "(gan_type vanilla, unconditional D). Weights are the paper's (lambda_g 0.01, lambda_adv 0.002).")

    def build_discriminators(self):
        return {"d": ShiftNetDiscriminator(width=self.opt["d_width"])}

    def generator_step(self, batch):
        image, mask = batch["image"], batch["mask"]
        out = self.forward_generator(batch)
        rec = L.masked_reconstruction(out["output"], image, mask, norm="l1")
        target = self.generator.guidance_target(image, mask)
        guide = guidance_loss(out["decoder_feat"], target, out["mask"], threshold=self.generator.shift.threshold)
        adv = self.adv_g(self.discriminators["d"](out["output"]))
        loss = self.opt["l1_weight"] * rec + self.opt["guidance_weight"] * guide + self.opt["adv_weight"] * adv
        return loss, {"l1": rec.item(), "guidance": guide.item(), "adv_g": adv.item()}, out

    def discriminator_step(self, batch, outputs):
        d = self.discriminators["d"]
        loss = self.adv_d(d(batch["image"]), d(outputs["output"].detach()))
        return loss, {"adv_d": loss.item()}
