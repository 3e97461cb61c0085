"""EdgeConnect (Nazeri et al. 2019; https://github.com/knazeri/edge-connect, ``models.py`` and ``config.yml``).

Edge stage: non-saturating GAN ("nsgan", the repo's default ``GAN_LOSS``; our ``vanilla``) on a
spectral-norm PatchGAN that sees ``cat(gray, edges)`` (weight 1) + discriminator feature matching
(weight 10, L1 summed over the discriminator's five blocks as the repo).
Image stage: L1 over the whole image divided by the hole fraction (weight 1), nsgan on an RGB
PatchGAN that sees the raw output (weight 0.1), perceptual (0.1) and style on the hole (250).

Schedule: the paper trains the edge model, then the image model on true edges, then fine-tunes
both; we train both jointly from the start (the repo's ``MODEL: 4`` "joint" mode: predicted edges,
detached, feed the image generator) so one run gives a usable model. ``stage`` = ``'edge'`` /
``'inpaint'`` (image generator on true Canny edges) / ``'joint'`` selects the paper's stages.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...models.edgeconnect import to_gray
from ...models.edgeconnect_train import RandomFeatureNet, edge_discriminator, image_discriminator
from .. import losses as L
from ..recipe import Recipe, register_recipe

STAGES = ("edge", "inpaint", "joint")


@register_recipe("edgeconnect")
class EdgeConnectRecipe(Recipe):
    default_options = {"stage": "joint", "d_width": 32, "edge_adv_weight": 1.0, "fm_weight": 10.0,
                       "l1_weight": 1.0, "adv_weight": 0.1, "perceptual_weight": 0.1, "style_weight": 250.0,
                       "feature_width": 16, "feature_seed": 0}
    adversarial = "vanilla"
    notes = ("Edge stage: nsgan (non-saturating BCE, the repo's default) + feature matching x10; image stage: "
             "L1 x1 + nsgan x0.1 + perceptual x0.1 + style x250. Perceptual/style features come from a fixed, "
             "seeded random-init 4-level VGG-shaped encoder (no pretrained VGG-19 is available offline). "
             "Both stages trained jointly (the repo's joint mode), not the paper's staged schedule.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.opt["stage"] not in STAGES:
            raise ValueError(f"edgeconnect: stage must be one of {STAGES}, got {self.opt['stage']!r}")
        self.features = RandomFeatureNet(self.opt["feature_width"], self.opt["feature_seed"])

    def build_discriminators(self):
        w = self.opt["d_width"]
        return {"edge_d": edge_discriminator(w), "image_d": image_discriminator(w)}

    def forward_generator(self, batch):
        image, mask, edges = batch["image"], batch["mask"], batch["edges"]
        return self.generator.forward_train(image * (1 - mask), mask, edges, stage=self.opt["stage"],
                                            true_edges=edges, **self.fill_kwargs(batch))

    def _edge_losses(self, batch, out):
        gray = to_gray(batch["image"])
        d = self.discriminators["edge_d"]
        fake_logits, fake_feats = d(torch.cat([gray, out["edges_pred"]], 1), return_features=True)
        with torch.no_grad():
            _, real_feats = d(torch.cat([gray, batch["edges"]], 1), return_features=True)
        adv = self.adv_g(fake_logits)
        fm = L.feature_matching(real_feats, fake_feats) * len(real_feats)  # the repo sums over blocks
        loss = self.opt["edge_adv_weight"] * adv + self.opt["fm_weight"] * fm
        return loss, {"edge_adv_g": adv.item(), "edge_fm": fm.item()}

    def _image_losses(self, batch, out):
        image, mask, pred = batch["image"], batch["mask"], out["output"]
        l1 = F.l1_loss(pred, image) / mask.mean().clamp_min(1e-3)
        adv = self.adv_g(self.discriminators["image_d"](pred))
        self.features.to(pred.device)
        perc = L.perceptual(self.features(image), self.features(pred))
        sty = L.style(self.features(image * mask), self.features(pred * mask))
        o = self.opt
        loss = (o["l1_weight"] * l1 + o["adv_weight"] * adv + o["perceptual_weight"] * perc
                + o["style_weight"] * sty)
        return loss, {"l1": l1.item(), "adv_g": adv.item(), "perceptual": perc.item(), "style": sty.item()}

    def generator_step(self, batch):
        out = self.forward_generator(batch)
        loss, logs = 0.0, {}
        if self.opt["stage"] in ("edge", "joint"):
            edge_loss, edge_logs = self._edge_losses(batch, out)
            loss, logs = loss + edge_loss, {**logs, **edge_logs}
        if self.opt["stage"] in ("inpaint", "joint"):
            image_loss, image_logs = self._image_losses(batch, out)
            loss, logs = loss + image_loss, {**logs, **image_logs}
        return loss, logs, out

    def discriminator_step(self, batch, outputs):
        loss, logs = 0.0, {}
        if self.opt["stage"] in ("edge", "joint"):
            gray = to_gray(batch["image"])
            d = self.discriminators["edge_d"]
            edge_d = self.adv_d(d(torch.cat([gray, batch["edges"]], 1)),
                                d(torch.cat([gray, outputs["edges_pred"].detach()], 1)))
            loss, logs["edge_adv_d"] = loss + edge_d, edge_d.item()
        if self.opt["stage"] in ("inpaint", "joint"):
            d = self.discriminators["image_d"]
            image_d = self.adv_d(d(batch["image"]), d(outputs["output"].detach()))
            loss, logs["adv_d"] = loss + image_d, image_d.item()
        return loss, logs
