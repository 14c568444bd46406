"""Making low-resolution (LR) training and test inputs from high-resolution (HR) images.

All functions take images as :mod:`sr_lib.images` defines them (uint8, uint16 or float in [0, 1];
(H, W), (H, W, 1) or (H, W, 3)) and return float32 in [0, 1] in the layout they were given (an
(H, W) input gives an (H, W) result); :func:`modcrop` returns a view of its input instead. Four
channels (RGBA) raise ``ImageShapeError`` in the degradations (blur, noise and JPEG have no agreed
meaning for alpha; drop it first), and are cropped like the other channels by :func:`modcrop`. The
functions are pure: the same arguments give the same result, and random steps take an explicit
``np.random.Generator`` so a seeded generator makes them reproducible.

- :func:`modcrop` and :func:`bicubic_downscale` give the standard benchmark degradation
  (MATLAB ``imresize(modcrop(hr, s), 1/s, 'bicubic')`` on 8-bit images).
- :func:`gaussian_blur`, :func:`add_gaussian_noise`, :func:`jpeg_compress` and :func:`crapify`
  make inputs *worse* than plain bicubic, fastai's "crapify" idea: a model trained on harder
  inputs copes better with real, messy photos.
"""

from __future__ import annotations

import numbers

import cv2
import numpy as np

from sr_lib import images
from sr_lib.data.imresize import imresize
from sr_lib.images import to_uint8

