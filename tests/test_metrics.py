"""PSNR / SSIM under the SR protocol, against scikit-image as the independent reference."""

import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sr_lib import metrics


def _pair(rng, shape=(40, 52, 3), noise=12):
    hr = rng.integers(0, 256, size=shape).astype(np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-noise, noise + 1, size=shape), 0, 255).astype(np.uint8)
    return sr, hr


def _y(image_uint8):
    return rgb2ycbcr(image_uint8)[..., 0]  # skimage: BT.601 studio swing, float 16..235


@pytest.mark.parametrize("border", [0, 2, 4])
def test_psnr_y_matches_skimage(rng, border):
    sr, hr = _pair(rng)
    b = slice(border, -border or None)
    expected = peak_signal_noise_ratio(_y(hr)[b, b], _y(sr)[b, b], data_range=255)
    assert metrics.psnr(sr, hr, border=border) == pytest.approx(expected, abs=1e-9)


def test_psnr_rgb_matches_skimage(rng):
    sr, hr = _pair(rng)
    expected = peak_signal_noise_ratio(hr, sr, data_range=255)
    assert metrics.psnr(sr, hr, channel="rgb") == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("border", [0, 3])
def test_ssim_y_matches_skimage(rng, border):
    sr, hr = _pair(rng, noise=40)
    b = slice(border, -border or None)
    expected = structural_similarity(
        _y(hr)[b, b], _y(sr)[b, b], data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert metrics.ssim(sr, hr, border=border) == pytest.approx(expected, abs=1e-9)


def test_ssim_rgb_matches_skimage(rng):
    sr, hr = _pair(rng, noise=40)
    expected = structural_similarity(
        hr, sr, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert metrics.ssim(sr, hr, channel="rgb") == pytest.approx(expected, abs=1e-9)


def test_grayscale_measured_on_gray_values(rng):
    sr, hr = _pair(rng, shape=(32, 32, 1))
    expected = peak_signal_noise_ratio(hr[..., 0], sr[..., 0], data_range=255)
    assert metrics.psnr(sr, hr) == pytest.approx(expected, abs=1e-9)
    assert metrics.psnr(sr[..., 0], hr[..., 0]) == pytest.approx(expected, abs=1e-9)
    # Replicated to RGB and converted to Y the same image scores differently: the convention matters.
    rgb = lambda x: np.repeat(x, 3, axis=-1)  # noqa: E731
    assert abs(metrics.psnr(rgb(sr), rgb(hr)) - expected) > 0.5


def test_float_inputs_are_rounded_to_8_bits(rng):
    sr, hr = _pair(rng)
    sr_float = sr.astype(np.float32) / 255 + rng.uniform(-0.4, 0.4, sr.shape).astype(np.float32) / 255
    assert metrics.psnr(sr_float, hr) == pytest.approx(metrics.psnr(sr, hr), abs=1e-9)
    assert metrics.ssim(sr_float, hr) == pytest.approx(metrics.ssim(sr, hr), abs=1e-9)


def test_identical_images():
    x = np.full((16, 16, 3), 0.5, np.float32)
    assert metrics.psnr(x, x) == float("inf")
    assert metrics.ssim(x, x) == pytest.approx(1.0)


def test_ycbcr_round_trip_and_known_values(rng):
    x = rng.random((8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(metrics.ycbcr_to_rgb(metrics.rgb_to_ycbcr(x)), x, atol=1e-5)
    white = np.ones((1, 1, 3), np.float32)
    assert metrics.rgb_to_y(white)[0, 0] * 255 == pytest.approx(235.0, abs=1e-3)
    assert metrics.rgb_to_y(0 * white)[0, 0] * 255 == pytest.approx(16.0, abs=1e-3)


def test_clear_errors():
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))
    with pytest.raises(ValueError, match="border"):
        metrics.psnr(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), border=4)
    with pytest.raises(ValueError, match="channel"):
        metrics.psnr(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), channel="lab")
    with pytest.raises(ValueError, match="at least 11"):
        metrics.ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))


# --------------------------------------------------------------------------- parameter checks

@pytest.mark.parametrize("border", [2.5, 2.0, "2", True, None])
def test_border_must_be_a_whole_number(border):
    from sr_lib.metrics import psnr, ssim

    image = np.full((16, 16, 3), 0.5, np.float32)
    for metric in (psnr, ssim):
        with pytest.raises(TypeError, match="border must be a whole number"):
            metric(image, image, border=border)


def test_border_accepts_numpy_integers():
    from sr_lib.metrics import psnr

    a = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    assert psnr(a, a * 0.9, border=np.int64(2)) == psnr(a, a * 0.9, border=2)


@pytest.mark.parametrize("which", ["prediction", "reference"])
def test_none_is_not_an_image(which):
    from sr_lib.metrics import psnr

    image = np.full((16, 16, 3), 0.5, np.float32)
    args = (None, image) if which == "prediction" else (image, None)
    with pytest.raises(TypeError, match=f"{which} is not an image"):
        psnr(*args)
