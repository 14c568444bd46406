"""Model factories, named after their papers. Functional API, inputs ``(None, None, C)`` so any size runs.

- :func:`espcn` — Shi et al. 2016, "Real-Time Single Image and Video Super-Resolution Using an
  Efficient Sub-Pixel Convolutional Neural Network" (arXiv 1609.05158): three convolutions in
  low-resolution space, then one pixel shuffle.
- :func:`upsampling_head` — the four ways to go from LR features to an HR image that notebook 01
  compares on the same body: transposed convolution, resize + convolution, sub-pixel convolution with
  default initialisation, and sub-pixel convolution with ICNR (Aitken et al. 2017, arXiv 1707.02937).
- :func:`autoencoder` — a convolutional encoder-decoder that restores a degraded image at its own
  size (notebook 02): strided convolutions down, sub-pixel convolutions (ICNR) up, optional U-Net
  style skip connections (Ronneberger et al. 2015, arXiv 1505.04597) and a global residual
  (Kim et al. 2016, VDSR, arXiv 1511.04587).
- :func:`unet` — a U-Net (Ronneberger et al. 2015) in low-resolution space with a sub-pixel
  upsampling tail: the generator of notebook 03 (perceptual loss, then a critic).
- :func:`srresnet` / :func:`srgan_discriminator` — Ledig et al. 2017, "Photo-Realistic Single Image
  Super-Resolution Using a Generative Adversarial Network" (arXiv 1609.04802), Fig. 4.
- :func:`patchgan_critic` — the conditional PatchGAN of pix2pix (Isola et al. 2017, arXiv
  1611.07004): one real/fake logit per overlapping 70 x 70 patch.
- :func:`dcgan_generator` / :func:`dcgan_discriminator` (Radford et al. 2016, arXiv 1511.06434) and
  :func:`cyclegan_generator` (Zhu et al. 2017, arXiv 1703.10593): re-exported from
  :mod:`sr_lib.gan_classics`, which also holds their ``DCGAN`` / ``CycleGAN`` train steps (notebook 09).

Models take and return float32 images in [0, 1] (NHWC); they never read files.
"""

from __future__ import annotations

import keras
from keras import layers

from sr_lib.layers import ICNR, InstanceNormalization, PixelShuffle, SubPixelConv2D

__all__ = [
    "HEADS",
    "upsampling_head",
    "espcn",
    "autoencoder",
    "vae",
    "conditional_vae",
    "unet",
    "srresnet",
    "srgan_discriminator",
    "patchgan_critic",
    "dcgan_generator",
    "dcgan_discriminator",
    "cyclegan_generator",
]

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
    if kind == "subpixel_icnr":
        x = layers.Conv2D(channels * scale**2, kernel_size, padding="same",
                          kernel_initializer=ICNR("glorot_uniform", scale), name=f"{name}_conv")(x)
        return PixelShuffle(scale, name=f"{name}_shuffle")(x)
    if kind == "subpixel":
        x = layers.Conv2D(channels * scale**2, kernel_size, padding="same", name=f"{name}_conv")(x)
        return PixelShuffle(scale, name=f"{name}_shuffle")(x)
    if kind == "transposed":
        return layers.Conv2DTranspose(channels, kernel_size * scale, strides=scale, padding="same",
                                      name=f"{name}_deconv")(x)
    if kind in ("resize_nearest", "resize_bilinear"):
        x = layers.UpSampling2D(scale, interpolation=kind.split("_")[1], name=f"{name}_resize")(x)
        return layers.Conv2D(channels, kernel_size * scale, padding="same", name=f"{name}_conv")(x)
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
            :func:`sr_lib.data.restoration.pad_to_multiple`, and crop the result.
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
    outputs = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros" if residual else "glorot_uniform",
                            name="output")(x)
    if residual:
        outputs = layers.Add(name="residual")([inputs, outputs])
    default = f"autoencoder_d{depth}_f{filters}{'_skip' if skip_connections else ''}{'_res' if residual else ''}"
    return keras.Model(inputs, outputs, name=name or default)


