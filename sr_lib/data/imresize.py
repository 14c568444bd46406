"""MATLAB-compatible bicubic ``imresize`` in NumPy.

Why this exists: the SR literature makes its low-resolution images, and measures its bicubic baseline,
with MATLAB's ``imresize(I, 1/s, 'bicubic')``. That function differs from ``cv2.resize``, PIL and
``tf.image.resize`` in two ways that move PSNR by tenths of a dB:

1. Keys' cubic kernel with a = -0.5 (OpenCV uses a = -0.75).
2. Antialiasing when shrinking: the kernel is stretched by 1/scale, so it integrates over every
   input pixel that falls under an output pixel (``tf.image.resize(..., antialias=False)`` and
   ``cv2.resize`` sample only 4 taps and alias).

The algorithm follows MATLAB's ``imresize.m`` (``contributions``): output pixel ``x`` (1-based) maps to
input coordinate ``u = x / scale + 0.5 * (1 - 1 / scale)``; weights are the kernel at ``u - j``
normalised to sum to one; out-of-range taps mirror at the border (``symmetric`` padding). Dimensions
are resized one at a time, the one with the smaller scale factor first (MATLAB's order).

Reference: R. Keys, "Cubic convolution interpolation for digital image processing", IEEE TASSP 1981.
"""

from __future__ import annotations

import numbers

import numpy as np

from sr_lib import images

__all__ = ["imresize", "resize_array", "interpolate", "bicubic", "cubic_kernel", "resize_weights", "KERNELS"]


def cubic_kernel(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``); support [-2, 2]."""
    absx = np.abs(x)
    absx2 = absx**2
    absx3 = absx**3
    near = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    return near + far


def triangle_kernel(x: np.ndarray) -> np.ndarray:
    """MATLAB's ``triangle`` (bilinear) kernel; support [-1, 1]."""
    return np.clip(1.0 - np.abs(x), 0.0, None)


def box_kernel(x: np.ndarray) -> np.ndarray:
    """MATLAB's ``box`` (nearest) kernel: 1 on [-0.5, 0.5)."""
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


# method -> (kernel, width), as MATLAB's imresize defines them.
KERNELS = {"bicubic": (cubic_kernel, 4.0), "bilinear": (triangle_kernel, 2.0), "nearest": (box_kernel, 1.0)}


def resize_weights(
    in_length: int, out_length: int, scale: float, antialiasing: bool = True, method: str = "bicubic"
) -> np.ndarray:
    """Dense (out_length, in_length) matrix ``W`` such that ``W @ signal`` resizes a 1-D signal.

    Built exactly like MATLAB's ``contributions``: kernel width 4, stretched by ``1/scale`` when
    shrinking with antialiasing, weights normalised per output pixel, mirrored border taps.
    A dense matrix shows the whole linear map at once (handy for teaching and tests);
    :func:`imresize` itself applies the same weights tap by tap, which is far cheaper for big images.
    """
    indices, weights = _contributions(in_length, out_length, scale, antialiasing, method)
    matrix = np.zeros((out_length, in_length), dtype=np.float64)
    rows = np.repeat(np.arange(out_length), indices.shape[1])
    np.add.at(matrix, (rows, indices.ravel()), weights.ravel())
    return matrix


def _contributions(in_length: int, out_length: int, scale: float, antialiasing: bool, method: str):
    """(indices, weights), both (out_length, taps): the 0-based input pixels each output pixel
    reads (mirrored at the border) and their normalised weights; MATLAB's ``contributions``."""
    if method not in KERNELS:
        raise ValueError(f"imresize: method must be one of {sorted(KERNELS)}, got {method!r}")
    base_kernel, kernel_width = KERNELS[method]
    # MATLAB never antialiases nearest-neighbour resizing.
    if scale < 1 and antialiasing and method != "nearest":
        # Stretch the kernel: h(x) = scale * k(scale * x), width w / scale.
        def kernel(x):
            return scale * base_kernel(scale * x)

        kernel_width = kernel_width / scale
    else:
        kernel = base_kernel

    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # output pixel centre in input coordinates (1-based)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(np.ceil(kernel_width)) + 2  # MATLAB takes two spare taps and drops all-zero columns
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based input positions
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)

    # Mirror out-of-range taps (MATLAB: aux = [1:in_length, in_length:-1:1]).
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    used = np.any(weights != 0, axis=0)  # MATLAB drops all-zero tap columns
    return indices[:, used], weights[:, used]


