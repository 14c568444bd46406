"""Adversarial training for super-resolution: a generator, a critic, and one ``train_step``.

:class:`SRGAN` trains any SR generator against any discriminator (Goodfellow et al. 2014):

- SRGAN (Ledig et al. 2017, arXiv 1609.04802): ``srresnet`` vs ``srgan_discriminator``, content
  loss = VGG features, adversarial weight ``1e-3`` (their Eq. 3). The paper's VGG-19 relu5_4 is
  ``PerceptualLoss(("block5_conv4",), weights="imagenet", network="vgg19")`` (Keras' weights, a
  download); with the default offline weights (torchvision's VGG-16) its counterpart is relu5_3,
  ``PerceptualLoss(("block5_conv3",))`` (notebook 04 and the shipped ``srgan_x4``).
- pix2pix-style (Isola et al. 2017, arXiv 1611.07004): ``unet`` vs a *conditional*
  ``patchgan_critic``; with ``conditional=True`` the critic sees ``[bicubic(lr), image]``, so it
  judges whether the image is a plausible sharpening of *this* input.

One step = one discriminator update, then one generator update against the updated
discriminator (the alternating scheme of the GAN papers). Losses use logits with
binary cross-entropy (the "non-saturating" generator loss: the generator maximises
``log D(G(z))``, which has useful gradients while D still wins easily).

Distribution: build and compile inside ``strategy.scope()`` (:func:`sr_lib.training.get_strategy`);
each replica's loss is divided by the number of replicas, so the summed (all-reduced) gradients are
the gradient of the global-batch mean. Mixed precision: under the ``mixed_float16`` policy both
optimizers are wrapped in ``LossScaleOptimizer``; the models' last layers are float32.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


__all__ = ["AdversarialModel", "SRGAN", "adversarial_loss", "discriminator_loss"]


def _bce_logits(labels, logits):
    """Mean binary cross-entropy with logits over everything but the batch axis -> (N,)."""
    logits = ops.cast(logits, "float32")
    per_element = ops.binary_crossentropy(ops.broadcast_to(labels, ops.shape(logits)), logits, from_logits=True)
    return ops.mean(ops.reshape(per_element, (ops.shape(logits)[0], -1)), axis=1)


def discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """``-log D(real) - log(1 - D(fake))`` per sample (N,); ``label_smoothing`` lowers the real label to 1 - s."""
    return _bce_logits(1.0 - label_smoothing, real_logits) + _bce_logits(0.0, fake_logits)


def adversarial_loss(fake_logits):
    """The generator's non-saturating loss ``-log D(G(x))`` per sample (N,)."""
    return _bce_logits(1.0, fake_logits)


def _mixed_float16() -> bool:
    return keras.mixed_precision.global_policy().name == "mixed_float16"


class AdversarialModel(keras.Model):
    """What every two-player model of the course shares (SRGAN here; DCGAN and CycleGAN in
    :mod:`sr_lib.gan_classics`): a generator optimizer, a discriminator optimizer, and ``Mean``
    trackers in ``self.trackers`` (a dict name -> ``keras.metrics.Mean``) that ``fit`` reports.
    """

    def _set_optimizers(self, g_optimizer, d_optimizer, g_variables, d_variables, **kwargs):
        """Store both optimizers (loss-scaled under ``mixed_float16``) and create their variables."""
        if _mixed_float16():
            g_optimizer, d_optimizer = _loss_scaled(g_optimizer), _loss_scaled(d_optimizer)
        # Keras' own slot is the generator's optimizer: its ``iterations`` is the step counter that
        # callbacks (TensorBoard, backups) read. It is built below on the generator's variables only.
        super().compile(optimizer=g_optimizer, **kwargs)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        # Create the optimizer variables now, so a backup can restore them before the first step.
        self.g_optimizer.build(g_variables)
        self.d_optimizer.build(d_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())


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
        lr, hr = data
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
        lr, hr = data
        sr = ops.cast(self.generator(lr, training=False), "float32")
        content = ops.mean(self.content_loss(hr, sr))
        mse = ops.mean(ops.square(ops.clip(sr, 0.0, 1.0) - ops.cast(hr, "float32")), axis=(1, 2, 3))
        psnr = ops.mean(-10.0 * ops.log(ops.maximum(mse, 1e-10)) / ops.log(10.0))
        self.trackers["content_loss"].update_state(content)
        self.trackers["psnr"].update_state(psnr)
        return {"content_loss": self.trackers["content_loss"].result(), "psnr": self.trackers["psnr"].result()}


def _loss_scaled(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)