def _scale_factors(scale: int) -> list[int]:
    """Split an upscaling factor into sub-pixel stages of x2 and x3 (4 -> [2, 2], 6 -> [2, 3])."""
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
    factors = _scale_factors(scale)
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
    if residual:
        upsampled = layers.UpSampling2D(int(scale), interpolation="bicubic", dtype="float32", name="bicubic")(inputs)
        outputs = layers.Add(dtype="float32", name="residual")([upsampled, outputs])
    return keras.Model(inputs, outputs, name=name or f"unet_x{scale}_d{depth}_f{filters}")


def _residual_block(x, filters: int, name: str, batch_norm: bool = True):
    """SRGAN's residual block: k3n64s1 -> BN -> PReLU -> k3n64s1 -> BN, plus the input (BN optional)."""
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    if batch_norm:
        y = layers.BatchNormalization(momentum=0.8, name=f"{name}_bn1")(y)
    y = layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(y)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    if batch_norm:
        y = layers.BatchNormalization(momentum=0.8, name=f"{name}_bn2")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def srresnet(scale: int = 4, num_res_blocks: int = 16, filters: int = 64, channels: int = 3,
             bicubic_residual: bool = False, batch_norm: bool = True, name: str | None = None) -> keras.Model:
    """SRResNet, the SRGAN generator (Ledig et al. 2017, Fig. 4): LR (N, h, w, C) -> (N, h*scale, w*scale, C).

    k9n64s1 + PReLU; ``num_res_blocks`` residual blocks (k3n64s1, BN, PReLU, k3n64s1, BN, skip);
    k3n64s1 + BN and the global skip from the first layer; per x2 (or x3) stage: conv to
    ``filters * factor**2`` -> pixel shuffle -> PReLU (ICNR init); k9 conv to C, linear.

    Differences from the paper, on purpose: images are [0, 1] in and out (the paper scales HR to
    [-1, 1] with a tanh output; we keep the library's convention and leave the output linear), and
    the last layer runs in float32 so mixed-precision training returns float32 images.
    BatchNorm momentum 0.8 as in most public SRGAN re-implementations (faster statistics for short runs).

    ``bicubic_residual=True`` (not in the paper) adds the bicubic upsampling of the input to the
    output and starts the last layer at zero, so the untrained network *is* bicubic and training
    only learns the missing detail (VDSR's global residual). The paper trains for 10**6 steps and
    needs no such help; a CPU budget of a few thousand steps does (notebook 04, demo mode).
    ``batch_norm=False`` drops the BatchNorm layers, as EDSR (Lim et al. 2017, arXiv 1707.02921)
    did to SRResNet: BN normalises away the range of the features, which SR needs.
    """
    factors = _scale_factors(scale)
    inputs = keras.Input((None, None, channels), name="lr")
    x = layers.Conv2D(filters, 9, padding="same", name="head_conv")(inputs)
    x = head = layers.PReLU(shared_axes=[1, 2], name="head_prelu")(x)
    for block in range(num_res_blocks):
        x = _residual_block(x, filters, f"res_{block}", batch_norm)
    x = layers.Conv2D(filters, 3, padding="same", name="body_conv")(x)
    if batch_norm:
        x = layers.BatchNormalization(momentum=0.8, name="body_bn")(x)
    x = layers.Add(name="global_skip")([head, x])
    for stage, factor in enumerate(factors):
        x = layers.Conv2D(filters * factor**2, 3, padding="same", kernel_initializer=ICNR("glorot_uniform", factor),
                          name=f"up_{stage}_conv")(x)
        x = PixelShuffle(factor, name=f"up_{stage}_shuffle")(x)
        x = layers.PReLU(shared_axes=[1, 2], name=f"up_{stage}_prelu")(x)
    outputs = layers.Conv2D(channels, 9, padding="same", dtype="float32", name="output",
                            kernel_initializer="zeros" if bicubic_residual else "glorot_uniform")(x)
    if bicubic_residual:
        upsampled = layers.UpSampling2D(int(scale), interpolation="bicubic", dtype="float32", name="bicubic")(inputs)
        outputs = layers.Add(dtype="float32", name="residual")([upsampled, outputs])
    return keras.Model(inputs, outputs, name=name or f"srresnet_x{scale}_b{num_res_blocks}_f{filters}")