def _pair(value, name: str) -> tuple:
    """A number or a (height, width) pair of numbers (not bool, not str) -> a 2-tuple."""
    def number(v):
        return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))

    if number(value):
        return value, value
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2 \
            or not all(number(v) for v in value):
        what = "an (out_h, out_w) pair" if name == "output_shape" else "a number or a (height, width) pair"
        raise TypeError(f"imresize: {name} must be {what} of numbers, got {value!r}")
    return tuple(value)


def _output_shape(in_shape, scale, output_shape):
    if output_shape is not None:
        if isinstance(output_shape, numbers.Real) or isinstance(output_shape, (str, bytes)):
            raise TypeError(f"imresize: output_shape must be an (out_h, out_w) pair, got {output_shape!r}")
        _pair(output_shape, "output_shape")
        if not all(float(v).is_integer() for v in output_shape):
            raise ValueError(f"imresize: output_shape must be whole numbers of pixels, got {output_shape!r}")
        out_h, out_w = (int(v) for v in output_shape)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"imresize: output_shape must be positive, got {output_shape}")
        return (out_h, out_w), (out_h / in_shape[0], out_w / in_shape[1])
    if scale is None:
        raise ValueError("imresize: give either scale or output_shape")
    scale_h, scale_w = _pair(scale, "scale")
    if not (np.isfinite(scale_h) and np.isfinite(scale_w)) or scale_h <= 0 or scale_w <= 0:
        raise ValueError(f"imresize: scale must be a finite number > 0, got {scale!r}")
    # MATLAB: ceil(scale * size); the tiny epsilon keeps 1/3 * 3 * k from rounding up to k + 1.
    out = tuple(int(np.ceil(s * n - 1e-9)) for s, n in zip((scale_h, scale_w), in_shape[:2]))
    return out, (scale_h, scale_w)


def imresize(
    image: np.ndarray, scale=None, output_shape=None, antialiasing: bool = True, method: str = "bicubic"
) -> np.ndarray:
    """Resize like MATLAB's ``imresize(image, scale, method)`` (bicubic by default).

    Args:
        image: an image as :mod:`sr_lib.images` defines it: (H, W), (H, W, 1), (H, W, 3), or
            (H, W, 4) (resizing is geometric, so an alpha channel is resized like the others);
            ``uint8``, ``uint16`` or float in [0, 1] (small overshoot allowed). Integer input gives
            the same integer type back, rounded and clipped like MATLAB (also between the two
            passes); float input gives float32 output, not clipped (bicubic overshoots near
            edges; clip where you need a valid image). float32 input is computed in float32
            (differences from float64 ~1e-7, below its output precision; half the memory
            traffic), other floats in float64.
        scale: a number or a (scale_h, scale_w) pair, e.g. ``1/4`` to make a x4 LR image. MATLAB
            semantics: the kernel uses this exact factor and the output size is ``ceil(scale * size)``.
        output_shape: (out_h, out_w) instead of ``scale``; the factor becomes out/in per axis.
        antialiasing: stretch the kernel when shrinking (MATLAB's default, True).
        method: "bicubic" (Keys, a = -0.5), "bilinear" (triangle) or "nearest" (box).

    Returns:
        The resized image, (out_h, out_w) for an (H, W) input, else (out_h, out_w, C).

    Raises:
        sr_lib.images.ImageTypeError: a dtype other than uint8, uint16 or float (e.g. int32).
        sr_lib.images.ImageRangeError: float values far outside [0, 1] (e.g. 0..255 data), NaN.
        sr_lib.images.ImageShapeError: not one of the layouts above.
        ValueError: bad ``scale``, ``output_shape`` or ``method``.
    """
    shape = np.shape(image)
    if len(shape) == 3 and shape[2] not in (1, 3, 4):
        raise images.ImageShapeError(
            f"imresize: expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image, got shape {shape}")
    array = images.as_hwc(image, "imresize", alpha="keep")
    return images.same_layout(image)(resize_array(array, scale, output_shape, antialiasing, method))


