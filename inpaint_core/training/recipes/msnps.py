"""Multi-scale neural patch synthesis (Yang et al. 2017): trains the content network only, as the paper
(its texture stage is an optimisation at inference, nothing to learn): hole-weighted L2 + vanilla GAN
with Context Encoder's weights (0.999 / 0.001)."""

from __future__ import annotations

from ...models.msnps_train import MSNPSDiscriminator
from ..recipe import register_recipe
from .context_encoder import ContextEncoderRecipe


@register_recipe("msnps")
class MSNPSRecipe(ContextEncoderRecipe):
    """The Context Encoder recipe with MSNPS's own discriminator."""

    notes = ("Content network only: L2 reconstruction (hole pixels weighted 10x) + vanilla GAN (0.001) with a "
             "Context-Encoder-like conv discriminator on the composited image. The texture stage is optimised "
             "at inference with a fixed, seeded random-init conv encoder as the neural-patch feature network "
             "(no pretrained VGG).")

    def build_discriminators(self):
        return {"d": MSNPSDiscriminator(width=self.opt["d_width"])}
