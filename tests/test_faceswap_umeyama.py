"""faceswap_lib.umeyama against known transforms and against scikit-image's independent estimate."""

import numpy as np
import pytest
from skimage.transform import SimilarityTransform

from faceswap_lib.umeyama import umeyama, umeyama_error


def random_similarity(rng, dim=2):
    """A random proper similarity (m+1, m+1): rotation with det +1, scale in [0.2, 5], shift."""
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    T = np.eye(dim + 1)
    T[:dim, :dim] = rng.uniform(0.2, 5.0) * q
    T[:dim, dim] = rng.uniform(-100, 100, size=dim)
    return T


def apply(T, points):
    dim = points.shape[1]
    return points @ T[:dim, :dim].T + T[:dim, dim]


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_recovers_a_known_similarity_exactly(dim, seed):
    rng = np.random.default_rng(seed)
    T = random_similarity(rng, dim)
    src = rng.uniform(-50, 50, size=(12, dim))
    estimate = umeyama(src, apply(T, src))
    assert estimate.shape == (dim + 1, dim + 1)
    np.testing.assert_allclose(estimate, T, atol=1e-6)
    # eq. 33 subtracts two numbers of the size of the variance: zero up to their rounding error
    assert umeyama_error(src, apply(T, src)) < 1e-12 * np.sum(np.var(apply(T, src), axis=0))


def test_two_points_are_enough():
    T = random_similarity(np.random.default_rng(7))
    src = np.array([[0.0, 0.0], [10.0, 3.0]])
    np.testing.assert_allclose(umeyama(src, apply(T, src)), T, atol=1e-9)


def test_collinear_points_use_the_rank_deficient_rule():
    # All points on one line: the covariance has rank 1 = m - 1 and eq. 43 decides the sign.
    rng = np.random.default_rng(3)
    T = random_similarity(rng)
    src = np.outer(rng.uniform(-20, 20, 9), [3.0, -1.0]) + [5.0, 7.0]
    np.testing.assert_allclose(umeyama(src, apply(T, src)), T, atol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_scikit_image_on_noisy_points(seed):
    rng = np.random.default_rng(100 + seed)
    src = rng.uniform(0, 256, size=(51, 2))
    dst = apply(random_similarity(rng), src) + rng.normal(0, 3.0, size=src.shape)
    reference = SimilarityTransform.from_estimate(src, dst)
    assert reference  # a failed estimate is falsy
    np.testing.assert_allclose(umeyama(src, dst), reference.params, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("estimate_scale", [True, False])
def test_closed_form_error_equals_the_residual(estimate_scale):
    rng = np.random.default_rng(11)
    src = rng.uniform(-1, 1, size=(30, 2))
    dst = apply(random_similarity(rng), src) + rng.normal(0, 0.1, size=src.shape)
    T = umeyama(src, dst, estimate_scale=estimate_scale)
    residual = np.mean(np.sum((apply(T, src) - dst) ** 2, axis=1))
    assert umeyama_error(src, dst, estimate_scale=estimate_scale) == pytest.approx(residual, rel=1e-9)


def test_without_scale_is_rigid_and_optimal_among_rigid_fits():
    rng = np.random.default_rng(5)
    src = rng.uniform(-10, 10, size=(20, 2))
    dst = 2.5 * src + [4.0, -1.0]  # a pure zoom, which a rigid fit cannot follow
    T = umeyama(src, dst, estimate_scale=False)
    assert np.linalg.det(T[:2, :2]) == pytest.approx(1.0)
    best = np.mean(np.sum((apply(T, src) - dst) ** 2, axis=1))
    for angle in np.linspace(-0.2, 0.2, 9):  # no nearby rotation does better
        R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        t = dst.mean(0) - src.mean(0) @ R.T
        assert np.mean(np.sum((src @ R.T + t - dst) ** 2, axis=1)) >= best - 1e-9


def test_a_mirrored_pattern_gives_a_rotation_not_a_reflection():
    rng = np.random.default_rng(21)
    src = rng.uniform(-10, 10, size=(15, 2))
    dst = apply(random_similarity(rng), src * [-1.0, 1.0])  # det(Sigma) < 0: the eq. 39 case
    T = umeyama(src, dst)
    assert np.linalg.det(T[:2, :2]) > 0
    np.testing.assert_allclose(T, SimilarityTransform.from_estimate(src, dst).params, atol=1e-9)
    # The best reflection would fit perfectly; the best rotation cannot.
    assert umeyama_error(src, dst) > 1e-3


@pytest.mark.parametrize(
    "src, dst, message",
    [
        (np.zeros((5, 2)), np.ones((4, 2)), "same shape"),
        (np.zeros(4), np.zeros(4), r"\(n, m\)"),
        (np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]), "fewer than 2 distinct"),
        (np.ones((6, 2)), np.arange(12.0).reshape(6, 2), "src has fewer than 2 distinct"),
        (np.arange(12.0).reshape(6, 2), np.full((6, 2), 3.0), "dst has fewer than 2 distinct"),
        (np.array([[0.0, 0.0], [np.nan, 1.0]]), np.zeros((2, 2)), "NaN"),
        # Uncorrelated sets: the covariance is the zero matrix, no rotation is preferred.
        (np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [0.0, -2.0], [0.0, 1.0]]),
         "not determined"),
    ],
)
def test_degenerate_input_raises_a_clear_error(src, dst, message):
    with pytest.raises(ValueError, match=message):
        umeyama(src, dst)
