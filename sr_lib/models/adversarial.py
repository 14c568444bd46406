"""What the two-player models share: the GAN losses and a base class with two optimizers.

- :func:`discriminator_loss` / :func:`adversarial_loss` — binary cross-entropy on logits per
  sample; the generator's is the "non-saturating" loss ``-log D(G(x))`` (Goodfellow et al. 2014),
  which has useful gradients while D still wins easily; :func:`saturating_adversarial_loss`, the
  original minimax form ``log(1 - D(G(x)))``, to show the failure it avoids.
- :class:`AdversarialModel` — a generator optimizer, a discriminator optimizer (both loss-scaled
  under ``mixed_float16``) and ``Mean`` trackers; the base of :class:`~sr_lib.models.SRGAN`,
  :class:`~sr_lib.models.DCGAN` and :class:`~sr_lib.models.CycleGAN`.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["AdversarialModel", "adversarial_loss", "discriminator_loss", "saturating_adversarial_loss"]


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


def saturating_adversarial_loss(fake_logits):
    """The generator's original minimax loss ``log(1 - D(G(x)))`` per sample (N,), to be minimised
    (Goodfellow et al. 2014, eq. 1). Kept to show why nobody uses it: its gradient with respect to a
    logit ``l`` is ``-sigmoid(l)``, which vanishes exactly when the discriminator is sure the sample is
    fake (``l`` very negative), i.e. early in training; the non-saturating loss's is ``sigmoid(l) - 1``."""
    return -_bce_logits(0.0, fake_logits)


def _mixed_float16() -> bool:
    return keras.mixed_precision.global_policy().name == "mixed_float16"


class AdversarialModel(keras.Model):
    """What every two-player model of the course shares (SRGAN in :mod:`sr_lib.models.srresnets`,
    DCGAN and CycleGAN in :mod:`sr_lib.models.gans`): a generator optimizer, a discriminator
    optimizer, and ``Mean`` trackers in ``self.trackers`` (a dict name -> ``keras.metrics.Mean``)
    that ``fit`` reports. Subclasses call :meth:`_set_optimizers` from their ``compile``.
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


def _loss_scaled(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)
