"""Training augmentation of the shared-encoder face swap: a warped input and its clean target.

The original deepfakes autoencoder learns to *repair* faces: its input is an aligned face bent by a
random smooth warp, its target is the same face unbent. Repairing forces the decoder to know what
the person's face looks like, rather than copy pixels through the bottleneck, and the warp's small
misalignments mimic those of a swapped face, which the decoder must also take in its stride.

:func:`augment` makes one (input, target) pair from an aligned crop:

1. the **generic augmentations**, an `albumentations <https://albumentations.ai>`_ 2.x ``Compose``
   (:func:`photometric_geometric`), the same for input and target: the shrink to the output size,
   colour jitter (brightness, contrast and saturation, a little; see :func:`color_jitter`), a
   random affine (rotation, scale, shift) and a horizontal flip (aligned faces are nearly
   symmetric). The original deepfakes notes report that albumentations' augmentations improved
   their results, and a well-kept library beats our own copies of the same few transforms;
2. the deepfakes **random warp** (:func:`random_warp_field`), our own code, for the input only: a
   coarse ``grid x grid`` lattice of displacement vectors, each drawn from a normal distribution,
   upsampled smoothly to one vector per pixel. The input reads the augmented target at
   ``p + displacement(p)`` (one bilinear ``cv2.remap``, border replicated), so with ``warp=0``
   input and target are identical. The input is thus resampled once more than the target (the
   original deepfakes code also warps an already transformed face).

All randomness comes from the ``numpy.random.Generator`` passed in (the ``Compose`` is reseeded from
it on every call): the same generator state gives the same pairs. Images follow the library
convention: float32 (H, W, 3) in [0, 1].

Importing this module sets ``NO_ALBUMENTATIONS_UPDATE=1`` unless it is already set: otherwise
``import albumentations`` asks PyPI for a newer version, and nothing here may touch the network.
"""

from __future__ import annotations

import functools
import math
import os
import threading

import numpy as np

# Before albumentations is first imported (lazily, below): no update check against PyPI.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__all__ = ["random_affine", "random_warp_field", "color_jitter", "photometric_geometric", "augment",
           "augment_batch"]


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

    :func:`augment` no longer uses it (albumentations' ``Affine`` and ``HorizontalFlip`` do that job
    there, with the same ranges); it stays for code that wants the matrix itself, e.g. to move
    landmarks along with ``cv2.warpAffine``.

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


# The cached Compose objects are shared: reseeding one and calling it must not interleave with
# another thread doing the same (e.g. two tf.data generators), or the pairs stop being reproducible.
_COMPOSE_LOCK = threading.Lock()


def _run(transform, rng: np.random.Generator, **data) -> dict:
    """``transform(**data)`` after reseeding it from ``rng`` (one draw), atomically."""
    seed = int(rng.integers(0, 2**32))
    with _COMPOSE_LOCK:
        transform.set_random_seed(seed)
        return transform(**data)


def _photometric(brightness: float, contrast: float, saturation: float) -> list:
    """The colour transforms (images only: albumentations leaves masks alone), identity ones left out."""
    import albumentations as A

    steps = []
    if contrast or saturation:
        # Multiplies the distance from the image's mean gray (contrast) and from each pixel's own
        # gray (saturation, BT.601 luma, cv2's RGB2GRAY) by a factor in [1 - x, 1 + x].
        steps.append(A.ColorJitter(brightness=(1.0, 1.0), contrast=(1 - contrast, 1 + contrast),
                                   saturation=(1 - saturation, 1 + saturation), hue=(0.0, 0.0), p=1.0))
    if brightness:
        # brightness_by_max: adds beta * max_value (1 for float images), i.e. an additive shift in
        # [-brightness, brightness]; ColorJitter's own brightness would multiply instead.
        steps.append(A.RandomBrightnessContrast(brightness_limit=(-brightness, brightness),
                                                contrast_limit=(0.0, 0.0), brightness_by_max=True, p=1.0))
    return steps


