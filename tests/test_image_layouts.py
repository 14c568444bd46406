"""Issue 18: every public sr_lib function that takes an image treats (H, W), (H, W, 1) and (H, W, 3)
alike, takes uint8 / uint16 / float [0, 1] alike, and refuses int64 and 0..255 floats (sr_lib.images).

One table, ``CASES``, lists each function as ``image -> result`` on a tiny image. For every entry:

- the (H, W) result equals the (H, W, 1) result squeezed (for scalars: equal);
- where the function's docstring says a gray image means its replication to RGB (per-channel
  operations), the gray result equals every channel of the RGB result of the replicated image;
- a uint8 image, its float twin (``/ 255``) and its uint16 twin (``* 257``) give the same result;
- int64 raises ``ImageTypeError``, a float image in 0..255 raises ``ImageRangeError`` naming the range;
- 4 channels do what the docstring says (``ALPHA``: reject -> ImageShapeError, keep, drop).
"""

from __future__ import annotations

import numpy as np
import pytest

from sr_lib import images, inference, metrics, viz
from sr_lib.data import degrade
from sr_lib.data.imresize import imresize
from sr_lib.evaluation import bicubic
from sr_lib.images import ImageRangeError, ImageShapeError, ImageTypeError

H, W = 16, 18


@pytest.fixture(scope="module")
def espcn_x2():
    from sr_lib import pretrained

    return pretrained.load("espcn_x2")


@pytest.fixture(scope="module")
def rgb_model():
    import keras

    from sr_lib import models

    keras.utils.set_random_seed(0)
    return models.espcn(2, channels=3, filters=(4, 4))


