"""How much edge an image has: the course's one definition of *edge energy*.

:func:`edge_energy` is the total squared difference between neighbouring pixels of the luma Y
(every vertical and every horizontal pair), in float64::

    E(y) = sum_(i,j) (y[i+1, j] - y[i, j])**2 + sum_(i,j) (y[i, j+1] - y[i, j])**2

It is the squared norm of the image's finite-difference gradient: flat regions add nothing, edges
and texture add the square of their contrast. Blur lowers it (a bicubic enlargement has far less
than the original), invented detail raises it, whether or not the detail is in the right place.

Being a sum, it grows with the image size, so it is read as a **ratio to the HR image of the same
size**: ``edge_energy(sr, border=s) / edge_energy(hr, border=s)`` is 1.0 for as much edge energy as
the original, below 1 for a smoother image (notebook 06 and the solutions of 03, 05 and 06).
``border`` drops the same frame the SR protocol drops before PSNR (:mod:`sr_lib.metrics`), where
upscalers differ for reasons that have nothing to do with sharpness.

(Notebook 03 compares batches of generated and real faces of one size with a different, size-free
quantity, the *mean* squared neighbour difference over RGB; it is named for what it is there.)
"""

from __future__ import annotations

import numpy as np

from sr_lib.images import rgb_to_y

__all__ = ["edge_energy"]


def edge_energy(image: np.ndarray, border: int = 0) -> float:
    """Total squared neighbour difference of Y (vertical + horizontal pairs), float64.

    Args:
        image: (H, W, 3) RGB, or grayscale (H, W) / (H, W, 1); float [0, 1] (or uint8 / uint16,
            scaled to [0, 1]); RGB is reduced to the BT.601 luma of :func:`sr_lib.images.rgb_to_y`.
        border: pixels dropped on each side before measuring (the protocol's ``border = scale``).

    Returns:
        The sum, a float >= 0; compare it with the same quantity of the reference image.
    """
    if isinstance(border, bool) or int(border) != border or border < 0:
        raise ValueError(f"edge_energy: border must be an integer >= 0, got {border!r}")
    y = rgb_to_y(image)
    border = int(border)
    if border:
        y = y[border:-border, border:-border]
    y = y.astype(np.float64)
    return float((np.diff(y, axis=0) ** 2).sum() + (np.diff(y, axis=1) ** 2).sum())
