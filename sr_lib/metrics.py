"""PSNR and SSIM with the standard super-resolution evaluation protocol.

The protocol behind the published tables (SRCNN, VDSR, EDSR, ... all report it):

1. Outputs are 8-bit images: float predictions are clipped to [0, 1] and rounded to 0..255.
2. Colour images are measured on the luma (Y) channel of ITU-R BT.601 YCbCr as MATLAB's ``rgb2ycbcr``
   computes it (studio swing, Y in [16, 235]); Y is kept in floating point, not rounded.
   Grayscale images (Set14's "bridge") are measured on their gray values, *not* pushed through the
   colour conversion: converted, that one image scores 1.3 dB higher.
3. A border of ``scale`` pixels is cropped on every side before measuring (the border is where
   interpolation has no neighbours and every method is poor).
4. PSNR with peak 255; SSIM as Wang et al. (2004): 11x11 Gaussian window, sigma 1.5, K1 = 0.01,
   K2 = 0.03, averaged over the 'valid' part of the SSIM map (the window never leaves the image).

RGB variants (``channel="rgb"``) measure all three channels: PSNR over the joint MSE, SSIM as the mean
of the per-channel SSIMs.

Everything here is NumPy/SciPy; it judges images, it does not train them. Inputs follow
:mod:`sr_lib.images`: uint8, uint16 (scaled by 65535, so a uint16 pair scores exactly as its uint8
twin) or float in [0, 1]; a float array with values far above 1 (0..255 data) raises
``ImageRangeError`` instead of being clipped to white. Shapes (H, W), (H, W, 1) or (H, W, 3); the two
images of a pair must have the same shape, but not necessarily the same dtype. Four channels (RGBA)
raise ``ImageShapeError``: alpha is no part of the protocol, so drop it first (``image[..., :3]``).

Reference: Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from error
visibility to structural similarity", IEEE TIP 2004.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage

from sr_lib import images
# The protocol's conversions (8 bits, BT.601 luma) are defined in the image core, sr_lib.images; they are
# named here too because the notebooks teach them as steps of this protocol (metrics.rgb_to_y, ...).
from sr_lib.images import rgb_to_y, rgb_to_ycbcr, to_float32, to_uint8, y_and_chroma_to_rgb, ycbcr_to_rgb

__all__ = [
    "to_uint8",
    "to_float32",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "y_and_chroma_to_rgb",
    "rgb_to_y",
    "protocol_values",
    "psnr",
    "ssim",
    "lpips",
]

def _gray(image: np.ndarray) -> np.ndarray | None:
    """(H, W) view of a grayscale image, or None if the image has colour channels."""
    if image.ndim == 2:
        return image
    if image.shape[-1] == 1:
        return image[..., 0]
    return None


def protocol_values(sr, hr, *, border: int = 0, channel: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-3 of the protocol: the values PSNR and SSIM compare, for other per-pixel measures.

    Args:
        sr, hr: a prediction and its reference, as for :func:`psnr`.
        border: pixels cropped on every side.
        channel: "y" or "rgb", as for :func:`psnr`.

    Returns:
        Two float64 arrays of shape (H - 2 border, W - 2 border, C), C = 1 for "y" (and for gray
        images) or 3 for "rgb": 8-bit values on the 0..255 scale (Y unrounded, BT.601).

    Raises:
        TypeError, ValueError, sr_lib.images.ImageError: as for :func:`psnr`.
    """
    for name, image in (("prediction", sr), ("reference", hr)):
        if image is None or isinstance(image, (str, bytes)) or np.ndim(image) not in (2, 3):
            raise TypeError(f"{name} is not an image: expected an (H, W) or (H, W, C) array, "
                            f"got {type(image).__name__} of shape {np.shape(image)}")
    if isinstance(border, (bool, np.bool_)) or not isinstance(border, numbers.Integral):
        raise TypeError(f"border must be a whole number of pixels >= 0, got {border!r}")
    if np.shape(sr) != np.shape(hr):
        raise ValueError(f"shapes differ: prediction {np.shape(sr)} vs reference {np.shape(hr)}")
    sr = images.as_hwc(sr, "prediction")
    hr = images.as_hwc(hr, "reference")
    if channel not in ("y", "rgb"):
        raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")
    border = int(border)
    if border < 0 or 2 * border >= min(sr.shape[:2]):
        raise ValueError(f"border {border} leaves nothing of an image of shape {sr.shape}")

    # Step 1 of the protocol: judge 8-bit images.
    sr8, hr8 = to_uint8(sr), to_uint8(hr)
    prepared = []
    for image in (sr8, hr8):
        gray = _gray(image)
        if gray is not None:  # published convention: gray values as they are
            values = gray.astype(np.float64)[..., None]
        elif channel == "y":
            values = images.rgb_to_ycbcr255(image)[..., :1]
        else:
            values = image.astype(np.float64)
        if border:
            values = values[border:-border, border:-border]
        prepared.append(values)
    return prepared[0], prepared[1]