def _gray8() -> np.ndarray:
    """A smooth (H, W) uint8 test card with an edge (so bicubic overshoots a little)."""
    y, x = np.mgrid[0:H, 0:W]
    card = 0.5 + 0.3 * np.sin(y / 2.5) * np.cos(x / 3.0)
    card[:, W // 2:] *= 0.6
    return np.round(card * 255).astype(np.uint8)


def _figure_array(image):
    import matplotlib.pyplot as plt

    fig = viz.show_images([image], ["x"])
    shown = np.asarray(fig.axes[0].images[0].get_array())
    plt.close(fig)
    return shown


def _flip_psnr(image):
    return metrics.psnr(image, np.ascontiguousarray(np.flip(image, axis=1)), border=1)


def _flip_ssim(image):
    return metrics.ssim(image, np.ascontiguousarray(np.flip(image, axis=1)))


def _tiled_bicubic(image):
    from sr_lib.tiling import upscale_tiled

    return upscale_tiled(lambda piece: bicubic(piece, 2), image, 2, tile=6, overlap=4)


def _adaptive(image):
    from sr_lib import adaptive

    branch = adaptive.bicubic_branch(2)
    return adaptive.upscale_adaptive(image, branch, branch, 0.5, patch=8, blend=1, context=2).sr


def _restoration_y(image):
    # A per-pixel "restorer", so the result is known: bicubic, then a fixed contrast change.
    upscaler = inference.pre_upsampled_upscaler(lambda x: 0.9 * x + 0.05, channel="y")
    return upscaler(image, 2)


def _restoration_rgb(image):
    upscaler = inference.pre_upsampled_upscaler(lambda x: 0.9 * x + 0.05, channel="rgb")
    return upscaler(image, 2)


# name -> (function, gray means replicated RGB per channel?, alpha policy)
# "per_channel": the gray result equals each channel of the replicated RGB result.
CASES = {
    "metrics.psnr": (_flip_psnr, False, "reject"),
    "metrics.ssim": (_flip_ssim, False, "reject"),
    "metrics.rgb_to_y": (metrics.rgb_to_y, False, "reject"),
    "metrics.rgb_to_ycbcr": (metrics.rgb_to_ycbcr, False, "reject"),
    "imresize": (lambda im: imresize(images.to_float32(im), 1.7), True, "keep"),
    "modcrop": (lambda im: images.to_float32(degrade.modcrop(im, 3)), True, "keep"),
    "bicubic_downscale": (lambda im: degrade.bicubic_downscale(im, 2), True, "reject"),
    "bicubic_downscale_float": (lambda im: degrade.bicubic_downscale(im, 2, quantize=False), True, "reject"),
    "gaussian_blur": (lambda im: degrade.gaussian_blur(im, 1.2), True, "reject"),
    "add_gaussian_noise": (lambda im: degrade.add_gaussian_noise(im, 0.05, np.random.default_rng(0)), False, "reject"),
    "jpeg_compress": (lambda im: degrade.jpeg_compress(im, 60), False, "reject"),
    "crapify": (lambda im: degrade.crapify(im, 2, blur_sigma=0.8, upsample=True), True, "reject"),
    "evaluation.bicubic": (lambda im: bicubic(im, 3), True, "reject"),
    "upscale_tiled": (_tiled_bicubic, True, "reject"),
    "upscale_adaptive": (_adaptive, True, "reject"),
    "pre_upsampled_upscaler_y": (_restoration_y, False, "reject"),
    "pre_upsampled_upscaler_rgb": (_restoration_rgb, True, "reject"),
    "show_images": (_figure_array, False, "drop"),
}
MODEL_CASES = ["predict", "upscale_via_y", "model_upscaler_rgb", "pretrained.upscaler"]


def _model_case(name, espcn_x2, rgb_model):
    from sr_lib import inference, pretrained

    if name == "predict":
        return lambda im: inference.predict(espcn_x2, im)
    if name == "upscale_via_y":
        return lambda im: inference.upscale_via_y(espcn_x2, im, 2)
    if name == "model_upscaler_rgb":
        return lambda im: inference.model_upscaler(rgb_model, channel="rgb")(im, 2)
    return lambda im: pretrained.upscaler("espcn_x2", espcn_x2)(im, 2)


@pytest.fixture(params=list(CASES) + MODEL_CASES)
def case(request):
    name = request.param
    if name in CASES:
        return (name, *CASES[name])
    fn = _model_case(name, request.getfixturevalue("espcn_x2"), request.getfixturevalue("rgb_model"))
    # predict on RGB needs a 3-channel model; espcn_x2 is one-channel, so RGB is not its input.
    return name, fn, False, "reject"


def _agree(a, b, name):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{name}: {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=0, atol=1e-6, err_msg=name)


def test_gray_layouts_agree(case):
    name, fn, _, _ = case
    gray = _gray8().astype(np.float32) / 255
    flat, column = fn(gray), fn(gray[..., None])
    if np.ndim(flat) == 0:
        assert flat == column, name
        return
    column = np.asarray(column)
    if name in ("metrics.rgb_to_y", "metrics.rgb_to_ycbcr", "show_images"):  # not an image in the input layout
        _agree(flat, column, name)
        return
    assert np.ndim(flat) == np.ndim(column) - 1 and column.shape[-1] == 1, (name, np.shape(flat), column.shape)
    _agree(flat, column[..., 0], name)


def test_gray_is_each_channel_of_its_rgb_replication(case):
    name, fn, per_channel, _ = case
    if name == "predict":
        pytest.skip("predict takes the model's channels; espcn_x2 has one")
    gray = _gray8().astype(np.float32) / 255
    rgb_result = np.asarray(fn(np.repeat(gray[..., None], 3, axis=-1)))
    gray_result = np.asarray(fn(gray[..., None]))
    if per_channel:
        for c in range(3):
            _agree(gray_result[..., 0], rgb_result[..., c], f"{name} channel {c}")
    elif name == "model_upscaler_rgb":  # documented: gray repeated to RGB, the result averaged back
        _agree(gray_result[..., 0], rgb_result.mean(axis=-1), name)
    else:
        assert rgb_result.shape[:2] == gray_result.shape[:2] or np.ndim(rgb_result) == 0


def test_uint8_uint16_and_float_twins_agree(case):
    name, fn, _, _ = case
    gray8 = _gray8()[..., None]
    as_float = fn(gray8.astype(np.float32) / 255)
    _agree(fn(gray8), as_float, f"{name} uint8")
    _agree(fn(gray8.astype(np.uint16) * 257), as_float, f"{name} uint16")


def test_ambiguous_types_and_ranges_raise(case):
    name, fn, _, _ = case
    gray8 = _gray8()[..., None]
    with pytest.raises(ImageTypeError, match="int64"):
        fn(gray8.astype(np.int64))
    with pytest.raises(ImageRangeError, match=r"span 0?\.?\d*\.\.\d+.*outside \[0, 1\]"):
        fn(gray8.astype(np.float32))  # 0..255 in a float array: refused, not clipped to white


def test_four_channels_follow_the_documented_policy(case):
    name, fn, _, policy = case
    gray = _gray8().astype(np.float32) / 255
    rgba = np.dstack([gray, gray, gray, np.ones_like(gray)])
    if policy == "reject":
        with pytest.raises(ImageShapeError, match="4 channels"):
            fn(rgba)
    elif policy == "keep":
        result = np.asarray(fn(rgba))
        assert result.shape[-1] == 4
        _agree(result[..., 0], np.asarray(fn(gray)), name)
    else:  # drop: as the RGB image
        _agree(fn(rgba), fn(rgba[..., :3]), name)


def test_find_zoom_box_same_box_for_every_layout():
    values = np.abs(_gray8().astype(np.float64) - 128)
    box = viz.find_zoom_box(values, 0.3)
    assert viz.find_zoom_box(values[..., None], 0.3) == box
    assert viz.find_zoom_box(np.repeat(values[..., None], 3, axis=-1), 0.3) == box


def test_rgb_to_y_on_the_grayscale_builtin_photo():
    """The reported case: rgb_to_y on skimage's 'camera' as (H, W, 1) raised IndexError."""
    from sr_lib.data import load_builtin

    (_, camera), = load_builtin(["camera"])
    assert camera.shape[-1] == 1
    np.testing.assert_array_equal(metrics.rgb_to_y(camera), camera[..., 0])  # gray values, unconverted
    np.testing.assert_array_equal(metrics.rgb_to_y(camera[..., 0]), camera[..., 0])
