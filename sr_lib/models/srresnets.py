"""SRResNet and SRGAN (notebook 06), and the adversarial trainer that notebooks 05 and 06 share.

- :func:`srresnet` / :func:`srgan_discriminator` — Ledig et al. 2017, "Photo-Realistic Single Image
  Super-Resolution Using a Generative Adversarial Network" (arXiv 1609.04802), Fig. 4.
- :class:`SRGAN` trains any SR generator against any discriminator (Goodfellow et al. 2014):

  - SRGAN (Ledig et al. 2017): ``srresnet`` vs ``srgan_discriminator``, content loss = VGG
    features, adversarial weight ``1e-3`` (their Eq. 3). The paper's VGG-19 relu5_4 is
    ``PerceptualLoss(("block5_conv4",), weights="imagenet", network="vgg19")`` (Keras' weights, a
    download); with the default offline weights (torchvision's VGG-16) its counterpart is relu5_3,
    ``PerceptualLoss(("block5_conv3",))`` (notebook 06 and the shipped ``srgan_x4``).
  - pix2pix-style (Isola et al. 2017, arXiv 1611.07004): ``unet`` vs a *conditional*
    ``patchgan_critic``; with ``conditional=True`` the critic sees ``[bicubic(lr), image]``, so it
    judges whether the image is a plausible sharpening of *this* input (notebook 05).

One step = one discriminator update, then one generator update against the updated
discriminator (the alternating scheme of the GAN papers). Losses use logits with
binary cross-entropy (the "non-saturating" generator loss: the generator maximises
``log D(G(z))``, which has useful gradients while D still wins easily); they and the two-optimizer
base class are in :mod:`sr_lib.models.adversarial`.

Distribution: build and compile inside ``strategy.scope()`` (:func:`sr_lib.training.get_strategy`);
each replica's loss is divided by the number of replicas, so the summed (all-reduced) gradients are
the gradient of the global-batch mean. Mixed precision: under the ``mixed_float16`` policy both
optimizers are wrapped in ``LossScaleOptimizer``; the models' last layers are float32.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

from sr_lib.layers import ICNR, PixelShuffle
from sr_lib.models.adversarial import AdversarialModel, adversarial_loss, discriminator_loss
from sr_lib.models.subpixel import subpixel_stages

__all__ = ["srresnet", "srgan_discriminator", "SRGAN"]


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
    needs no such help; a CPU budget of a few thousand steps does (notebook 06, demo mode).
    ``batch_norm=False`` drops the BatchNorm layers, as EDSR (Lim et al. 2017, arXiv 1707.02921)
    did to SRResNet: BN normalises away the range of the features, which SR needs.
    """
    factors = subpixel_stages(scale)
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
    if bicubic_residual:  # Keras' bicubic, not MATLAB's: see "Three bicubics" in sr_lib.models
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


