"""Multi-scale neural patch synthesis (Yang et al. 2017): trains the content network only, as the paper
(its texture stage is an optimisation at inference, nothing to learn): hole-weighted L2 + vanilla GAN
with Context Encoder's weights (0.999 / 0.001)."""

from __future__ import annotations

from ...models.msnps_train import MSNPSDiscriminator
from .. import losses as L
from ..recipe import Recipe, register_recipe


@register_recipe("msnps")
class MSNPSRecipe(Recipe):
    default_options = {"rec_weight": 0.999, "adv_weight": 0.001, "hole_weight": 10.0, "d_width": 64}
    adversarial = "vanilla"
    notes = ("Content network only: L2 reconstruction (hole pixels weighted 10x) + vanilla GAN (0.001) with a "
             "Context-Encoder-like conv discriminator on the composited image. The texture stage is optimised "
             "at inference with a fixed, seeded random-init conv encoder as the neural-patch feature network "
             "(no pretrained VGG).")

    def build_discriminators(self):
        return {"d": MSNPSDiscriminator(width=self.opt["d_width"])}

    def generator_step(self, batch):
        out = self.forward_generator(batch)  # training mode: the content network's prediction
        rec = L.masked_reconstruction(out["output"], batch["image"], batch["mask"], norm="l2",
                                      hole_weight=self.opt["hole_weight"])
        adv = self.adv_g(self.discriminators["d"](self.composite(out["output"], batch)))
        loss = self.opt["rec_weight"] * rec + self.opt["adv_weight"] * adv
        return loss, {"rec": rec.item(), "adv_g": adv.item()}, out

    def discriminator_step(self, batch, outputs):
        d = self.discriminators["d"]
        fake = self.composite(outputs["output"].detach(), batch)
        loss = self.adv_d(d(batch["image"]), d(fake))
        return loss, {"adv_d": loss.item()}