def psnr(sr: np.ndarray, hr: np.ndarray, *, border: int = 0, channel: str = "y") -> float:
    """Peak signal-to-noise ratio in dB (peak 255) under the SR protocol.

    Args:
        sr: prediction, (H, W), (H, W, 1) or (H, W, 3); uint8, uint16 or float [0, 1] (floats are
            clipped to [0, 1] and rounded to 8 bits, step 1 of the protocol).
        hr: ground truth, same shape; any accepted dtype.
        border: pixels cropped on every side; use the scale factor for SR results.
        channel: "y" (BT.601 luma, the published convention) or "rgb".

    Returns:
        PSNR in dB; ``inf`` for identical images.

    Raises:
        ValueError: shapes differ, unknown ``channel``, or a border that leaves nothing.
        sr_lib.images.ImageError: unsupported dtype (e.g. int64), float values far outside [0, 1],
            or RGBA.
    """
    a, b = protocol_values(sr, hr, border=border, channel=channel)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(255.0**2 / mse))


def _gaussian_window_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    window = np.exp(-(x**2) / (2.0 * sigma**2))
    return window / window.sum()


def _ssim_single_channel(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two (H, W) float64 arrays on the 0..255 scale (Wang et al. 2004, Eq. 13)."""
    window = _gaussian_window_1d()
    radius = len(window) // 2
    if min(a.shape) < len(window):
        raise ValueError(f"SSIM needs images of at least {len(window)}x{len(window)} pixels, got {a.shape}")

    def blur(x):
        # Separable Gaussian; the 'reflect' border is cut away below, leaving the 'valid' region.
        y = ndimage.correlate1d(x, window, axis=0, mode="reflect")
        y = ndimage.correlate1d(y, window, axis=1, mode="reflect")
        return y[radius:-radius, radius:-radius]

    c1 = (0.01 * 255.0) ** 2
    c2 = (0.03 * 255.0) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def ssim(sr: np.ndarray, hr: np.ndarray, *, border: int = 0, channel: str = "y") -> float:
    """Structural similarity (Wang et al. 2004) under the SR protocol; 1.0 for identical images.

    Same arguments and errors as :func:`psnr`; also ``ValueError`` when the (cropped) image is
    smaller than the 11x11 window. For ``channel="rgb"`` the per-channel SSIMs are averaged.
    """
    a, b = protocol_values(sr, hr, border=border, channel=channel)
    return float(np.mean([_ssim_single_channel(a[..., c], b[..., c]) for c in range(a.shape[-1])]))


def lpips(sr: np.ndarray, hr: np.ndarray, *, border: int = 0) -> float:
    """LPIPS-VGG v0.1 (Zhang et al. 2018) under the SR protocol: lower is closer, 0 for identical images.

    The protocol's steps 1 and 3 as for PSNR and SSIM (8-bit images, ``border`` pixels cropped on every
    side), then :func:`sr_lib.lpips.lpips` on the **RGB** images (LPIPS is defined on colour; a
    grayscale pair is repeated to RGB), as perceptual SR papers and BasicSR report it. Needs the
    converted VGG-16/LPIPS weights (``make install``); imports Keras on first use.

    Args:
        sr, hr: as for :func:`psnr`; after cropping at least 32 x 32 pixels.
        border: pixels cropped on every side; use the scale factor for SR results.

    Returns:
        LPIPS distance (dimensionless, >= 0; visible distortions score about 0.05 to 0.7).

    Raises:
        ValueError: shapes differ, or a border that leaves nothing.
        sr_lib.images.ImageError: as for :func:`psnr`, and images under 32 x 32 pixels after cropping.
        sr_lib.perceptual.PerceptualWeightsUnavailable: the weights were not fetched.
    """
    from sr_lib.lpips import lpips as lpips_distance  # Keras: only when asked for

    a, b = protocol_values(sr, hr, border=border, channel="rgb")  # 0..255 float64, rounded to 8 bits, cropped
    return lpips_distance((a / 255.0).astype(np.float32), (b / 255.0).astype(np.float32))