class SRGAN(AdversarialModel):
    """Generator + discriminator trained together. ``fit`` on ``(lr, hr)`` batches of float32 [0, 1] images.

    Args:
        generator: LR (N, h, w, C) -> SR (N, h*scale, w*scale, C).
        discriminator: SR-size image -> logits (N, 1) or (N, h', w', 1); with ``conditional=True``
            it takes ``[condition, image]`` (see :func:`sr_lib.models.patchgan_critic`).
        scale: the generator's factor (used to upsample the condition).
        conditional: feed the critic the bicubic-upsampled LR image as well.

    After :meth:`compile`, ``fit`` reports ``d_loss``, ``g_loss`` (= content + w * adversarial),
    ``content_loss``, ``adversarial_loss``, and ``d_real`` / ``d_fake`` (the critic's mean
    probability that real / generated images are real: 0.5 / 0.5 is a balanced game, 1 / 0 a
    critic that wins). ``evaluate`` reports ``content_loss`` and ``psnr`` (on [0, 1], clipped).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, scale: int, conditional: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.scale, self.conditional = int(scale), bool(conditional)
        # Keras' bicubic, not MATLAB's: see "Three bicubics" in sr_lib.models.
        self.upsample = keras.layers.UpSampling2D(self.scale, interpolation="bicubic", name="condition_upsample")
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("d_loss", "g_loss", "content_loss", "adversarial_loss", "d_real", "d_fake", "psnr")
        }
        # Both networks are built already; marking the wrapper built lets BackupAndRestore restore into it.
        self.built = True

    def compile(self, g_optimizer, d_optimizer, content_loss, adversarial_weight: float = 1e-3,
                label_smoothing: float = 0.0, **kwargs):
        """Set the two optimizers and the losses (call inside the strategy scope).

        Args:
            content_loss: ``f(hr, sr) -> (N,)`` — ``sr_lib.losses.mse`` for pre-training-like content,
                a ``PerceptualLoss`` for SRGAN's VGG loss.
            adversarial_weight: weight of the adversarial term in the generator loss (SRGAN: 1e-3).
            label_smoothing: one-sided label smoothing for the critic's real label (Salimans et al. 2016).
        """
        self._set_optimizers(g_optimizer, d_optimizer, self.generator.trainable_variables,
                             self.discriminator.trainable_variables, **kwargs)
        self.content_loss = content_loss
        self.adversarial_weight, self.label_smoothing = float(adversarial_weight), float(label_smoothing)

    def call(self, lr, training=False):
        return self.generator(lr, training=training)

    def _critic(self, lr, image, training):
        if self.conditional:
            return self.discriminator([self.upsample(lr), image], training=training)
        return self.discriminator(image, training=training)

    def _critic_pair(self, lr, hr, sr, training):
        """Logits for real and generated images from ONE critic call on the concatenated batch.

        A critic with BatchNormalization (PatchGAN, SRGAN's discriminator) normalises with the
        statistics of the batch it is given. Called on an all-real batch and then on an all-fake
        batch, each batch is centred on its own mean, so the mean logit hardly depends on the
        batch, and the critic learns "real vs generated" far more slowly, on natural images not at
        all in hundreds of steps (d_real = d_fake = 0.5). One call on [real; fake] shares the
        statistics, as in the keras.io GAN examples (tests/test_gan_critic_batch.py).
        """
        n = ops.shape(hr)[0]
        logits = self._critic(ops.concatenate([lr, lr], axis=0), ops.concatenate([ops.cast(hr, sr.dtype), sr], axis=0),
                              training)
        return logits[:n], logits[n:]

    def train_step(self, data):
        # (x, y) or, from train_on_batch / fit with weights, (x, y, sample_weight)
        lr, hr = keras.utils.unpack_x_y_sample_weight(data)[:2]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        # 1. Discriminator: real HR -> 1, generated -> 0 (the generator is not updated here).
        sr = self.generator(lr, training=True)
        with tf.GradientTape() as tape:
            real_logits, fake_logits = self._critic_pair(lr, hr, ops.stop_gradient(sr), True)
            d_loss = ops.mean(discriminator_loss(real_logits, fake_logits, self.label_smoothing))
            scaled = self.d_optimizer.scale_loss(d_loss / replicas)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)

        # 2. Generator: content + w * adversarial, against the discriminator just updated.
        with tf.GradientTape() as tape:
            sr = self.generator(lr, training=True)
            content = ops.mean(self.content_loss(hr, sr))
            # The real half only gives the batch statistics the critic was trained with (see _critic_pair).
            adversarial = ops.mean(adversarial_loss(self._critic_pair(lr, hr, sr, True)[1]))
            g_loss = content + self.adversarial_weight * adversarial
            scaled = self.g_optimizer.scale_loss(g_loss / replicas)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)

        values = {
            "d_loss": d_loss, "g_loss": g_loss, "content_loss": content, "adversarial_loss": adversarial,
            "d_real": ops.mean(ops.sigmoid(ops.cast(real_logits, "float32"))),
            "d_fake": ops.mean(ops.sigmoid(ops.cast(fake_logits, "float32"))),
        }
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}

    def test_step(self, data):
        # (x, y) or, from train_on_batch / fit with weights, (x, y, sample_weight)
        lr, hr = keras.utils.unpack_x_y_sample_weight(data)[:2]
        sr = ops.cast(self.generator(lr, training=False), "float32")
        content = ops.mean(self.content_loss(hr, sr))
        mse = ops.mean(ops.square(ops.clip(sr, 0.0, 1.0) - ops.cast(hr, "float32")), axis=(1, 2, 3))
        psnr = ops.mean(-10.0 * ops.log(ops.maximum(mse, 1e-10)) / ops.log(10.0))
        self.trackers["content_loss"].update_state(content)
        self.trackers["psnr"].update_state(psnr)
        return {"content_loss": self.trackers["content_loss"].result(), "psnr": self.trackers["psnr"].result()}