def resize_array(
    array: np.ndarray, scale=None, output_shape=None, antialiasing: bool = True, method: str = "bicubic"
) -> np.ndarray:
    """:func:`imresize` of any (H, W) or (H, W, C) array, without the image checks.

    For the library's own intermediate arrays that are not images: two chroma planes, or a luma
    on the 0..255 scale. Same arithmetic and dtype rules as :func:`imresize` (uint8 / uint16 in,
    same type out; floats in, float32 out).
    """
    array = np.asarray(array)
    if array.ndim not in (2, 3):
        raise ValueError(f"imresize: expected (H, W) or (H, W, C), got shape {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"imresize: empty image of shape {array.shape}")
    integer_max = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(array.dtype)
    if integer_max is None and not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"imresize: expected uint8, uint16 or float input, got {array.dtype}")

    (out_h, out_w), (scale_h, scale_w) = _output_shape(array.shape, scale, output_shape)
    if array.dtype == np.float32 and _whole_factor(array.shape[0], out_h, scale_h) \
            and _whole_factor(array.shape[1], out_w, scale_w) and (out_h, out_w) != array.shape[:2]:
        return _enlarge_by_phases(array, int(scale_h), int(scale_w), method)
    # float32 input is resized in float32 (its output precision anyway); integers in float64 so the
    # rounding between passes matches MATLAB exactly.
    work = array.astype(np.float32 if array.dtype == np.float32 else np.float64)
    # MATLAB resizes the dimension with the smaller scale factor first (stable for ties: rows first).
    order = (0, 1) if scale_h <= scale_w else (1, 0)
    for axis in order:
        in_len = work.shape[axis]
        out_len = out_h if axis == 0 else out_w
        axis_scale = scale_h if axis == 0 else scale_w
        if out_len == in_len and axis_scale == 1:
            continue
        # Gather the few taps of every output pixel (4-6 for upscaling) instead of multiplying by
        # the dense resize_weights matrix: the same sums, in O(taps) instead of O(in_len) per pixel.
        indices, weights = _contributions(in_len, out_len, axis_scale, antialiasing, method)
        moved = np.moveaxis(work, axis, 0)
        shape = (out_len,) + (1,) * (moved.ndim - 1)
        result = np.zeros((out_len,) + moved.shape[1:], dtype=work.dtype)
        term = np.empty_like(result)
        for tap in range(indices.shape[1]):
            np.take(moved, indices[:, tap], axis=0, out=term)
            term *= weights[:, tap].reshape(shape).astype(work.dtype)
            result += term
        work = np.moveaxis(result, 0, axis)
        if integer_max is not None:
            # MATLAB's resize mex returns the input class after each pass, so integer images are
            # rounded between the two passes as well; doing the same reproduces its LR images.
            work = np.clip(np.round(work), 0, integer_max)

    if integer_max is not None:
        return work.astype(array.dtype)
    return work.astype(np.float32)


def _whole_factor(in_len: int, out_len: int, scale: float) -> bool:
    return float(scale).is_integer() and scale >= 1 and out_len == in_len * int(scale)


