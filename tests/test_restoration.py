"""sr_lib.data.restoration's same-size crapified pairs, and sr_lib.inference's padding and
bicubic-then-model upscaler that run the restorers trained on them."""

import numpy as np
import pytest

from sr_lib import evaluation, metrics
from sr_lib.data.degrade import crapify, modcrop
from sr_lib.data.restoration import restoration_pairs
from sr_lib.inference import pad_to_multiple, pre_upsampled_upscaler


@pytest.fixture
def photos(rng):
    return [("a", rng.random((30, 27, 3), dtype=np.float32)), ("g", rng.random((24, 24, 1), dtype=np.float32))]


def test_pairs_are_same_size_crapified_luma(photos):
    pairs = restoration_pairs(photos, (2, 4))
    assert len(pairs) == 4
    for (degraded, clean), (name, scale) in zip(pairs, [("a", 2), ("a", 4), ("g", 2), ("g", 4)]):
        hr = dict(photos)[name]
        assert degraded.shape == clean.shape and degraded.dtype == clean.dtype == np.float32
        assert clean.shape[:2] == modcrop(hr, scale).shape[:2] and clean.shape[-1] == 1
        expected = crapify(hr, scale, upsample=True)
        if hr.shape[-1] == 3:
            expected = metrics.rgb_to_y(expected)[..., None]
            np.testing.assert_allclose(clean, metrics.rgb_to_y(modcrop(hr, scale))[..., None])
        else:
            np.testing.assert_array_equal(clean, modcrop(hr, scale))
        np.testing.assert_allclose(degraded, expected)
    rgb = restoration_pairs(photos[:1], (3,), channel="rgb")
    assert rgb[0][0].shape == (30, 27, 3)


def test_random_degradations_are_seeded(photos):
    kwargs = dict(jpeg_quality=(20, 60), noise_sigma=(0.0, 0.05), blur_sigma=0.5)
    first = restoration_pairs(photos, (2,), seed=7, **kwargs)
    again = restoration_pairs(photos, (2,), seed=7, **kwargs)
    other = restoration_pairs(photos, (2,), seed=8, **kwargs)
    for (x, _), (y, _) in zip(first, again):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first[0][0], other[0][0])
    with pytest.raises(ValueError, match="channel"):
        restoration_pairs(photos, (2,), channel="ycbcr")


def test_pad_to_multiple():
    image = np.arange(5 * 7, dtype=np.float32).reshape(5, 7)
    padded, (h, w) = pad_to_multiple(image, 4)
    assert padded.shape == (8, 8) and (h, w) == (5, 7)
    np.testing.assert_array_equal(padded[:5, :7], image)
    np.testing.assert_array_equal(padded[5, :7], image[4])  # mirrored, edge repeated
    same, _ = pad_to_multiple(np.zeros((8, 4, 3)), 4)
    assert same.shape == (8, 4, 3)
    with pytest.raises(ValueError):
        pad_to_multiple(image, 0)


@pytest.mark.parametrize("channel", ["y", "rgb"])
def test_identity_restorer_gives_bicubic(channel, rng):
    lr = rng.random((9, 11, 3), dtype=np.float32)
    seen = []

    def identity(image):
        seen.append(image.shape)
        return image

    upscaler = pre_upsampled_upscaler(identity, multiple=4, channel=channel)
    sr = upscaler(lr, 3)
    assert seen == [(28, 36, 1 if channel == "y" else 3)]  # 27 x 33 padded to multiples of 4
    np.testing.assert_allclose(sr, np.clip(evaluation.bicubic(lr, 3), 0, 1), atol=1e-5)


def test_pairs_feed_make_dataset_with_scale_1(photos):
    from sr_lib.data.pipeline import make_dataset

    dataset = make_dataset(restoration_pairs(photos, (2,)), scale=1, lr_patch=12, batch_size=3, seed=0)
    degraded, clean = next(iter(dataset))
    assert degraded.shape == clean.shape == (3, 12, 12, 1)
