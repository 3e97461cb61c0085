"""DeepFill v1 (Yu et al. 2018): spatially discounted L1 on the hole and L1 on the known region, for
the coarse and the refined output, plus WGAN-GP with a global and a local critic (reference
``inpaint_model.py`` / ``inpaint.yml`` of v1.0.0: l1 and ae alphas 1.2, coarse alpha 1.2,
GAN alpha 0.001, global WGAN alpha 1, gradient-penalty lambda 10 with the penalty masked to the hole)."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ...models.deepfill_v1_train import global_critic, local_critic
from .. import losses as L
from ..recipe import Recipe, register_recipe
from .glcic import hole_patches


def spatial_discount(mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """``gamma ** d`` inside the hole, ``d`` the Euclidean distance in pixels to the nearest known
    pixel (the reference's rectangle-only weights generalised to free-form holes); 0 outside."""
    holes = (mask[:, 0] > 0.5).cpu().numpy().astype(np.uint8)
    dist = np.stack([cv2.distanceTransform(h, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) for h in holes])[:, None]
    return torch.from_numpy(gamma ** dist).to(mask) * (mask > 0.5).to(mask)


@register_recipe("deepfill_v1")
class DeepFillV1Recipe(Recipe):
    default_options = {"l1_weight": 1.2, "ae_weight": 1.2, "coarse_weight": 1.2, "gamma": 0.99,
                       "adv_weight": 0.001, "global_weight": 1.0, "gp_weight": 10.0, "d_width": 32}
    adversarial = "wgan"
    notes = ("Spatially discounted L1 in the hole (gamma 0.99 per pixel of distance to the known region) "
             "and L1 on the known region, coarse and refined outputs; WGAN-GP with global and local "
             "(half-side patch on the hole) critics, penalty on the hole; one critic step per "
             "generator step (the reference takes five).")

    def build_discriminators(self):
        s, w = self.resolution, self.opt["d_width"]
        return {"global": global_critic(s, w), "local": local_critic(s // 2, w)}

    def _local(self, x, mask):
        return hole_patches(x, mask, self.resolution // 2)

    def _reconstruction(self, pred, target, mask, discount):
        hole = ((pred - target).abs() * discount).sum() / (3 * mask.sum()).clamp_min(1)
        known = ((pred - target).abs() * (1 - mask)).sum() / (3 * (1 - mask).sum()).clamp_min(1)
        return hole, known

    def generator_step(self, batch):
        out = self.forward_generator(batch)
        image, mask, o = batch["image"], batch["mask"], self.opt
        discount = spatial_discount(mask, o["gamma"])
        hole_c, known_c = self._reconstruction(out["coarse"], image, mask, discount)
        hole_r, known_r = self._reconstruction(out["output"], image, mask, discount)
        l1 = o["coarse_weight"] * hole_c + hole_r
        ae = o["coarse_weight"] * known_c + known_r
        fake = self.composite(out["output"], batch)
        adv = (self.adv_g(self.discriminators["local"](self._local(fake, mask)))
               + o["global_weight"] * self.adv_g(self.discriminators["global"](fake)))
        loss = o["l1_weight"] * l1 + o["ae_weight"] * ae + o["adv_weight"] * adv
        return loss, {"l1": l1.item(), "ae": ae.item(), "adv_g": adv.item()}, out

    def discriminator_step(self, batch, outputs):
        image, mask, o = batch["image"], batch["mask"], self.opt
        fake = self.composite(outputs["output"].detach(), batch)
        d_g, d_l = self.discriminators["global"], self.discriminators["local"]
        real_l, fake_l, mask_l = self._local(image, mask), self._local(fake, mask), self._local(mask, mask)
        wgan = self.adv_d(d_g(image), d_g(fake)) + self.adv_d(d_l(real_l), d_l(fake_l))
        gp = (L.gradient_penalty(d_g, image, fake, mask, o["gp_weight"])
              + L.gradient_penalty(d_l, real_l, fake_l, mask_l, o["gp_weight"]))
        return wgan + gp, {"wgan_d": wgan.item(), "gp": gp.item()}
