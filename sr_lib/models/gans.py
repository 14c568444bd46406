"""Two classic GANs on the house training machinery: DCGAN and CycleGAN (notebooks 04 and 10).

- DCGAN — A. Radford, L. Metz, S. Chintala, "Unsupervised Representation Learning with Deep
  Convolutional Generative Adversarial Networks", ICLR 2016 (arXiv 1511.06434). A noise vector
  ``z`` is projected to a 4 x 4 map and doubled in size by strided up-convolutions (BatchNorm,
  ReLU, tanh out); the discriminator mirrors it with strided convolutions (LeakyReLU 0.2,
  BatchNorm from the second layer). Section 3 of the paper lists these "architecture guidelines".
- CycleGAN — J.-Y. Zhu, T. Park, P. Isola, A. A. Efros, "Unpaired Image-to-Image Translation using
  Cycle-Consistent Adversarial Networks", ICCV 2017 (arXiv 1703.10593). Two generators
  ``G: A -> B`` and ``F: B -> A`` (ResNet generators of Johnson et al. 2016 with instance
  normalisation, appendix 7.2), two PatchGAN discriminators, least-squares adversarial losses
  (their Eq. 1 with the LSGAN objective, section 4), the cycle-consistency loss (Eq. 2,
  ``lambda = 10``) and the identity loss (section 5.2, weight ``0.5 * lambda``).

Both models follow :class:`sr_lib.models.SRGAN`: one discriminator update, then one generator update
against the updated discriminator; optimizers are built in ``compile`` (so ``BackupAndRestore``
restores them); losses are divided by the number of replicas (``MirroredStrategy``) and scaled by
the ``LossScaleOptimizer`` under ``mixed_float16``. Train them with
:func:`sr_lib.training.fit_steps`.

Images are float32 in [0, 1], NHWC; the networks rescale to [-1, 1] inside and return [0, 1].
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from sr_lib.models.adversarial import AdversarialModel, adversarial_loss, discriminator_loss, saturating_adversarial_loss
from sr_lib.layers import ICNR, InstanceNormalization, KeepNoiseState, PixelShuffle

__all__ = [
    "UPSAMPLING",
    "dcgan_generator",
    "dcgan_discriminator",
    "cyclegan_generator",
    "DCGAN",
    "CycleGAN",
    "SampleGrid",
    "image_dataset",
    "unpaired_dataset",
    "mean_pairwise_distance",
    "nearest_neighbour",
    "checkerboard_energy",
]

UPSAMPLING = ("transposed", "subpixel")

# Radford et al. 2016, section 4: "All weights were initialized from a zero-centered Normal
# distribution with standard deviation 0.02." Zhu et al. 2017 use the same (appendix 7.1).
_INIT_STD = 0.02
# BatchNorm's moving statistics (used when sampling, training=False) follow the batch statistics with
# this momentum. Keras' default 0.99 averages over ~100 steps, too slow for a generator that changes
# quickly in a short run: its samples would be drawn with stale statistics (SRResNet here uses 0.8 too).
_BN_MOMENTUM = 0.8


def _init():
    return keras.initializers.RandomNormal(0.0, _INIT_STD)


def _upsample(x, channels: int, kind: str, name: str, kernel_size: int = 4, use_bias: bool = False):
    """Double the spatial size: a stride-2 transposed convolution, or a convolution + PixelShuffle(2).

    The transposed convolution (the DCGAN paper's "fractionally-strided convolution") overlaps its
    kernels unevenly when the kernel size is not a multiple of the stride, which can leave a
    checkerboard pattern; the sub-pixel variant starts from ICNR (nearest-neighbour-like, no
    checkerboard at initialisation; Aitken et al. 2017).
    """
    if kind == "transposed":
        return layers.Conv2DTranspose(channels, kernel_size, strides=2, padding="same", use_bias=use_bias,
                                      kernel_initializer=_init(), name=f"{name}_tconv")(x)
    if kind == "subpixel":
        x = layers.Conv2D(channels * 4, 3, padding="same", use_bias=use_bias, kernel_initializer=ICNR(_init(), 2),
                          name=f"{name}_conv")(x)
        return PixelShuffle(2, name=f"{name}_shuffle")(x)
    raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {kind!r}")


def _num_doublings(size: int, where: str) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 8 or size & (size - 1):
        raise ValueError(f"{where}: size must be a power of two >= 8, got {size!r}")
    return int(math.log2(size)) - 2  # from 4 x 4 to size x size


def dcgan_generator(latent_dim: int = 100, size: int = 64, filters: int = 64, channels: int = 3,
                    upsampling: str = "transposed", name: str | None = None) -> keras.Model:
    """The DCGAN generator (Radford et al. 2016, Fig. 1): ``z`` (N, latent_dim) -> (N, size, size, C) in [0, 1].

    Dense projection of ``z`` to a 4 x 4 x ``filters * 2**(k-1)`` map (``k = log2(size) - 2``
    doublings) + BatchNorm + ReLU; then ``k`` doublings, halving the width each time (BatchNorm +
    ReLU after each but the last); the last one produces ``C`` channels with tanh, rescaled to
    [0, 1] (float32 even under mixed precision). With ``size=64, filters=128`` this is the paper's
    1024-512-256-128 network (Fig. 1), with 4 x 4 kernels.

    Args:
        upsampling: "transposed" (the paper's fractionally-strided convolutions) or "subpixel"
            (3 x 3 convolution + :class:`~sr_lib.layers.PixelShuffle`, ICNR-initialised).
    """
    doublings = _num_doublings(size, "dcgan_generator")
    if upsampling not in UPSAMPLING:
        raise ValueError(f"dcgan_generator: upsampling must be one of {UPSAMPLING}, got {upsampling!r}")
    z = keras.Input((latent_dim,), name="z")
    width = filters * 2 ** (doublings - 1)
    x = layers.Dense(4 * 4 * width, use_bias=False, kernel_initializer=_init(), name="project")(z)
    x = layers.Reshape((4, 4, width), name="reshape")(x)
    x = layers.BatchNormalization(momentum=_BN_MOMENTUM, name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    for i in range(doublings):
        last = i == doublings - 1
        width //= 2
        x = _upsample(x, channels if last else width, upsampling, f"up_{i}", use_bias=last)
        if not last:
            x = layers.BatchNormalization(momentum=_BN_MOMENTUM, name=f"up_{i}_bn")(x)
            x = layers.ReLU(name=f"up_{i}_relu")(x)
    x = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    outputs = layers.Rescaling(0.5, offset=0.5, dtype="float32", name="to_01")(x)
    return keras.Model(z, outputs, name=name or f"dcgan_generator_{size}_{upsampling}")


def dcgan_discriminator(size: int = 64, filters: int = 64, channels: int = 3,
                        name: str = "dcgan_discriminator") -> keras.Model:
    """The DCGAN discriminator: (N, size, size, C) in [0, 1] -> (N, 1) logits.

    ``k = log2(size) - 2`` strided 4 x 4 convolutions (widths ``filters * 2**i``) down to 4 x 4,
    LeakyReLU(0.2) after each, BatchNorm after all but the first (the paper: "not applying
    batchnorm to the generator output layer and the discriminator input layer"); then one dense
    logit. No pooling, no hidden dense layers (section 3).
    """
    doublings = _num_doublings(size, "dcgan_discriminator")
    inputs = keras.Input((size, size, channels), name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_pm1")(inputs)
    for i in range(doublings):
        x = layers.Conv2D(filters * 2**i, 4, strides=2, padding="same", use_bias=i == 0, kernel_initializer=_init(),
                          name=f"conv_{i}")(x)
        if i:
            x = layers.BatchNormalization(momentum=_BN_MOMENTUM, name=f"bn_{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu_{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(1, dtype="float32", kernel_initializer=_init(), name="logit")(x)
    return keras.Model(inputs, outputs, name=name)


def _conv_in_relu(x, filters: int, kernel_size: int, strides: int, name: str, relu: bool = True):
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                      kernel_initializer=_init(), name=f"{name}_conv")(x)
    x = InstanceNormalization(name=f"{name}_in")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def cyclegan_generator(filters: int = 64, num_res_blocks: int = 9, num_downsamplings: int = 2, channels: int = 3,
                       upsampling: str = "transposed", name: str | None = None) -> keras.Model:
    """The CycleGAN ResNet generator (Zhu et al. 2017, appendix 7.2): (N, H, W, C) -> (N, H, W, C), [0, 1].

    ``c7s1-64, d128, d256, R256 x 9, u128, u64, c7s1-3`` for the defaults: a 7 x 7 convolution,
    ``num_downsamplings`` stride-2 3 x 3 convolutions doubling the width, ``num_res_blocks``
    residual blocks (two 3 x 3 convolutions), as many doublings back, a 7 x 7 convolution to ``C``
    with tanh. Instance normalisation + ReLU after every convolution but the last.

    Differences from the paper, on purpose: zero "same" padding instead of reflection padding (no
    padding layer needed; borders of a face crop are background), and [0, 1] images in and out
    (rescaled to [-1, 1] inside). H and W must be multiples of ``2**num_downsamplings``.
    """
    if upsampling not in UPSAMPLING:
        raise ValueError(f"cyclegan_generator: upsampling must be one of {UPSAMPLING}, got {upsampling!r}")
    inputs = keras.Input((None, None, channels), name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_pm1")(inputs)
    x = _conv_in_relu(x, filters, 7, 1, "c7")
    for i in range(num_downsamplings):
        x = _conv_in_relu(x, filters * 2 ** (i + 1), 3, 2, f"down_{i}")
    width = filters * 2**num_downsamplings
    for b in range(num_res_blocks):
        y = _conv_in_relu(x, width, 3, 1, f"res_{b}_a")
        y = _conv_in_relu(y, width, 3, 1, f"res_{b}_b", relu=False)
        x = layers.Add(name=f"res_{b}_add")([x, y])
    for i in reversed(range(num_downsamplings)):
        x = _upsample(x, filters * 2**i, upsampling, f"up_{i}", kernel_size=3)
        x = InstanceNormalization(name=f"up_{i}_in")(x)
        x = layers.ReLU(name=f"up_{i}_relu")(x)
    x = layers.Conv2D(channels, 7, padding="same", kernel_initializer=_init(), name="out_conv")(x)
    x = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    outputs = layers.Rescaling(0.5, offset=0.5, dtype="float32", name="to_01")(x)
    return keras.Model(inputs, outputs, name=name or f"cyclegan_generator_f{filters}_r{num_res_blocks}")


def _least_squares_d(real_logits, fake_logits):
    """LSGAN discriminator loss per sample (N,): ``(D(real) - 1)**2 + D(fake)**2`` (Mao et al. 2017)."""
    real, fake = ops.cast(real_logits, "float32"), ops.cast(fake_logits, "float32")
    n = ops.shape(real)[0]
    return ops.mean(ops.reshape(ops.square(real - 1.0), (n, -1)), 1) + ops.mean(ops.reshape(ops.square(fake), (n, -1)), 1)


def _least_squares_g(fake_logits):
    """LSGAN generator loss per sample (N,): ``(D(G(x)) - 1)**2``."""
    fake = ops.cast(fake_logits, "float32")
    return ops.mean(ops.reshape(ops.square(fake - 1.0), (ops.shape(fake)[0], -1)), 1)


#: DCGAN's generator losses by name (``DCGAN.compile(generator_loss=...)``).
GENERATOR_LOSSES = {"non-saturating": adversarial_loss, "saturating": saturating_adversarial_loss}


class DCGAN(KeepNoiseState, AdversarialModel):  # KeepNoiseState: backups keep the noise stream
    """A generator of noise -> image and a discriminator, trained together; ``fit`` on batches of real images.

    The data are (N, S, S, C) float32 [0, 1] images (a ``(images,)`` or ``(images, anything)``
    tuple works too). Each step draws ``z ~ N(0, I)`` from the model's own seeded generator.
    ``fit`` reports ``d_loss``, ``g_loss`` (non-saturating, ``-log D(G(z))``, unless compiled with
    ``generator_loss="saturating"``), and ``d_real`` /
    ``d_fake``: the critic's mean probability that real / generated images are real (0.5 / 0.5
    a balanced game; 1 / 0 a discriminator that wins and gives the generator no signal).

    ``joint_batch`` decides how the discriminator sees a step's real and generated images. False
    (default, as in the DCGAN paper and its reference code): two calls, an all-real and an
    all-generated batch, so its BatchNorm normalises each with that batch's own statistics. A
    collapsed generator's batch has a tiny spread, which shows in those statistics, so the
    discriminator can punish a lack of variety. True: ONE call on [real; fake] with shared
    statistics, as :class:`sr_lib.models.SRGAN` does (there, separate batches kept the critic from
    learning at all); on the course's faces this collapses to one face within a few hundred steps (notebook 04).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, seed: int | None = None,
                 joint_batch: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.joint_batch = bool(joint_batch)
        self.latent_dim = int(generator.input_shape[-1])
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("d_loss", "g_loss", "d_real", "d_fake")}
        self.built = True

    def compile(self, g_optimizer, d_optimizer, label_smoothing: float = 0.0,
                generator_loss: str = "non-saturating", **kwargs):
        """Set the two optimizers (the paper: Adam, learning rate 2e-4, ``beta_1 = 0.5``); call inside the strategy scope.

        ``label_smoothing``: the discriminator's real label becomes ``1 - s`` (one-sided, Salimans et al. 2016).
        ``generator_loss``: ``"non-saturating"`` (``-log D(G(z))``, the default and every practical
        GAN's) or ``"saturating"`` (the minimax ``log(1 - D(G(z)))``, whose gradient vanishes while
        the discriminator wins: :func:`~sr_lib.models.adversarial.saturating_adversarial_loss`).
        Raises ValueError for another name.
        """
        if generator_loss not in GENERATOR_LOSSES:
            raise ValueError(f"DCGAN.compile: generator_loss must be one of {sorted(GENERATOR_LOSSES)}, "
                             f"got {generator_loss!r}")
        self._set_optimizers(g_optimizer, d_optimizer, self.generator.trainable_variables,
                             self.discriminator.trainable_variables, **kwargs)
        self.label_smoothing = float(label_smoothing)
        self.generator_loss = generator_loss

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` generated images, NumPy (n, S, S, C) float32 [0, 1], from a fixed ``seed`` (inference mode)."""
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)
        return np.asarray(self.generator(z, training=False), np.float32)

    def _logits_pair(self, real, fake):
        if not self.joint_batch:
            return (self.discriminator(ops.cast(real, fake.dtype), training=True),
                    self.discriminator(fake, training=True))
        n = ops.shape(real)[0]
        logits = self.discriminator(ops.concatenate([ops.cast(real, fake.dtype), fake], axis=0), training=True)
        return logits[:n], logits[n:]

    def _fake_logits(self, real, fake):
        # The generated batch's logits as the discriminator's update sees them. With separate calls the
        # generated batch alone is enough: a call on the real batch would only move BatchNorm's moving
        # averages, which a critic in training mode never reads.
        return self._logits_pair(real, fake)[1] if self.joint_batch else self.discriminator(fake, training=True)

    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        n = ops.shape(real)[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        # 1. Discriminator: real -> 1, generated -> 0.
        z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator)
        fake = self.generator(z, training=True)
        with tf.GradientTape() as tape:
            real_logits, fake_logits = self._logits_pair(real, ops.stop_gradient(fake))
            d_loss = ops.mean(discriminator_loss(real_logits, fake_logits, self.label_smoothing))
            scaled = self.d_optimizer.scale_loss(d_loss / replicas)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)

        # 2. Generator: make the updated discriminator call fresh fakes real.
        z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            g_loss = ops.mean(GENERATOR_LOSSES[self.generator_loss](self._fake_logits(real, fake)))
            scaled = self.g_optimizer.scale_loss(g_loss / replicas)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)

        values = {
            "d_loss": d_loss, "g_loss": g_loss,
            "d_real": ops.mean(ops.sigmoid(ops.cast(real_logits, "float32"))),
            "d_fake": ops.mean(ops.sigmoid(ops.cast(fake_logits, "float32"))),
        }
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}


class CycleGAN(AdversarialModel):
    """Unpaired translation A <-> B (Zhu et al. 2017); ``fit`` on ``(images_a, images_b)`` batches, [0, 1].

    Args:
        generator_ab: A -> B (the paper's G); generator_ba: B -> A (the paper's F).
        discriminator_a: judges A images (real A vs F(b)); discriminator_b: judges B images.
        size: the image size the generators were trained on; only read by
            :func:`faceswap_lib.convert.swap_face`, which uses a CycleGAN like the face-swap
            autoencoder (``model.size``, ``model.swap(faces, "a" | "b")``).

    The generator loss is, for both directions, least-squares adversarial + ``cycle_weight`` *
    cycle L1 (``|F(G(a)) - a|``, ``|G(F(b)) - b|``) + ``identity_weight`` * identity L1
    (``|F(a) - a|``, ``|G(b) - b|``: a generator given an image of its own output domain should
    leave it alone, which keeps colours). The L1 terms are measured on [-1, 1] images, as in the
    paper, so its weights (10 and 5) carry over. The discriminator loss is the least-squares one,
    halved (the paper's "divide the objective by 2 while optimizing D").

    ``fit`` reports ``g_loss``, ``d_loss``, and per direction ``adv_ab`` / ``adv_ba``,
    ``cycle_a`` / ``cycle_b``, ``identity_a`` / ``identity_b`` (unweighted L1 on [-1, 1]),
    ``d_a`` / ``d_b``. The discriminators use instance normalisation, so real and generated
    batches can go through them separately.
    """

    LOSSES = ("g_loss", "d_loss", "adv_ab", "adv_ba", "cycle_a", "cycle_b", "identity_a", "identity_b", "d_a", "d_b")

    def __init__(self, generator_ab, generator_ba, discriminator_a, discriminator_b, size: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.generator_ab, self.generator_ba = generator_ab, generator_ba
        self.discriminator_a, self.discriminator_b = discriminator_a, discriminator_b
        self.size = size
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOSSES}
        self.built = True

    def compile(self, g_optimizer, d_optimizer, cycle_weight: float = 10.0, identity_weight: float = 5.0, **kwargs):
        """One optimizer for both generators, one for both discriminators (the paper: Adam 2e-4, ``beta_1 = 0.5``)."""
        self._set_optimizers(g_optimizer, d_optimizer, self._g_vars(), self._d_vars(), **kwargs)
        self.cycle_weight, self.identity_weight = float(cycle_weight), float(identity_weight)

    def _g_vars(self):
        return self.generator_ab.trainable_variables + self.generator_ba.trainable_variables

    def _d_vars(self):
        return self.discriminator_a.trainable_variables + self.discriminator_b.trainable_variables

    def call(self, images_a, training=False):
        return self.generator_ab(images_a, training=training)

    def swap(self, images, to: str) -> np.ndarray:
        """NumPy (N, H, W, C) float32 [0, 1]: images of the other domain translated into domain ``to`` ("a"/"b")."""
        generator = {"a": self.generator_ba, "b": self.generator_ab}.get(str(to).lower())
        if generator is None:
            raise ValueError(f"CycleGAN.swap: `to` must be 'a' or 'b', got {to!r}")
        return np.asarray(generator(np.asarray(images, np.float32), training=False), np.float32)

    @staticmethod
    def _l1(x, y):
        # |x - y| on [-1, 1] images = 2 |x - y| on [0, 1].
        return 2.0 * ops.mean(ops.abs(ops.cast(x, "float32") - ops.cast(y, "float32")))

    def train_step(self, data):
        # (x, y) or, from train_on_batch / fit with weights, (x, y, sample_weight)
        real_a, real_b = keras.utils.unpack_x_y_sample_weight(data)[:2]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        # 1. Discriminators: real -> 1, translated -> 0 (least squares), against the current generators.
        fake_b = ops.stop_gradient(self.generator_ab(real_a, training=True))
        fake_a = ops.stop_gradient(self.generator_ba(real_b, training=True))
        with tf.GradientTape() as tape:
            d_a = ops.mean(_least_squares_d(self.discriminator_a(real_a, training=True),
                                            self.discriminator_a(fake_a, training=True)))
            d_b = ops.mean(_least_squares_d(self.discriminator_b(real_b, training=True),
                                            self.discriminator_b(fake_b, training=True)))
            d_loss = 0.5 * (d_a + d_b)
            scaled = self.d_optimizer.scale_loss(d_loss / replicas)
        d_vars = self._d_vars()
        self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)

        # 2. Generators: fool the updated discriminators, come back (cycle), leave own-domain images alone (identity).
        with tf.GradientTape() as tape:
            fake_b = self.generator_ab(real_a, training=True)
            fake_a = self.generator_ba(real_b, training=True)
            adv_ab = ops.mean(_least_squares_g(self.discriminator_b(fake_b, training=True)))
            adv_ba = ops.mean(_least_squares_g(self.discriminator_a(fake_a, training=True)))
            cycle_a = self._l1(self.generator_ba(fake_b, training=True), real_a)
            cycle_b = self._l1(self.generator_ab(fake_a, training=True), real_b)
            identity_a = self._l1(self.generator_ba(real_a, training=True), real_a)
            identity_b = self._l1(self.generator_ab(real_b, training=True), real_b)
            g_loss = (adv_ab + adv_ba + self.cycle_weight * (cycle_a + cycle_b)
                      + self.identity_weight * (identity_a + identity_b))
            scaled = self.g_optimizer.scale_loss(g_loss / replicas)
        g_vars = self._g_vars()
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)

        values = {"g_loss": g_loss, "d_loss": d_loss, "adv_ab": adv_ab, "adv_ba": adv_ba, "cycle_a": cycle_a,
                  "cycle_b": cycle_b, "identity_a": identity_a, "identity_b": identity_b, "d_a": d_a, "d_b": d_b}
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in self.LOSSES}


class SampleGrid(keras.callbacks.Callback):
    """Every ``every`` steps, run ``render()`` (-> (n, H, W, C) images in [0, 1]) and keep the result.

    ``grids`` holds ``(step, images)`` pairs (also at step 0 and at the end of training), so a
    notebook can show how samples from FIXED inputs (the same ``z``, the same faces) evolve. With
    ``folder``, each is also written as ``samples_step{step:07d}.png`` (one row).
    """

    def __init__(self, render, every: int, folder: str | Path | None = None):
        super().__init__()
        self.render, self.every = render, int(every)
        self.folder = None if folder is None else Path(folder)
        self.step, self.grids = 0, []

    def _keep(self):
        images = np.clip(np.asarray(self.render(), np.float32), 0.0, 1.0)
        self.grids.append((self.step, images))
        if self.folder is not None:
            from sr_lib.data.io import write_image

            self.folder.mkdir(parents=True, exist_ok=True)
            write_image(self.folder / f"samples_step{self.step:07d}.png", np.concatenate(list(images), axis=1))

    def on_train_begin(self, logs=None):
        if not self.grids:
            self._keep()

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every == 0:
            self._keep()

    def on_train_end(self, logs=None):
        if self.grids[-1][0] != self.step:
            self._keep()


def image_dataset(images, batch_size: int, seed: int = 0, flip: bool = True):
    """Repeating, shuffled batches of (N, H, W, C) float32 [0, 1] images (random horizontal flips) for :class:`DCGAN`."""
    images = np.asarray(images, np.float32)
    if len(images) < batch_size:
        raise ValueError(f"image_dataset: {len(images)} images cannot fill a batch of {batch_size}")
    ds = tf.data.Dataset.from_tensor_slices(images).repeat().shuffle(min(len(images), 4096), seed=seed)
    ds = ds.batch(batch_size, drop_remainder=True)
    if flip:
        # One seed pair per batch from a seeded stream: the flips are reproducible.
        ds = tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed).batch(2)).map(_flip_batch,
                                                                                 num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _flip_batch(x, seed_pair):
    """Flip each image of a batch left-right with probability 1/2 (stateless, from ``seed_pair``)."""
    coin = tf.random.stateless_uniform((tf.shape(x)[0], 1, 1, 1), seed_pair) < 0.5
    return tf.where(coin, x[:, :, ::-1], x)


def unpaired_dataset(images_a, images_b, batch_size: int, seed: int = 0, flip: bool = True):
    """``(batch_a, batch_b)`` of independently shuffled A and B images (no pairing) for :class:`CycleGAN`."""
    return tf.data.Dataset.zip(image_dataset(images_a, batch_size, seed, flip),
                               image_dataset(images_b, batch_size, seed + 1, flip)).prefetch(tf.data.AUTOTUNE)


def mean_pairwise_distance(images) -> float:
    """Mean RMS distance between all pairs of a batch (n >= 2, (n, H, W, C) in [0, 1]): a diversity measure.

    A generator in *mode collapse* draws nearly the same image for every ``z``, so this falls far
    below the value for real images of the same kind.
    """
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    if len(x) < 2:
        raise ValueError("mean_pairwise_distance needs at least 2 images")
    sq = (x**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0) / x.shape[1]
    i, j = np.triu_indices(len(x), 1)
    return float(np.sqrt(d2[i, j]).mean())


def nearest_neighbour(images, pool, block: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Each image's nearest neighbour in ``pool``: its RMS pixel distance and its index.

    The test that tells a collapsed generator from one that has not started (both score a low
    :func:`mean_pairwise_distance`): a collapsed one draws a face, close to some training face; noise
    is far from all of them. The index says *whose* face a sample resembles (notebook 04's latent walk).

    Args:
        images: (n, H, W, C) array (n may be 0), any real dtype and scale; computed in float64, so
            uint8 does not overflow. The distance is in the images' units.
        pool: (m, H, W, C) with the same H, W, C and m >= 1, e.g. the training faces.
        block: pool images compared at a time, >= 1; bounds memory to about ``n * block`` float64
            distances plus one block in float64 (CelebA's 60,000 faces at once would take 6 GB, twice).

    Returns:
        ``(rms, index)``: float64 (n,) RMS distance over all pixels and channels, and int64 (n,)
        index into ``pool``; on ties (up to float rounding: an exact copy scores about 1e-8, not 0)
        the first. NaN in the inputs is not checked: it gives ``inf`` and index 0.

    Raises:
        ValueError: an empty pool, image and pool shapes that differ, or ``block < 1``.
    """
    x = np.asarray(images, np.float64)
    pool = np.asarray(pool)
    if len(pool) == 0 or x.shape[1:] != pool.shape[1:]:
        raise ValueError(f"nearest_neighbour: images {x.shape} and pool {pool.shape} must share (H, W, C), pool non-empty")
    if block < 1:
        raise ValueError(f"nearest_neighbour: block must be >= 1, got {block}")
    x = x.reshape(len(x), int(np.prod(x.shape[1:])))
    x_sq = (x**2).sum(1)[:, None]
    best, where = np.full(len(x), np.inf), np.zeros(len(x), np.int64)
    for start in range(0, len(pool), block):
        p = pool[start : start + block].reshape(-1, x.shape[1]).astype(np.float64)
        d2 = x_sq + (p**2).sum(1)[None] - 2 * x @ p.T
        block_best = d2.min(1)
        closer = block_best < best  # strict: an earlier block keeps its tie
        best[closer], where[closer] = block_best[closer], start + d2.argmin(1)[closer]
    return np.sqrt(np.maximum(best, 0.0) / x.shape[1]), where


def checkerboard_energy(images) -> float:
    """Share of the (mean-removed) spectral power at the period-2 frequencies, averaged over a batch.

    The power of the luminance-like channel mean at the three Nyquist bins ``(pi, 0)``, ``(0, pi)``,
    ``(pi, pi)`` divided by the total power without DC: a checkerboard (pixel values alternating
    between neighbours, the artefact of strided up-convolutions) scores high; an image made of
    constant 2 x 2 blocks (nearest-neighbour upsampling) scores exactly 0. (n, H, W, C), H and W even.
    """
    x = np.asarray(images, np.float64)
    if x.ndim != 4 or x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"checkerboard_energy: expected (n, H, W, C) with even H and W, got {x.shape}")
    gray = x.mean(axis=3)
    gray = gray - gray.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(gray)) ** 2
    h, w = gray.shape[1] // 2, gray.shape[2] // 2
    nyquist = power[:, h, 0] + power[:, 0, w] + power[:, h, w]
    return float(np.mean(nyquist / np.maximum(power.sum(axis=(1, 2)), 1e-30)))
