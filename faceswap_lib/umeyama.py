"""The least-squares similarity transform between two point sets (Umeyama 1991).

S. Umeyama, *Least-squares estimation of transformation parameters between two point patterns*,
IEEE Transactions on Pattern Analysis and Machine Intelligence 13(4), 376-380, 1991.

Given points :math:`x_i` (``src``) and :math:`y_i` (``dst``), ``i = 1..n``, in :math:`m`
dimensions, find the rotation :math:`R`, scale :math:`c` and translation :math:`t` that minimise
the mean squared error

.. math:: e^2(R, t, c) = \\frac{1}{n} \\sum_i \\lVert y_i - (c R x_i + t) \\rVert^2 .

The paper solves it in closed form with one SVD. Its theorem gives the minimum too,
:math:`\\varepsilon^2 = \\sigma_y^2 - \\mathrm{tr}(DS)^2 / \\sigma_x^2` (eq. 33), which
:func:`umeyama_error` returns. The comments below carry the paper's equation numbers, so the code
can be read next to the paper. :math:`R` is always a proper rotation (:math:`\\det R = +1`): a
mirrored copy of a face is fitted as well as a rotation can, never flipped.

Face alignment uses it to map a face's landmarks onto a mean-face template
(:mod:`faceswap_lib.align`); everything here is plain NumPy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["umeyama", "umeyama_error"]


def _check_points(src, dst) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(src, dtype=np.float64)
    y = np.asarray(dst, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"umeyama: expected (n, m) point arrays, got shapes {x.shape} and {y.shape}")
    if x.shape != y.shape:
        raise ValueError(f"umeyama: src and dst must have the same shape, got {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("umeyama: points contain NaN or infinity")
    for name, points in (("src", x), ("dst", y)):
        if len(np.unique(points, axis=0)) < 2:
            raise ValueError(
                f"umeyama: {name} has fewer than 2 distinct points ({len(points)} given); "
                "a similarity transform needs at least 2 different points in each set"
            )
    return x, y


def _solve(src, dst, estimate_scale: bool):
    """Return (R, c, t, D, S, sigma2_x, sigma2_y): the transform and the pieces of the theorem."""
    x, y = _check_points(src, dst)
    n, m = x.shape

    mu_x = x.mean(axis=0)  # eq. 34
    mu_y = y.mean(axis=0)  # eq. 35
    xc, yc = x - mu_x, y - mu_y
    sigma2_x = np.sum(xc**2) / n  # eq. 36: variance of src around its mean
    sigma2_y = np.sum(yc**2) / n  # eq. 37
    cov = yc.T @ xc / n  # eq. 38: Sigma_xy = 1/n sum (y_i - mu_y)(x_i - mu_x)^T, an m x m matrix

    U, D, Vt = np.linalg.svd(cov)  # Sigma_xy = U D V^T, D = diag(d_1 >= d_2 >= ... >= 0)
    # Rank test relative to the largest singular value: exact zeros rarely survive floating point.
    tol = max(D[0], np.finfo(np.float64).tiny) * m * np.finfo(np.float64).eps * 16
    rank = int(np.sum(D > tol))
    S = np.ones(m)
    if rank == m:
        # eq. 39: S = I if det(Sigma_xy) >= 0, else diag(1, ..., 1, -1). A negative determinant
        # means the best orthogonal matrix would be a reflection; flipping the axis of the
        # smallest singular value gives the best proper rotation instead.
        if np.linalg.det(cov) < 0:
            S[-1] = -1.0
    elif rank == m - 1:
        # eq. 43: Sigma_xy is singular (e.g. collinear points), det(Sigma_xy) = 0 says nothing;
        # the sign of det(U) det(V) decides instead.
        if np.linalg.det(U) * np.linalg.det(Vt) < 0:
            S[-1] = -1.0
    else:
        raise ValueError(
            f"umeyama: the covariance of the two point sets has rank {rank} < {m - 1}, so the "
            "rotation is not determined (are the points degenerate or uncorrelated?)"
        )

    R = U @ np.diag(S) @ Vt  # eq. 40: R = U S V^T
    # eq. 42: c = tr(DS) / sigma_x^2 (S is diagonal, so tr(DS) = sum_i d_i s_i).
    c = float(D @ S / sigma2_x) if estimate_scale else 1.0
    t = mu_y - c * R @ mu_x  # eq. 41: t = mu_y - c R mu_x
    return R, c, t, D, S, sigma2_x, sigma2_y


def umeyama(src, dst, estimate_scale: bool = True) -> np.ndarray:
    """The similarity transform that maps ``src`` onto ``dst`` with the least squared error.

    Args:
        src: (n, m) points :math:`x_i` (m = 2 for images: columns x, y in pixels).
        dst: (n, m) points :math:`y_i`, in the same order as ``src``.
        estimate_scale: if False, fit a rigid transform (rotation + translation, c = 1).

    Returns:
        (m + 1, m + 1) float64 homogeneous matrix ``T = [[c R, t], [0, 1]]``, so that
        ``dst ~ src @ T[:m, :m].T + T[:m, m]``. For images, ``T[:2]`` is the 2 x 3 matrix that
        ``cv2.warpAffine`` takes.

    Raises:
        ValueError: shapes differ or are not (n, m); NaN/inf values; fewer than 2 distinct points
            in either set (e.g. all points identical); or points so degenerate that the rotation
            is not determined.
    """
    R, c, t, *_ = _solve(src, dst, estimate_scale)
    m = R.shape[0]
    T = np.eye(m + 1)
    T[:m, :m] = c * R
    T[:m, m] = t
    return T


def umeyama_error(src, dst, estimate_scale: bool = True) -> float:
    """The minimum mean squared error of the fit, from the paper's closed form (eq. 33).

    With scale: :math:`\\varepsilon^2 = \\sigma_y^2 - \\mathrm{tr}(DS)^2 / \\sigma_x^2`. Without
    scale (c = 1) the same derivation gives :math:`\\sigma_x^2 + \\sigma_y^2 - 2\\,\\mathrm{tr}(DS)`.
    Equal to ``mean(||dst - T(src)||^2)`` for ``T = umeyama(src, dst)``, which the tests check.
    """
    _, _, _, D, S, sigma2_x, sigma2_y = _solve(src, dst, estimate_scale)
    trace = float(D @ S)
    error = sigma2_y - trace**2 / sigma2_x if estimate_scale else sigma2_x + sigma2_y - 2 * trace
    return max(error, 0.0)  # tiny negative values are rounding error of a perfect fit
