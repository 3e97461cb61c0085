"""Context Encoder (Pathak et al. 2016): L2 reconstruction (hole-weighted) + vanilla adversarial (0.001).

``ssim_weight`` (default 0, the paper's loss) adds ``1 - SSIM`` of the composite over the hole's
windows (:func:`~inpaint_core.training.losses.masked_ssim_loss`), the metric the evaluation reports.
"""

from __future__ import annotations

from ...models.context_encoder_train import ContextEncoderDiscriminator
from .. import losses as L
from ..recipe import Recipe, register_recipe


@register_recipe("context_encoder")
class ContextEncoderRecipe(Recipe):
    default_options = {"rec_weight": 0.999, "adv_weight": 0.001, "hole_weight": 10.0, "d_width": 64,
                       "ssim_weight": 0.0}
    adversarial = "vanilla"
    notes = ("L2 reconstruction (hole pixels weighted 10x, as the paper's overlap weighting) + vanilla GAN; "
             "with ssim_weight > 0, + 1-SSIM of the composite over the windows touching the hole.")

    def build_discriminators(self):
        g = self.generator
        return {"d": ContextEncoderDiscriminator(resolution=g.resolution, width=self.opt["d_width"])}

    def generator_step(self, batch):
        out = self.forward_generator(batch)
        rec = L.masked_reconstruction(out["output"], batch["image"], batch["mask"], norm="l2",
                                      hole_weight=self.opt["hole_weight"])
        adv = self.adv_g(self.discriminators["d"](self.composite(out["output"], batch)))
        loss = self.opt["rec_weight"] * rec + self.opt["adv_weight"] * adv
        logs = {"rec": rec.item(), "adv_g": adv.item()}
        if self.opt["ssim_weight"]:
            ssim = L.masked_ssim_loss(out["output"], batch["image"], batch["mask"])
            loss = loss + self.opt["ssim_weight"] * ssim
            logs["ssim"] = ssim.item()
        return loss, logs, out

    def discriminator_step(self, batch, outputs):
        d = self.discriminators["d"]
        fake = self.composite(outputs["output"].detach(), batch)
        loss = self.adv_d(d(batch["image"]), d(fake))
        return loss, {"adv_d": loss.item()}
