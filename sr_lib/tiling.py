"""Tiled inference: upscale an image of any size piece by piece, so memory stays bounded.

A fully convolutional SR model computes each output pixel from a small LR neighbourhood, its
*receptive field*: ``r`` LR pixels on each side (ESPCN: 5x5, 3x3, 3x3 convolutions in LR space give
``r = 2 + 1 + 1 = 4``; the bicubic chroma of the Y-channel recipe needs 2 more). So split the LR
image into ``tile x tile`` cores, cut each core out **with ``overlap`` extra LR pixels on every side**
(fewer where the image ends), upscale that piece, and keep only the part of its output that belongs to
the core. With ``overlap >= r`` every kept output pixel saw exactly the same input values as in the
whole-image run:

- inside the image, the margin holds the real neighbours, so the "same" zero padding at the piece's
  edge only touches outputs that are thrown away;
- at the image border the piece ends where the image ends, so the model pads exactly as it does on
  the whole image.

The kept pixels are therefore the whole-image result (equal up to float rounding of a different
convolution order, far below 1/255), and no blending is needed: cropping is exact where blending
would only average two slightly wrong values. With ``overlap < r`` (deep models such as SRResNet,
whose receptive field is ~40 LR pixels) the result differs near tile seams, in practice by much less
than one grey level because distant pixels contribute little; ``tests/test_tiling.py`` measures both.

Models with stride-2 layers (U-Net, the autoencoder) are only shift-equivariant by multiples of
``2**depth``: pass ``multiple`` and tile origins and sizes are aligned to it.

Memory: the output is allocated once (``out_dtype=np.uint8`` needs a quarter of float32) and
each model call sees one piece of ``(tile + 2 * overlap)**2`` LR pixels; with ``workers`` threads at
most ``3 * workers`` pieces are in flight (``benchmarks/inference_speed.py`` measures the peak).
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

__all__ = ["tile_boxes", "upscale_tiled", "receptive_radius"]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def tile_boxes(height: int, width: int, tile: int, overlap: int, multiple: int = 1) -> Iterator[tuple]:
    """The pieces of an (height, width) LR image, as ``(core, piece)`` boxes ``(y0, y1, x0, x1)``.

    Cores tile the image without gaps or overlaps; each piece is its core grown by ``overlap`` on
    every side and clipped to the image. ``tile`` and ``overlap`` are rounded up to ``multiple``.
    """
    tile, multiple = _positive_int(tile, "tile"), _positive_int(multiple, "multiple")
    if isinstance(overlap, bool) or int(overlap) != overlap or overlap < 0:
        raise ValueError(f"overlap must be an integer >= 0, got {overlap!r}")
    tile = -(-tile // multiple) * multiple
    overlap = -(-int(overlap) // multiple) * multiple
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            piece = (max(0, y0 - overlap), min(height, y1 + overlap), max(0, x0 - overlap), min(width, x1 + overlap))
            yield (y0, y1, x0, x1), piece


def receptive_radius(model) -> int | None:
    """LR pixels on each side that an output pixel of ``model`` can depend on, or None if unknown.

    Known for models built only of stride-1 "same" convolutions (ESPCN, SRCNN-like bodies), with
    pointwise layers (activations, Add, Concatenate) and sub-pixel shuffles *after* the last
    convolution: the sum of the kernels' half-widths (times their dilation) bounds every path through
    the network (ESPCN: 2 + 1 + 1 = 4). Anything else (strides, nested models, a convolution at the
    high resolution, normalisation layers) gives None: cutting such a model with an overlap is not
    known to be exact.
    """
    import keras

    from sr_lib.layers import PixelShuffle

    pointwise = (keras.layers.InputLayer, keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
                 keras.layers.PReLU, keras.layers.Add, keras.layers.Concatenate)
    radius, shuffled = 0, False
    for layer in getattr(model, "layers", None) or []:
        if type(layer) is keras.layers.Conv2D:
            if shuffled or tuple(layer.strides) != (1, 1) or layer.padding != "same":
                return None
            radius += max((k // 2) * d for k, d in zip(layer.kernel_size, layer.dilation_rate))
        elif isinstance(layer, PixelShuffle):
            shuffled = True
        elif not isinstance(layer, pointwise):
            return None
    return radius if getattr(model, "layers", None) else None


def upscale_tiled(
    upscale: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    scale: int | None = None,
    *,
    tile: int | None = 256,
    overlap: int = 16,
    multiple: int = 1,
    out_dtype=np.float32,
    progress: bool = False,
    workers: int = 1,
) -> np.ndarray:
    """Apply ``upscale`` (an (h, w, C) -> (h*scale, w*scale, C') function) to ``image`` tile by tile.

    Args:
        upscale: an :class:`sr_lib.inference.Upscaler` with a fixed scale (e.g.
            ``sr_lib.pretrained.upscaler("espcn_x4")``) or any one-argument function such as
            ``lambda lr: sr_lib.inference.upscale_via_y(model, lr, 4)``; gets float32 (h, w, C)
            pieces in [0, 1] and must return float32 [0, 1] (clipped) images ``scale`` times larger.
        image: (H, W), (H, W, 1) or (H, W, 3); uint8, uint16 or float in [0, 1]
            (:mod:`sr_lib.images`), converted to float32 [0, 1] before it is cut. RGBA raises
            (upscale the alpha separately, as ``python -m sr_lib upscale`` does).
        scale: the upscaling factor; ``None``: the Upscaler's own ``upscale.scale``.
        tile: core side in LR pixels; ``None`` (or a tile larger than the image) runs the whole image at once.
        overlap: LR pixels of context on each side of a core (see the module doc: >= the receptive
            field radius gives the whole-image result).
        multiple: align tiles to this (``2**depth`` for models with stride-2 layers).
        out_dtype: ``np.float32`` or ``np.uint8`` (rounded like :func:`sr_lib.images.to_uint8`;
            a quarter of the memory, what gets written to 8-bit files anyway).
        progress: show a tqdm bar over the tiles.
        workers: tiles processed at once in threads. The NumPy steps around the model (colour
            conversion, bicubic chroma) run on one core each, so 2 workers keep 2 cores busy; every
            tile writes its own part of the output, so the result does not depend on this.

    Returns:
        (H * scale, W * scale, C') array of ``out_dtype``; (H * scale, W * scale) for an (H, W)
        ``image`` when ``upscale`` returns one channel.

    Raises:
        sr_lib.images.ImageError: ``image`` is not an accepted image.
        ValueError: bad ``scale`` (or none given nor known from ``upscale``), ``tile``, ``overlap``,
            ``workers`` or ``out_dtype``, or ``upscale`` returned the wrong size.
    """
    from sr_lib.images import as_float_hwc, same_layout, to_uint8

    restore = same_layout(image)
    image = as_float_hwc(image, "upscale_tiled")
    if scale is None:
        scale = getattr(upscale, "scale", None)
        if scale is None:
            raise ValueError("upscale_tiled: give scale (upscale is not an Upscaler with a fixed scale)")
    scale = _positive_int(scale, "scale")
    if np.dtype(out_dtype) not in (np.dtype(np.float32), np.dtype(np.uint8)):
        raise ValueError(f"out_dtype must be float32 or uint8, got {out_dtype!r}")
    height, width = image.shape[:2]
    if tile is None:
        tile = max(height, width)
    boxes = list(tile_boxes(height, width, tile, overlap, multiple))
    # A piece below the upscaler's min_size (a 1-pixel remainder strip with overlap 0) gets more
    # context: the core is cut out of it as before, so the result is unchanged.
    min_size = getattr(upscale, "min_size", 1)
    if min_size > 1:
        boxes = [(core, _grown(piece, min_size, height, width)) for core, piece in boxes]
    workers = _positive_int(workers, "workers")
    output = None

    def run(box):
        (y0, y1, x0, x1), (py0, py1, px0, px1) = box
        result = np.asarray(upscale(image[py0:py1, px0:px1]))
        if result.ndim == 2:
            result = result[..., None]
        expected = ((py1 - py0) * scale, (px1 - px0) * scale)
        if result.shape[:2] != expected:
            raise ValueError(f"upscale returned {result.shape[:2]} for a {(py1 - py0, px1 - px0)} piece; "
                             f"expected {expected} (scale {scale})")
        core = result[(y0 - py0) * scale:(y1 - py0) * scale, (x0 - px0) * scale:(x1 - px0) * scale]
        if np.issubdtype(core.dtype, np.inexact) and not np.isfinite(core).all():
            bad = int(np.size(core) - np.isfinite(core).sum())
            raise ValueError(f"upscale returned {bad} NaN or infinite values for the tile of input rows "
                             f"{y0}..{y1 - 1}, columns {x0}..{x1 - 1} (a broken model or weights?)")
        return box, to_uint8(core) if np.dtype(out_dtype) == np.uint8 else core

    def store(box, core):
        nonlocal output
        (y0, y1, x0, x1), _ = box
        if output is None:
            output = np.empty((height * scale, width * scale, core.shape[2]), dtype=out_dtype)
        output[y0 * scale:y1 * scale, x0 * scale:x1 * scale] = core

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(boxes), desc="tiles", unit="tile", leave=False)
    if workers == 1 or len(boxes) == 1:
        results = map(run, boxes)
    else:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(workers)
        # Bounded look-ahead: at most 2 * workers finished tiles wait in memory at any time.
        results = _bounded_map(pool, run, boxes, 2 * workers)
    for box, core in results:
        store(box, core)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return restore(output)


def _grown(piece, min_size: int, height: int, width: int) -> tuple:
    """``piece`` (y0, y1, x0, x1) grown to at least ``min_size`` a side where the image allows."""
    y0, y1, x0, x1 = piece
    if y1 - y0 < min_size:
        y1 = min(height, y0 + min_size)
        y0 = max(0, y1 - min_size)
    if x1 - x0 < min_size:
        x1 = min(width, x0 + min_size)
        x0 = max(0, x1 - min_size)
    return y0, y1, x0, x1


def _bounded_map(pool, fn, items, ahead: int):
    """``pool.map`` that submits at most ``ahead`` items beyond the one being consumed."""
    from collections import deque

    pending = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
