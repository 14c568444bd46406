"""Tests for the VAE pieces: sr_lib.layers.Sampling and sr_lib.models.vaes (VAE, ConditionalVAE, the loss terms).

References are independent of the code under test: the KL term against numerical integration of
q log(q / p), the likelihood against scipy.stats.norm, the reparameterisation gradient against its
derivative written out by hand, the untrained conditional VAE against the MATLAB-compatible bicubic.
"""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate, stats

import keras

from sr_lib.data.imresize import imresize
from sr_lib.layers import BicubicUpsampling, Sampling
from sr_lib.models import VAE, ConditionalVAE, conditional_vae, vae
from sr_lib.models.vaes import gaussian_nll, kl_divergence

LOSS_NAMES = {"total_loss", "reconstruction_loss", "kl_loss"}


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def _kl_by_integration(mean, log_var):
    """KL(N(mean, var) || N(0, 1)) in nats by quadrature of q(z) log(q(z) / p(z))."""
    std = math.exp(0.5 * log_var)
    q = stats.norm(mean, std)

    def integrand(z):
        return q.pdf(z) * (q.logpdf(z) - stats.norm.logpdf(z))

    value, _ = integrate.quad(integrand, mean - 12 * std, mean + 12 * std, limit=200)
    return value


# ------------------------------------------------------------------------- loss terms


@pytest.mark.parametrize("mean, log_var", [(0.0, 0.0), (1.5, 0.0), (-0.7, -2.0), (0.3, 1.2), (2.0, -4.0)])
def test_kl_matches_numerical_integration(mean, log_var):
    got = float(kl_divergence(np.array([[mean]], "float32"), np.array([[log_var]], "float32"))[0])
    assert got == pytest.approx(_kl_by_integration(mean, log_var), rel=1e-4, abs=1e-5)


def test_kl_sums_over_latent_axes_per_example():
    rng = np.random.default_rng(1)
    mean = rng.normal(size=(3, 2, 2, 2)).astype("float32")
    log_var = rng.normal(scale=0.5, size=(3, 2, 2, 2)).astype("float32")
    got = np.asarray(kl_divergence(mean, log_var))
    assert got.shape == (3,)
    # Independent dimensions: the KL of the product is the sum of the per-dimension KLs.
    expected = [sum(_kl_by_integration(m, v) for m, v in zip(mean[i].ravel(), log_var[i].ravel())) for i in range(3)]
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert float(kl_divergence(np.zeros((1, 5), "float32"), np.zeros((1, 5), "float32"))[0]) == 0.0


def test_gaussian_nll_matches_scipy():
    rng = np.random.default_rng(2)
    x = rng.random((2, 4, 4, 3)).astype("float32")
    x_hat = rng.random((2, 4, 4, 3)).astype("float32")
    sigma = 0.1
    expected = -stats.norm.logpdf(x, loc=x_hat, scale=sigma).reshape(2, -1).sum(axis=1)
    np.testing.assert_allclose(np.asarray(gaussian_nll(x, x_hat, sigma)), expected, rtol=1e-5)


# ------------------------------------------------------------------------- Sampling layer


def test_sampling_shape_and_statistics():
    mean = np.full((20000, 3), [0.5, -1.0, 2.0], "float32")
    log_var = np.full((20000, 3), [0.0, -2.0, 1.0], "float32")
    z = np.asarray(Sampling(seed=3)([mean, log_var]))
    assert z.shape == mean.shape and z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=0), [0.5, -1.0, 2.0], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), np.exp(0.5 * log_var[0]), rtol=0.03)


def test_sampling_gradients_flow_to_mean_and_log_var():
    layer = Sampling(seed=4)
    mean = tf.Variable(np.random.default_rng(3).normal(size=(4, 6)).astype("float32"))
    log_var = tf.Variable(np.random.default_rng(4).normal(size=(4, 6)).astype("float32"))
    with tf.GradientTape() as tape:
        z = layer([mean, log_var])
        total = tf.reduce_sum(z)
    d_mean, d_log_var = tape.gradient(total, [mean, log_var])
    # z = mean + exp(log_var / 2) * eps: dz/dmean = 1, dz/dlog_var = exp(log_var / 2) * eps / 2 = (z - mean) / 2.
    np.testing.assert_allclose(d_mean.numpy(), np.ones((4, 6)))
    np.testing.assert_allclose(d_log_var.numpy(), 0.5 * (z.numpy() - mean.numpy()), rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(d_log_var.numpy()) > 0)


