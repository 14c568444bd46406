"""faceswap_lib.augment: shapes, ranges, determinism, and the warp-free identities.

The generic augmentations are albumentations' now; these tests measure what they do (flip rate,
rotation / zoom / shift and colour ranges on synthetic images) against augment's documented ranges,
rather than compare with any earlier output.
"""

import math
import os
import subprocess
import sys

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


# ------------------------------------------------------------- measured ranges of the albumentations part


def _bar(size=128, half_length=40):
    """A thin horizontal bright bar through the centre, short enough to stay inside when rotated."""
    image = np.zeros((size, size, 3), np.float32)
    c = size // 2
    image[c - 1:c + 1, c - half_length:c + half_length] = 1.0
    return image


def _moments(image):
    """Centroid (x, y), orientation in degrees (in (-90, 90]) and RMS length of the bright pixels."""
    w = image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[0:w.shape[0], 0:w.shape[1]]
    m = w.sum()
    cx, cy = (w * xs).sum() / m, (w * ys).sum() / m
    mu20, mu02 = (w * (xs - cx) ** 2).sum() / m, (w * (ys - cy) ** 2).sum() / m
    mu11 = (w * (xs - cx) * (ys - cy)).sum() / m
    angle = 0.5 * math.degrees(math.atan2(2 * mu11, mu20 - mu02))
    major = 0.5 * (mu20 + mu02) + math.sqrt(0.25 * (mu20 - mu02) ** 2 + mu11**2)
    return cx, cy, angle, math.sqrt(major)


def test_flip_probability_is_as_asked(face):
    off = dict(rotation=0, scale=0, shift=0, warp=0, **NO_COLOUR)
    rng = np.random.default_rng(5)
    for p, lo, hi in [(0.5, 0.4, 0.6), (0.2, 0.12, 0.28), (0.0, 0.0, 0.0)]:
        mirrored = 0
        for _ in range(300):
            _, target = aug.augment(face, rng, flip=p, **off)
            if np.allclose(target, face[:, ::-1], atol=1e-6):
                mirrored += 1
            else:
                np.testing.assert_allclose(target, face, atol=1e-6)  # flipped or untouched, nothing else
        assert lo <= mirrored / 300 <= hi, (p, mirrored)  # binomial(300, p): > 3.5 sigma bounds


def test_rotation_zoom_and_shift_stay_in_their_ranges():
    bar = _bar()
    c, length0 = 63.5, _moments(bar)[3]
    rng = np.random.default_rng(6)
    angles, zooms, shifts = [], [], []
    for _ in range(150):
        _, target = aug.augment(bar, rng, rotation=20, scale=0.1, shift=0.05, flip=0, warp=0, **NO_COLOUR)
        cx, cy, angle, length = _moments(target)
        angles.append(angle)
        zooms.append(length / length0)
        shifts += [(cx - c) / 128, (cy - c) / 128]
    angles, zooms, shifts = map(np.asarray, (angles, zooms, shifts))
    assert np.abs(angles).max() <= 20.5 and np.abs(angles).max() > 17  # uniform in [-20, 20]
    assert (angles < -10).any() and (angles > 10).any()  # both directions
    assert 0.89 <= zooms.min() and zooms.max() <= 1.11 and zooms.max() - zooms.min() > 0.12
    assert np.abs(shifts).max() <= 0.051 and np.abs(shifts).max() > 0.04


def test_no_rotation_means_a_level_bar():
    rng = np.random.default_rng(7)
    for _ in range(20):
        _, target = aug.augment(_bar(), rng, rotation=0, flip=0.5, warp=0, **NO_COLOUR)
        assert abs(_moments(target)[2]) < 1e-6


def test_brightness_is_an_additive_shift_in_range():
    gray = np.full((32, 32, 3), 0.5, np.float32)
    rng = np.random.default_rng(8)
    shifts = []
    for _ in range(200):
        _, target = aug.augment(gray, rng, **NO_GEOMETRY, warp=0, brightness=0.2, contrast=0, saturation=0)
        assert np.ptp(target) < 1e-6  # a constant shift
        shifts.append(float(target[0, 0, 0]) - 0.5)
    shifts = np.asarray(shifts)
    assert np.abs(shifts).max() <= 0.2 + 1e-6 and shifts.min() < -0.15 and shifts.max() > 0.15


def test_saturation_scales_the_distance_from_gray_in_range():
    rng0 = np.random.default_rng(9)
    colour = rng0.uniform(0.3, 0.7, (16, 16, 3)).astype(np.float32)
    luma = colour @ np.array([0.299, 0.587, 0.114], np.float32)
    rng = np.random.default_rng(10)
    factors = []
    for _ in range(100):
        jittered = aug.color_jitter(colour, rng, brightness=0, contrast=0, saturation=0.3)
        chroma, chroma0 = jittered - luma[..., None], colour - luma[..., None]
        factors.append(float((chroma * chroma0).sum() / (chroma0 * chroma0).sum()))  # least squares
    factors = np.asarray(factors)
    assert 0.69 <= factors.min() and factors.max() <= 1.31 and factors.max() - factors.min() > 0.4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_range_preserved_at_the_extremes(dtype):
    # Saturated black/white checks at strong jitter: always float32, always clipped to [0, 1].
    checks = np.kron(np.indices((4, 4)).sum(0) % 2, np.ones((8, 8)))[..., None].repeat(3, -1).astype(dtype)
    rng = np.random.default_rng(11)
    for _ in range(10):
        for image in aug.augment(checks, rng, brightness=0.5, contrast=0.5, saturation=0.5, warp=0.05):
            assert image.dtype == np.float32 and image.min() >= 0 and image.max() <= 1


def test_interleaved_generators_stay_reproducible(face):
    # The albumentations Compose is cached and shared; reseeding it from each call's generator
    # keeps every stream reproducible however calls interleave.
    alone = [aug.augment(face, np.random.default_rng(21), output_size=32)[0] for _ in range(1)]
    rng_a, rng_b = np.random.default_rng(21), np.random.default_rng(22)
    aug.augment(face, rng_b, output_size=32)
    np.testing.assert_array_equal(aug.augment(face, rng_a, output_size=32)[0], alone[0])
    first = aug.augment_batch(np.stack([face] * 4), np.random.default_rng(3))
    again = aug.augment_batch(np.stack([face] * 4), np.random.default_rng(3))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_albumentations_never_asks_the_network():
    # Importing albumentations checks PyPI for updates unless NO_ALBUMENTATIONS_UPDATE is set;
    # faceswap_lib.augment sets it. Any connection attempt fails this subprocess.
    code = (
        "import socket, warnings\n"
        "def refuse(*a, **k): raise SystemExit('network access: ' + repr(a))\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "import numpy as np\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    from faceswap_lib import augment\n"
        "    augment.augment(np.zeros((16, 16, 3), np.float32), np.random.default_rng(0))\n"
        "assert not [w for w in caught if 'lbumentations' in str(w.message)], caught\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_threads_sharing_the_cached_compose_stay_reproducible(face):
    from concurrent.futures import ThreadPoolExecutor

    def stream(seed):
        rng = np.random.default_rng(seed)
        return [aug.augment(face, rng, output_size=32)[1] for _ in range(30)]

    alone = [stream(seed) for seed in (1, 2)]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(stream, (1, 2)))
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(np.stack(a), np.stack(b))
