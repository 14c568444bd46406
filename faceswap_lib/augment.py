"""Training augmentation of the shared-encoder face swap: a warped input and its clean target.

The original deepfakes autoencoder learns to *repair* faces: its input is an aligned face bent by a
random smooth warp, its target is the same face unbent. Repairing forces the decoder to know what
the person's face looks like, rather than copy pixels through the bottleneck, and the warp's small
misalignments mimic those of a swapped face, which the decoder must also take in its stride.

:func:`augment` makes one (input, target) pair from an aligned crop:

1. **colour jitter** (:func:`color_jitter`): brightness, contrast and saturation, a little; the
   same for input and target;
2. a **random affine** (:func:`random_affine`): rotation, scale, shift and a horizontal flip
   (aligned faces are nearly symmetric), the same for input and target;
3. a **random warp** (:func:`random_warp_field`), for the input only: a coarse ``grid x grid``
   lattice of displacement vectors, each drawn from a normal distribution, upsampled smoothly to
   one vector per pixel. The input samples the image at ``affine^-1(p + displacement(p))``, the
   target at ``affine^-1(p)``: both are read from the original crop in one ``cv2.remap`` each, so
   they are equally sharp, and with ``warp=0`` they are identical.

All randomness comes from the ``numpy.random.Generator`` passed in: the same generator state gives
the same pairs. Images follow the library convention: float32 (H, W, 3) in [0, 1].
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["random_affine", "random_warp_field", "color_jitter", "augment", "augment_batch"]


def random_affine(
    rng: np.random.Generator,
    size: int,
    *,
    output_size: int | None = None,
    rotation: float = 10.0,
    scale: float = 0.05,
    shift: float = 0.05,
    flip: float = 0.5,
) -> np.ndarray:
    """A random 2 x 3 matrix from a ``size`` x ``size`` image to an ``output_size`` one.

    Args:
        rng: the random generator.
        size: side of the input image; ``output_size`` (default ``size``) of the output.
        rotation: maximum rotation in degrees (uniform in [-rotation, rotation]) about the centre.
        scale: maximum relative zoom (uniform factor in [1 - scale, 1 + scale]).
        shift: maximum shift as a fraction of the output size, per axis.
        flip: probability of a horizontal mirror.

    Returns:
        (2, 3) float64 matrix (input pixel coordinates -> output pixel coordinates). With all
        ranges 0 it just rescales ``size`` to ``output_size``.
    """
    out = size if output_size is None else output_size
    angle = math.radians(rng.uniform(-rotation, rotation))
    zoom = rng.uniform(1 - scale, 1 + scale) * out / size
    tx, ty = rng.uniform(-shift, shift, size=2) * out
    mirrored = rng.uniform() < flip
    cos, sin = zoom * math.cos(angle), zoom * math.sin(angle)
    # Rotate and zoom about the image centre (pixel centres at integers: the centre is (n - 1) / 2).
    c_in, c_out = (size - 1) / 2, (out - 1) / 2
    matrix = np.array([[cos, -sin, 0.0], [sin, cos, 0.0]])
    matrix[:, 2] = np.array([c_out + tx, c_out + ty]) - matrix[:, :2] @ np.array([c_in, c_in])
    if mirrored:  # x' -> (out - 1) - x', after the rest
        matrix[0] = -matrix[0]
        matrix[0, 2] += out - 1
    return matrix


def random_warp_field(
    rng: np.random.Generator, size: int, *, grid: int = 5, warp: float = 0.02
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random displacement field: ``(dx, dy)``, each (size, size) float32 in pixels.

    ``grid x grid`` vectors with independent N(0, (warp * size)^2) components are placed evenly
    over the image (at the cell centres) and interpolated bicubically to every pixel, so the field
    bends the image gently on the scale of ``size / grid`` pixels without tearing it.
    """
    import cv2

    if grid < 2:
        raise ValueError(f"grid must be >= 2, got {grid}")
    coarse = rng.normal(0.0, warp * size, size=(2, grid, grid)).astype(np.float32)
    dx, dy = (cv2.resize(c, (size, size), interpolation=cv2.INTER_CUBIC) for c in coarse)
    return dx, dy


