"""The base class of every inpainter: the shared work around a method's own fill (IOPaint style).

The base class validates inputs, cuts windows around the holes (:func:`~inpaint_core.windows.hole_windows`),
calls the subclass hook :meth:`Inpainter._inpaint_batch` once for all windows of all images of a call,
and pastes back only the hole pixels, so every known pixel of the output equals the input, bit for bit.
A method file implements ``__init__`` (options into ``self.params``) and ``_inpaint_batch``, nothing else.

Example:
    >>> from inpaint_core.inpainters import create_inpainter
    >>> telea = create_inpainter("telea", radius=3)
    >>> restored = telea([image], [mask])  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from inpaint_core.windows import hole_windows, validate_mask

__all__ = ["Inpainter"]


def _validate_image(image: Any, what: str, sixteen_bit: bool = False) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        got = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"{what}: expected an HxWx3 RGB array, got {got}")
    if image.dtype != np.uint8 and not (sixteen_bit and image.dtype == np.uint16):
        raise ValueError(f"{what}: expected dtype uint8{' or uint16' if sixteen_bit else ''}, got {image.dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{what}: empty image {image.shape}")


def _validate_batch(images: Sequence, masks: Sequence, edges: Sequence | None, prefix: str,
                    sixteen_bit: bool = False) -> None:
    if len(images) != len(masks):
        raise ValueError(f"got {len(images)} {prefix}s but {len(masks)} masks")
    if edges is not None and len(edges) != len(images):
        raise ValueError(f"got {len(images)} {prefix}s but {len(edges)} edge maps")
    for i, (image, mask) in enumerate(zip(images, masks)):
        _validate_image(image, f"{prefix}s[{i}]", sixteen_bit)
        validate_mask(mask, image.shape[:2], f"masks[{i}]")
        if edges is not None:
            validate_mask(edges[i], image.shape[:2], f"edges[{i}]")


class Inpainter:
    """Fills the holes of RGB images; subclasses implement :meth:`_inpaint_batch`.

    Attributes:
        name: registry name (set by ``register_inpainter``).
        kind: ``"classical"`` or ``"learned"``.
        device: where the method runs (``"cpu"`` for classical methods).
        needs_edges: True if the method wants an edge map (EdgeConnect-style); calls then require
            ``edges``.
        window_margin: context pixels kept around each hole's bounding box when cropping windows.
        window_min_side: minimum window side (a learned model's input size), 0 for none.
        window_multiple: window sides are rounded up to a multiple of this where the image allows.
        sixteen_bit: True if the method also fills uint16 images at their full precision (a 16-bit
            scan's windows then go in at 16 bits; otherwise its 8-bit view does).
        params: resolved options, JSON-serialisable; recorded in the manifest.
    """

    name: str = "base"
    kind: str = "classical"
    device: str = "cpu"
    needs_edges: bool = False
    window_margin: int = 0
    window_min_side: int = 0
    window_multiple: int = 1
    sixteen_bit: bool = False

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={self.device!r}, params={self.params!r})"

    def __call__(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                 edges: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
        """Inpaint whole images, working only on windows around their holes.

        Args:
            images: N arrays HxWx3 uint8 RGB (sizes may differ between images); uint16 too when
                ``sixteen_bit``.
            masks: N arrays HxW bool or uint8, non-zero = hole, same size as their image.
            edges: N arrays HxW bool (edge maps), required when ``needs_edges``; else ignored.

        Returns:
            N new arrays HxWx3 of the inputs' dtype; outside the holes they equal the inputs bit for
            bit. An image with an empty mask comes back as an unchanged copy. The inputs are never
            modified.

        Raises:
            ValueError: on mismatched lengths, shapes or dtypes (the message names the index).
        """
        _validate_batch(images, masks, edges, "image", self.sixteen_bit)
        edges = self._edges_or_canny(images, masks, edges)
        outputs = [np.array(image, copy=True) for image in images]
        crops, crop_masks, crop_edges, places = [], [], [], []
        for i, (image, mask) in enumerate(zip(images, masks)):
            windows = hole_windows(mask, margin=self.window_margin,
                                   min_side=self.window_min_side, multiple=self.window_multiple)
            for window in windows:
                crops.append(image[window.slices])
                crop_masks.append(mask[window.slices])
                if edges is not None and self.needs_edges:
                    crop_edges.append(edges[i][window.slices])
                places.append((i, window))
        results = self.inpaint_windows(crops, crop_masks, crop_edges if self.needs_edges else None)
        for (i, window), result, crop_mask in zip(places, results, crop_masks):
            hole = crop_mask != 0
            outputs[i][window.slices][hole] = result[hole]
        return outputs

    def fills_at_16_bits(self, crop_mask: np.ndarray) -> bool:
        """Whether a uint16 crop with this hole mask is filled at full 16-bit precision. The pipeline
        then sends it at 16 bits, else on the 8-bit view. ``sixteen_bit`` for most methods; ``auto``
        answers per window (True when every hole in it goes to a method that fills at 16 bits)."""
        return self.sixteen_bit

    def inpaint_windows(self, crops: Sequence[np.ndarray], crop_masks: Sequence[np.ndarray],
                        crop_edges: Sequence[np.ndarray] | None = None, *, raw: bool = False):
        """Inpaint crops that the caller already cut around the holes (same contract as ``__call__``).

        The pipeline crops in its prepare stage and sends only crops to the (GPU) inpaint stage;
        this method is that stage's entry point. Crops should carry at least ``window_margin``
        pixels of context around their holes, or results differ from a whole-image run.

        Args:
            crops: N arrays hxwx3 uint8 RGB (uint16 too when ``sixteen_bit``).
            crop_masks: N arrays hxw bool or uint8, non-zero = hole.
            crop_edges: N arrays hxw bool, required when ``needs_edges``.
            raw: also return what the method made of each whole crop before its hole was pasted
                into the input (a generator's own output around the hole: what GLCIC's Poisson
                blending needs; :func:`inpaint_core.blend.glcic_blend`).

        Returns:
            N new arrays hxwx3 of the crops' dtype, equal to the crops outside their holes; ``[]``
            for N = 0. With ``raw``: ``(those, raws)``, a crop without a hole being its own raw.

        Raises:
            ValueError: on mismatched lengths, shapes or dtypes, or a hook returning bad arrays.
        """
        _validate_batch(crops, crop_masks, crop_edges, "crop", self.sixteen_bit)
        crop_edges = self._edges_or_canny(crops, crop_masks, crop_edges)
        outputs = [np.array(crop, copy=True) for crop in crops]
        raws = list(outputs)
        todo = [i for i, m in enumerate(crop_masks) if m.any()]
        if not todo:
            return (outputs, raws) if raw else outputs
        # The hook gets private contiguous copies and bool masks, so it can neither modify the
        # caller's arrays nor has to care about mask encodings.
        batch = [np.array(crops[i], copy=True, order="C") for i in todo]
        batch_masks = [np.asarray(crop_masks[i]) != 0 for i in todo]
        batch_edges = None
        if self.needs_edges:
            batch_edges = [np.asarray(crop_edges[i]) != 0 for i in todo]
        filled = self._inpaint_batch(batch, batch_masks, batch_edges)
        if len(filled) != len(todo):
            raise ValueError(f"{self.name}: _inpaint_batch returned {len(filled)} crops for {len(todo)}")
        for i, result, hole in zip(todo, filled, batch_masks):
            if result.shape != crops[i].shape or result.dtype != crops[i].dtype:
                raise ValueError(f"{self.name}: _inpaint_batch returned {result.shape} {result.dtype} "
                                 f"for a {crops[i].shape} {crops[i].dtype} crop")
            raws[i] = result
            outputs[i][hole] = result[hole]
        return (outputs, raws) if raw else outputs

    def _edges_or_canny(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                        edges: Sequence[np.ndarray] | None) -> Sequence[np.ndarray] | None:
        """The caller's edge maps, or, for a method that needs them, Canny of the known region
        (sigma 2, the EdgeConnect convention; the pipeline passes its edge stage's maps instead)."""
        if not self.needs_edges or edges is not None:
            return edges
        from ..edges import canny_edges

        return [canny_edges(img, np.asarray(m) != 0) for img, m in zip(images, masks)]

    def _inpaint_batch(self, crops: list[np.ndarray], crop_masks: list[np.ndarray],
                       crop_edges: list[np.ndarray] | None) -> list[np.ndarray]:
        """Fill the holes of a batch of crops (the method's own work).

        Args:
            crops: N contiguous hxwx3 uint8 RGB arrays (private copies; may be modified).
            crop_masks: N hxw bool arrays, True = hole; every one has at least one hole pixel.
            crop_edges: N hxw bool edge maps when ``needs_edges``, else None.

        Returns:
            N hxwx3 uint8 arrays; only their hole pixels are used.
        """
        raise NotImplementedError
