"""Tiled inference (sr_lib.tiling): cores cover the image once, and cropped overlaps give the whole-image result."""

import numpy as np
import pytest
from scipy import ndimage

from sr_lib.tiling import tile_boxes, upscale_tiled


def _numpy_upscaler(scale):
    """An independent reference 'model': 3x3 mean with zero padding (like a conv), then pixel repeat."""
    def upscale(image):
        smooth = ndimage.uniform_filter(image, size=(3, 3, 1), mode="constant")
        return np.repeat(np.repeat(smooth, scale, axis=0), scale, axis=1)
    return upscale


@pytest.mark.parametrize("shape, tile, overlap, multiple", [((37, 50), 16, 3, 1), ((64, 64), 64, 0, 1),
                                                             ((33, 20), 7, 2, 4)])
def test_cores_cover_every_pixel_once(shape, tile, overlap, multiple):
    count = np.zeros(shape, int)
    for (y0, y1, x0, x1), (py0, py1, px0, px1) in tile_boxes(*shape, tile, overlap, multiple):
        count[y0:y1, x0:x1] += 1
        assert 0 <= py0 <= y0 < y1 <= py1 <= shape[0] and 0 <= px0 <= x0 < x1 <= px1 <= shape[1]
        assert y0 % multiple == 0 and x0 % multiple == 0
    assert (count == 1).all()


def test_tiled_equals_whole_for_a_numpy_filter(rng):
    image = rng.random((45, 61, 3), dtype=np.float32)
    upscale = _numpy_upscaler(2)
    whole = upscale(image)
    tiled = upscale_tiled(upscale, image, 2, tile=16, overlap=1)
    np.testing.assert_array_equal(tiled, whole)
    # Without the overlap the 3x3 filter sees the tile edge as zeros: the seams differ.
    threaded = upscale_tiled(upscale, image, 2, tile=16, overlap=1, workers=2)
    np.testing.assert_array_equal(threaded, whole)
    seams = upscale_tiled(upscale, image, 2, tile=16, overlap=0)
    assert np.abs(seams - whole).max() > 0.05


def test_an_upscaler_brings_its_scale(rng):
    from sr_lib.inference import Upscaler

    image = rng.random((20, 23, 3), dtype=np.float32)
    upscale = _numpy_upscaler(2)
    up = Upscaler("mean3", 2, lambda lr, s: upscale(lr))
    np.testing.assert_array_equal(upscale_tiled(up, image, tile=8, overlap=1), upscale(image))
    with pytest.raises(ValueError, match="give scale"):
        upscale_tiled(upscale, image, tile=8)


def test_tiled_espcn_via_y_matches_the_whole_image(rng):
    import keras

    from sr_lib.inference import upscale_via_y
    from sr_lib.models import espcn

    keras.utils.set_random_seed(0)
    model = espcn(3, filters=(8, 4))
    # A smooth image (the model's random weights would saturate on noise and hide differences).
    y, x = np.mgrid[0:40, 0:53] / 12.0
    image = np.stack([0.5 + 0.4 * np.sin(y + c) * np.cos(x - c) for c in range(3)], -1).astype(np.float32)
    whole = upscale_via_y(model, image, 3)
    # Receptive field: 2 + 1 + 1 LR pixels (ESPCN) and 2 for the bicubic chroma -> overlap 6 is exact.
    tiled = upscale_tiled(lambda lr: upscale_via_y(model, lr, 3), image, 3, tile=16, overlap=6)
    assert tiled.shape == whole.shape == (120, 159, 3)
    assert np.abs(tiled - whole).max() < 1e-4
    cut = upscale_tiled(lambda lr: upscale_via_y(model, lr, 3), image, 3, tile=16, overlap=0)
    assert np.abs(cut - whole).max() > 1e-3  # the test can tell a seam
    as_uint8 = upscale_tiled(lambda lr: upscale_via_y(model, lr, 3), image, 3, tile=16, overlap=6, out_dtype=np.uint8)
    assert as_uint8.dtype == np.uint8
    assert np.abs(as_uint8.astype(int) - np.round(whole * 255).astype(int)).max() <= 1


