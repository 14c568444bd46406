"""tf.data input pipelines for super-resolution training: aligned random crops and augmentation.

The paired transforms are written with TensorFlow ops and *stateless* random ops, so they run
inside ``tf.data.Dataset.map`` (in graph mode, in parallel) and are reproducible: the same seed
tensor always gives the same crop and the same flip/rotation, whatever the thread scheduling.
They also work eagerly on NumPy arrays (the result is a ``tf.Tensor``).

Seeds follow ``tf.random.stateless_*``: a shape-[2] integer tensor; a plain integer ``s`` is
accepted as ``[s, 0]``. :func:`make_dataset` gives element number ``i`` (counted after shuffling)
the seed ``[seed, i]``, so a dataset is reproducible from its ``seed`` argument alone.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from sr_lib import images

__all__ = ["random_crop_pair", "random_flip_rotate_pair", "make_dataset", "make_patch_dataset"]


def random_crop_pair(lr, hr, lr_patch: int, scale: int, seed):
    """Crop the same region from an LR image and its HR counterpart.

    The LR crop is ``lr[y:y + p, x:x + p]`` with ``(y, x)`` uniform over all valid positions; the HR
    crop is ``hr[y*s:(y + p)*s, x*s:(x + p)*s]``, i.e. exactly the area the LR patch covers.

    Args:
        lr: (h, W_lr, C) tensor or array (any dtype; float32 [0, 1] by convention), dynamic h, w allowed.
        hr: (h * scale, w * scale, C) tensor or array.
        lr_patch: LR patch side p (Python int); the HR patch side is ``p * scale``.
        scale: integer factor (Python int).
        seed: shape-[2] int32/int64 tensor (or a Python int), see the module docstring.

    Returns:
        ``(lr_crop, hr_crop)`` tensors of shapes (p, p, C) and (p*s, p*s, C), dtypes unchanged.

    Raises:
        tf.errors.InvalidArgumentError: (at run time) the LR image is smaller than ``lr_patch`` or
            the HR shape is not ``scale`` times the LR shape.
    """
    lr = tf.convert_to_tensor(lr)
    hr = tf.convert_to_tensor(hr)
    lr_size = tf.shape(lr)[:2]
    checks = [
        tf.debugging.assert_equal(
            tf.shape(hr)[:2], lr_size * scale, message=f"random_crop_pair: HR shape must be LR shape x {scale}"
        ),
        tf.debugging.assert_greater_equal(
            lr_size, lr_patch, message=f"random_crop_pair: LR image smaller than the patch size {lr_patch}"
        ),
    ]
    with tf.control_dependencies(checks):
        y_seed, x_seed = tf.unstack(tf.random.split(_as_seed(seed), 2))
        # maxval is exclusive: positions 0 .. size - patch inclusive are all possible.
        y = tf.random.stateless_uniform([], y_seed, minval=0, maxval=lr_size[0] - lr_patch + 1, dtype=tf.int32)
        x = tf.random.stateless_uniform([], x_seed, minval=0, maxval=lr_size[1] - lr_patch + 1, dtype=tf.int32)
    hr_patch = lr_patch * scale
    # Constant sizes (-1 = all channels) let TensorFlow infer the static patch shape.
    lr_crop = tf.slice(lr, tf.stack([y, x, 0]), [lr_patch, lr_patch, -1])
    hr_crop = tf.slice(hr, tf.stack([y * scale, x * scale, 0]), [hr_patch, hr_patch, -1])
    return lr_crop, hr_crop


def random_flip_rotate_pair(lr, hr, seed):
    """Apply the same random dihedral transform to LR and HR: optional horizontal flip, then a
    rotation by k * 90 degrees, k in {0, 1, 2, 3}. The 8 outcomes are equally likely and cover all
    flips and right-angle rotations of a square (a vertical flip = horizontal flip + 180 degrees).

    Args:
        lr, hr: (H, W, C) tensors or arrays (dynamic H, W allowed). For non-square images a 90-degree
            rotation swaps H and W, so batch them only if they are square.
        seed: shape-[2] int32/int64 tensor (or a Python int).

    Returns:
        ``(lr_out, hr_out)`` tensors, dtypes unchanged.
    """
    lr = tf.convert_to_tensor(lr)
    hr = tf.convert_to_tensor(hr)
    # One draw in 0..7 picks the transform, so LR and HR cannot disagree.
    choice = tf.random.stateless_uniform([], _as_seed(seed), minval=0, maxval=8, dtype=tf.int32)
    flip = choice >= 4
    quarter_turns = choice % 4

    def transform(image):
        image = tf.cond(flip, lambda: tf.reverse(image, axis=[1]), lambda: image)
        return tf.image.rot90(image, k=quarter_turns)

    return transform(lr), transform(hr)


def make_dataset(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    scale: int,
    lr_patch: int | None = None,
    batch_size: int = 16,
    augment: bool = True,
    shuffle: bool = True,
    repeat: bool = True,
    seed: int = 0,
    cache: bool = True,
    names: Sequence[str] | None = None,
) -> tf.data.Dataset:
    """Build a training (or evaluation) ``tf.data.Dataset`` from in-memory LR/HR image pairs.

    Pipeline: from_generator (whole images) -> cache -> repeat -> shuffle -> enumerate ->
    map(random crop + flip/rotate, AUTOTUNE) -> batch(drop_remainder=True) -> prefetch(AUTOTUNE).
    Whole images are cached and shuffled, and patches are cut afterwards, so every epoch sees new
    crops. ``cache`` keeps a second copy of all images inside TensorFlow (it saves re-running the
    Python generator each epoch); turn it off if memory is tight.

    All inputs are checked eagerly, before anything is built, so mistakes fail with a message
    naming the pair instead of deep inside a TensorFlow iterator.

    Args:
        pairs: sequence of ``(lr, hr)`` images as :mod:`sr_lib.images` defines them (uint8,
            uint16 or float in [0, 1]; (h, w), (h, w, 1) or (h, w, 3); RGBA raises), HR
            (h*s, w*s); the channel count is the same for all pairs, sizes may differ. Every image
            becomes float32 **clipped to [0, 1]**: an LR image made by float bicubic (e.g.
            ``imresize(hr, 1/4)`` of a photo) rings slightly outside [0, 1] at hard edges, and
            clipping it gives what an 8-bit file of that LR image would hold (short of the
            rounding), i.e. the kind of input the model meets after training; the HR target is
            clipped alike, because the model's output is clipped before it is saved or scored.
            Floats beyond the tolerated overshoot (``sr_lib.images.OVERSHOOT``, e.g. 0..255 data)
            raise instead of being clipped to white.
        scale: integer factor s.
        lr_patch: LR patch side p, or ``None`` for whole images (then ``batch_size`` must be 1 or
            all images must have the same size, and square ones if ``augment`` rotates them).
        batch_size: images per batch; an incomplete last batch is dropped (static batch shape).
        augment: random horizontal flip + 90-degree rotations, identical for LR and HR.
        shuffle: shuffle whole images (buffer = number of pairs, seeded with ``seed``).
        repeat: repeat forever (for ``model.fit(..., steps_per_epoch=...)``).
        seed: integer seed for shuffling, crop positions and augmentation.
        cache: cache the decoded whole images in memory after the first pass.
        names: optional names for the pairs (e.g. file names), used in error messages.

    Returns:
        Dataset of ``(lr_batch, hr_batch)`` float32 tensors, shapes (B, p, p, C) and
        (B, p*s, p*s, C), or (B, h, w, C) and (B, h*s, w*s, C) when ``lr_patch`` is None.

    Raises:
        ValueError: empty ``pairs``; bad shapes or channel counts; HR not ``scale`` times LR; an
            image smaller than the patch; a configuration that yields no batches.
        sr_lib.images.ImageRangeError: (a ``ValueError``) float values far outside [0, 1], NaN.
        sr_lib.images.ImageTypeError: (a ``TypeError``) a dtype such as int64 whose scale is unknown.
    """
    scale = _check_positive_int(scale, "scale")
    batch_size = _check_positive_int(batch_size, "batch_size")
    if lr_patch is not None:
        lr_patch = _check_positive_int(lr_patch, "lr_patch")
    checked, channels = _check_pairs(pairs, scale, lr_patch, names)
    if lr_patch is None and batch_size > 1:
        _check_batchable_whole_images(checked, augment, names)
    if not repeat and len(checked) < batch_size:
        raise ValueError(
            f"make_dataset: {len(checked)} pairs with batch_size={batch_size} and repeat=False "
            "yields no batches (the incomplete last batch is dropped)"
        )

    def generate():
        yield from checked

    spec = tf.TensorSpec((None, None, channels), tf.float32)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=(spec, spec))
    if cache:
        dataset = dataset.cache()
    if repeat:
        dataset = dataset.repeat()
    if shuffle:
        dataset = dataset.shuffle(len(checked), seed=seed, reshuffle_each_iteration=True)

    base_seed = tf.constant(seed, dtype=tf.int64)
    lr_shape = (lr_patch, lr_patch, channels) if lr_patch else (None, None, channels)
    hr_shape = (lr_patch * scale, lr_patch * scale, channels) if lr_patch else (None, None, channels)

    def transform(index, pair):
        lr, hr = pair
        crop_seed, augment_seed = tf.unstack(tf.random.split(tf.stack([base_seed, index]), 2))
        if lr_patch is not None:
            lr, hr = random_crop_pair(lr, hr, lr_patch, scale, crop_seed)
        if augment:
            lr, hr = random_flip_rotate_pair(lr, hr, augment_seed)
        # rot90 with a tensor k loses the static shape; restore it so batches have known shapes.
        return tf.ensure_shape(lr, lr_shape), tf.ensure_shape(hr, hr_shape)

    dataset = dataset.enumerate().map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def make_patch_dataset(
    pairs: tf.data.Dataset,
    *,
    scale: int,
    lr_patch: int,
    batch_size: int = 16,
    patches_per_image: int = 16,
    shuffle_buffer: int = 64,
    seed: int = 0,
) -> tf.data.Dataset:
    """Training patches streamed from a ``tf.data`` source of whole images too large to hold in memory.

    For DIV2K (800 images of about 2K x 1.4K pixels: ~7 GB as uint8, four times that as float32),
    ``make_dataset``'s in-memory pairs do not fit; ``sr_lib.data.registry.load_div2k`` returns a
    ``tf.data.Dataset`` of ``(lr, hr)`` uint8 pairs, and this function cuts it into batches.

    Pipeline: repeat -> shuffle whole images (``shuffle_buffer`` of them) -> cut
    ``patches_per_image`` aligned random crops from each (decoding a 2K image costs far more than
    cropping it, so each decoded image serves several patches) -> random flip/rotation -> float32
    in [0, 1] -> shuffle patches -> batch -> prefetch. Seeded like :func:`make_dataset`.

    Args:
        pairs: dataset of ``(lr, hr)`` images, (h, w, C) and (h*scale, w*scale, C), uint8 (0..255)
            or float in [0, 1]; images smaller than ``lr_patch`` fail at run time with a message.
        scale, lr_patch, batch_size, seed: as in :func:`make_dataset`.
        patches_per_image: crops cut from every decoded image.
        shuffle_buffer: whole images kept for shuffling (memory: this many decoded images).

    Returns:
        Infinite dataset of ``(lr_batch, hr_batch)`` float32, (B, p, p, C) and (B, p*s, p*s, C).
    """
    scale = _check_positive_int(scale, "scale")
    lr_patch = _check_positive_int(lr_patch, "lr_patch")
    batch_size = _check_positive_int(batch_size, "batch_size")
    patches_per_image = _check_positive_int(patches_per_image, "patches_per_image")
    channels = pairs.element_spec[0].shape[-1]
    base_seed = tf.constant(seed, dtype=tf.int64)

    def to_float(image):
        if image.dtype == tf.uint8:
            return tf.cast(image, tf.float32) / 255.0
        return tf.cast(image, tf.float32)

    def crops(index, pair):
        lr, hr = pair
        seeds = tf.random.split(tf.stack([base_seed, index]), patches_per_image)

        def one(patch_seed):
            crop_seed, augment_seed = tf.unstack(tf.random.split(patch_seed, 2))
            lr_crop, hr_crop = random_crop_pair(lr, hr, lr_patch, scale, crop_seed)
            lr_crop, hr_crop = random_flip_rotate_pair(lr_crop, hr_crop, augment_seed)
            return to_float(lr_crop), to_float(hr_crop)

        lr_crops, hr_crops = tf.map_fn(
            one, seeds, fn_output_signature=(tf.TensorSpec((lr_patch, lr_patch, channels), tf.float32),
                                             tf.TensorSpec((lr_patch * scale, lr_patch * scale, channels), tf.float32)))
        return tf.data.Dataset.from_tensor_slices((lr_crops, hr_crops))

    dataset = pairs.repeat().shuffle(shuffle_buffer, seed=seed).enumerate()
    dataset = dataset.interleave(crops, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.shuffle(patches_per_image * 8, seed=seed + 1)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------------------------
# Private helpers


def _as_seed(seed) -> tf.Tensor:
    """Python int or shape-[2] integer tensor -> shape-[2] int64 seed tensor."""
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise TypeError(f"seed must be an integer or a shape-[2] integer tensor, got dtype {seed.dtype.name}")
    seed = tf.cast(seed, tf.int64)
    if seed.shape.rank == 0:
        seed = tf.stack([seed, tf.zeros_like(seed)])
    return seed


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"make_dataset: {name} must be a positive integer, got {value!r}")
    return int(value)


def _label(index: int, names) -> str:
    return f"pair {index} ({names[index]!r})" if names is not None else f"pair {index}"


def _check_pairs(pairs, scale, lr_patch, names):
    """Validate every pair; return them as float32 arrays and the common channel count."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError("make_dataset: pairs is empty")
    if names is not None and len(names) != len(pairs):
        raise ValueError(f"make_dataset: {len(names)} names for {len(pairs)} pairs")
    checked = []
    channels = None
    for index, pair in enumerate(pairs):
        label = _label(index, names)
        if len(pair) != 2:
            raise ValueError(f"make_dataset: {label} must be an (lr, hr) tuple, got {len(pair)} items")
        # The image core checks dtype, range and layout; the clip is the documented conversion above.
        lr, hr = (np.clip(images.as_float_hwc(image, f"make_dataset: {label} {which}"), 0.0, 1.0)
                  for which, image in zip(("LR", "HR"), pair))
        if lr.shape[2] != hr.shape[2]:
            raise ValueError(f"make_dataset: {label} LR has {lr.shape[2]} channels but HR has {hr.shape[2]}")
        if channels is None:
            channels = lr.shape[2]
        elif lr.shape[2] != channels:
            raise ValueError(f"make_dataset: {label} has {lr.shape[2]} channels, but pair 0 has {channels}")
        expected = (lr.shape[0] * scale, lr.shape[1] * scale)
        if hr.shape[:2] != expected:
            raise ValueError(
                f"make_dataset: {label} HR is {hr.shape[0]}x{hr.shape[1]} but LR {lr.shape[0]}x{lr.shape[1]} "
                f"x scale {scale} = {expected[0]}x{expected[1]} (modcrop the HR image before downscaling)"
            )
        if lr_patch is not None and (lr.shape[0] < lr_patch or lr.shape[1] < lr_patch):
            raise ValueError(
                f"make_dataset: {label} LR image is {lr.shape[0]}x{lr.shape[1]}, smaller than the "
                f"LR patch size {lr_patch}x{lr_patch}"
            )
        checked.append((lr.astype(np.float32, copy=False), hr.astype(np.float32, copy=False)))
    return checked, channels


def _check_batchable_whole_images(pairs, augment, names) -> None:
    """Whole images can only be stacked into a batch when they all have one (rotation-proof) size."""
    first = pairs[0][0].shape
    for index, (lr, _) in enumerate(pairs):
        if lr.shape != first:
            raise ValueError(
                f"make_dataset: lr_patch=None with batch_size > 1 needs equal image sizes, but "
                f"{_label(index, names)} LR is {lr.shape[0]}x{lr.shape[1]} and pair 0 is {first[0]}x{first[1]}; "
                "use batch_size=1 or set lr_patch"
            )
    if augment and first[0] != first[1]:
        raise ValueError(
            f"make_dataset: lr_patch=None, batch_size > 1 and augment=True need square images (90-degree "
            f"rotations swap height and width), got LR {first[0]}x{first[1]}; "
            "use batch_size=1, augment=False or lr_patch"
        )
