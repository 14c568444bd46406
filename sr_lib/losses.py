"""Training losses for image restoration: what "close to the target" means to the optimiser.

Every loss here is a Keras loss: ``loss(y_true, y_pred)`` on float images in [0, 1] (data range 1),
NHWC, returning one value per sample (shape ``(N,)``); Keras averages them over the batch. Use them
directly in ``model.compile(loss=...)``. All are registered as serialisable (package ``sr_lib``), so
a compiled model saved to ``.keras`` loads back with its loss.

- :func:`mse`, :func:`mae` — mean squared / absolute error per sample.
- :func:`psnr_loss` — ``10 log10(MSE + eps) - 10 log10(eps)``: zero for identical images, positive
  otherwise, and a decreasing function of PSNR (peak 1). Per sample, so each image's MSE is judged
  on a log scale: an image that is already good (small MSE) gets a *larger* gradient than with
  plain MSE (the derivative of ``log MSE`` is ``1 / MSE``).
- :func:`ssim_loss` — ``1 - SSIM`` (Wang et al. 2004) with the window of :func:`sr_lib.metrics.ssim`:
  11 x 11 Gaussian, sigma 1.5, K1 = 0.01, K2 = 0.03, data range 1, averaged over the *valid* part
  of the SSIM map (the window never leaves the image) and over **all channels** (train a Y-channel
  model and this is SSIM on Y, the protocol's channel). Inputs need at least 11 x 11 pixels.
- :func:`hfen` — the high-frequency error norm (Ravishankar & Bresler 2011): images filtered with a
  15 x 15 Laplacian-of-Gaussian (sigma 1.5), then the L2 norm of the difference *relative to the
  L2 norm of the filtered target*, per sample and channel (see :func:`hfen` for the exact
  normalisation). The filter removes the mean and slow ramps, so HFEN only sees edges and texture.
- :func:`combined` / :class:`CombinedLoss` — a weighted sum of the above, e.g.
  ``combined({"mae": 1.0, "ssim": 0.15, "hfen": 0.05})`` (the default, :data:`COMBINED_WEIGHTS`).

References
----------
- Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from error
  visibility to structural similarity", IEEE TIP 13(4), 2004. (SSIM, Eq. 13.)
- S. Ravishankar, Y. Bresler, "MR image reconstruction from highly undersampled k-space data by
  dictionary learning", IEEE Trans. Medical Imaging 30(5), 2011. (HFEN: 15 x 15 LoG, sigma 1.5.)
- H. Zhao, O. Gallo, I. Frosio, J. Kautz, "Loss functions for image restoration with neural
  networks", IEEE Trans. Computational Imaging 3(1), 2017. (Why L1 and SSIM mixtures beat L2.)
"""

from __future__ import annotations

import numpy as np

import keras
from keras import ops

__all__ = [
    "PSNR_EPSILON",
    "HFEN_EPSILON",
    "LOSSES",
    "gaussian_window",
    "log_kernel",
    "mse",
    "mae",
    "psnr_loss",
    "ssim_loss",
    "hfen",
    "CombinedLoss",
    "COMBINED_WEIGHTS",
    "combined",
    "get",
]

#: ``psnr_loss`` adds this to the MSE: it caps the loss's PSNR at 80 dB and keeps log10 finite.
PSNR_EPSILON = 1e-8
#: ``hfen``'s floor for the RMS LoG response of the target (well below one 8-bit level, 1/255):
#: it keeps the ratio finite on perfectly flat patches.
HFEN_EPSILON = 1e-3

