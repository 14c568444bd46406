"""Variational autoencoders: a VAE for images and a conditional VAE that draws HR images for one LR image.

References
----------
- D. P. Kingma, M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014. arXiv:1312.6114.
  (The evidence lower bound, eq. (3); the reparameterisation trick, section 2.4; the KL term of a
  Gaussian posterior against a standard normal prior in closed form, appendix B, here
  :func:`kl_divergence`.)
- K. Sohn, H. Lee, X. Yan, "Learning Structured Output Representation using Deep Conditional
  Generative Models", NeurIPS 2015. (The conditional VAE: encoder q(z | x, y) and decoder
  p(y | x, z) both see the condition x, here the LR image; we keep the prior fixed at N(0, I)
  instead of learning a prior network p(z | x).)
- I. Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained Variational
  Framework", ICLR 2017. (The weight ``beta`` on the KL term.)

The likelihood
--------------
The decoder's output is the mean of a Gaussian with a fixed standard deviation ``sigma`` per pixel
value, p(x | z) = N(x; decoder(z), sigma^2 I). Its negative log-likelihood, :func:`gaussian_nll`, is
the reconstruction term, in nats per image, *including* the constant ``D/2 log(2 pi sigma^2)``
(D = number of pixel values), so that reconstruction + KL is exactly the negative ELBO at
``beta = 1``. A smaller ``sigma`` weighs reconstruction more against the KL term: for training,
``beta`` and ``sigma`` act together (only ``beta * sigma**2`` matters for the optimum).

Conventions: images float32 in [0, 1], NHWC. Models are ``keras.Model`` subclasses with their own
``train_step``/``test_step`` that report ``total_loss`` (reconstruction + beta * KL),
``reconstruction_loss`` and ``kl_loss``, each a mean over images in nats per image.
"""

from __future__ import annotations

import math
import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from sr_lib.layers import BicubicUpsampling, PixelShuffle, Sampling, SubPixelConv2D

__all__ = ["kl_divergence", "gaussian_nll", "VAE", "ConditionalVAE", "vae", "conditional_vae"]


def kl_divergence(z_mean, z_log_var):
    """KL( N(z_mean, exp(z_log_var)) || N(0, I) ) per example, in nats: shape (N,).

    Closed form (Kingma & Welling 2014, appendix B), summed over every latent axis after the
    batch axis::

        KL = -1/2 * sum(1 + log_var - mean**2 - exp(log_var))

    Args:
        z_mean, z_log_var: float tensors of the same shape (N, ...) (vectors or latent maps).
    """
    terms = 1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var)
    return -0.5 * ops.sum(ops.reshape(terms, (ops.shape(terms)[0], -1)), axis=1)


def gaussian_nll(x, x_hat, sigma):
    """-log N(x; x_hat, sigma^2 I) per example, in nats: shape (N,).

    ``sum((x - x_hat)**2) / (2 sigma^2) + D/2 * log(2 pi sigma^2)``, D = values per example.

    Args:
        x, x_hat: float tensors of the same shape (N, ...), e.g. images in [0, 1].
        sigma: the fixed standard deviation of the likelihood, a positive float.
    """
    x = ops.reshape(x, (ops.shape(x)[0], -1))
    x_hat = ops.reshape(x_hat, (ops.shape(x_hat)[0], -1))
    values = ops.cast(ops.shape(x)[1], x.dtype)
    squared_error = ops.sum(ops.square(x - x_hat), axis=1)
    return squared_error / (2.0 * sigma**2) + 0.5 * values * math.log(2.0 * math.pi * sigma**2)


