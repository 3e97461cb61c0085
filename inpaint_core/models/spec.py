"""What a learned model is, as data, and the one call that registers it as an inpainter.

A model file builds its network and registers a :class:`ModelSpec`; everything else (weights,
device, resizing, batching, paste-back) is done by :class:`~inpaint_core.models.wrapper.TorchInpainter`.

Generator contract, for every model::

    forward(image, mask, edges=None) -> prediction
        image: B x 3 x H x W float in [-1, 1], hole pixels zeroed
        mask:  B x 1 x H x W float, 1 = hole
        edges: B x 1 x H x W float in {0, 1}, or None (given only when ``needs_edges``)
        prediction: B x 3 x H x W in [-1, 1], the raw output (the wrapper composites)

A model may also define ``forward_train(...)`` returning a dict of intermediate outputs for training.

Example:
    >>> register_model(ModelSpec(name="tiny", build=lambda cfg: Tiny(**cfg), default_config={"width": 8},
    ...                          resolution=256, multiple=4, description="..."))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from inpaint_core.inpainters.registry import register_inpainter

__all__ = ["ModelSpec", "register_model", "get_model_spec", "list_models"]


@dataclass(frozen=True)
class ModelSpec:
    """A learned inpainting architecture.

    Attributes:
        name: registry name (``create_inpainter(name)``), also the checkpoint card's ``architecture``.
        build: ``config -> nn.Module`` following the generator contract (module doc).
        default_config: every config key the architecture accepts, with its default; anything else
            is refused by name.
        resolution: working side in pixels: crops are resized so their longer side is this.
        multiple: network input sides must be a multiple of this (padding by reflection).
        needs_edges: the generator wants an edge map (EdgeConnect-style).
        fixed_size: the network only accepts ``resolution x resolution`` inputs (e.g. a fully
            connected bottleneck); the working side is then ``config["resolution"]``.
        description, paper, repo: one line each, shown by ``inpaint methods`` and in the docs.
    """

    name: str
    build: Callable[[dict], nn.Module]
    default_config: dict = field(default_factory=dict)
    resolution: int = 256
    multiple: int = 8
    needs_edges: bool = False
    description: str = ""
    paper: str = ""
    repo: str = ""
    fixed_size: bool = False

    def __post_init__(self) -> None:
        if self.resolution < 1 or self.multiple < 1:
            raise ValueError(f"{self.name}: resolution and multiple must be >= 1")
        if self.fixed_size and "resolution" not in self.default_config:
            raise ValueError(f"{self.name}: a fixed_size model needs a 'resolution' config key")


_SPECS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Register ``spec`` as a ``kind="learned"`` inpainter; returns it (usable as a statement).

    The registered factory is ``(checkpoint=None, device="auto", weights="auto", batch_size=8,
    resolution=None, precision="auto", **config_overrides)``; see :class:`~inpaint_core.models.wrapper.TorchInpainter`.

    Raises:
        ValueError: if the name is already registered.
    """

    def factory(*, checkpoint: str | None = None, device: str = "auto", weights: str = "auto",
                batch_size: int = 8, resolution: int | None = None, precision: str = "auto",
                **config_overrides: Any):
        from inpaint_core.models.wrapper import TorchInpainter  # torch-heavy module, on first use

        return TorchInpainter(spec, checkpoint=checkpoint, device=device, weights=weights,
                              batch_size=batch_size, resolution=resolution, precision=precision,
                              **config_overrides)

    factory.__doc__ = f"{spec.description}\n\nPaper: {spec.paper}\nCode: {spec.repo}"
    register_inpainter(spec.name, kind="learned", description=spec.description)(factory)
    _SPECS[spec.name] = spec
    return spec


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered under ``name``.

    Raises:
        KeyError: if no learned model has that name.
    """
    try:
        return _SPECS[name]
    except KeyError:
        raise KeyError(f"no learned model named {name!r}; known: {', '.join(sorted(_SPECS))}") from None


def list_models() -> list[str]:
    """Sorted names of the registered learned models."""
    return sorted(_SPECS)
