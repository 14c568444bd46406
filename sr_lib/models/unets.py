"""U-Net generator and PatchGAN critic: notebook 05 (perceptual loss, then a critic).

- :func:`unet` — a U-Net (Ronneberger et al. 2015, arXiv 1505.04597) in low-resolution space with a
  sub-pixel upsampling tail.
- :func:`patchgan_critic` — the conditional PatchGAN of pix2pix (Isola et al. 2017, arXiv
  1611.07004): one real/fake logit per overlapping 70 x 70 patch. Also CycleGAN's discriminator
  (``norm="instance"``, :mod:`sr_lib.models.gans`).
"""

from __future__ import annotations

import keras
from keras import layers

from sr_lib.layers import InstanceNormalization, SubPixelConv2D
from sr_lib.models.subpixel import subpixel_stages

__all__ = ["unet", "patchgan_critic"]


def unet(
    scale: int = 4,
    channels: int = 3,
    filters: int = 32,
    depth: int = 2,
    residual: bool = True,
    activation: str = "relu",
    name: str | None = None,
) -> keras.Model:
    """U-Net super-resolution generator: LR (N, h, w, C) -> SR (N, h*scale, w*scale, C).

    Layout (``f = filters``, level ``l = 1 .. depth``), all in LR space until the tail::

        enc_0            two 3x3 convs, f                    h x w         -> skip 0
        enc_l            3x3 conv stride 2 + 3x3 conv, f*2**l   h/2**l        -> skip l (the last: bottleneck)
        dec_l            SubPixelConv2D(x2, ICNR) up, concatenate skip l, two 3x3 convs
        up_k             SubPixelConv2D(f, x2 or x3, ICNR) per stage of ``scale``   (the sub-pixel tail)
        output           3x3 conv to C, linear (float32, also under mixed precision)
        residual         [residual] + bicubic upsampling of the input

    Args:
        scale: upscaling factor, a product of 2s and 3s.
        channels: 3 for RGB (the perceptual loss needs colour), 1 for Y.
        filters: width of the LR-resolution level, doubled at each level down.
        depth: stride-2 downsamplings. **h and w must be divisible by 2**depth** (pad outside,
            e.g. ``sr_lib.inference.predict(..., multiple=2**depth)``).
        residual: learn the difference to the bicubic upsampling; the output layer starts at
            zero, so the untrained model is exactly bicubic.

    Returns:
        A model on float32 [0, 1] images; the output is not clipped.
    """
    factors = subpixel_stages(scale)
    if isinstance(depth, bool) or int(depth) != depth or depth < 1:
        raise ValueError(f"unet: depth must be an integer >= 1, got {depth!r}")
    depth, filters = int(depth), int(filters)

    def conv(x, width, name, strides=1):
        return layers.Conv2D(width, 3, strides=strides, padding="same", activation=activation,
                             kernel_initializer="he_normal", name=name)(x)

    inputs = keras.Input((None, None, channels), name="lr")
    x = conv(conv(inputs, filters, "enc_0a"), filters, "enc_0b")
    skips = [x]
    for level in range(1, depth + 1):
        x = conv(x, filters * 2**level, f"enc_{level}_down", strides=2)
        x = conv(x, filters * 2**level, f"enc_{level}")
        skips.append(x)
    for level in range(depth - 1, -1, -1):
        x = SubPixelConv2D(filters * 2**level, 2, activation=activation, name=f"dec_{level}_up")(x)
        x = layers.Concatenate(name=f"dec_{level}_concat")([x, skips[level]])
        x = conv(conv(x, filters * 2**level, f"dec_{level}a"), filters * 2**level, f"dec_{level}b")
    for stage, factor in enumerate(factors):
        x = SubPixelConv2D(filters, factor, activation=activation, name=f"up_{stage}_x{factor}")(x)
    outputs = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros" if residual else "glorot_uniform",
                            dtype="float32", name="output")(x)
    if residual:  # Keras' bicubic, not MATLAB's: see "Three bicubics" in sr_lib.models
        upsampled = layers.UpSampling2D(int(scale), interpolation="bicubic", dtype="float32", name="bicubic")(inputs)
        outputs = layers.Add(dtype="float32", name="residual")([upsampled, outputs])
    return keras.Model(inputs, outputs, name=name or f"unet_x{scale}_d{depth}_f{filters}")


def patchgan_critic(channels: int = 3, condition_channels: int | None = 3, filters: int = 64, num_layers: int = 3,
                    name: str = "patchgan_critic", norm: str = "batch") -> keras.Model:
    """pix2pix's PatchGAN (Isola et al. 2017): image (and condition) -> (N, h', w', 1) logits, one per patch.

    C64 (no BN) -> C128 -> C256 (stride 2, 4x4 kernels, BN, LeakyReLU 0.2) -> C512 stride 1 -> 4x4
    conv to 1 logit. With ``num_layers=3`` each logit sees a 70 x 70 patch. Fully convolutional: any
    size >= 32 x 32 works.

    Conditional (``condition_channels`` not None): inputs ``[condition, image]``, concatenated on
    channels — for SR the condition is the LR image upsampled to the HR size, so the critic judges
    whether the output is a plausible sharpening *of this input*, not just any sharp image.
    Inputs in [0, 1], rescaled to [-1, 1] inside. ``norm="instance"`` replaces BatchNorm by
    :class:`~sr_lib.layers.InstanceNormalization`, as CycleGAN's discriminators do (Zhu et al. 2017).
    """
    if norm not in ("batch", "instance"):
        raise ValueError(f"patchgan_critic: norm must be 'batch' or 'instance', got {norm!r}")
    normalization = layers.BatchNormalization if norm == "batch" else InstanceNormalization
    image = keras.Input((None, None, channels), name="image")
    inputs = [image]
    x = layers.Rescaling(2.0, offset=-1.0, name="image_pm1")(image)
    if condition_channels is not None:
        condition = keras.Input((None, None, condition_channels), name="condition")
        inputs = [condition, image]
        c = layers.Rescaling(2.0, offset=-1.0, name="condition_pm1")(condition)
        x = layers.Concatenate(name="concat")([c, x])
    for i in range(num_layers):
        x = layers.Conv2D(filters * 2 ** min(i, 3), 4, strides=2, padding="same", name=f"conv_{i}")(x)
        if i:
            x = normalization(name=f"bn_{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu_{i}")(x)
    x = layers.Conv2D(filters * 2 ** min(num_layers, 3), 4, padding="same", name=f"conv_{num_layers}")(x)
    x = normalization(name=f"bn_{num_layers}")(x)
    x = layers.LeakyReLU(0.2, name=f"lrelu_{num_layers}")(x)
    outputs = layers.Conv2D(1, 4, padding="same", dtype="float32", name="logits")(x)
    return keras.Model(inputs if len(inputs) > 1 else image, outputs, name=name)