def color_jitter(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    brightness: float = 0.1,
    contrast: float = 0.1,
    saturation: float = 0.1,
) -> np.ndarray:
    """Random brightness, contrast and saturation: a new float32 image, clipped to [0, 1].

    Brightness adds ``b ~ U(-brightness, brightness)``; contrast scales the distance from the
    image's mean gray by ``U(1 - contrast, 1 + contrast)``; saturation scales each pixel's distance
    from its own gray (BT.601 luma) by ``U(1 - saturation, 1 + saturation)``.
    """
    x = np.asarray(image, dtype=np.float32)
    b = rng.uniform(-brightness, brightness)
    c = rng.uniform(1 - contrast, 1 + contrast)
    s = rng.uniform(1 - saturation, 1 + saturation)
    gray = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    x = gray[..., None] + s * (x - gray[..., None])
    x = gray.mean() + c * (x - gray.mean()) + b
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def augment(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    output_size: int | None = None,
    rotation: float = 10.0,
    scale: float = 0.05,
    shift: float = 0.05,
    flip: float = 0.5,
    warp: float = 0.02,
    grid: int = 5,
    brightness: float = 0.1,
    contrast: float = 0.1,
    saturation: float = 0.1,
    extra: np.ndarray | None = None,
):
    """One training pair ``(warped_input, target)`` from an aligned face crop.

    Args:
        image: (S, S, 3) float32 in [0, 1], an aligned crop.
        rng: ``np.random.default_rng(seed)``; the same state gives the same pair.
        output_size: side of the returned images (default S), e.g. 64 for a small network.
        rotation, scale, shift, flip: the random affine (see :func:`random_affine`).
        warp: standard deviation of the warp's coarse displacements, as a fraction of the output
            size (0 disables the warp: input == target).
        grid: the warp lattice is grid x grid.
        brightness, contrast, saturation: the colour jitter (see :func:`color_jitter`; 0 = off).
        extra: optional (S, S, k) float32 channels (masks) that follow the *target*'s geometry
            (shrink, affine; no colour jitter, no warp), sampled with the same maps as the target.

    Returns:
        Two (output_size, output_size, 3) float32 arrays in [0, 1]: the warped input and the
        target, which differ only by the warp; with ``extra``, a third (output_size,
        output_size, k) array. The random draws do not depend on ``extra``: the same generator
        state gives the same pair with or without it.
    """
    import cv2

    x = np.asarray(image)
    if x.ndim != 3 or x.shape[0] != x.shape[1]:
        raise ValueError(f"augment: expected a square (S, S, C) crop, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"augment: expected a float image in [0, 1], got dtype {x.dtype}")
    out = x.shape[0] if output_size is None else output_size
    x = color_jitter(x, rng, brightness=brightness, contrast=contrast, saturation=saturation)
    if extra is not None:
        extra = np.asarray(extra, dtype=np.float32)
        if extra.ndim != 3 or extra.shape[:2] != x.shape[:2]:
            raise ValueError(f"augment: extra must be (S, S, k) like the image's {x.shape[:2]}, got {extra.shape}")
    if out < x.shape[0]:
        # Shrink first, averaging (INTER_AREA): bilinear sampling alone would skip pixels and alias
        # when the output is much smaller (256 -> 64). Pixel centres map as random_affine assumes.
        x = cv2.resize(x, (out, out), interpolation=cv2.INTER_AREA)
        if extra is not None:
            extra = cv2.resize(extra, (out, out), interpolation=cv2.INTER_AREA).reshape(out, out, -1)
    size = x.shape[0]
    matrix = random_affine(rng, size, output_size=out, rotation=rotation, scale=scale, shift=shift, flip=flip)

    # Output pixel p -> input coordinates affine^-1(p): the target's sampling map.
    inverse = cv2.invertAffineTransform(matrix).astype(np.float32)
    gy, gx = np.mgrid[0:out, 0:out].astype(np.float32)

    def maps(px, py):  # affine^-1(px, py)
        return (inverse[0, 0] * px + inverse[0, 1] * py + inverse[0, 2],
                inverse[1, 0] * px + inverse[1, 1] * py + inverse[1, 2])

    def sample(image, map_x, map_y):  # read image there, bilinear
        # OpenCV's remap interpolates 1, 3 and 4 float channels alike, but 2 channels (and more
        # than 4) differently: remap 3 at a time, a short last group padded to 3.
        parts = []
        for i in range(0, image.shape[-1], 3):
            part = image[..., i:i + 3]
            k = part.shape[-1]
            if k == 2:
                part = np.concatenate([part, part[..., :1]], -1)
            result = cv2.remap(np.ascontiguousarray(part), map_x, map_y, interpolation=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
            parts.append(result.reshape(out, out, -1)[..., :k])
        return np.clip(np.concatenate(parts, -1) if len(parts) > 1 else parts[0], 0, 1)

    target_maps = maps(gx, gy)
    target = sample(x, *target_maps)
    extra_target = None if extra is None else sample(extra, *target_maps)
    if warp == 0:
        warped = target.copy()
    else:
        # The input: displace p in the output frame first, then map back through the same affine.
        dx, dy = random_warp_field(rng, out, grid=grid, warp=warp)
        warped = sample(x, *maps(gx + dx, gy + dy))
    return (warped, target) if extra is None else (warped, target, extra_target)


def augment_batch(images: np.ndarray, rng: np.random.Generator, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """:func:`augment` for a batch: (N, S, S, 3) -> (inputs, targets), each (N, s, s, 3) float32."""
    pairs = [augment(image, rng, **kwargs) for image in images]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