@functools.lru_cache(maxsize=32)
def photometric_geometric(size: int, output_size: int | None = None, *, rotation: float = 10.0,
                          scale: float = 0.05, shift: float = 0.05, flip: float = 0.5,
                          brightness: float = 0.1, contrast: float = 0.1, saturation: float = 0.1):
    """The albumentations ``Compose`` of :func:`augment`'s generic augmentations (cached per arguments).

    In order: for ``output_size != size`` a resize (``INTER_AREA`` when shrinking: averaging, since
    bilinear sampling alone would skip pixels and alias at 256 -> 64); colour jitter (see
    :func:`color_jitter`); ``Affine`` with rotation uniform in [-rotation, rotation] degrees about the
    centre, zoom in [1 - scale, 1 + scale], shift uniform in [-shift, shift] x the output size per
    axis, bilinear, border replicated; ``HorizontalFlip`` with probability ``flip``. Transforms whose
    ranges are all 0 are left out, so with everything 0 it is the identity (or just the resize).

    Call it as ``t(image=x)`` or ``t(image=x, mask=m)``: a (H, W, k) ``mask`` gets the same geometry
    and no colour. It is shared between callers: reseed it (``t.set_random_seed(seed)``) before a
    call that must be reproducible, as :func:`augment` does (under a lock, for threads).
    """
    import albumentations as A
    import cv2

    out = size if output_size is None else output_size
    steps = []
    if out != size:
        inter = cv2.INTER_AREA if out < size else cv2.INTER_LINEAR
        steps.append(A.Resize(out, out, interpolation=inter, mask_interpolation=inter, p=1.0))
    # Colour after the shrink: 16x fewer pixels at 256 -> 64, and the same result up to clipping,
    # since brightness and saturation act on each pixel linearly and an area average keeps the mean
    # gray that contrast scales about.
    steps += _photometric(brightness, contrast, saturation)
    if rotation or scale or shift:
        steps.append(A.Affine(rotate=(-rotation, rotation), scale=(1 - scale, 1 + scale), keep_ratio=True,
                              translate_percent=(-shift, shift), interpolation=cv2.INTER_LINEAR,
                              mask_interpolation=cv2.INTER_LINEAR, border_mode=cv2.BORDER_REPLICATE, p=1.0))
    if flip:
        steps.append(A.HorizontalFlip(p=flip))
    return A.Compose(steps, seed=0)


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
    from its own gray (BT.601 luma) by ``U(1 - saturation, 1 + saturation)``. Done by
    albumentations (``ColorJitter`` + ``RandomBrightnessContrast``), seeded from ``rng``.
    """
    x = np.asarray(image, dtype=np.float32)
    transform = photometric_geometric(x.shape[0], rotation=0, scale=0, shift=0, flip=0, brightness=brightness,
                                      contrast=contrast, saturation=saturation)
    return np.clip(_run(transform, rng, image=x)["image"], 0.0, 1.0).astype(np.float32)


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
        rotation, scale, shift, flip: the random affine and mirror (see :func:`photometric_geometric`).
        warp: standard deviation of the warp's coarse displacements, as a fraction of the output
            size (0 disables the warp: input == target).
        grid: the warp lattice is grid x grid.
        brightness, contrast, saturation: the colour jitter (see :func:`color_jitter`; 0 = off).
        extra: optional (S, S, k) float32 channels (masks) that follow the *target*'s geometry
            (shrink, affine, flip; no colour jitter, no warp).

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
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = x.shape[0] if output_size is None else output_size
    if extra is not None:
        extra = np.ascontiguousarray(extra, dtype=np.float32)
        if extra.ndim != 3 or extra.shape[:2] != x.shape[:2]:
            raise ValueError(f"augment: extra must be (S, S, k) like the image's {x.shape[:2]}, got {extra.shape}")

    transform = photometric_geometric(x.shape[0], out, rotation=rotation, scale=scale, shift=shift, flip=flip,
                                      brightness=brightness, contrast=contrast, saturation=saturation)
    if extra is None:
        target = _run(transform, rng, image=x)["image"]
        extra_target = None
    else:
        result = _run(transform, rng, image=x, mask=extra)
        target, extra_target = result["image"], np.clip(result["mask"].reshape(out, out, -1), 0, 1)
    target = np.clip(target, 0, 1).astype(np.float32)
    if warp == 0:
        warped = target.copy()
    else:
        # Our deepfakes warp, in the output frame: input pixel p reads the target at p + d(p).
        dx, dy = random_warp_field(rng, out, grid=grid, warp=warp)
        gy, gx = np.mgrid[0:out, 0:out].astype(np.float32)
        warped = cv2.remap(target, gx + dx, gy + dy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        warped = np.clip(warped.reshape(out, out, -1), 0, 1)
    return (warped, target) if extra is None else (warped, target, extra_target)


def augment_batch(images: np.ndarray, rng: np.random.Generator, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """:func:`augment` for a batch: (N, S, S, 3) -> (inputs, targets), each (N, s, s, 3) float32."""
    pairs = [augment(image, rng, **kwargs) for image in images]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
