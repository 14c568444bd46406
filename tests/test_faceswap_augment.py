"""faceswap_lib.augment: shapes, ranges, determinism, and the warp-free identities."""

import numpy as np
import pytest

from faceswap_lib import augment as aug

NO_COLOUR = dict(brightness=0, contrast=0, saturation=0)
NO_GEOMETRY = dict(rotation=0, scale=0, shift=0, flip=0)


@pytest.fixture
def face(rng):
    """A smooth random 'face crop': float32 (64, 64, 3) in [0, 1]."""
    coarse = rng.uniform(0, 1, size=(8, 8, 3))
    return np.kron(coarse, np.ones((8, 8, 1))).astype(np.float32)


@pytest.mark.parametrize("output_size", [None, 32])
def test_shapes_dtype_and_range(face, output_size):
    warped, target = aug.augment(face, np.random.default_rng(0), output_size=output_size)
    side = output_size or face.shape[0]
    for image in (warped, target):
        assert image.shape == (side, side, 3) and image.dtype == np.float32
        assert image.min() >= 0 and image.max() <= 1
    assert not np.allclose(warped, target)  # the warp did something


def test_same_seed_same_pair_other_seed_other_pair(face):
    first = aug.augment(face, np.random.default_rng(42))
    again = aug.augment(face, np.random.default_rng(42))
    other = aug.augment(face, np.random.default_rng(43))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[1], other[1])


def test_no_warp_means_input_equals_target(face):
    for seed in range(5):
        warped, target = aug.augment(face, np.random.default_rng(seed), warp=0)
        np.testing.assert_array_equal(warped, target)


def test_everything_off_is_the_identity(face):
    warped, target = aug.augment(face, np.random.default_rng(0), warp=0, **NO_GEOMETRY, **NO_COLOUR)
    np.testing.assert_allclose(target, face, atol=1e-6)


def test_smaller_output_is_an_area_average_not_a_subsample(face):
    import cv2

    _, target = aug.augment(face, np.random.default_rng(0), output_size=16, warp=0, **NO_GEOMETRY, **NO_COLOUR)
    np.testing.assert_allclose(target, cv2.resize(face, (16, 16), interpolation=cv2.INTER_AREA), atol=1e-6)


def test_flip_only_mirrors(face):
    _, target = aug.augment(face, np.random.default_rng(0), warp=0, **{**NO_GEOMETRY, "flip": 1.0}, **NO_COLOUR)
    np.testing.assert_allclose(target, face[:, ::-1], atol=1e-6)


def test_random_affine_keeps_the_centre_without_shift():
    rng = np.random.default_rng(1)
    for _ in range(10):
        matrix = aug.random_affine(rng, 101, rotation=30, scale=0.2, shift=0, flip=0.5)
        np.testing.assert_allclose(matrix[:, :2] @ [50.0, 50.0] + matrix[:, 2], [50.0, 50.0], atol=1e-9)
    rescale = aug.random_affine(rng, 100, output_size=50, rotation=0, scale=0, shift=0, flip=0)
    np.testing.assert_allclose(rescale[:, :2], 0.5 * np.eye(2))


def test_warp_field_is_smooth_with_the_requested_strength():
    dx, dy = aug.random_warp_field(np.random.default_rng(0), 128, grid=5, warp=0.05)
    assert dx.shape == dy.shape == (128, 128) and dx.dtype == np.float32
    strength = np.std(np.concatenate([dx.ravel(), dy.ravel()]))
    assert 0.02 * 128 < strength < 0.1 * 128  # 25 + 25 samples of N(0, 6.4^2): loose bounds
    assert np.abs(np.diff(dx, axis=1)).max() < 0.2 * np.abs(dx).max()  # no tears
    with pytest.raises(ValueError, match="grid"):
        aug.random_warp_field(np.random.default_rng(0), 64, grid=1)


def test_color_jitter_stays_in_range_and_off_means_identity(face):
    rng = np.random.default_rng(2)
    np.testing.assert_allclose(aug.color_jitter(face, rng, **NO_COLOUR), face, atol=1e-6)
    jittered = aug.color_jitter(face, rng, brightness=0.5, contrast=0.5, saturation=0.5)
    assert jittered.dtype == np.float32 and 0 <= jittered.min() and jittered.max() <= 1
    assert not np.allclose(jittered, face)


def test_batch_and_input_checks(face):
    inputs, targets = aug.augment_batch(np.stack([face] * 3), np.random.default_rng(0), output_size=16)
    assert inputs.shape == targets.shape == (3, 16, 16, 3)
    with pytest.raises(ValueError, match="square"):
        aug.augment(face[:, :40], np.random.default_rng(0))
    with pytest.raises(TypeError, match="float"):
        aug.augment((face * 255).astype(np.uint8), np.random.default_rng(0))


def test_extra_channels_follow_the_target_and_change_no_draw(face):
    # Masks ride along with the target's maps: same draws (the pair is unchanged), and a mask that
    # *is* the image comes out as the target (no jitter on it, no warp), also past 3 channels.
    extra = np.concatenate([face, face[..., :2]], -1)
    kwargs = dict(output_size=32, brightness=0, contrast=0, saturation=0)
    plain = aug.augment(face, np.random.default_rng(3), **kwargs)
    warped, target, moved = aug.augment(face, np.random.default_rng(3), extra=extra, **kwargs)
    np.testing.assert_array_equal(warped, plain[0])
    np.testing.assert_array_equal(target, plain[1])
    assert moved.shape == (32, 32, 5)
    np.testing.assert_allclose(moved[..., :3], target, atol=1e-6)
    np.testing.assert_allclose(moved[..., 3:], target[..., :2], atol=1e-6)
    with pytest.raises(ValueError, match="extra"):
        aug.augment(face, np.random.default_rng(3), extra=extra[:10])