def test_tiled_unet_aligned_to_its_stride_matches_within_one_grey_level(rng):
    import keras

    from sr_lib.inference import predict
    from sr_lib.models import unet

    keras.utils.set_random_seed(1)
    model = unet(scale=2, channels=3, filters=4, depth=1, residual=False)
    image = ndimage.gaussian_filter(rng.random((36, 44, 3)), (2, 2, 0)).astype(np.float32)
    whole = predict(model, image, multiple=2)
    tiled = upscale_tiled(lambda lr: predict(model, lr, multiple=2), image, 2, tile=16, overlap=12, multiple=2)
    assert np.abs(tiled - whole).max() < 1 / 255


def test_bad_arguments_are_named(rng):
    image = rng.random((8, 8, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="tile"):
        upscale_tiled(_numpy_upscaler(2), image, 2, tile=0)
    with pytest.raises(ValueError, match="workers"):
        upscale_tiled(_numpy_upscaler(2), image, 2, tile=4, workers=0)
    with pytest.raises(ValueError, match="overlap"):
        upscale_tiled(_numpy_upscaler(2), image, 2, overlap=-1)
    with pytest.raises(ValueError, match="expected"):
        upscale_tiled(_numpy_upscaler(3), image, 2, tile=4)
    # (H, W) is an image like any other (tests/test_image_layouts.py); 4-D and RGBA are not.
    with pytest.raises(ValueError, match=r"\(H, W\), \(H, W, 1\) or \(H, W, 3\)"):
        upscale_tiled(_numpy_upscaler(2), image[None], 2)
    with pytest.raises(ValueError, match="RGBA"):
        upscale_tiled(_numpy_upscaler(2), np.repeat(image, 4, axis=-1), 2)


@pytest.mark.parametrize("out_dtype", [np.float32, np.uint8])
def test_a_nan_result_is_refused_naming_the_tile(out_dtype):
    from sr_lib.tiling import upscale_tiled

    def broken(lr):
        out = np.repeat(np.repeat(lr, 2, axis=0), 2, axis=1)
        out[0, 0, 0] = np.nan
        return out

    image = np.full((20, 20, 3), 0.5, np.float32)
    with pytest.raises(ValueError, match=r"NaN or infinite values for the tile of input rows 0\.\.9, columns 0\.\.9"):
        upscale_tiled(broken, image, 2, tile=10, overlap=0, out_dtype=out_dtype)


def test_receptive_radius_is_known_only_for_plain_convolution_stacks():
    from sr_lib.models import espcn, srresnet, unet
    from sr_lib.tiling import receptive_radius

    assert receptive_radius(espcn(3, filters=(8, 4))) == 2 + 1 + 1  # 5x5, 3x3, 3x3
    assert receptive_radius(unet(scale=2, channels=3, filters=4, depth=1)) is None  # strided
    assert receptive_radius(srresnet(scale=2, num_res_blocks=1, filters=8)) is None  # BatchNorm, convs after the shuffle
    assert receptive_radius(lambda x: x) is None


def test_large_images_go_through_the_y_upscaler_in_pieces_with_the_whole_image_result(rng):
    import keras

    from sr_lib import inference
    from sr_lib.models import espcn

    keras.utils.set_random_seed(0)
    model = espcn(2, filters=(8, 4))
    image = ndimage.gaussian_filter(rng.random((530, 517, 3)), (3, 3, 0)).astype(np.float32)
    assert image.shape[0] * image.shape[1] > inference._PIECEWISE_ABOVE  # this one is cut into pieces
    pieces = inference.model_upscaler(model)(image, 2)
    whole = inference.upscale_via_y(model, image, 2)
    assert pieces.shape == whole.shape == (1060, 1034, 3) and pieces.dtype == np.float32
    assert np.abs(pieces - whole).max() < 1e-5