def srgan_discriminator(input_size: int = 96, channels: int = 3, filters: int = 64,
                        name: str = "srgan_discriminator") -> keras.Model:
    """The SRGAN discriminator (Ledig et al. 2017, Fig. 4): (N, S, S, C) in [0, 1] -> (N, 1) logits.

    k3n64s1 + LeakyReLU(0.2); then k3n64s2, k3n128s1, k3n128s2, k3n256s1, k3n256s2, k3n512s1, k3n512s2,
    each + BN + LeakyReLU; dense 1024 + LeakyReLU; dense 1 (a logit: the sigmoid lives in the loss,
    which is numerically safer). The dense layers fix the input size (the paper: 96 x 96 HR crops).
    Inputs are rescaled to [-1, 1] inside.
    """
    if input_size % 16:
        raise ValueError(f"srgan_discriminator: input_size must be a multiple of 16 (4 stride-2 layers), got {input_size}")
    inputs = keras.Input((input_size, input_size, channels), name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_pm1")(inputs)
    x = layers.Conv2D(filters, 3, padding="same", name="conv_0")(x)
    x = layers.LeakyReLU(0.2, name="lrelu_0")(x)
    plan = [(1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2)]  # (width multiple, stride)
    for i, (multiple, stride) in enumerate(plan, start=1):
        x = layers.Conv2D(filters * multiple, 3, strides=stride, padding="same", name=f"conv_{i}")(x)
        x = layers.BatchNormalization(momentum=0.8, name=f"bn_{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu_{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(filters * 16, name="dense_1024")(x)
    x = layers.LeakyReLU(0.2, name="lrelu_dense")(x)
    outputs = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(inputs, outputs, name=name)


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


def vae(*args, **kwargs):
    """The convolutional VAE of notebook 05 (Kingma & Welling 2014); see :func:`sr_lib.vae.vae`.

    Re-exported lazily: ``sr_lib.vae`` imports TensorFlow for its ``train_step`` and builds on
    ``sr_lib.layers``; importing it here at module level is not needed to build the other models.
    """
    from sr_lib.vae import vae as factory

    return factory(*args, **kwargs)


def conditional_vae(*args, **kwargs):
    """The conditional VAE for SR of notebook 05 (Sohn et al. 2015); see :func:`sr_lib.vae.conditional_vae`."""
    from sr_lib.vae import conditional_vae as factory

    return factory(*args, **kwargs)


def dcgan_generator(*args, **kwargs):
    """The DCGAN generator (Radford et al. 2016); see :func:`sr_lib.gan_classics.dcgan_generator`.

    Re-exported lazily, like :func:`vae`: ``sr_lib.gan_classics`` imports TensorFlow for its train steps.
    """
    from sr_lib.gan_classics import dcgan_generator as factory

    return factory(*args, **kwargs)


def dcgan_discriminator(*args, **kwargs):
    """The DCGAN discriminator (Radford et al. 2016); see :func:`sr_lib.gan_classics.dcgan_discriminator`."""
    from sr_lib.gan_classics import dcgan_discriminator as factory

    return factory(*args, **kwargs)


def cyclegan_generator(*args, **kwargs):
    """The CycleGAN ResNet generator (Zhu et al. 2017); see :func:`sr_lib.gan_classics.cyclegan_generator`."""
    from sr_lib.gan_classics import cyclegan_generator as factory

    return factory(*args, **kwargs)
