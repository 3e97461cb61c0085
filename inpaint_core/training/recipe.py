"""How each method trains: a :class:`Recipe` per registered model, found by name.

A recipe owns the method's discriminators and losses (architectures know nothing about losses,
LaMa style). The trainer gives it batches (dicts with ``image`` 3×S×S in [-1, 1], ``mask`` 1×S×S
with 1 = hole, and ``edges`` when ``needs_edges``) and calls, per step:

1. ``generator_step(batch) -> (loss, logs, outputs)``: the generator's total loss; ``outputs`` holds
   at least ``"output"`` (B×3×S×S in [-1, 1], raw, not composited) for the discriminator step and
   sample grids;
2. ``discriminator_step(batch, outputs) -> (loss, logs)``: the discriminators' total loss, with the
   generator's outputs detached. Recipes without discriminators return ``None``.

``logs`` are ``{name: float}`` for the training log. Register with ``@register_recipe("name")``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from . import losses as L

_RECIPES: dict[str, type["Recipe"]] = {}


def register_recipe(name: str) -> Callable[[type["Recipe"]], type["Recipe"]]:
    def deco(cls: type["Recipe"]) -> type["Recipe"]:
        if name in _RECIPES:
            raise ValueError(f"a training recipe for {name!r} is already registered")
        cls.name = name
        _RECIPES[name] = cls
        return cls
    return deco


def get_recipe(name: str) -> type["Recipe"]:
    from . import recipes  # noqa: F401  (the recipes register themselves on import)

    if name not in _RECIPES:
        raise KeyError(f"no training recipe for {name!r}; known: {sorted(_RECIPES)}")
    return _RECIPES[name]


def list_recipes() -> list[str]:
    from . import recipes  # noqa: F401

    return sorted(_RECIPES)


class Recipe:
    """Base: reconstruction + one adversarial term; subclasses build discriminators and losses.

    Args:
        generator: the model's generator (training mode).
        options: recipe options (weights of the loss terms, adversarial kind...), defaults in
            ``default_options``; unknown keys are refused.
        resolution: training crop side.
    """

    name = ""
    default_options: dict[str, Any] = {}
    adversarial = "vanilla"
    #: a short sentence for the model card, e.g. which feature network the perceptual loss uses
    notes = ""

    #: Steps completed before the current one (set by the trainer; schedules read it).
    step: int = 0

    @classmethod
    def check_options(cls, options: dict[str, Any] | None) -> None:
        """Refuse options the recipe does not have, naming the ones it has (before anything is built)."""
        unknown = sorted(set(options or {}) - set(cls.default_options))
        if unknown:
            raise ValueError(f"{cls.name}: unknown training (recipe) option(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(cls.default_options))}")

    def __init__(self, generator: nn.Module, options: dict[str, Any] | None = None, resolution: int = 128):
        self.check_options(options)
        self.opt = {**self.default_options, **(options or {})}
        self.generator = generator
        self.resolution = resolution
        self.discriminators: dict[str, nn.Module] = self.build_discriminators()

    def build_discriminators(self) -> dict[str, nn.Module]:
        return {}

    def forward_generator(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        kw = self.fill_kwargs(batch)
        fn = getattr(self.generator, "forward_train", None)
        if fn is not None:
            out = fn(image * (1 - mask), mask, batch.get("edges"), **kw)
            return out if isinstance(out, dict) else {"output": out}
        return {"output": self.generator(image * (1 - mask), mask, batch.get("edges"), **kw)}

    @staticmethod
    def fill_kwargs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{"fill": ...}`` when the loader computed the generator's classical fill (a
        :class:`~inpaint_core.models.prefill.Prefilled` generator), else nothing."""
        return {"fill": batch["fill"]} if "fill" in batch else {}

    def generator_step(self, batch):  # pragma: no cover - abstract
        raise NotImplementedError

    def discriminator_step(self, batch, outputs):
        return None

    # helpers shared by recipes
    @staticmethod
    def composite(output: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return output * batch["mask"] + batch["image"] * (1 - batch["mask"])

    def adv_g(self, logits: torch.Tensor) -> torch.Tensor:
        return L.generator_adversarial(logits, self.adversarial)

    def adv_d(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return L.discriminator_adversarial(real, fake, self.adversarial)