def _phases(scale: int, method: str) -> tuple[list[int], np.ndarray]:
    """Enlarging by a whole factor ``s``: output pixel ``s * i + p`` reads input pixels
    ``i + offsets[p] + k`` with weights ``weights[p, k]``, the same for every ``i`` (the kernel is
    sampled at the same fractional positions; only the border taps are mirrored). Taken from
    :func:`_contributions` on an image long enough to have interior pixels, so the weights are
    MATLAB's, bit for bit."""
    length = 16
    indices, weights = _contributions(length, length * scale, float(scale), True, method)
    rows = [scale * (length // 2) + p for p in range(scale)]
    return [int(indices[x, 0]) - length // 2 for x in rows], weights[rows]


def _enlarge_by_phases(array: np.ndarray, scale_h: int, scale_w: int, method: str) -> np.ndarray:
    """float32 (H, W[, C]) enlarged by whole factors: the same sums as the tap-by-tap loop of
    :func:`resize_array` (differences ~1e-7, float32 rounding), about ten times faster on large images.

    Polyphase form of the resize: each of the ``s`` output phases of an axis is one short 1-D
    correlation of the (symmetrically padded, as MATLAB mirrors) input, run by OpenCV's SIMD filter,
    and written into every ``s``-th output row or column. Columns first: their phases are
    interleaved while the array is still small; the row phases then fill whole output rows.
    """
    import cv2

    squeeze = array.ndim == 2
    work = array[..., None] if squeeze else array
    if work.shape[2] > 4:  # OpenCV's filters take at most 4 channels
        parts = [_enlarge_by_phases(work[..., c:c + 4], scale_h, scale_w, method) for c in range(0, work.shape[2], 4)]
        return np.concatenate(parts, axis=-1)
    for axis, scale in ((1, scale_w), (0, scale_h)):
        if scale == 1:
            continue
        offsets, weights = _phases(scale, method)
        taps = weights.shape[1]
        margin = max(0, -min(offsets), max(offsets) + taps - 1)
        pad = [(0, 0)] * 3
        pad[axis] = (margin, margin)
        padded = np.ascontiguousarray(np.pad(work, pad, mode="symmetric"))  # MATLAB's mirrored taps
        length, channels = work.shape[axis], work.shape[2]
        out = np.empty(work.shape[:axis + 1] + (scale,) + work.shape[axis + 1:], dtype=np.float32)
        one = np.ones(1, np.float32)
        for phase in range(scale):
            kernel = weights[phase].astype(np.float32)
            # anchor (0, 0): result[j] = sum_k kernel[k] * padded[j + k], so input i's taps start at
            # j = i + margin + offset.
            kx, ky = (kernel, one) if axis == 1 else (one, kernel)
            filtered = cv2.sepFilter2D(padded, cv2.CV_32F, kx, ky, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
            filtered = filtered.reshape(padded.shape[:2] + (channels,))
            start = margin + offsets[phase]
            if axis == 1:
                out[:, :, phase] = filtered[:, start:start + length]
            else:
                out[:, phase] = filtered[start:start + length]
        shape = list(work.shape)
        shape[axis] *= scale
        work = out.reshape(shape)
    return work[..., 0] if squeeze else work


# ---- the interpolation baselines of the SR protocol ------------------------------------------------


def interpolate(lr: np.ndarray, scale: int, method: str = "bicubic") -> np.ndarray:
    """MATLAB-compatible interpolation of an 8-bit image -> float32 [0, 1].

    The input is quantised to 8 bits (:func:`sr_lib.images.to_uint8`) and resized as uint8, exactly
    what MATLAB's ``imresize`` does for the published baselines.

    Args:
        lr: (h, w), (h, w, 1) or (h, w, 3); uint8, uint16 or float in [0, 1] (:mod:`sr_lib.images`).
            RGBA raises: a baseline for the SR protocol has no alpha (drop it first).
        scale: integer factor.
        method: "bicubic", "bilinear" or "nearest".

    Returns:
        float32 in [0, 1], (h*scale, w*scale[, C]) in the layout of ``lr``.
    """
    lr8 = images.to_uint8(images.as_hwc(lr, "interpolate"))
    return images.same_layout(lr)(images.to_float32(imresize(lr8, scale, method=method)))


def bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline upscaler: :func:`interpolate` with ``method="bicubic"`` (same inputs, output)."""
    return interpolate(lr, scale, "bicubic")