def _check_positive(value, name, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{where}: `{name}` must be a positive number, got {value!r}")
    return float(value)


def _check_int(value, name, where, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where}: `{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


class _VariationalModel(keras.Model):
    """Shared training logic: loss = reconstruction + beta * KL, three ``keras.metrics.Mean`` trackers.

    Subclasses implement ``_forward(data, training) -> (target, prediction, z_mean, z_log_var)``.
    """

    def __init__(self, beta=1.0, sigma=0.1, **kwargs):
        super().__init__(**kwargs)
        where = type(self).__name__
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or beta < 0:
            raise ValueError(f"{where}: `beta` must be a number >= 0, got {beta!r}")
        self.beta = float(beta)
        self.sigma = _check_positive(sigma, "sigma", where)
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        # Listed here so that Keras resets them at the start of every epoch and of evaluate().
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def _loss_terms(self, data, training):
        target, prediction, z_mean, z_log_var = self._forward(data, training)
        reconstruction = ops.mean(gaussian_nll(target, prediction, self.sigma))
        kl = ops.mean(kl_divergence(z_mean, z_log_var))
        return reconstruction + self.beta * kl, reconstruction, kl

    def _track(self, total, reconstruction, kl):
        self.total_loss_tracker.update_state(total)
        self.reconstruction_loss_tracker.update_state(reconstruction)
        self.kl_loss_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            total, reconstruction, kl = self._loss_terms(data, training=True)
        grads = tape.gradient(total, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        return self._track(total, reconstruction, kl)

    def test_step(self, data):
        return self._track(*self._loss_terms(data, training=False))

    def get_config(self):
        return {"name": self.name, "beta": self.beta, "sigma": self.sigma}


@keras.saving.register_keras_serializable(package="sr_lib")
class VAE(_VariationalModel):
    """A variational autoencoder (Kingma & Welling 2014) from an encoder and a decoder model.

    Args:
        encoder: model ``x -> [z_mean, z_log_var, z]`` (``z`` from a :class:`~sr_lib.layers.Sampling`
            layer), each (N, latent_dim).
        decoder: model ``z -> x_hat``, (N, latent_dim) -> images (N, H, W, C) in [0, 1].
        beta: weight of the KL term in the training loss (1 = the ELBO).
        sigma: standard deviation of the Gaussian likelihood (see the module docstring).

    Training data: batches of images ``x`` (or ``(x, anything)``; only ``x`` is used).
    ``model(x)`` encodes, samples ``z`` and decodes: a reconstruction, (N, H, W, C).
    """

    def __init__(self, encoder, decoder, beta=1.0, sigma=0.1, **kwargs):
        super().__init__(beta=beta, sigma=sigma, **kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = int(decoder.inputs[0].shape[-1])
        self.built = True  # encoder and decoder are built functional models

    def call(self, x, training=False):
        _, _, z = self.encoder(x, training=training)
        return self.decoder(z, training=training)

    def _forward(self, data, training):
        x = data[0] if isinstance(data, (tuple, list)) else data
        z_mean, z_log_var, z = self.encoder(x, training=training)
        return x, self.decoder(z, training=training), z_mean, z_log_var

    def encode(self, x):
        """Images (N, H, W, C) -> NumPy ``(z_mean, z_log_var)``, each (N, latent_dim)."""
        z_mean, z_log_var, _ = self.encoder(np.asarray(x, dtype=np.float32), training=False)
        return ops.convert_to_numpy(z_mean), ops.convert_to_numpy(z_log_var)

    def decode(self, z):
        """Latent vectors (N, latent_dim) -> NumPy images (N, H, W, C) in [0, 1]."""
        return ops.convert_to_numpy(self.decoder(np.asarray(z, dtype=np.float32), training=False))

    def generate(self, n, seed=None):
        """``n`` new images: decode ``z ~ N(0, I)`` drawn with ``seed`` (same seed, same images)."""
        n = _check_int(n, "n", "VAE.generate")
        z = keras.random.normal((n, self.latent_dim), seed=seed)
        return self.decode(ops.convert_to_numpy(z))

    def get_config(self):
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="sr_lib")
class ConditionalVAE(_VariationalModel):
    """A conditional VAE for super-resolution (Sohn et al. 2015), prior N(0, I).

    The latent ``z`` is a map on the LR grid, (N, h, w, latent_channels): at every LR pixel it holds
    what the LR image does not say about the HR block there.

    Args:
        encoder: model ``[lr, hr] -> [z_mean, z_log_var, z]`` (training only).
        decoder: model ``[lr, z] -> hr_hat``, (N, h*scale, w*scale, C).
        scale: the upscaling factor (used to check the data).
        beta, sigma: as for :class:`VAE`; the KL and reconstruction terms are per image (patch).
        seed: seed of the prior draws in :meth:`call` (same seed, same samples).

    Training data: ``(lr, hr)`` batches. ``model(lr)`` draws one ``z`` from the prior per image and
    decodes it: one plausible HR image; :meth:`generate` draws several.
    """

    def __init__(self, encoder, decoder, scale=4, beta=1.0, sigma=0.05, seed=None, **kwargs):
        super().__init__(beta=beta, sigma=sigma, **kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.scale = _check_int(scale, "scale", "ConditionalVAE", minimum=2)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"ConditionalVAE: `seed` must be an int or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.prior_seed = keras.random.SeedGenerator(self.seed)
        self.latent_channels = int(decoder.inputs[1].shape[-1])
        self.built = True  # encoder and decoder are built functional models

    def call(self, lr, training=False, temperature=1.0):
        shape = ops.shape(lr)
        z = keras.random.normal((shape[0], shape[1], shape[2], self.latent_channels), dtype=lr.dtype,
                                seed=self.prior_seed)
        return self.decoder([lr, temperature * z], training=training)

    def _forward(self, data, training):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError("ConditionalVAE trains on (lr, hr) batches, got a single tensor")
        lr, hr = data[0], data[1]
        z_mean, z_log_var, z = self.encoder([lr, hr], training=training)
        return hr, self.decoder([lr, z], training=training), z_mean, z_log_var

    def generate(self, lr, n_samples=8, temperature=1.0):
        """``n_samples`` HR images for one LR image: NumPy (n_samples, h*scale, w*scale, C).

        Args:
            lr: one LR image (h, w, C) float32 [0, 1].
            n_samples: how many prior draws (one decoder batch).
            temperature: multiplies the prior draws; 0 decodes ``z = 0``, the prior's mean.
        """
        lr = np.asarray(lr, dtype=np.float32)
        if lr.ndim != 3:
            raise ValueError(f"ConditionalVAE.generate expects one (h, w, C) image, got shape {lr.shape}")
        n_samples = _check_int(n_samples, "n_samples", "ConditionalVAE.generate")
        batch = np.repeat(lr[None], n_samples, axis=0)
        return ops.convert_to_numpy(self(batch, training=False, temperature=float(temperature)))

    def sample_mean(self, lr_batch, n_samples=8, temperature=1.0):
        """Mean of ``n_samples`` draws for every image of an LR batch (N, h, w, C): NumPy (N, H, W, C)."""
        lr_batch = np.asarray(lr_batch, dtype=np.float32)
        return np.stack([self.generate(lr, n_samples, temperature).mean(axis=0) for lr in lr_batch])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "seed": self.seed,
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def vae(
    input_shape=(64, 64, 3),
    latent_dim: int = 32,
    filters: int = 32,
    depth: int = 3,
    beta: float = 1.0,
    sigma: float = 0.1,
    seed: int | None = None,
    activation: str = "relu",
    name: str | None = None,
) -> VAE:
    """A convolutional VAE for small images, e.g. 64 x 64 aligned faces.

    Layout (``f = filters``, level ``l = 0 .. depth - 1``)::

        encoder_l        3x3 conv, stride 2, f * 2**l        H/2**(l+1)
        z_mean, z_log_var  dense to latent_dim each (from the flattened last level)
        sampling         z = z_mean + exp(z_log_var / 2) * eps
        decoder_dense    dense to (H/2**depth, W/2**depth, f * 2**(depth-1))
        decoder_l_up     SubPixelConv2D(f * 2**l, x2, ICNR), then a 3x3 conv (levels l >= 1)
        output           3x3 conv to C, sigmoid -> [0, 1]

    Args:
        input_shape: (H, W, C); H and W must be divisible by 2**depth (the dense layers fix the size).
        latent_dim: length of z.
        filters, depth, activation: width of the first level, number of stride-2 levels, hidden
            activation.
        beta, sigma: KL weight and likelihood standard deviation (see :class:`VAE`).
        seed: seed of the Sampling layer (and of nothing else: weights follow
            ``keras.utils.set_random_seed``).

    Returns:
        A :class:`VAE`, not compiled.

    Raises:
        ValueError: if a size does not fit (names the argument).
    """
    where = "vae"
    if len(tuple(input_shape)) != 3 or any(s is None for s in input_shape):
        raise ValueError(f"{where}: `input_shape` must be a fixed (H, W, C), got {input_shape!r}")
    height, width, channels = (_check_int(s, "input_shape", where) for s in input_shape)
    latent_dim = _check_int(latent_dim, "latent_dim", where)
    filters = _check_int(filters, "filters", where)
    depth = _check_int(depth, "depth", where)
    if height % 2**depth or width % 2**depth:
        raise ValueError(f"{where}: input_shape {tuple(input_shape)} must have H and W divisible by "
                         f"2**depth = {2**depth}")

    x_in = keras.Input((height, width, channels), name="image")
    x = x_in
    for level in range(depth):
        x = layers.Conv2D(filters * 2**level, 3, strides=2, padding="same", activation=activation,
                          name=f"encoder_{level}")(x)
    x = layers.Flatten(name="flatten")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    # Zero init: every image starts with variance 1 (log 1 = 0), the prior's.
    z_log_var = layers.Dense(latent_dim, kernel_initializer="zeros", name="z_log_var")(x)
    z = Sampling(seed=seed, name="sampling")([z_mean, z_log_var])
    encoder = keras.Model(x_in, [z_mean, z_log_var, z], name="encoder")

    bottom = (height // 2**depth, width // 2**depth, filters * 2 ** (depth - 1))
    z_in = keras.Input((latent_dim,), name="z")
    y = layers.Dense(int(np.prod(bottom)), activation=activation, name="decoder_dense")(z_in)
    y = layers.Reshape(bottom, name="decoder_reshape")(y)
    for level in range(depth - 1, -1, -1):
        y = SubPixelConv2D(filters * 2**level, 2, activation=activation, name=f"decoder_{level}_up")(y)
        if level > 0:  # no extra conv at full resolution: it would cost more than the rest together
            y = layers.Conv2D(filters * 2**level, 3, padding="same", activation=activation,
                              name=f"decoder_{level}")(y)
    # float32 under a mixed-precision policy: the decoded image is the model's result.
    x_hat = layers.Conv2D(channels, 3, padding="same", activation="sigmoid", dtype="float32", name="output")(y)
    decoder = keras.Model(z_in, x_hat, name="decoder")
    return VAE(encoder, decoder, beta=beta, sigma=sigma, name=name or f"vae_z{latent_dim}_b{beta:g}")


def conditional_vae(
    scale: int = 4,
    channels: int = 1,
    latent_channels: int = 4,
    filters: int = 32,
    blocks: int = 3,
    beta: float = 1.0,
    sigma: float = 0.05,
    seed: int | None = None,
    activation: str = "relu",
    name: str | None = None,
) -> ConditionalVAE:
    """A fully convolutional conditional VAE for SR x``scale`` (Sohn et al. 2015), any image size.

    Encoder q(z | lr, hr)::

        hr_block   conv with kernel = stride = scale: one feature vector per LR pixel, from the
                   HR block it covers
        lr_feat    3x3 conv of the LR image
        concat, two 3x3 convs, then z_mean and z_log_var (3x3 convs to latent_channels)
        sampling   z = z_mean + exp(z_log_var / 2) * eps, a (h, w, latent_channels) map

    Decoder p(hr | lr, z)::

        concat [lr, z], a 3x3 conv, ``blocks`` 3x3 convs (f = filters)
        3x3 conv to channels * scale**2 (zero init) + PixelShuffle(scale)
        + BicubicUpsampling(scale)(lr), MATLAB's bicubic (a residual over bicubic: before training,
          every sample is exactly the bicubic image, and the network only learns the missing detail)

    Args:
        scale: upscaling factor (int >= 2). HR training patches must be ``scale`` times the LR ones.
        channels: 1 (Y channel) or 3.
        latent_channels: channels of z at each LR pixel.
        filters, blocks, activation: decoder width, number of hidden convs, hidden activation.
        beta, sigma, seed: see :class:`ConditionalVAE`; the Sampling layer uses ``seed`` too.

    Returns:
        A :class:`ConditionalVAE`, not compiled.
    """
    where = "conditional_vae"
    scale = _check_int(scale, "scale", where, minimum=2)
    channels = _check_int(channels, "channels", where)
    latent_channels = _check_int(latent_channels, "latent_channels", where)
    filters = _check_int(filters, "filters", where)
    blocks = _check_int(blocks, "blocks", where, minimum=0)

    def conv(width, name, **kwargs):
        return layers.Conv2D(width, kwargs.pop("kernel", 3), padding="same", activation=activation, name=name,
                             **kwargs)

    lr_in = keras.Input((None, None, channels), name="lr")
    hr_in = keras.Input((None, None, channels), name="hr")
    h = conv(filters, "hr_block", kernel=scale, strides=scale)(hr_in)
    l = conv(filters, "lr_features")(lr_in)
    x = layers.Concatenate(name="encoder_concat")([h, l])
    x = conv(filters, "encoder_0")(x)
    x = conv(filters, "encoder_1")(x)
    z_mean = layers.Conv2D(latent_channels, 3, padding="same", name="z_mean")(x)
    z_log_var = layers.Conv2D(latent_channels, 3, padding="same", kernel_initializer="zeros", name="z_log_var")(x)
    z = Sampling(seed=seed, name="sampling")([z_mean, z_log_var])
    encoder = keras.Model([lr_in, hr_in], [z_mean, z_log_var, z], name="cvae_encoder")

    lr_d = keras.Input((None, None, channels), name="lr")
    z_d = keras.Input((None, None, latent_channels), name="z")
    y = layers.Concatenate(name="decoder_concat")([lr_d, z_d])
    y = conv(filters, "decoder_in")(y)
    for block in range(blocks):
        y = conv(filters, f"decoder_{block}")(y)
    # The output layers run in float32 under a mixed-precision policy: the HR image is the model's result.
    y = layers.Conv2D(channels * scale**2, 3, padding="same", kernel_initializer="zeros", dtype="float32",
                      name="detail")(y)
    detail = PixelShuffle(scale, dtype="float32", name="detail_shuffle")(y)
    bicubic = BicubicUpsampling(scale, dtype="float32", name="bicubic")(lr_d)  # MATLAB's bicubic, the protocol's baseline
    hr_hat = layers.Add(dtype="float32", name="residual")([bicubic, detail])
    decoder = keras.Model([lr_d, z_d], hr_hat, name="cvae_decoder")
    return ConditionalVAE(encoder, decoder, scale=scale, beta=beta, sigma=sigma, seed=seed,
                          name=name or f"cvae_x{scale}_z{latent_channels}")
