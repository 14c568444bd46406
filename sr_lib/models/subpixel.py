"""Sub-pixel convolution: ESPCN and the upsampling heads it is compared with (notebook 01).

- :func:`espcn` — Shi et al. 2016, "Real-Time Single Image and Video Super-Resolution Using an
  Efficient Sub-Pixel Convolutional Neural Network" (arXiv 1609.05158): three convolutions in
  low-resolution space, then one pixel shuffle.
- :func:`upsampling_head` — the four ways to go from LR features to an HR image that notebook 01
  compares on the same body: transposed convolution, resize + convolution, sub-pixel convolution with
  default initialisation, and sub-pixel convolution with ICNR (Aitken et al. 2017, arXiv 1707.02937).
- :func:`subpixel_stages` — an upscaling factor as x2 / x3 pixel-shuffle stages (the tails of
  U-Net and SRResNet).
"""

from __future__ import annotations

import keras
from keras import layers

from sr_lib.layers import ICNR, PixelShuffle

__all__ = ["HEADS", "upsampling_head", "espcn", "subpixel_stages"]

HEADS = ("subpixel_icnr", "subpixel", "transposed", "resize_nearest", "resize_bilinear")


def upsampling_head(x, channels: int, scale: int, kind: str = "subpixel_icnr", kernel_size: int = 3, name: str = "head"):
    """LR feature map (N, h, w, F) -> HR image (N, h*scale, w*scale, channels), no activation.

    All heads see the same LR receptive field (``kernel_size`` LR pixels):

    - ``subpixel_icnr``: conv to ``channels * scale**2`` in LR space + pixel shuffle, ICNR init
      (every sub-pixel starts equal, so no checkerboard at initialisation).
    - ``subpixel``: the same with Keras' default (Glorot) init — sub-pixels start independent.
    - ``transposed``: ``Conv2DTranspose`` with kernel ``kernel_size * scale`` and stride ``scale``;
      Shi et al. show this is the same function class as the sub-pixel head (equal parameters).
    - ``resize_nearest`` / ``resize_bilinear``: upsample the features first, then a
      ``kernel_size * scale`` convolution in HR space — same receptive field, ``scale**2`` times the
      FLOPs per output pixel of the sub-pixel head.
    """
    # The head makes the image, so it runs in float32 under a mixed-precision policy (the Keras mixed
    # precision guide's advice for a model's last layer); under float32 this changes nothing.
    if kind == "subpixel_icnr":
        x = layers.Conv2D(channels * scale**2, kernel_size, padding="same", dtype="float32",
                          kernel_initializer=ICNR("glorot_uniform", scale), name=f"{name}_conv")(x)
        return PixelShuffle(scale, dtype="float32", name=f"{name}_shuffle")(x)
    if kind == "subpixel":
        x = layers.Conv2D(channels * scale**2, kernel_size, padding="same", dtype="float32", name=f"{name}_conv")(x)
        return PixelShuffle(scale, dtype="float32", name=f"{name}_shuffle")(x)
    if kind == "transposed":
        return layers.Conv2DTranspose(channels, kernel_size * scale, strides=scale, padding="same", dtype="float32",
                                      name=f"{name}_deconv")(x)
    if kind in ("resize_nearest", "resize_bilinear"):
        x = layers.UpSampling2D(scale, interpolation=kind.split("_")[1], name=f"{name}_resize")(x)
        return layers.Conv2D(channels, kernel_size * scale, padding="same", dtype="float32", name=f"{name}_conv")(x)
    raise ValueError(f"unknown upsampling head {kind!r}; choose one of {HEADS}")


def espcn(
    scale: int,
    channels: int = 1,
    filters: tuple[int, int] = (64, 32),
    activation: str = "tanh",
    head: str = "subpixel_icnr",
    name: str | None = None,
) -> keras.Model:
    """ESPCN (Shi et al. 2016): 5x5 conv 64 -> 3x3 conv 32 -> 3x3 conv to ``channels * scale**2`` -> shuffle.

    Args:
        scale: upscaling factor r (2, 3, 4, ...).
        channels: 1 for the Y channel (the paper), 3 for RGB.
        filters: widths of the two hidden layers (paper: 64, 32).
        activation: hidden activation; the paper uses tanh.
        head: one of :data:`HEADS`; the paper's is the sub-pixel head (ICNR is our default init).

    Returns:
        A model mapping (N, h, w, channels) in [0, 1] to (N, h*scale, w*scale, channels). The output
        is not clipped (training with MSE wants the raw value); clip when you display or save.
    """
    inputs = keras.Input((None, None, channels), name="lr")
    x = layers.Conv2D(filters[0], 5, padding="same", activation=activation, kernel_initializer="he_normal",
                      name="feature_5x5")(inputs)
    x = layers.Conv2D(filters[1], 3, padding="same", activation=activation, kernel_initializer="he_normal",
                      name="feature_3x3")(x)
    outputs = upsampling_head(x, channels, scale, head, kernel_size=3)
    return keras.Model(inputs, outputs, name=name or f"espcn_x{scale}_{head}")


def subpixel_stages(scale: int) -> list[int]:
    """Split an upscaling factor into sub-pixel stages of x2 and x3 (4 -> [2, 2], 6 -> [2, 3]).

    The upsampling tails of :func:`~sr_lib.models.unet` and :func:`~sr_lib.models.srresnet` run one
    pixel shuffle per stage.
    """
    if isinstance(scale, bool) or int(scale) != scale or scale < 2:
        raise ValueError(f"scale must be an integer >= 2, got {scale!r}")
    scale, factors = int(scale), []
    while scale % 2 == 0:
        factors.append(2)
        scale //= 2
    while scale % 3 == 0:
        factors.append(3)
        scale //= 3
    if scale != 1:
        raise ValueError("scale must be a product of 2s and 3s (2, 3, 4, 6, 8, ...)")
    return factors
