"""One registry for every inpainting method, classical and learned (timm style).

Adding a method is one decorator in one file::

    @register_inpainter("telea", kind="classical", description="OpenCV fast marching (Telea 2004)")
    class TeleaInpainter(ClassicalInpainter): ...

and ``create_inpainter("telea", radius=5)`` builds it. A registered factory (usually the class
itself) is called as ``factory(checkpoint=..., device=..., **options)``; options it does not accept
are refused by name here, before construction, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

from inpaint_core.errors import UnknownMethodError

__all__ = ["register_inpainter", "list_inpainters", "create_inpainter", "inpainter_info"]

KINDS = ("classical", "learned")


@dataclass(frozen=True)
class _Entry:
    name: str
    kind: str
    description: str
    factory: Callable[..., Any]


_REGISTRY: dict[str, _Entry] = {}


def register_inpainter(name: str, *, kind: str, description: str) -> Callable:
    """Decorator registering a factory or an ``Inpainter`` subclass under ``name``.

    When the decorated object is a class, ``name`` and ``kind`` are also set on it, so instances
    carry them without repeating the strings.

    Raises:
        ValueError: for an unknown ``kind`` or a name that is already registered.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    def decorator(factory: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"an inpainter named {name!r} is already registered")
        if inspect.isclass(factory):
            factory.name = name
            factory.kind = kind
        _REGISTRY[name] = _Entry(name, kind, description, factory)
        return factory

    return decorator


def list_inpainters(kind: str | None = None) -> list[str]:
    """Sorted names of the registered inpainters, optionally only those of one ``kind``."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None, got {kind!r}")
    return sorted(n for n, e in _REGISTRY.items() if kind is None or e.kind == kind)


def _entry(name: str) -> _Entry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMethodError(
            f"unknown inpainting method {name!r}; known methods: {', '.join(list_inpainters())}"
        ) from None


def inpainter_info(name: str) -> dict[str, str]:
    """``{"name", "kind", "description"}`` of a registered inpainter.

    Raises:
        UnknownMethodError: if nothing is registered under ``name``.
    """
    entry = _entry(name)
    return {"name": entry.name, "kind": entry.kind, "description": entry.description}


def _accepted_options(factory: Callable) -> set[str] | None:
    """Keyword names the factory accepts, or None when it takes ``**kwargs`` (it checks itself)."""
    params = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def create_inpainter(name: str, checkpoint: str | None = None, device: str = "auto", **options: Any):
    """Build a registered inpainter.

    Args:
        name: a name from :func:`list_inpainters`.
        checkpoint: path/URL of the weights for learned methods; must be None for classical ones.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; classical methods run on CPU.
        **options: method-specific options (e.g. ``radius=5`` for ``telea``).

    Returns:
        An :class:`~inpaint_core.inpainters.base.Inpainter`.

    Raises:
        UnknownMethodError: for an unknown ``name`` (the message lists the known names).
        TypeError: for an option the method does not accept (the message names it).
        ValueError: for an option value the method refuses.
    """
    entry = _entry(name)
    accepted = _accepted_options(entry.factory)
    if accepted is not None:
        unknown = sorted(set(options) - (accepted - {"checkpoint", "device"}))
        if unknown:
            valid = sorted(accepted - {"checkpoint", "device"})
            raise TypeError(f"inpainter {name!r} got unknown option(s) {unknown}; it accepts {valid}")
    inpainter = entry.factory(checkpoint=checkpoint, device=device, **options)
    # A factory function (not a class) cannot know its registered name; stamp it.
    inpainter.name, inpainter.kind = entry.name, entry.kind
    return inpainter