_SSIM_K1, _SSIM_K2 = 0.01, 0.03  # Wang et al. 2004, with data range L = 1


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """1-D Gaussian window (float64, sums to 1), the one SSIM uses along each axis."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    window = np.exp(-(x**2) / (2.0 * sigma**2))
    return window / window.sum()


def log_kernel(size: int = 15, sigma: float = 1.5) -> np.ndarray:
    """2-D Laplacian-of-Gaussian kernel (size, size), float64, as MATLAB's ``fspecial('log', size, sigma)``.

    A sampled Gaussian normalised to sum 1, times ``(x^2 + y^2 - 2 sigma^2) / sigma^4`` (its
    Laplacian), then shifted to sum exactly 0 so that a constant image gives 0. The kernel is
    symmetric, so correlation and convolution with it are the same.
    """
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    x, y = np.meshgrid(r, r)
    g = np.exp(-(x**2 + y**2) / (2.0 * sigma**2))
    g /= g.sum()
    h = g * (x**2 + y**2 - 2.0 * sigma**2) / sigma**4
    return h - h.mean()


_GAUSS_11 = gaussian_window(11, 1.5).astype("float32")
_LOG_15 = log_kernel(15, 1.5).astype("float32")


def _to_float(y_true, y_pred):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    return y_true, y_pred


def _channels_to_batch(x):
    """(N, H, W, C) -> (N * C, H, W, 1): every channel becomes its own one-channel image."""
    shape = ops.shape(x)
    x = ops.transpose(x, (0, 3, 1, 2))
    return ops.reshape(x, (-1, shape[1], shape[2], 1))


def _check_size(x, minimum: int, name: str):
    for dim in x.shape[1:3]:
        if dim is not None and dim < minimum:
            raise ValueError(
                f"{name} needs images of at least {minimum} x {minimum} pixels, got shape {tuple(x.shape)}"
            )


def _filter_valid(x, kernel):
    """'valid' correlation of (B, H, W, 1) images with a 2-D kernel (kh, kw) given as NumPy."""
    k = ops.convert_to_tensor(kernel[:, :, None, None], dtype=x.dtype)
    return ops.conv(x, k, strides=1, padding="valid")


@keras.saving.register_keras_serializable(package="sr_lib")
def mse(y_true, y_pred):
    """Mean squared error per sample: (N, H, W, C) -> (N,)."""
    y_true, y_pred = _to_float(y_true, y_pred)
    return ops.mean(ops.square(y_pred - y_true), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="sr_lib")
def mae(y_true, y_pred):
    """Mean absolute error (L1) per sample: (N, H, W, C) -> (N,)."""
    y_true, y_pred = _to_float(y_true, y_pred)
    return ops.mean(ops.abs(y_pred - y_true), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="sr_lib")
def psnr_loss(y_true, y_pred):
    """``10 log10(MSE + eps) - 10 log10(eps)`` per sample, ``eps = PSNR_EPSILON``: (N, H, W, C) -> (N,).

    With peak 1, ``PSNR = -10 log10(MSE)``, so this loss is ``-PSNR`` (up to eps) shifted to be 0
    for identical images; lowering it by 1 raises the sample's PSNR by 1 dB. It is >= 0, zero only
    when the images are equal, and below about ``-10 log10(eps) = 80`` for images in [0, 1] (MSE <= 1).
    """
    per_sample_mse = mse(y_true, y_pred)
    eps = ops.cast(PSNR_EPSILON, per_sample_mse.dtype)
    scale = 10.0 / np.log(10.0)  # 10 log10(v) = (10 / ln 10) ln v
    return scale * (ops.log(per_sample_mse + eps) - ops.log(eps))


def _ssim_per_channel(y_true, y_pred):
    """Mean SSIM of every (sample, channel), shape (N, C); 'valid' 11 x 11 Gaussian window, range 1."""
    _check_size(y_pred, 11, "ssim_loss")
    n = ops.shape(y_pred)[0]
    c = ops.shape(y_pred)[3]
    x, y = _channels_to_batch(y_true), _channels_to_batch(y_pred)
    # One pass of the separable window over the five local statistics at once.
    stats = ops.concatenate([x, y, x * x, y * y, x * y], axis=0)
    g = _GAUSS_11.astype("float64")
    blurred = _filter_valid(_filter_valid(stats, g[:, None]), g[None, :])
    mu_x, mu_y, xx, yy, xy = ops.split(blurred, 5, axis=0)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    c1, c2 = _SSIM_K1**2, _SSIM_K2**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
    return ops.reshape(ops.mean(ssim_map, axis=(1, 2, 3)), (n, c))


@keras.saving.register_keras_serializable(package="sr_lib")
def ssim_loss(y_true, y_pred):
    """``1 - SSIM`` per sample, SSIM averaged over the valid map and all channels: (N, H, W, C) -> (N,).

    Same window and constants as :func:`sr_lib.metrics.ssim` (11 x 11 Gaussian, sigma 1.5,
    K1 = 0.01, K2 = 0.03) for images in [0, 1]; ``metrics.ssim`` measures 8-bit images on the
    0..255 scale, which gives the same SSIM (it is invariant to scaling image and range together).
    Zero for identical images; at most 2 (SSIM >= -1). H and W must be >= 11.
    """
    y_true, y_pred = _to_float(y_true, y_pred)
    return 1.0 - ops.mean(_ssim_per_channel(y_true, y_pred), axis=1)


@keras.saving.register_keras_serializable(package="sr_lib")
def hfen(y_true, y_pred):
    """High-frequency error norm (Ravishankar & Bresler 2011) per sample: (N, H, W, C) -> (N,).

    Both images are filtered with the 15 x 15 LoG of :func:`log_kernel` (sigma 1.5, 'valid' part
    only, so no padding enters), then, per sample and channel,

        HFEN = ||LoG * y_pred - LoG * y_true||_2 / sqrt(||LoG * y_true||_2^2 + P eps^2)

    with P the number of filtered pixels and ``eps = HFEN_EPSILON`` (a floor on the target's RMS
    LoG response for flat patches); channels are averaged. This is the paper's normalisation (the
    error relative to the target's own high-frequency energy, so 0.5 means "half as much wrong
    detail as there is detail"). The numerator is computed as ``sqrt(s + d) - sqrt(d)`` with
    ``d = 1e-12``, which is 0 for identical images and keeps the gradient finite there. H and W
    must be >= 15. Constant offsets and linear ramps are invisible to the LoG filter, and so, almost,
    are pixel-level patterns: the filter is band-pass, strongest at a period of about 7 pixels. A
    network trained on HFEN alone is free to shift brightness or paint a fine grid (notebook 02):
    combine it with a pixel loss.
    """
    y_true, y_pred = _to_float(y_true, y_pred)
    _check_size(y_pred, 15, "hfen")
    n = ops.shape(y_pred)[0]
    c = ops.shape(y_pred)[3]
    both = ops.concatenate([_channels_to_batch(y_true), _channels_to_batch(y_pred)], axis=0)
    log_true, log_pred = ops.split(_filter_valid(both, _LOG_15.astype("float64")), 2, axis=0)
    pixels = ops.cast(ops.shape(log_true)[1] * ops.shape(log_true)[2], y_pred.dtype)
    error = ops.sum(ops.square(log_pred - log_true), axis=(1, 2, 3))
    energy = ops.sum(ops.square(log_true), axis=(1, 2, 3))
    tiny = 1e-12
    numerator = ops.sqrt(error + tiny) - np.sqrt(tiny)
    ratio = numerator / ops.sqrt(energy + pixels * HFEN_EPSILON**2)
    return ops.mean(ops.reshape(ratio, (n, c)), axis=1)


#: The losses by short name, as :func:`combined` and :func:`get` accept them.
LOSSES = {"mse": mse, "mae": mae, "psnr": psnr_loss, "ssim": ssim_loss, "hfen": hfen}


def get(name: str):
    """The loss function for a short name in :data:`LOSSES` ("mse", "mae", "psnr", "ssim", "hfen")."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None


