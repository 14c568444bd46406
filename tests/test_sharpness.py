"""sr_lib.sharpness.edge_energy against an independent computation (SciPy correlation, BT.601 by hand)."""

import numpy as np
import pytest
from scipy.signal import correlate2d

from sr_lib.sharpness import edge_energy


def _reference(rgb, border=0):
    y = (16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0  # BT.601, [0, 1]
    if border:
        y = y[border:-border, border:-border]
    vertical = correlate2d(y, np.array([[-1.0], [1.0]]), mode="valid")
    horizontal = correlate2d(y, np.array([[-1.0, 1.0]]), mode="valid")
    return float(np.sum(vertical**2) + np.sum(horizontal**2))


@pytest.mark.parametrize("border", [0, 3])
def test_matches_an_independent_computation(border):
    rgb = np.random.default_rng(0).random((13, 17, 3)).astype(np.float32)
    assert edge_energy(rgb, border=border) == pytest.approx(_reference(rgb.astype(np.float64), border), rel=1e-5)


def test_gray_images_are_measured_as_they_are():
    gray = np.random.default_rng(1).random((9, 11)).astype(np.float32)
    g = gray.astype(np.float64)  # the differences are taken in float64
    by_hand = float(np.sum((g[1:] - g[:-1]) ** 2) + np.sum((g[:, 1:] - g[:, :-1]) ** 2))
    assert edge_energy(gray) == pytest.approx(by_hand, rel=1e-12)
    assert edge_energy(gray[..., None]) == edge_energy(gray)


def test_flat_is_zero_and_one_step_edge_is_its_length():
    image = np.zeros((6, 8), np.float32)
    assert edge_energy(image) == 0.0
    image[:, 4:] = 0.5  # one vertical edge of contrast 0.5, 6 pixels long
    assert edge_energy(image) == pytest.approx(6 * 0.25)
    with pytest.raises(ValueError, match="border"):
        edge_energy(image, border=-1)
