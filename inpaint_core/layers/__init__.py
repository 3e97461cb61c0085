"""Shared building blocks of the GAN-inpainting methods (issue 3), one concept per file.

Conventions: tensors are float ``B×C×H×W``; images are in [-1, 1] inside networks; masks are ``B×1×H×W``
float with **1 = hole** (partial convolutions take ``valid = 1 - mask``, see :func:`to_valid`). Every
public op checks shapes at its top and raises ``ValueError``. Ops are pure functions with a thin
``nn.Module`` wrapper (kornia style); models import building blocks only from here.
"""

from .contextual_attention import ContextualAttention, contextual_attention
from .dilated_res import DilatedResBlock, dilated_stack
from .gated_conv import GatedConv2d, GatedDeconv2d, gated_conv2d
from .mask_utils import composite, downsample_mask, to_valid
from .partial_conv import PartialConv2d, partial_conv2d
from .patchgan import PatchDiscriminator, SNPatchGAN
from .resample import UpConv, up_conv
from .shift import ShiftLayer, feature_hole_mask, guidance_loss, shift_features

__all__ = [
    "contextual_attention", "ContextualAttention",
    "DilatedResBlock", "dilated_stack",
    "gated_conv2d", "GatedConv2d", "GatedDeconv2d",
    "composite", "downsample_mask", "to_valid",
    "partial_conv2d", "PartialConv2d",
    "PatchDiscriminator", "SNPatchGAN",
    "up_conv", "UpConv",
    "shift_features", "ShiftLayer", "feature_hole_mask", "guidance_loss",
]
