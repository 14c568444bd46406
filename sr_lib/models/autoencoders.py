"""The convolutional autoencoder of notebook 02: restores a degraded image at its own size.

:func:`autoencoder` — strided convolutions down, sub-pixel convolutions (ICNR) up, optional U-Net
style skip connections (Ronneberger et al. 2015, arXiv 1505.04597) and a global residual (Kim et
al. 2016, VDSR, arXiv 1511.04587). It gets the image already enlarged (by the protocol's MATLAB
bicubic, outside the model), so it contains no upsampling of its own.
"""

from __future__ import annotations

import keras
from keras import layers

from sr_lib.layers import SubPixelConv2D

__all__ = ["autoencoder"]


def autoencoder(
    channels: int = 1,
    filters: int = 32,
    depth: int = 2,
    skip_connections: bool = True,
    residual: bool = True,
    activation: str = "relu",
    name: str | None = None,
) -> keras.Model:
    """Convolutional encoder-decoder: degraded image (N, H, W, channels) -> restored image, same shape.

    Layout (``f = filters``, level ``l = 1 .. depth``)::

        encoder_0         3x3 conv, f                    H x W          (kept for the skip)
        encoder_l_down    3x3 conv, stride 2, f * 2**l   H/2**l x W/2**l
        encoder_l         3x3 conv, f * 2**l             -> the last one is the bottleneck
        decoder_l_up      SubPixelConv2D(f * 2**l, x2, ICNR)   back up one level
        decoder_l_concat  [skip_connections] concatenate the encoder features of that size
        decoder_l         3x3 conv, f * 2**l
        output            3x3 conv to ``channels``, linear
        residual          [residual] output + input

    Args:
        channels: image channels (1 for the Y channel, 3 for RGB).
        filters: width of the full-resolution level; doubled at every level down.
        depth: number of stride-2 downsamplings. **H and W must be divisible by 2**depth**: the
            model does not pad (a functional graph cannot pad by a size it learns only at run
            time), and other sizes fail at the first skip concatenation or at the residual
            addition. Pad outside the model, e.g. with
            :func:`sr_lib.inference.pad_to_multiple`, and crop the result.
        skip_connections: concatenate encoder features into the decoder at every resolution
            (a small U-Net). Without them, all the information has to pass the bottleneck of
            ``filters * 2**depth`` channels at 1 / 2**depth of the resolution.
        residual: predict a correction that is added to the input (output = input + decoder).
            For restoration the input is already close to the answer, so the network only has
            to learn the missing detail; training converges much faster (VDSR). The output layer
            then starts at zero, so the untrained model is exactly the identity. Default on.
        activation: hidden activation (the output is linear).

    Returns:
        A model mapping float32 (N, H, W, channels) in [0, 1] to (N, H, W, channels). The output
        is not clipped; clip when you display or save.
    """
    if isinstance(depth, bool) or int(depth) != depth or depth < 1:
        raise ValueError(f"autoencoder: depth must be an integer >= 1, got {depth!r}")
    if int(filters) != filters or filters < 1 or int(channels) != channels or channels < 1:
        raise ValueError(f"autoencoder: filters and channels must be positive integers, got {filters!r}, {channels!r}")
    depth, filters, channels = int(depth), int(filters), int(channels)

    def conv(width, name, strides=1):
        return layers.Conv2D(width, 3, strides=strides, padding="same", activation=activation,
                             kernel_initializer="he_normal", name=name)

    inputs = keras.Input((None, None, channels), name="degraded")
    x = conv(filters, "encoder_0")(inputs)
    skips = [x]
    for level in range(1, depth + 1):
        x = conv(filters * 2**level, f"encoder_{level}_down", strides=2)(x)
        x = conv(filters * 2**level, f"encoder_{level}")(x)
        skips.append(x)
    for level in range(depth - 1, -1, -1):
        x = SubPixelConv2D(filters * 2**level, 2, activation=activation, name=f"decoder_{level}_up")(x)
        if skip_connections:
            x = layers.Concatenate(name=f"decoder_{level}_concat")([x, skips[level]])
        x = conv(filters * 2**level, f"decoder_{level}")(x)
    # With the residual, a zero output layer makes the untrained model exactly the identity: training
    # starts from the input image (the bicubic baseline) instead of from input + random noise.
    # The output layers run in float32 under a mixed-precision policy: the image is the model's result.
    outputs = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros" if residual else "glorot_uniform",
                            dtype="float32", name="output")(x)
    if residual:
        outputs = layers.Add(dtype="float32", name="residual")([inputs, outputs])
    default = f"autoencoder_d{depth}_f{filters}{'_skip' if skip_connections else ''}{'_res' if residual else ''}"
    return keras.Model(inputs, outputs, name=name or default)