@keras.saving.register_keras_serializable(package="sr_lib")
class CombinedLoss(keras.losses.Loss):
    """Weighted sum of the losses of this module: ``sum(w * LOSSES[name](y_true, y_pred))`` per sample.

    Args:
        weights: dict short name -> weight, e.g. ``{"mae": 1.0, "ssim": 0.15, "hfen": 0.05}``;
            names from :data:`LOSSES`, weights >= 0, at least one > 0.
        name, reduction: as for any ``keras.losses.Loss`` (default reduction: mean over the batch).
    """

    def __init__(self, weights, name="combined", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        weights = {str(k): float(v) for k, v in dict(weights).items()}
        for key, value in weights.items():
            get(key)  # raises on unknown names
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"combined: weight of {key!r} must be a finite number >= 0, got {value}")
        if not weights or not any(weights.values()):
            raise ValueError("combined: give at least one loss a positive weight")
        self.loss_weights = weights

    def call(self, y_true, y_pred):
        terms = [w * LOSSES[key](y_true, y_pred) for key, w in self.loss_weights.items() if w]
        return terms[0] if len(terms) == 1 else ops.sum(ops.stack(terms, axis=0), axis=0)

    def get_config(self):
        return {**super().get_config(), "weights": dict(self.loss_weights)}


#: Default weights of :func:`combined`: on bicubic-upsampled T91 patches (x2 and x4, Y channel) MAE is
#: about 0.024, 1 - SSIM about 0.17 and HFEN about 0.45, so each weighted term starts out about as
#: large as MAE (notebook 02 measures this on its first batch).
COMBINED_WEIGHTS = {"mae": 1.0, "ssim": 0.15, "hfen": 0.05}


def combined(weights=None, name: str = "combined") -> CombinedLoss:
    """A weighted sum of losses, e.g. ``combined({"mae": 1.0, "ssim": 0.15, "hfen": 0.05})``.

    Without ``weights``, :data:`COMBINED_WEIGHTS`: L1 for the overall intensities (Zhao et al.
    2017 found L1 trains restoration networks better than L2), SSIM for local structure and
    contrast, HFEN for edges, weighted so that the three start out with similar values.
    """
    return CombinedLoss(dict(COMBINED_WEIGHTS) if weights is None else weights, name=name)

