"""The image core: which arrays count as images, and the one way each converts.

Every public function of ``sr_lib`` and ``faceswap_lib`` that takes an image checks it here, so the
rules below hold everywhere (metrics, ``imresize``, degradations, upscalers, tiling, viz, face
detection and landmarks).

**Value types** (the only ones accepted; anything else raises :class:`ImageTypeError`):

=============  ==================  =============================================================
dtype          values              meaning as float [0, 1]
=============  ==================  =============================================================
``uint8``      0..255              divided by 255 (exact)
``uint16``     0..65535            divided by 65535 (exact in float32: 16 bits < 24-bit mantissa)
float16/32/64  [0, 1]              as is. Interpolation and networks overshoot a little (bicubic
                                   rings to about -0.1..1.1 at hard edges), so values up to
                                   :data:`OVERSHOOT` outside [0, 1] are accepted and later clipped
                                   where an 8-bit image is made; a float array beyond that
                                   (for example 0..255 data in a float array) raises
                                   :class:`ImageRangeError` naming the range found. NaN and
                                   infinity raise it too.
=============  ==================  =============================================================

Signed integers (``int64`` from ``np.array([[...]])``, ``int32``), ``bool`` and ``uint32`` are
refused rather than guessed at: 0..255 and 0..65535 data look alike in an ``int64`` array, and a
wrong guess silently changes every score by tens of dB.

**Layouts**: ``(H, W)``, ``(H, W, 1)`` and ``(H, W, 3)`` are accepted alike; a function returns the
layout it was given (an ``(H, W)`` input gives an ``(H, W)`` output). Four channels (RGBA) are
handled by each function as its docstring says: ``alpha="reject"`` (the default here, a clear
error), ``"drop"`` (alpha removed, documented conversion) or ``"keep"`` (all channels processed
alike, for purely geometric operations such as resizing).

**Colour spaces**: RGB <-> YCbCr is ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` computes it (studio swing,
Y in [16, 235] of 255), the conversion every published SR table measures on; :func:`rgb_to_y` is the
channel :mod:`sr_lib.metrics` scores.

**Rounding rule** (float -> 8 bits): clip to [0, 1], multiply by 255, round half to even
(``np.round``), as MATLAB's ``im2uint8`` and the published SR evaluations do.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = [
    "OVERSHOOT",
    "ImageError",
    "ImageTypeError",
    "ImageRangeError",
    "ImageShapeError",
    "check_dtype",
    "to_float32",
    "to_uint8",
    "as_hwc",
    "as_float_hwc",
    "same_layout",
    "rgb_to_ycbcr",
    "rgb_to_ycbcr255",
    "ycbcr_to_rgb",
    "y_and_chroma_to_rgb",
    "rgb_to_y",
]

#: How far outside [0, 1] a float image may go and still count as a [0, 1] image (overshoot).
OVERSHOOT = 0.5


class ImageError(ValueError):
    """An array is not an image this library accepts; the message says which rule it breaks."""


class ImageTypeError(ImageError, TypeError):
    """The array's dtype is not uint8, uint16 or float (also a ``TypeError``)."""


class ImageRangeError(ImageError):
    """A float image with values far outside [0, 1], or NaN / infinite values."""


class ImageShapeError(ImageError):
    """The array is not (H, W), (H, W, 1) or (H, W, 3) (or (H, W, 4) where alpha is allowed)."""


def _label(name: str) -> str:
    return name or "image"


def check_dtype(image, name: str = "image") -> np.ndarray:
    """``image`` as an ndarray after checking its dtype and (for floats) its range.

    Args:
        image: array-like of any shape.
        name: how error messages call it (a file name, or ``"prediction"``).

    Returns:
        ``np.asarray(image)``, unchanged.

    Raises:
        ImageTypeError: dtype other than uint8, uint16 or a float type.
        ImageRangeError: float values outside ``[-OVERSHOOT, 1 + OVERSHOOT]``, NaN or infinity.
    """
    array = np.asarray(image)
    if array.dtype in (np.uint8, np.uint16):
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise ImageTypeError(
            f"{_label(name)}: dtype {array.dtype} is not an image type; use uint8 (0..255), "
            "uint16 (0..65535) or float in [0, 1]"
        )
    if array.size == 0:
        return array
    low, high = float(np.min(array)), float(np.max(array))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ImageRangeError(f"{_label(name)}: contains NaN or infinite values")
    if low < -OVERSHOOT or high > 1.0 + OVERSHOOT:
        hint = " (0..255 data? divide by 255 or pass uint8)" if high > 1.0 + OVERSHOOT else ""
        raise ImageRangeError(
            f"{_label(name)}: float values span {low:.4g}..{high:.4g}, outside [0, 1]{hint}"
        )
    return array


def to_float32(image, name: str = "image") -> np.ndarray:
    """Any accepted image -> float32 on the [0, 1] scale, same shape; float overshoot is kept.

    uint8 is divided by 255, uint16 by 65535; floats are cast (not clipped, not rescaled).

    Raises:
        ImageTypeError, ImageRangeError: see :func:`check_dtype`.
    """
    array = check_dtype(image, name)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    if array.dtype == np.uint16:
        return array.astype(np.float32) / np.float32(65535.0)
    return array.astype(np.float32, copy=False)


