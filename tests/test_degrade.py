"""Tests for sr_lib.data.degrade: modcrop, MATLAB-bicubic LR images and the crapify steps."""

import numpy as np
import pytest

from sr_lib.data.degrade import (
    add_gaussian_noise,
    bicubic_downscale,
    crapify,
    gaussian_blur,
    jpeg_compress,
    modcrop,
)
from sr_lib.data.imresize import imresize


@pytest.fixture
def hr():
    # A smooth image plus texture: realistic enough that blur and JPEG visibly change it.
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:48] / 64.0
    base = 0.5 + 0.3 * np.sin(6 * x)[..., None] * np.cos(4 * y)[..., None] * np.array([1.0, 0.7, 0.4])
    return np.clip(base + 0.1 * rng.random((64, 48, 3)), 0, 1).astype(np.float32)


def test_modcrop_shapes():
    assert modcrop(np.zeros((101, 67, 3)), 4).shape == (100, 64, 3)
    assert modcrop(np.zeros((101, 67)), 3).shape == (99, 66)
    assert modcrop(np.zeros((8, 8, 1)), 4).shape == (8, 8, 1)


def test_modcrop_too_small():
    with pytest.raises(ValueError, match=r"\(3, 10, 3\)"):
        modcrop(np.zeros((3, 10, 3)), 4)
    with pytest.raises(ValueError, match="positive integer"):
        modcrop(np.zeros((8, 8)), 0)


def test_bicubic_downscale_shape_range_and_matlab_path(hr):
    lr = bicubic_downscale(hr[:63, :47], 4)  # not divisible: modcrop to 60 x 44 first
    assert lr.shape == (15, 11, 3) and lr.dtype == np.float32
    assert lr.min() >= 0 and lr.max() <= 1
    # Quantised path == MATLAB-style uint8 imresize of the 8-bit image.
    hr8 = np.round(hr[:60, :44] * 255).astype(np.uint8)
    np.testing.assert_array_equal(lr, imresize(hr8, 1 / 4).astype(np.float32) / 255)
    # Grayscale keeps its channel axis; the float path stays in range too.
    assert bicubic_downscale(hr[..., :1], 2).shape == (32, 24, 1)
    lr_float = bicubic_downscale(hr, 2, quantize=False)
    assert lr_float.dtype == np.float32 and lr_float.min() >= 0 and lr_float.max() <= 1
    # uint8 means 0..255 (sr_lib.images): the same LR as its float twin; int64 is ambiguous.
    np.testing.assert_array_equal(bicubic_downscale(hr8, 4), lr)
    with pytest.raises(TypeError, match="int64"):
        bicubic_downscale(hr8.astype(np.int64), 4)


def test_crapify_deterministic_and_each_step_changes(hr):
    options = dict(blur_sigma=0.8, noise_sigma=0.03, jpeg_quality=40)
    first = crapify(hr, 2, rng=np.random.default_rng(7), **options)
    second = crapify(hr, 2, rng=np.random.default_rng(7), **options)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, crapify(hr, 2, rng=np.random.default_rng(8), **options))
    assert first.shape == (32, 24, 3) and first.dtype == np.float32
    assert first.min() >= 0 and first.max() <= 1

    plain = crapify(hr, 2)
    np.testing.assert_array_equal(plain, bicubic_downscale(hr, 2))
    for step in (dict(blur_sigma=1.0), dict(noise_sigma=0.02), dict(jpeg_quality=30)):
        changed = crapify(hr, 2, rng=np.random.default_rng(0), **step)
        assert np.abs(changed - plain).mean() > 1e-3, step

    with pytest.raises(ValueError, match="rng"):
        crapify(hr, 2, noise_sigma=0.1)


def test_crapify_upsample_shape(hr):
    out = crapify(hr[:63], 4, blur_sigma=0.5, jpeg_quality=60, upsample=True)
    assert out.shape == (60, 48, 3) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1


def test_gaussian_blur_keeps_shape_and_smooths(hr):
    gray = hr[..., :1]
    blurred = gaussian_blur(gray, 1.5)
    assert blurred.shape == gray.shape and blurred.dtype == np.float32
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(gray, axis=1)).mean()
    np.testing.assert_array_equal(gaussian_blur(hr, 0), hr)


def test_jpeg_quality_ordering(hr):
    error_95 = np.abs(jpeg_compress(hr, 95) - hr).mean()
    error_10 = np.abs(jpeg_compress(hr, 10) - hr).mean()
    assert error_95 < error_10
    assert jpeg_compress(hr[..., :1], 50).shape == (64, 48, 1)
    with pytest.raises(ValueError, match="quality"):
        jpeg_compress(hr, 0)


def test_noise_std_on_flat_grey():
    grey = np.full((128, 128, 3), 0.5, np.float32)
    noisy = add_gaussian_noise(grey, 0.05, np.random.default_rng(1))
    assert noisy.dtype == np.float32
    assert abs(float((noisy - grey).std()) - 0.05) < 0.002
    assert abs(float((noisy - grey).mean())) < 0.002


# --------------------------------------------------------------------------- parameter checks

@pytest.mark.parametrize("sigma", [float("nan"), float("inf"), -1.0])
def test_blur_and_noise_refuse_a_non_finite_or_negative_sigma(sigma):
    from sr_lib.data.degrade import add_gaussian_noise, gaussian_blur

    image = np.full((8, 8, 3), 0.5, np.float32)
    with pytest.raises(ValueError, match="gaussian_blur: sigma"):
        gaussian_blur(image, sigma)
    with pytest.raises(ValueError, match="add_gaussian_noise: sigma"):
        add_gaussian_noise(image, sigma, np.random.default_rng(0))


@pytest.mark.parametrize("sigma", ["2", True, None])
def test_blur_refuses_a_sigma_that_is_not_a_number(sigma):
    from sr_lib.data.degrade import gaussian_blur

    with pytest.raises(TypeError, match="sigma must be a number"):
        gaussian_blur(np.zeros((8, 8, 3), np.float32), sigma)


def test_blur_refuses_a_sigma_wider_than_the_image_instead_of_hanging():
    import time

    from sr_lib.data.degrade import gaussian_blur

    image = np.full((8, 10, 3), 0.5, np.float32)
    started = time.perf_counter()
    with pytest.raises(ValueError, match="sigma 1000000.0 is larger than the image"):
        gaussian_blur(image, 1e6)
    assert time.perf_counter() - started < 1
    assert gaussian_blur(image, 10).shape == image.shape  # the image's longer side is allowed


def test_jpeg_quality_refuses_bool():
    from sr_lib.data.degrade import jpeg_compress

    with pytest.raises(ValueError, match="quality"):
        jpeg_compress(np.zeros((8, 8, 3), np.float32), True)