__all__ = [
    "modcrop",
    "bicubic_downscale",
    "gaussian_blur",
    "add_gaussian_noise",
    "jpeg_compress",
    "crapify",
]


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom rows and right columns so H and W are multiples of ``scale``.

    This is the convention for HR sizes not divisible by the scale: the LR image is then exactly
    (H / scale, W / scale) and every LR pixel corresponds to a whole ``scale`` x ``scale`` HR block.
    At most ``scale - 1`` rows / columns are dropped.

    Args:
        image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) (cropping is geometric: alpha is kept);
            uint8, uint16 or float in [0, 1] (:mod:`sr_lib.images`).
        scale: positive integer upscaling factor.

    Returns:
        A view of ``image`` with shape (H - H % scale, W - W % scale[, C]), same dtype.

    Raises:
        ValueError: ``scale`` is not a positive integer, or H or W is smaller than ``scale``.
        sr_lib.images.ImageError: not an accepted image (dtype, range or layout).
    """
    scale = _check_scale(scale)
    images.as_hwc(image, "modcrop", alpha="keep")
    image = np.asarray(image)
    height, width = image.shape[:2]
    if height < scale or width < scale:
        raise ValueError(f"modcrop: image of shape {image.shape} is smaller than the scale {scale}")
    return image[: height - height % scale, : width - width % scale]


def bicubic_downscale(hr: np.ndarray, scale: int, *, quantize: bool = True) -> np.ndarray:
    """The standard SR degradation: ``imresize(modcrop(hr, scale), 1 / scale)`` (MATLAB bicubic).

    With ``quantize=True`` (default) this reproduces the benchmark LR images exactly: the SR
    literature makes them from 8-bit images with MATLAB, which rounds to uint8 before, between and
    after the two resize passes. So ``hr`` is rounded to 8 bits (``round(hr * 255)``), resized as
    uint8, and divided by 255. HR images read from 8-bit files are unchanged by the first rounding;
    finer float values (e.g. from 16-bit files) lose up to 1/510. ``quantize=False`` resizes the
    float values directly (no rounding) and clips the result.

    Args:
        hr: (H, W), (H, W, 1) or (H, W, 3) image, uint8, uint16 or float in [0, 1]; H, W >= ``scale``.
            uint16 and float images are rounded to 8 bits when ``quantize`` is True.
        scale: positive integer factor.
        quantize: match MATLAB's 8-bit pipeline (True) or keep full float precision (False).

    Returns:
        float32 LR image in [0, 1], shape (H // scale, W // scale[, C]).

    Raises:
        sr_lib.images.ImageError: not an accepted image (e.g. int64, 0..255 floats, RGBA).
    """
    scale = _check_scale(scale)
    hr, restore = images.as_hwc(hr, "bicubic_downscale"), images.same_layout(hr)
    hr = modcrop(hr, scale)
    if quantize:
        lr8 = imresize(to_uint8(hr), scale=1.0 / scale)  # uint8 in -> uint8 out, like MATLAB
        return restore(lr8.astype(np.float32) / np.float32(255.0))
    # Bicubic overshoots at edges; clip so the result is a valid image again.
    return restore(np.clip(imresize(images.to_float32(hr), scale=1.0 / scale), 0.0, 1.0).astype(np.float32))


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Blur with an isotropic Gaussian of standard deviation ``sigma`` pixels.

    Each channel is blurred separately; borders are mirrored (OpenCV's reflect-101), so no dark
    frame appears. The kernel is cut at about 4 sigma. ``sigma == 0`` returns a float32 copy.

    Args:
        image: (H, W), (H, W, 1) or (H, W, 3) image, uint8, uint16 or float in [0, 1]
            (:mod:`sr_lib.images`); RGBA raises.
        sigma: standard deviation in pixels, a finite number >= 0 and at most the image's longer
            side (a wider blur flattens the image and would take minutes with a kernel of 8 sigma).

    Returns:
        float32 image, same shape, in [0, 1] (values are clipped to [0, 1] afterwards, which also
        removes a float input's overshoot).
    """
    image = _float_image(image, "gaussian_blur")
    sigma = _check_sigma(sigma, "gaussian_blur")
    longest = max(image.shape[:2])
    if sigma > longest:
        raise ValueError(f"gaussian_blur: sigma {sigma} is larger than the image ({image.shape[1]}x{image.shape[0]} "
                         f"pixels); use at most {longest}")
    if sigma == 0:
        return np.clip(image, 0.0, 1.0)
    # ksize (0, 0): OpenCV derives the size from sigma. It drops a trailing channel axis of size 1,
    # hence the reshape back to the input shape.
    blurred = cv2.GaussianBlur(
        np.ascontiguousarray(image), (0, 0), sigmaX=float(sigma), sigmaY=float(sigma), borderType=cv2.BORDER_REFLECT_101
    )
    return np.clip(blurred.reshape(image.shape), 0.0, 1.0)


def add_gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add independent zero-mean Gaussian noise to every sample, then clip to [0, 1].

    Args:
        image: (H, W), (H, W, 1) or (H, W, 3) image, uint8, uint16 or float in [0, 1]; RGBA raises.
        sigma: noise standard deviation in [0, 1] units: ``25 / 255`` is the "sigma = 25" of the
            denoising literature. Clipping makes the effective std slightly smaller near 0 and 1.
        rng: the source of randomness, e.g. ``np.random.default_rng(0)``; it is advanced.

    Returns:
        float32 image, same shape, in [0, 1].
    """
    image = _float_image(image, "add_gaussian_noise")
    sigma = _check_sigma(sigma, "add_gaussian_noise")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"add_gaussian_noise: rng must be a np.random.Generator, got {type(rng).__name__}")
    noise = rng.normal(0.0, sigma, size=image.shape).astype(np.float32)
    return np.clip(image + noise, 0.0, 1.0)


def jpeg_compress(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at ``quality`` and decode again, in memory (blocking and ringing artefacts).

    The image is rounded to 8 bits first (JPEG stores 8-bit samples). Colour images use OpenCV's
    encoder defaults (YCbCr with 4:2:0 chroma subsampling, like most cameras and web images);
    (H, W, 1) images are encoded as grayscale JPEG.

    Args:
        image: (H, W), (H, W, 1) or (H, W, 3) image, uint8, uint16 or float in [0, 1]; RGBA raises
            (JPEG cannot store alpha).
        quality: JPEG quality, integer 1 (worst) .. 100 (best).

    Returns:
        float32 image, same shape, in [0, 1] (multiples of 1/255).
    """
    image = _float_image(image, "jpeg_compress")
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) or not 1 <= quality <= 100:
        raise ValueError(f"jpeg_compress: quality must be an integer in 1..100, got {quality!r}")
    channels = 1 if image.ndim == 2 else image.shape[2]
    samples = to_uint8(image)
    # OpenCV stores colour as BGR: flip on the way in and out.
    samples = samples.reshape(image.shape[:2]) if channels == 1 else samples[..., ::-1]
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(samples), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"jpeg_compress: OpenCV failed to encode an image of shape {image.shape}")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR)
    if channels == 3:
        decoded = decoded[..., ::-1]
    return (decoded.astype(np.float32) / np.float32(255.0)).reshape(image.shape)


