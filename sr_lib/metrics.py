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
# The conversions live in the image core; they stay importable from here for existing code.
from sr_lib.images import to_float32, to_uint8

__all__ = [
    "to_uint8",
    "to_float32",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "y_and_chroma_to_rgb",
    "rgb_to_y",
    "psnr",
    "ssim",
    "lpips",
]

# MATLAB rgb2ycbcr (BT.601, studio swing) for RGB in [0, 1]; rows give Y, Cb, Cr on the 0..255 scale.
_YCBCR_MATRIX = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ]
)
_YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])
_RGB_MATRIX = np.linalg.inv(_YCBCR_MATRIX)
# The same inverse as one affine map on [0, 1] values: RGB = _RGB_AFFINE @ (Y, Cb, Cr, 1).
_RGB_AFFINE = np.concatenate([_RGB_MATRIX * 255.0, -(_RGB_MATRIX @ _YCBCR_OFFSET)[:, None]], axis=1).astype(np.float32)


def _mix_channels(image, matrix, offset_before=None, offset_after=None, dtype=np.float64):
    """``(image - offset_before) @ matrix.T + offset_after`` over the last axis (3 channels), in ``dtype``.

    Written as nine whole-plane multiply-adds: numpy's ``@`` with a (..., 3) operand runs one tiny
    product per pixel and was the slowest step of upscaling a large image.
    """
    planes = [image[..., j].astype(dtype) for j in range(3)]
    if offset_before is not None:
        planes = [p - dtype(o) for p, o in zip(planes, offset_before)]
    out = np.empty(image.shape[:-1] + (3,), dtype=dtype)
    for i in range(3):
        m = matrix[i].astype(dtype)
        out[..., i] = m[0] * planes[0] + m[1] * planes[1] + m[2] * planes[2]
        if offset_after is not None:
            out[..., i] += dtype(offset_after[i])
    return out


def _rgb_to_ycbcr255(image: np.ndarray) -> np.ndarray:
    """YCbCr on the 0..255 scale in float64 (the metrics measure here, without float32 rounding).

    ``image``: (..., 3) RGB; uint8 / uint16 are scaled to [0, 1] first, floats are taken as they are.
    """
    array = np.asarray(image)
    if array.dtype == np.uint8:
        rgb = array / 255.0
    elif array.dtype == np.uint16:
        rgb = array / 65535.0
    else:
        rgb = array.astype(np.float64)
    return _mix_channels(rgb, _YCBCR_MATRIX, offset_after=_YCBCR_OFFSET)


def rgb_to_ycbcr(image: np.ndarray) -> np.ndarray:
    """RGB -> YCbCr (MATLAB ``rgb2ycbcr``, BT.601 studio swing), float32 scaled to [0, 1].

    Args:
        image: (H, W, 3) RGB, uint8 / uint16 / float [0, 1] (see :mod:`sr_lib.images`). A grayscale
            (H, W) or (H, W, 1) image is taken as R = G = B (so Cb = Cr = 128/255); RGBA raises.

    Returns:
        (H, W, 3) float32: Y in [16/255, 235/255], Cb and Cr in [16/255, 240/255] for inputs in [0, 1].

    Raises:
        sr_lib.images.ImageError: unsupported dtype, range or shape.
    """
    array = images.as_hwc(image, "rgb_to_ycbcr")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return (_rgb_to_ycbcr255(array) / 255.0).astype(np.float32)


def ycbcr_to_rgb(image: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`: YCbCr float [0, 1] (..., 3) -> RGB float32, not clipped."""
    # float32 arithmetic: the result is float32 anyway (its rounding, ~1e-7, is far below 1/255),
    # and this runs on every output pixel of an upscaled image. One affine map per pixel in
    # OpenCV's SIMD, multithreaded loop: 0.03 s for 16 megapixels (NumPy plane by plane: 0.6 s).
    import cv2

    ycbcr = np.ascontiguousarray(image, dtype=np.float32)
    if ycbcr.shape[-1:] != (3,):
        raise ValueError(f"ycbcr_to_rgb: expected (..., 3) YCbCr, got shape {ycbcr.shape}")
    if ycbcr.size == 0:
        return np.empty(ycbcr.shape, np.float32)
    # As rows of pixels: OpenCV splits the work over threads by rows (a column of single pixels is 10x slower).
    rows = ycbcr.reshape(-1, ycbcr.shape[-2], 3) if ycbcr.ndim >= 3 else ycbcr.reshape(1, -1, 3)
    return cv2.transform(rows, _RGB_AFFINE).reshape(ycbcr.shape)


def y_and_chroma_to_rgb(y: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """:func:`ycbcr_to_rgb` of a luma (H, W, 1) and its chroma (H, W, 2) (float [0, 1]), clipped
    to [0, 1]: the last step of the Y-channel SR recipe, without stacking the planes in NumPy.

    Returns:
        (H, W, 3) float32 RGB in [0, 1].
    """
    import cv2

    y = np.ascontiguousarray(y, dtype=np.float32)
    chroma = np.ascontiguousarray(chroma, dtype=np.float32)
    if y.ndim == 2:
        y = y[..., None]
    if y.shape[:2] != chroma.shape[:2] or y.shape[2:] != (1,) or chroma.shape[2:] != (2,):
        raise ValueError(f"y_and_chroma_to_rgb: expected (H, W, 1) and (H, W, 2), got {y.shape} and {chroma.shape}")
    rgb = ycbcr_to_rgb(cv2.merge([y, chroma]) if y.size else np.empty(y.shape[:2] + (3,), np.float32))
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """The channel the SR protocol measures: the luma of an RGB image, the gray values of a gray one.

    Args:
        image: (H, W, 3) RGB, or grayscale (H, W) / (H, W, 1); uint8, uint16 or float [0, 1].
            RGBA raises (drop the alpha first).

    Returns:
        (H, W) float32: for RGB, Y of :func:`rgb_to_ycbcr` in [16/255, 235/255]; for a grayscale image
        its own values on [0, 1] (the published convention measures gray images unconverted).

    Raises:
        sr_lib.images.ImageError: unsupported dtype, range or shape.
    """
    array = images.as_hwc(image, "rgb_to_y")
    if array.shape[-1] == 1:
        return images.to_float32(array[..., 0])
    return rgb_to_ycbcr(array)[..., 0]


def _gray(image: np.ndarray) -> np.ndarray | None:
    """(H, W) view of a grayscale image, or None if the image has colour channels."""
    if image.ndim == 2:
        return image
    if image.shape[-1] == 1:
        return image[..., 0]
    return None


def _prepare(sr, hr, border: int, channel: str) -> tuple[np.ndarray, np.ndarray]:
    """Both images on the 0..255 scale as float64 (H', W', C'), in the protocol's channel, cropped."""
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
            values = _rgb_to_ycbcr255(image)[..., :1]
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
    a, b = _prepare(sr, hr, border, channel)
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
    a, b = _prepare(sr, hr, border, channel)
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

    a, b = _prepare(sr, hr, border, "rgb")  # 0..255 float64, rounded to 8 bits, cropped
    return lpips_distance((a / 255.0).astype(np.float32), (b / 255.0).astype(np.float32))