def test_same_seed_same_samples_different_seed_different():
    mean, log_var = np.zeros((2, 8), "float32"), np.zeros((2, 8), "float32")
    a, b, c = (np.asarray(Sampling(seed=s)([mean, log_var])) for s in (7, 7, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    layer = Sampling(seed=7)
    first, second = (np.asarray(layer([mean, log_var])) for _ in range(2))
    assert not np.allclose(first, second)  # the generator advances: fresh noise on every call


def test_sampling_config_round_trip_and_keras_file(tmp_path):
    layer = Sampling(seed=11, name="s")
    clone = Sampling.from_config(layer.get_config())
    assert clone.seed == 11 and clone.name == "s"
    mean_in, log_var_in = keras.Input((5,)), keras.Input((5,))
    model = keras.Model([mean_in, log_var_in], Sampling(seed=11)([mean_in, log_var_in]))
    path = tmp_path / "sampling.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.layers[-1], Sampling) and loaded.layers[-1].seed == 11
    mean = np.arange(10, dtype="float32").reshape(2, 5)
    # Neither model has drawn yet: the loaded seed state is the saved one, so the draws agree.
    np.testing.assert_array_equal(loaded([mean, np.zeros_like(mean)]), model([mean, np.zeros_like(mean)]))
    np.testing.assert_allclose(loaded([mean, np.full((2, 5), -60.0, "float32")]), mean, atol=1e-6)  # variance ~ 0


def test_sampling_training_step():
    inputs = keras.Input((3,))
    z = Sampling(seed=1)([keras.layers.Dense(3)(inputs), keras.layers.Dense(3)(inputs)])
    model = keras.Model(inputs, z)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(np.ones((8, 3), "float32"), np.zeros((8, 3), "float32"), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_sampling_rejects_bad_input():
    with pytest.raises(ValueError, match="seed"):
        Sampling(seed="one")
    with pytest.raises(ValueError, match="same shape"):
        Sampling()([np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32")])


# ------------------------------------------------------------------------- BicubicUpsampling layer


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_upsampling_equals_matlab_imresize(scale):
    x = np.random.default_rng(scale).random((2, 7, 9, 3)).astype("float32")
    got = np.asarray(BicubicUpsampling(scale)(x))
    assert got.shape == (2, 7 * scale, 9 * scale, 3)
    expected = np.stack([imresize(image, scale) for image in x])  # border included
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_bicubic_upsampling_dynamic_size_in_graph_and_keras_file(tmp_path):
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, BicubicUpsampling(4)(inputs))
    traced = tf.function(model, input_signature=[tf.TensorSpec((None, None, None, 1))])
    for shape in [(1, 5, 6, 1), (2, 8, 3, 1)]:
        x = np.random.default_rng(shape[1]).random(shape).astype("float32")
        np.testing.assert_allclose(traced(x).numpy(), np.stack([imresize(i, 4) for i in x]), atol=1e-5)
    clone = BicubicUpsampling.from_config(model.layers[-1].get_config())
    assert clone.scale == 4
    path = tmp_path / "bicubic.keras"
    model.save(path)
    x = np.random.default_rng(0).random((1, 4, 4, 1)).astype("float32")
    np.testing.assert_allclose(keras.saving.load_model(path)(x), model(x), atol=1e-6)
    with pytest.raises(ValueError, match="scale"):
        BicubicUpsampling(1)


def test_bicubic_upsampling_training_step():
    inputs = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(1, 3, padding="same")(inputs)
    model = keras.Model(inputs, BicubicUpsampling(2)(x))
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(np.ones((2, 6, 6, 1), "float32"), np.zeros((2, 12, 12, 1), "float32"), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


# ------------------------------------------------------------------------- VAE


def _tiny_vae(**kwargs):
    return vae((16, 16, 3), latent_dim=4, filters=4, depth=2, seed=5, **kwargs)


def test_vae_shapes():
    model = _tiny_vae()
    x = np.random.default_rng(0).random((3, 16, 16, 3)).astype("float32")
    z_mean, z_log_var = model.encode(x)
    assert z_mean.shape == z_log_var.shape == (3, 4)
    out = np.asarray(model(x))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert model.generate(5, seed=1).shape == (5, 16, 16, 3)


def test_vae_fit_step_returns_finite_named_losses():
    model = _tiny_vae(beta=0.5)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = np.random.default_rng(0).random((8, 16, 16, 3)).astype("float32")
    logs = model.fit(x, batch_size=8, epochs=1, verbose=0).history
    assert set(logs) == LOSS_NAMES
    assert all(np.isfinite(v[0]) for v in logs.values())
    # One batch: the logged values are that batch's terms, combined with beta.
    assert logs["total_loss"][0] == pytest.approx(logs["reconstruction_loss"][0] + 0.5 * logs["kl_loss"][0], rel=1e-5)
    evaluated = model.evaluate(x, batch_size=8, verbose=0, return_dict=True)
    assert set(evaluated) == LOSS_NAMES and all(np.isfinite(v) for v in evaluated.values())


def test_vae_generate_is_seeded():
    model = _tiny_vae()
    np.testing.assert_array_equal(model.generate(3, seed=9), model.generate(3, seed=9))
    assert not np.allclose(model.generate(3, seed=9), model.generate(3, seed=10))


def test_vae_keras_file_round_trip(tmp_path):
    model = _tiny_vae()
    path = tmp_path / "vae.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, VAE) and loaded.sigma == model.sigma
    z = np.random.default_rng(1).normal(size=(2, 4)).astype("float32")
    np.testing.assert_allclose(loaded.decode(z), model.decode(z), atol=1e-6)


def test_vae_rejects_bad_sizes():
    with pytest.raises(ValueError, match="divisible by 2\\*\\*depth"):
        vae((30, 30, 3), depth=3)
    with pytest.raises(ValueError, match="latent_dim"):
        vae((16, 16, 3), latent_dim=0)
    with pytest.raises(ValueError, match="sigma"):
        vae((16, 16, 3), sigma=0)


# ------------------------------------------------------------------------- conditional VAE


def _patches(n=4, lr_size=6, scale=4):
    rng = np.random.default_rng(3)
    hr = rng.random((n, lr_size * scale, lr_size * scale, 1)).astype("float32")
    lr = np.stack([imresize(h, 1 / scale) for h in hr]).astype("float32")
    return lr, hr


def test_untrained_conditional_vae_is_bicubic():
    model = conditional_vae(scale=4, filters=4, blocks=1, seed=1)
    lr = np.random.default_rng(0).random((10, 12, 1)).astype("float32")
    samples = model.generate(lr, n_samples=3)
    assert samples.shape == (3, 40, 48, 1)
    reference = imresize(lr, 4)  # MATLAB-compatible bicubic, written independently of the layer
    np.testing.assert_allclose(samples, np.broadcast_to(reference, (3, 40, 48, 1)), atol=1e-5)


def test_conditional_vae_fit_step_and_seeded_samples():
    lr, hr = _patches()
    model = conditional_vae(scale=4, filters=4, blocks=1, seed=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    logs = model.fit(lr, hr, batch_size=4, epochs=2, verbose=0).history
    assert set(logs) == LOSS_NAMES and all(np.isfinite(v[-1]) for v in logs.values())
    twin = conditional_vae(scale=4, filters=4, blocks=1, seed=3)
    twin.set_weights(model.get_weights())
    a, b = model.generate(lr[0], 4), twin.generate(lr[0], 4)
    np.testing.assert_array_equal(a, b)
    assert a.std(axis=0).max() > 0  # trained: different draws give different images
    other = conditional_vae(scale=4, filters=4, blocks=1, seed=4)
    other.set_weights(model.get_weights())
    assert not np.allclose(other.generate(lr[0], 4), a)
    assert model.sample_mean(lr[:2], n_samples=3).shape == (2, 24, 24, 1)


def test_conditional_vae_evaluates_whole_images_of_any_size():
    model = conditional_vae(scale=4, filters=4, blocks=1, seed=2)
    model.compile(optimizer="adam")
    for size in (5, 7):
        lr, hr = _patches(n=1, lr_size=size)
        terms = model.evaluate(lr, hr, verbose=0, return_dict=True)
        assert set(terms) == LOSS_NAMES and all(np.isfinite(v) for v in terms.values())


def test_models_package_exports_the_factories_themselves():
    from sr_lib import models
    from sr_lib.models import vaes

    assert models.vae is vaes.vae and models.conditional_vae is vaes.conditional_vae
    assert isinstance(models.vae((8, 8, 1), latent_dim=2, filters=2, depth=1), VAE)
    assert isinstance(models.conditional_vae(filters=2, blocks=0), ConditionalVAE)


def test_conditional_vae_rejects_bad_input():
    with pytest.raises(ValueError, match="scale"):
        conditional_vae(scale=1)
    model = conditional_vae(filters=4, blocks=0)
    with pytest.raises(ValueError, match="one \\(h, w, C\\) image"):
        model.generate(np.zeros((1, 4, 4, 1), "float32"))
    assert isinstance(model, ConditionalVAE)
