"""PGGAN (Demir & Unal 2018, arXiv 1803.07422): L1 reconstruction + LSGAN (least squares, as the
paper) on both heads of one discriminator (global logit and PatchGAN map), with separate weights.

Defaults: reconstruction 0.995, global adversarial 0.0025, patch adversarial 0.0025, our reading of
the paper's weighting (its weights sum to one with the reconstruction dominating); they could not be
checked against the paper offline, so they are options. The discriminator sees the composite
(generated hole, real context), as at inference; L1 is over the whole raw output.
"""

from __future__ import annotations

from ...models.pggan_train import PGGANDiscriminator
from .. import losses as L
from ..recipe import Recipe, register_recipe


@register_recipe("pggan")
class PGGANRecipe(Recipe):
    default_options = {"rec_weight": 0.995, "global_weight": 0.0025, "patch_weight": 0.0025, "d_width": 32}
    adversarial = "lsgan"
    notes = ("L1 reconstruction (0.995) + LSGAN on the global head (0.0025) and the PatchGAN head (0.0025) "
             "of one shared-trunk discriminator; weights are our reading of the paper, unverified offline.")

    def build_discriminators(self):
        return {"d": PGGANDiscriminator(3, width=self.opt["d_width"])}

    def generator_step(self, batch):
        out = self.forward_generator(batch)
        rec = L.masked_reconstruction(out["output"], batch["image"], batch["mask"], norm="l1")
        g_logit, p_logits = self.discriminators["d"](self.composite(out["output"], batch))
        adv_global, adv_patch = self.adv_g(g_logit), self.adv_g(p_logits)
        o = self.opt
        loss = o["rec_weight"] * rec + o["global_weight"] * adv_global + o["patch_weight"] * adv_patch
        return loss, {"rec": rec.item(), "adv_g_global": adv_global.item(), "adv_g_patch": adv_patch.item()}, out

    def discriminator_step(self, batch, outputs):
        d = self.discriminators["d"]
        real_g, real_p = d(batch["image"])
        fake_g, fake_p = d(self.composite(outputs["output"].detach(), batch))
        d_global, d_patch = self.adv_d(real_g, fake_g), self.adv_d(real_p, fake_p)
        return d_global + d_patch, {"adv_d_global": d_global.item(), "adv_d_patch": d_patch.item()}
