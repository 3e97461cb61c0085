"""Private helpers shared by the layer files: shape checks and small factories.

Not part of the public API; every public op calls :func:`check_bchw` / :func:`check_mask` at its top
so a wrong shape fails with a readable ``ValueError`` before any convolution runs.
"""

from __future__ import annotations

from typing import Callable, Optional, Type, Union

import torch
from torch import nn

ActivationArg = Union[None, nn.Module, Type[nn.Module], Callable[[], nn.Module]]


def check_bchw(x: torch.Tensor, name: str, channels: Optional[int] = None) -> None:
    """Raise ``ValueError`` unless ``x`` is a floating ``B×C×H×W`` tensor (with ``C == channels``)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a B×C×H×W tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating tensor, got {x.dtype}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name}: expected {channels} channels, got shape {tuple(x.shape)}")


def check_mask(mask: torch.Tensor, like: torch.Tensor, name: str = "mask", same_size: bool = True) -> None:
    """Raise ``ValueError`` unless ``mask`` is ``B×1×H×W`` with the batch (and size) of ``like``."""
    check_bchw(mask, name, channels=1)
    if mask.shape[0] != like.shape[0]:
        raise ValueError(f"{name}: batch {mask.shape[0]} does not match the features' batch {like.shape[0]}")
    if same_size and mask.shape[-2:] != like.shape[-2:]:
        raise ValueError(f"{name}: size {tuple(mask.shape[-2:])} does not match {tuple(like.shape[-2:])}")


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Symmetric padding that keeps ``H×W`` at stride 1 (``ceil(H / stride)`` otherwise); odd kernels only."""
    if kernel_size % 2 != 1:
        raise ValueError(f"padding='same' needs an odd kernel_size, got {kernel_size}")
    return dilation * (kernel_size - 1) // 2


def resolve_padding(padding: Union[str, int], kernel_size: int, dilation: int = 1) -> int:
    if padding == "same":
        return same_padding(kernel_size, dilation)
    if isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
        return padding
    raise ValueError(f"padding must be 'same' or a non-negative int, got {padding!r}")


def make_activation(activation: ActivationArg) -> nn.Module:
    """``None`` -> identity; a module instance is used as is; a class or factory is called with no args."""
    if activation is None:
        return nn.Identity()
    if isinstance(activation, nn.Module):
        return activation
    if callable(activation):
        module = activation()
        if not isinstance(module, nn.Module):
            raise ValueError(f"activation factory returned {type(module).__name__}, not an nn.Module")
        return module
    raise ValueError(f"activation must be None, an nn.Module or a factory, got {activation!r}")


def make_norm(norm: str, channels: int) -> nn.Module:
    """``'instance'`` (no affine, no running stats, as EdgeConnect), ``'batch'`` or ``'none'``."""
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'instance', 'batch' or 'none', got {norm!r}")


def maybe_spectral_norm(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap ``module.weight`` in spectral normalisation (parametrization API) when ``enabled``."""
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module

