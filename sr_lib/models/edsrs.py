"""EDSR-baseline: a light residual x2 / x3 / x4 network without BatchNorm (the shipped ``edsr_x4``).

- :func:`edsr` — Lim et al. 2017, "Enhanced Deep Residual Networks for Single Image Super-Resolution"
  (arXiv 1707.02921), the *baseline* model of their Fig. 2 / Table 1: SRResNet with the BatchNorm
  layers and the ReLU after the residual add taken out, no residual scaling, a sub-pixel tail.

(The module is named ``edsrs`` so that the factory ``edsr`` is not shadowed by a module of the same
name in :mod:`sr_lib.models`.)
"""

from __future__ import annotations

import keras
from keras import layers

from sr_lib.layers import BicubicUpsampling, SubPixelConv2D
from sr_lib.models.subpixel import subpixel_stages

__all__ = ["edsr"]


def _residual_block(x, filters: int, name: str):
    """EDSR's residual block (Lim et al. 2017, Fig. 2c): conv3x3 -> ReLU -> conv3x3, plus the input.

    No BatchNorm and no activation after the add; residual scaling is 1 (the baseline's; only their
    wide 256-filter EDSR scales the residual by 0.1).
    """
    y = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv1")(x)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def edsr(scale: int = 4, num_res_blocks: int = 16, filters: int = 64, channels: int = 3,
         bicubic_residual: bool = False, name: str | None = None) -> keras.Model:
    """EDSR-baseline (Lim et al. 2017, arXiv 1707.02921): LR (N, h, w, C) -> SR (N, h*scale, w*scale, C).

    Layout (all convolutions 3 x 3, "same" padding):

    1. head: conv to ``filters`` (linear);
    2. body: ``num_res_blocks`` x [conv -> ReLU -> conv, + input], no BatchNorm, no residual scaling;
       then one conv, and the global skip adds the head's output;
    3. tail: one sub-pixel stage per x2 (x3) factor — conv to ``filters * factor**2`` + pixel shuffle
       (:class:`sr_lib.layers.SubPixelConv2D`, ICNR initialisation, linear as in the paper's
       ``Upsampler``), so x4 is two x2 stages; then a conv to ``channels``.

    The paper's baseline is 16 blocks x 64 filters (1.5 M parameters at x4, RGB); the shipped
    ``edsr_x4`` is smaller so that it trains within an hour on 2 CPU cores (see its registry entry
    and ``benchmarks/train_models.py``). ``edsr(4, 16, 64, channels=3)`` has 1,517,571 parameters.

    Differences from the paper, on purpose: images are [0, 1] in and out (the paper works in
    [0, 255] and subtracts the DIV2K mean RGB; we leave the output linear and not clipped), and
    ``bicubic_residual=True`` (not in the paper) adds the bicubic enlargement of the input
    (:class:`sr_lib.layers.BicubicUpsampling`, the protocol's MATLAB bicubic) and starts the last
    conv at zero, so the untrained network *is* bicubic and a short CPU run only learns the missing
    detail (VDSR's global residual; the paper trains 3 x 10**5 steps and needs no such help).

    Args:
        scale: upscaling factor, a product of 2s and 3s (2, 3, 4, ...).
        num_res_blocks: residual blocks in the body (paper's baseline: 16).
        filters: feature width (paper's baseline: 64).
        channels: 1 for a Y-channel model, 3 for RGB.
        bicubic_residual: add the bicubic enlargement of the input to the output (see above).
        name: model name; default ``edsr_x{scale}_b{num_res_blocks}_f{filters}``.

    Returns:
        A ``keras.Model`` mapping float32 (N, h, w, channels) in [0, 1] (h, w dynamic, >= 2 with the
        bicubic residual) to float32 (N, h*scale, w*scale, channels), nominally [0, 1] (not
        clipped). Under a ``mixed_float16`` policy the last conv and the residual add run in float32,
        so the output is float32 too.
    """
    factors = subpixel_stages(scale)
    inputs = keras.Input((None, None, channels), name="lr")
    x = head = layers.Conv2D(filters, 3, padding="same", name="head_conv")(inputs)
    for block in range(num_res_blocks):
        x = _residual_block(x, filters, f"res_{block}")
    x = layers.Conv2D(filters, 3, padding="same", name="body_conv")(x)
    x = layers.Add(name="global_skip")([head, x])
    for stage, factor in enumerate(factors):
        x = SubPixelConv2D(filters, factor, kernel_size=3, name=f"up_{stage}")(x)
    outputs = layers.Conv2D(channels, 3, padding="same", dtype="float32", name="output",
                            kernel_initializer="zeros" if bicubic_residual else "glorot_uniform")(x)
    if bicubic_residual:
        upsampled = BicubicUpsampling(int(scale), dtype="float32", name="bicubic")(inputs)
        outputs = layers.Add(dtype="float32", name="residual")([upsampled, outputs])
    return keras.Model(inputs, outputs, name=name or f"edsr_x{scale}_b{num_res_blocks}_f{filters}")
