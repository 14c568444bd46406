"""sr_lib.images and the value-range half of issue 18: a pair scores the same whatever its dtype,
and dtypes or ranges whose meaning is unclear raise instead of being clipped.

The reported case: a pair scoring 41.39 dB / 0.9987 as uint8 scored 26.30 dB / 0.669 as uint16
(uint16 was clipped to [0, 1] as if it were float). References are independent: scikit-image's
``rgb2ycbcr`` and ``peak_signal_noise_ratio``.
"""

import numpy as np
import pytest

from sr_lib import images, metrics
from sr_lib.images import ImageRangeError, ImageShapeError, ImageTypeError


@pytest.fixture(scope="module")
def pair():
    """A photo (skimage 'astronaut' crop) and a slightly degraded copy, both uint8 RGB."""
    from skimage import data

    from sr_lib.data.degrade import gaussian_blur

    hr = data.astronaut()[100:196, 150:262]
    sr = images.to_uint8(gaussian_blur(hr, 0.6))
    return sr, hr


def _skimage_psnr_y(sr8, hr8, border):
    from skimage.color import rgb2ycbcr
    from skimage.metrics import peak_signal_noise_ratio

    y_sr, y_hr = rgb2ycbcr(sr8)[..., 0], rgb2ycbcr(hr8)[..., 0]  # MATLAB's studio-swing Y on 0..255
    crop = (slice(border, -border), slice(border, -border))
    return peak_signal_noise_ratio(y_hr[crop], y_sr[crop], data_range=255)


def test_uint16_pair_scores_exactly_as_its_uint8_twin_and_as_skimage(pair):
    sr8, hr8 = pair
    sr16, hr16 = sr8.astype(np.uint16) * 257, hr8.astype(np.uint16) * 257  # 255 * 257 = 65535
    p8, s8 = metrics.psnr(sr8, hr8, border=4), metrics.ssim(sr8, hr8, border=4)
    assert metrics.psnr(sr16, hr16, border=4) == p8
    assert metrics.ssim(sr16, hr16, border=4) == s8
    # float [0, 1] twins, and mixed dtypes within a pair, score the same too
    assert metrics.psnr(sr8 / 255.0, hr16, border=4) == pytest.approx(p8, abs=1e-9)
    assert p8 == pytest.approx(_skimage_psnr_y(sr8, hr8, 4), abs=1e-6)
    assert 30 < p8 < 60 and 0.9 < s8 < 1.0  # a mild blur, not the clipped 26 dB / 0.67


def test_int64_pair_raises_a_clear_type_error(pair):
    sr8, hr8 = pair
    for call in (metrics.psnr, metrics.ssim):
        with pytest.raises(ImageTypeError, match=r"prediction: dtype int64 is not an image type.*uint8"):
            call(sr8.astype(np.int64), hr8.astype(np.int64))


def test_float_pair_in_0_255_raises_naming_the_range_it_found(pair):
    sr8, hr8 = pair
    low, high = int(sr8.min()), int(sr8.max())
    for call in (metrics.psnr, metrics.ssim):
        with pytest.raises(ImageRangeError, match=rf"span {low}\.\.{high}, outside \[0, 1\].*255"):
            call(sr8.astype(np.float64), hr8.astype(np.float64))


@pytest.mark.parametrize("low, high, ok", [(-0.5, 1.5, True), (-0.51, 1.0, False), (0.0, 1.51, False)])
def test_overshoot_tolerance_is_half_a_unit(low, high, ok):
    image = np.array([[low, high]], np.float32)
    if ok:
        assert images.check_dtype(image) is not None
        np.testing.assert_array_equal(images.to_uint8(image), [[0, 255]])  # clipped where 8 bits are made
    else:
        with pytest.raises(ImageRangeError):
            images.check_dtype(image)


def test_nan_bool_uint32_and_shapes():
    with pytest.raises(ImageRangeError, match="NaN"):
        images.to_float32(np.array([[np.nan]], np.float32))
    for dtype in (bool, np.uint32, np.int32):
        with pytest.raises(ImageTypeError):
            images.as_hwc(np.zeros((2, 2), dtype))
    with pytest.raises(ImageShapeError, match=r"\(2, 2, 2\)"):
        images.as_hwc(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ImageShapeError, match="empty"):
        images.as_hwc(np.zeros((0, 3), np.uint8))
    assert images.as_hwc(np.zeros((2, 2, 4), np.uint8), alpha="drop").shape == (2, 2, 3)


def test_uint16_to_uint8_rounds_like_pillow_and_numpy():
    values = np.arange(0, 65536, dtype=np.uint16)
    expected = np.round(values.astype(np.float64) * 255 / 65535).astype(np.uint8)
    np.testing.assert_array_equal(images.to_uint8(values), expected)
