"""sr_lib.losses: zero on identical images, finite gradients, and agreement with independent references."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage, signal

import keras

from sr_lib import losses, metrics

ALL = {**losses.LOSSES, "combined": losses.combined()}


@pytest.fixture
def images():
    """Two batches of smooth-ish natural-looking images (2, 32, 40, 1) in [0, 1] that differ."""
    rng = np.random.default_rng(0)
    base = ndimage.gaussian_filter(rng.random((2, 32, 40, 1)), sigma=(0, 2, 2, 0))
    base = (base - base.min()) / (base.max() - base.min())
    noisy = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1)
    return base.astype("float32"), noisy.astype("float32")


@pytest.mark.parametrize("name", list(ALL))
def test_zero_on_identical_positive_otherwise(name, images):
    clean, noisy = images
    loss = ALL[name]
    same = np.asarray(loss(clean, clean))
    differ = np.asarray(loss(clean, noisy))
    if name != "combined":  # Loss objects reduce over the batch; the functions give one value per sample
        assert same.shape == differ.shape == (2,)
    np.testing.assert_allclose(same, 0.0, atol=1e-6)
    assert np.all(differ > 1e-4)


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("identical", [False, True])
def test_gradients_are_finite(name, identical, images):
    clean, noisy = images
    prediction = tf.Variable(clean if identical else noisy)
    with tf.GradientTape() as tape:
        value = tf.reduce_mean(ALL[name](tf.constant(clean), prediction))
    gradient = tape.gradient(value, prediction).numpy()
    assert np.all(np.isfinite(gradient))
    if not identical:
        assert np.abs(gradient).max() > 0


def test_mse_mae_by_hand(images):
    clean, noisy = images
    np.testing.assert_allclose(losses.mse(clean, noisy), ((noisy - clean) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(losses.mae(clean, noisy), np.abs(noisy - clean).mean(axis=(1, 2, 3)), rtol=1e-5)


def test_psnr_loss_is_80_db_minus_psnr(images):
    clean, noisy = images
    mse = ((noisy.astype(np.float64) - clean) ** 2).mean(axis=(1, 2, 3))
    psnr = 10 * np.log10(1.0 / mse)
    np.testing.assert_allclose(losses.psnr_loss(clean, noisy), -10 * np.log10(losses.PSNR_EPSILON) - psnr, atol=1e-3)
    # Monotone: more noise, larger loss.
    worse = np.clip(noisy + 0.05, 0, 1)
    assert np.all(np.asarray(losses.psnr_loss(clean, worse)) > np.asarray(losses.psnr_loss(clean, noisy)))


def _scipy_log_kernel():
    """15 x 15 LoG from SciPy's Gaussian derivatives (radius 7 = truncate * sigma), made zero-sum."""
    delta = np.zeros((15, 15))
    delta[7, 7] = 1.0
    kernel = ndimage.gaussian_laplace(delta, sigma=1.5, truncate=7 / 1.5, mode="constant")
    return kernel - kernel.mean()


def test_log_kernel_matches_scipy():
    kernel = losses.log_kernel(15, 1.5)
    assert kernel.shape == (15, 15)
    assert abs(kernel.sum()) < 1e-12
    np.testing.assert_allclose(kernel, _scipy_log_kernel(), atol=1e-12)


def test_hfen_matches_numpy_reference():
    rng = np.random.default_rng(3)
    clean = ndimage.gaussian_filter(rng.random((2, 40, 36, 3)), sigma=(0, 1.5, 1.5, 0)).astype("float32")
    blurred = ndimage.gaussian_filter(clean, sigma=(0, 1.0, 1.0, 0)).astype("float32")
    kernel = _scipy_log_kernel()
    expected = np.zeros(2)
    for n in range(2):
        ratios = []
        for c in range(3):
            log_true = signal.correlate2d(clean[n, :, :, c].astype(np.float64), kernel, mode="valid")
            log_pred = signal.correlate2d(blurred[n, :, :, c].astype(np.float64), kernel, mode="valid")
            floor = log_true.size * losses.HFEN_EPSILON**2
            ratios.append(np.linalg.norm(log_pred - log_true) / np.sqrt(np.sum(log_true**2) + floor))
        expected[n] = np.mean(ratios)
    np.testing.assert_allclose(losses.hfen(clean, blurred), expected, rtol=1e-4)
    # Blind to brightness: a constant offset has no high frequencies.
    np.testing.assert_allclose(losses.hfen(clean, clean + 0.1), 0.0, atol=1e-4)


@pytest.mark.parametrize("channel", ["gray", "rgb"])
def test_ssim_loss_agrees_with_the_metric(channel):
    rng = np.random.default_rng(5)
    channels = 1 if channel == "gray" else 3
    a = ndimage.gaussian_filter(rng.random((48, 40, channels)), sigma=(2, 2, 0))
    a = (a - a.min()) / (a.max() - a.min())
    b = np.clip(a + rng.normal(0, 0.08, a.shape), 0, 1)
    # metrics.ssim measures 8-bit images: give the loss the same 8-bit values (as floats in [0, 1]).
    a8, b8 = metrics.to_uint8(a), metrics.to_uint8(b)
    expected = metrics.ssim(b8, a8, border=0, channel="y" if channels == 1 else "rgb")
    assert 0.3 < expected < 0.95
    got = 1.0 - float(losses.ssim_loss(metrics.to_float32(a8)[None], metrics.to_float32(b8)[None])[0])
    assert got == pytest.approx(expected, abs=1e-4)


def test_size_checks():
    small = np.zeros((1, 10, 20, 1), "float32")
    with pytest.raises(ValueError, match="11 x 11"):
        losses.ssim_loss(small, small)
    with pytest.raises(ValueError, match="15 x 15"):
        losses.hfen(np.zeros((1, 14, 20, 1), "float32"), np.zeros((1, 14, 20, 1), "float32"))


def test_combined_is_the_weighted_sum(images):
    clean, noisy = images
    loss = losses.combined({"mae": 1.0, "ssim": 0.5, "hfen": 0.25})
    expected = np.mean(
        losses.mae(clean, noisy) + 0.5 * losses.ssim_loss(clean, noisy) + 0.25 * losses.hfen(clean, noisy)
    )
    assert float(loss(clean, noisy)) == pytest.approx(float(expected), rel=1e-5)
    restored = losses.CombinedLoss.from_config(loss.get_config())
    assert restored.loss_weights == {"mae": 1.0, "ssim": 0.5, "hfen": 0.25}
    assert float(restored(clean, noisy)) == pytest.approx(float(expected), rel=1e-5)


def test_combined_rejects_bad_weights():
    with pytest.raises(ValueError, match="unknown loss"):
        losses.combined({"perceptual": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        losses.combined({"mae": -1.0})
    with pytest.raises(ValueError, match="positive weight"):
        losses.combined({"mae": 0.0})
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("l3")


def _tiny_model():
    inputs = keras.Input((None, None, 1))
    return keras.Model(inputs, keras.layers.Add()([inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs)]))


@pytest.mark.parametrize("name", list(ALL))
def test_compile_fit_and_save_load(name, images, tmp_path):
    keras.utils.set_random_seed(0)
    clean, noisy = images
    model = _tiny_model()
    model.compile(optimizer="adam", loss=ALL[name])
    history = model.fit(noisy, clean, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # the loss deserialises from the sr_lib registry
    assert loaded.evaluate(noisy, clean, verbose=0) == pytest.approx(model.evaluate(noisy, clean, verbose=0), rel=1e-5)