def crapify(
    hr: np.ndarray,
    scale: int,
    *,
    blur_sigma: float | None = None,
    noise_sigma: float | None = None,
    jpeg_quality: int | None = None,
    upsample: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Make a degraded training input from an HR image (fastai's "crapify").

    Steps, in order (each optional step is skipped when its argument is ``None``):

    1. :func:`bicubic_downscale` by ``scale`` (after :func:`modcrop`);
    2. :func:`gaussian_blur` with ``blur_sigma`` **LR** pixels (blur after downscaling = a soft LR);
    3. :func:`add_gaussian_noise` with ``noise_sigma`` (in [0, 1] units), drawn from ``rng``;
    4. :func:`jpeg_compress` at ``jpeg_quality``;
    5. with ``upsample=True``, MATLAB-bicubic :func:`imresize` back to the (modcropped) HR size,
       for models whose input and output have the same size (e.g. the autoencoder notebook).

    Args:
        hr: (H, W), (H, W, 1) or (H, W, 3) image, uint8, uint16 or float in [0, 1]; RGBA raises.
        scale: positive integer factor.
        blur_sigma, noise_sigma, jpeg_quality: strength of each optional step.
        upsample: return an HR-sized image instead of the LR one.
        rng: required when ``noise_sigma`` is set; refusing a hidden default seed avoids the
            trap of every call silently adding the *same* noise pattern.

    Returns:
        float32 image in [0, 1]: (H // scale, W // scale[, C]), or with ``upsample=True`` the
        modcropped HR shape (H - H % scale, W - W % scale[, C]); the layout of ``hr``.

    Raises:
        sr_lib.images.ImageError: ``hr`` is not an accepted image.
        ValueError: ``noise_sigma`` without ``rng``, or a bad scale or strength.
    """
    if noise_sigma is not None and rng is None:
        raise ValueError("crapify: noise_sigma needs an explicit rng, e.g. rng=np.random.default_rng(seed)")
    lr = bicubic_downscale(hr, scale)
    if blur_sigma is not None:
        lr = gaussian_blur(lr, blur_sigma)
    if noise_sigma is not None:
        lr = add_gaussian_noise(lr, noise_sigma, rng)
    if jpeg_quality is not None:
        lr = jpeg_compress(lr, jpeg_quality)
    if upsample:
        hr_shape = (lr.shape[0] * scale, lr.shape[1] * scale)
        lr = np.clip(imresize(lr, output_shape=hr_shape), 0.0, 1.0)  # bicubic overshoots; clip
    return lr.astype(np.float32, copy=False)


# ----------------------------------------------------------------------------------------------
# Private helpers


def _check_scale(scale) -> int:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    return int(scale)


def _check_sigma(sigma, name: str) -> float:
    """``sigma`` as a float: a real number (not bool), finite and >= 0."""
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real):
        raise TypeError(f"{name}: sigma must be a number, got {type(sigma).__name__} {sigma!r}")
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"{name}: sigma must be a finite number >= 0, got {sigma!r}")
    return float(sigma)


def _float_image(image: np.ndarray, name: str) -> np.ndarray:
    """``image`` as float32 on the [0, 1] scale in its own layout ((H, W) stays (H, W)), checked by
    :mod:`sr_lib.images` (dtype, range, (H, W) / (H, W, 1) / (H, W, 3); RGBA raises)."""
    return images.same_layout(image)(images.as_float_hwc(image, name))