def to_uint8(image, name: str = "image") -> np.ndarray:
    """Any accepted image -> uint8 0..255, same shape, by the module's one rounding rule.

    uint8 is returned as is; uint16 maps 65535 to 255 (``round(v / 257)``); floats are clipped to
    [0, 1] and rounded half to even after multiplying by 255.

    Raises:
        ImageTypeError, ImageRangeError: see :func:`check_dtype`.
    """
    array = check_dtype(image, name)
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return np.round(array.astype(np.float64) / 257.0).astype(np.uint8)
    if array.dtype == np.float32:
        return _float32_to_uint8(array)
    return np.round(np.clip(array.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def _float32_to_uint8(array: np.ndarray) -> np.ndarray:
    """:func:`to_uint8` of a float32 array, computed in float32 with exactly the float64 result;
    an upscaled 16-megapixel RGB image takes 0.05 instead of 0.2 s.

    ``x * 255`` is exact in float64; in float32 it is rounded, and since rounding is monotonic and
    every ``n + 0.5`` (n <= 255) is a float32, that can change the rounded value only where the
    float32 product lands exactly on ``n + 0.5`` (a few hundred of 50 million pixels): those are
    recomputed in float64. (Checked against the float64 rule on every float32 in [0, 1].)
    Blocks of 64 Ki values keep the temporaries in the cache instead of allocating image-sized ones.
    """
    flat = np.ascontiguousarray(array).reshape(-1)
    out = np.empty(flat.shape, dtype=np.uint8)
    block = 1 << 16
    scaled = np.empty(min(block, flat.size), dtype=np.float32)
    rounded = np.empty_like(scaled)
    for start in range(0, flat.size, block):
        values = flat[start:start + block]
        s, r = scaled[:values.size], rounded[:values.size]
        np.multiply(values, np.float32(255.0), out=s)
        np.clip(s, np.float32(0.0), np.float32(255.0), out=s)  # = clip to [0, 1], then * 255 (255 is exact)
        np.rint(s, out=r)
        s -= r
        ties = np.abs(s, out=s) == np.float32(0.5)
        if ties.any():
            r[ties] = np.round(np.clip(values[ties].astype(np.float64), 0.0, 1.0) * 255.0)
        out[start:start + values.size] = r
    return out.reshape(array.shape)


def as_hwc(image, name: str = "image", *, alpha: str = "reject") -> np.ndarray:
    """``image`` viewed as (H, W, C): an (H, W) array gains a channel axis; dtype unchanged.

    Args:
        image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array of an accepted dtype.
        name: used in error messages.
        alpha: what to do with 4 channels: ``"reject"`` (raise), ``"drop"`` (keep the first
            three) or ``"keep"``.

    Returns:
        (H, W, C) array, C in {1, 3} (or 4 with ``alpha="keep"``).

    Raises:
        ImageShapeError: any other shape, an empty image, or 4 channels with ``alpha="reject"``.
        ImageTypeError, ImageRangeError: see :func:`check_dtype`.
    """
    if alpha not in ("reject", "drop", "keep"):
        raise ValueError(f"alpha must be 'reject', 'drop' or 'keep', got {alpha!r}")
    array = check_dtype(image, name)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise ImageShapeError(
            f"{_label(name)}: expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {array.shape}"
        )
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageShapeError(f"{_label(name)}: empty image of shape {array.shape}")
    if array.shape[-1] == 4:
        if alpha == "reject":
            raise ImageShapeError(
                f"{_label(name)}: 4 channels (RGBA) are not accepted here; drop the alpha channel "
                "first (image[..., :3])"
            )
        if alpha == "drop":
            array = array[..., :3]
    return array


def as_float_hwc(image, name: str = "image", *, alpha: str = "reject") -> np.ndarray:
    """``image`` as float32 (H, W, C) on the [0, 1] scale: :func:`as_hwc` then :func:`to_float32`.

    The usual first line of a function that computes on an image; pair it with
    :func:`same_layout` to answer an (H, W) input with an (H, W) result.

    Raises:
        ImageTypeError, ImageRangeError, ImageShapeError: see :func:`as_hwc`.
    """
    return to_float32(as_hwc(image, name, alpha=alpha), name)


def same_layout(like) -> Callable[[np.ndarray], np.ndarray]:
    """A function that gives an (H', W', C) result the layout of the input ``like``.

    For an (H, W) input it removes the channel axis of a one-channel result; otherwise it returns
    the result unchanged. Lets a function work in (H, W, C) inside and answer in the caller's terms.
    """
    squeeze = np.ndim(like) == 2

    def restore(result: np.ndarray) -> np.ndarray:
        if squeeze and result.ndim == 3 and result.shape[-1] == 1:
            return result[..., 0]
        return result

    return restore


# ---- colour spaces ---------------------------------------------------------------------------------

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


def rgb_to_ycbcr255(image: np.ndarray) -> np.ndarray:
    """YCbCr on the 0..255 scale in float64 (the SR metrics measure here, without float32 rounding).

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
    array = as_hwc(image, "rgb_to_ycbcr")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return (rgb_to_ycbcr255(array) / 255.0).astype(np.float32)


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
    array = as_hwc(image, "rgb_to_y")
    if array.shape[-1] == 1:
        return to_float32(array[..., 0])
    return rgb_to_ycbcr(array)[..., 0]
