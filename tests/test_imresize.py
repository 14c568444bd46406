"""MATLAB-compatible imresize, checked against two independent references:
TensorFlow's antialiased Keys-cubic resampler (identical away from the border, where MATLAB mirrors and
TF renormalises) and the LR images that MATLAB itself made for Set5/Set14."""

import numpy as np
import pytest
from PIL import Image

from sr_lib.data.imresize import imresize, resize_weights


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_interior_matches_tensorflow_antialiased_bicubic(scale, rng):
    tf = pytest.importorskip("tensorflow")
    x = rng.random((48, 60, 3)).astype(np.float32)
    margin = 2  # border pixels whose kernel reaches outside the image
    down = imresize(x, 1 / scale)
    ref = tf.image.resize(x[None], (48 // scale, 60 // scale), "bicubic", antialias=True)[0].numpy()
    np.testing.assert_allclose(down[margin:-margin, margin:-margin], ref[margin:-margin, margin:-margin], atol=1e-5)
    up = imresize(x, scale)
    ref = tf.image.resize(x[None], (48 * scale, 60 * scale), "bicubic", antialias=True)[0].numpy()
    m = 2 * scale
    np.testing.assert_allclose(up[m:-m, m:-m], ref[m:-m, m:-m], atol=1e-5)


def test_without_antialiasing_tensorflow_is_far_off(rng):
    # The reason the protocol needs this function: plain tf.image.resize aliases when shrinking.
    tf = pytest.importorskip("tensorflow")
    x = rng.random((48, 48, 1)).astype(np.float32)
    ref = tf.image.resize(x[None], (12, 12), "bicubic", antialias=False)[0].numpy()
    assert np.abs(imresize(x, 1 / 4) - ref).max() > 0.1


def test_weights_rows_sum_to_one_and_mirror_at_border():
    w = resize_weights(10, 5, 0.5)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert w.shape == (5, 10)
    # A constant signal stays constant, including at the mirrored borders.
    np.testing.assert_allclose(w @ np.full(10, 0.3), 0.3)


def test_shapes_and_dtypes(rng):
    x8 = (rng.random((30, 45, 3)) * 255).astype(np.uint8)
    out = imresize(x8, 1 / 3)
    assert out.shape == (10, 15, 3) and out.dtype == np.uint8
    assert imresize(x8[..., 0], output_shape=(7, 9)).shape == (7, 9)
    assert imresize(x8.astype(np.float64) / 255, 2).dtype == np.float32


def test_nearest_upscale_is_pixel_replication(rng):
    x = rng.random((5, 7))
    np.testing.assert_allclose(imresize(x, 3, method="nearest"), np.kron(x, np.ones((3, 3))), atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="scale"):
        imresize(np.zeros((4, 4)), 0)
    with pytest.raises(ValueError, match="method"):
        imresize(np.zeros((4, 4)), 2, method="lanczos")
    with pytest.raises(ValueError, match="shape"):
        imresize(np.zeros((2, 4, 4, 3)), 2)
    with pytest.raises(TypeError, match="int32"):
        imresize(np.zeros((4, 4), dtype=np.int32), 2)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_reproduces_matlab_lr_images_of_the_benchmarks(mirror, scale):
    """MATLAB made these LR PNGs with imresize(HR, 1/scale): we agree exactly on more than 98% of the
    pixels and within one grey level on all but a handful (a 1-level difference in the intermediate
    uint8 pass can grow by the kernel's 1.x gain to 2 levels; one pixel of 19 images does that). The
    outer 3 LR pixels differ more: the LR images were made before HR was cropped to a multiple of the
    scale."""
    paths = sorted((mirror / "sr").glob(f"Set*/image_SRF_{scale}/*_HR.png"))
    assert len(paths) == 19
    for hr_path in paths:
        hr = np.array(Image.open(hr_path))
        lr = np.array(Image.open(str(hr_path).replace("_HR", "_LR")))
        diff = np.abs(imresize(hr, 1 / scale).astype(int) - lr.astype(int))[3:-3, 3:-3]
        assert diff.max() <= 2, hr_path.name
        assert (diff > 1).sum() <= 2, hr_path.name
        assert (diff > 0).mean() < 0.02, hr_path.name


# --------------------------------------------------------------------------- parameter checks

@pytest.mark.parametrize("scale, error", [(float("nan"), ValueError), (float("inf"), ValueError), (0, ValueError),
                                          ("2", TypeError), (True, TypeError), ((2,), TypeError),
                                          ((2, float("nan")), ValueError)])
def test_imresize_refuses_a_bad_scale_by_name(scale, error):
    from sr_lib.data.imresize import imresize

    with pytest.raises(error, match="imresize: scale must be"):
        imresize(np.zeros((8, 8, 3), np.float32), scale)


@pytest.mark.parametrize("shape", [(5,), 5, "55", (4.5, 4), (0, 4)])
def test_imresize_refuses_a_bad_output_shape_by_name(shape):
    from sr_lib.data.imresize import imresize

    with pytest.raises((TypeError, ValueError), match="imresize: output_shape must be"):
        imresize(np.zeros((8, 8, 3), np.float32), output_shape=shape)


def test_imresize_channel_error_lists_the_four_channel_layout_it_accepts():
    from sr_lib.data.imresize import imresize
    from sr_lib.images import ImageShapeError

    assert imresize(np.zeros((8, 8, 4), np.float32), 2).shape == (16, 16, 4)
    with pytest.raises(ImageShapeError, match=r"\(H, W, 4\)"):
        imresize(np.zeros((8, 8, 5), np.float32), 2)
