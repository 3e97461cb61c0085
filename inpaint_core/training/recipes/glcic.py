"""GLCIC (Iizuka et al. 2017): MSE on the hole + vanilla GAN (alpha = 0.0004) with global and local
discriminators; the local one sees a patch of half the side centred on the hole.

Schedule: the paper trains the completion network alone with MSE for T_C iterations (90,000 of
500,000) before the discriminators join; ``warmup_steps`` is T_C here (0 = adversarial from the start).
During the warm-up no discriminator runs, so a step costs about half. ``beta1`` is Adam's (0.5, the
GAN habit; 0.9 averages the noisy gradients of a long MSE-only phase better)."""

from __future__ import annotations

import torch

from ...models.glcic_train import GLCICDiscriminator
from .. import losses as L
from ..recipe import Recipe, register_recipe


def hole_patches(x: torch.Tensor, mask: torch.Tensor, side: int) -> torch.Tensor:
    """Crops of ``side`` centred on each sample's hole (clamped to the image). B×C×side×side."""
    out = []
    h, w = x.shape[-2:]
    for i in range(x.shape[0]):
        ys, xs = torch.nonzero(mask[i, 0] > 0.5, as_tuple=True)
        cy, cx = (int(ys.float().mean()), int(xs.float().mean())) if len(ys) else (h // 2, w // 2)
        y0 = min(max(cy - side // 2, 0), h - side)
        x0 = min(max(cx - side // 2, 0), w - side)
        out.append(x[i:i + 1, :, y0:y0 + side, x0:x0 + side])
    return torch.cat(out)


@register_recipe("glcic")
class GLCICRecipe(Recipe):
    default_options = {"adv_weight": 0.0004, "d_width": 32, "warmup_steps": 0, "beta1": 0.5}
    adversarial = "vanilla"
    notes = "MSE reconstruction + vanilla GAN with the paper's global and local discriminators."

    def build_discriminators(self):
        s = self.resolution
        return {"d": GLCICDiscriminator(global_size=s, local_size=s // 2, width=self.opt["d_width"])}

    def _d(self, x, batch):
        return self.discriminators["d"](x, hole_patches(x, batch["mask"], self.resolution // 2))

    def generator_step(self, batch):
        out = self.forward_generator(batch)
        rec = L.masked_reconstruction(out["output"], batch["image"], batch["mask"], norm="l2")
        if self.step < self.opt["warmup_steps"]:
            return rec, {"rec": rec.item()}, out
        adv = self.adv_g(self._d(self.composite(out["output"], batch), batch))
        loss = rec + self.opt["adv_weight"] * adv
        return loss, {"rec": rec.item(), "adv_g": adv.item()}, out

    def discriminator_step(self, batch, outputs):
        if self.step < self.opt["warmup_steps"]:
            return None
        fake = self.composite(outputs["output"].detach(), batch)
        loss = self.adv_d(self._d(batch["image"], batch), self._d(fake, batch))
        return loss, {"adv_d": loss.item()}
