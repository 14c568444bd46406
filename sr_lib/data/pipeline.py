"""tf.data input pipelines for super-resolution training: aligned random crops and augmentation.

The paired transforms are written with TensorFlow ops and *stateless* random ops, so they run
inside ``tf.data.Dataset.map`` (in graph mode, in parallel) and are reproducible: the same seed
tensor always gives the same crop and the same flip/rotation, whatever the thread scheduling.
They also work eagerly on NumPy arrays (the result is a ``tf.Tensor``).

Seeds follow ``tf.random.stateless_*``: a shape-[2] integer tensor; a plain integer ``s`` is
accepted as ``[s, 0]``. :func:`make_dataset` cuts whole batches at once from images packed in
memory (one gather per batch for the crops, flips and rotations of all its patches) and draws
batch number ``k`` from the seed ``[seed, k]`` (the image order from ``seed`` and the epoch), so a
dataset is reproducible from its ``seed`` argument alone; :func:`make_patch_dataset` streams
from a ``tf.data`` source with the per-patch transforms above.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from sr_lib import images

__all__ = ["random_crop_pair", "random_flip_rotate_pair", "make_dataset", "make_patch_dataset"]

# Why not albumentations here (faceswap_lib.augment uses it, issue 21 item 7): these flips and
# quarter turns run inside tf.data graphs, batched -- make_dataset draws one of the 8 dihedral
# transforms per patch and applies all of a batch's crops and transforms in one tf.gather
# (vectorised for throughput, issue 22), stateless-seeded so any thread schedule gives the same
# batches. albumentations transforms one NumPy image at a time in Python; calling it through
# tf.numpy_function would hold the GIL per patch, serialise the parallel map and stall the
# pipeline, and its draws would follow its own generator instead of the [seed, batch] seeds. A
# dihedral transform is also exact (a pure permutation of pixels), so there is nothing for a
# library to do better here.


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

    The images are checked, converted and packed **once** into two flat in-memory tensors (all LR
    pixels, all HR pixels) with a table of offsets and sizes. With ``lr_patch`` set, every batch is
    then cut by one vectorised step, ``map(batch number -> batch, AUTOTUNE) -> prefetch``: for each
    of its ``batch_size`` patches an image, a position and one of the 8 flips/rotations are drawn,
    turned into the flat pixel indices of the transformed LR and HR patches, and both patches are
    read with one ``tf.gather`` each: no per-patch ``tf.data`` element, ``tf.slice`` or ``rot90``.
    ``benchmarks/training_throughput.py`` measures training fed by it against training on pre-cut
    in-memory patches and against the keras.io ESPCN example's pipeline.

    What each batch holds, as before: patch ``n`` (counted over the whole stream, ``n = k *
    batch_size + j`` in batch ``k``) comes from image ``perm_e[n mod N]``, where ``perm_e`` is a
    seeded random permutation of the ``N`` images for epoch ``e = n div N`` (``shuffle=False``:
    the identity), so every image gives one patch per epoch and a batch mixes images; the position
    is uniform over all valid ones, the flip/rotation uniform over the 8 (identical for LR and HR).
    Everything is drawn by stateless random ops from ``seed``, the epoch and the batch number, so
    the same ``seed`` gives the same batches whatever the thread scheduling, and another seed gives
    other batches.

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
            all images must have the same size, and square ones if ``augment`` rotates them; whole
            images go through a per-image ``map``, as they are few and large).
        batch_size: patches (or images) per batch; with ``repeat=False`` an incomplete last batch
            is dropped (static batch shape).
        augment: random horizontal flip + 90-degree rotations (all 8 equally likely), identical
            for LR and HR.
        shuffle: a new random order of the images every epoch (seeded with ``seed``); ``False``
            takes them in the given order.
        repeat: repeat forever (for ``model.fit(..., steps_per_epoch=...)``); ``False``: one epoch,
            ``len(pairs) // batch_size`` batches.
        seed: integer seed for the image order, crop positions and augmentation.
        cache: kept for compatibility and ignored: the images are always held once in memory,
            packed (the per-element pipeline kept a second copy in a ``cache()``).
        names: optional names for the pairs (e.g. file names), used in error messages.

    Returns:
        Dataset of ``(lr_batch, hr_batch)`` float32 tensors in [0, 1], shapes (B, p, p, C) and
        (B, p*s, p*s, C), or (B, h, w, C) and (B, h*s, w*s, C) when ``lr_patch`` is None.

    Raises:
        ValueError: empty ``pairs``; bad shapes or channel counts; HR not ``scale`` times LR; an
            image smaller than the patch; a configuration that yields no batches.
        sr_lib.images.ImageRangeError: (a ``ValueError``) float values far outside [0, 1], NaN.
        sr_lib.images.ImageTypeError: (a ``TypeError``) a dtype such as int64 whose scale is unknown.
    """
    del cache  # see the docstring: always cached, once
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
    images = _PackedPairs(checked, scale, shuffle, seed)
    del checked
    if lr_patch is None:
        return _whole_image_dataset(images, batch_size, augment, repeat, seed, channels)

    base_seed = tf.constant(seed, dtype=tf.int64)
    lr_tables = _dihedral_tables(lr_patch, augment)
    hr_tables = _dihedral_tables(lr_patch * scale, augment)
    index_dtype = images.index_dtype

    def patch_batch(batch_number):
        numbers = batch_number * batch_size + tf.range(batch_size, dtype=tf.int64)
        image = images.image_for(numbers)
        position_seed, transform_seed = tf.unstack(tf.random.split(tf.stack([base_seed, batch_number]), 2))
        height = tf.gather(images.heights, image)
        width = tf.gather(images.widths, image)
        # Uniform over the h - p + 1 valid rows (columns); the minimum guards the float rounding at u -> 1.
        room = tf.stack([height, width], axis=1) - lr_patch + 1
        uniform = tf.random.stateless_uniform([batch_size, 2], position_seed)
        corner = tf.minimum(tf.cast(uniform * tf.cast(room, tf.float32), index_dtype), room - 1)
        transform = (tf.random.stateless_uniform([batch_size], transform_seed, minval=0, maxval=8, dtype=tf.int32)
                     if augment else tf.zeros([batch_size], tf.int32))
        offset = tf.gather(images.offsets, image)
        lr = _gather_patches(images.lr, offset, width, corner[:, 0], corner[:, 1], transform, lr_tables)
        hr = _gather_patches(images.hr, offset * scale * scale, width * scale, corner[:, 0] * scale,
                             corner[:, 1] * scale, transform, hr_tables)
        return lr, hr

    numbers = tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(len(images) // batch_size)
    dataset = numbers.map(patch_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_NO_GRAPH_REWRITES)


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


class _PackedPairs:
    """All checked pairs packed into two flat pixel tensors, plus where each image starts and its size.

    ``lr`` is (sum of h*w, C): image ``i``'s pixel (r, c) is row ``offsets[i] + r * widths[i] + c``;
    ``hr`` is the same with everything scaled (HR image ``i`` starts at ``offsets[i] * s**2``, is
    ``widths[i] * s`` wide). One gather with such row numbers cuts patches of any image in one step.
    """

    def __init__(self, pairs, scale: int, shuffle: bool, seed: int):
        sizes = np.array([lr.shape[:2] for lr, _ in pairs], dtype=np.int64)
        pixels = int(sizes.prod(axis=1).sum()) * scale * scale
        # int32 row numbers are cheaper to compute; int64 only when the HR pixels need them.
        self.index_dtype = tf.int32 if pixels < 2**31 else tf.int64
        channels = pairs[0][0].shape[2]
        self.count = len(pairs)
        self.scale = scale
        self.lr = tf.constant(np.concatenate([lr.reshape(-1, channels) for lr, _ in pairs]))
        self.hr = tf.constant(np.concatenate([hr.reshape(-1, channels) for _, hr in pairs]))
        starts = np.concatenate([[0], np.cumsum(sizes.prod(axis=1))[:-1]])
        self.offsets = tf.constant(starts, dtype=self.index_dtype)
        self.heights = tf.constant(sizes[:, 0], dtype=self.index_dtype)
        self.widths = tf.constant(sizes[:, 1], dtype=self.index_dtype)
        self.shuffle = shuffle
        self.seed = seed

    def __len__(self) -> int:
        return self.count

    def image_for(self, numbers):
        """Image index of patch ``numbers`` (int64): position ``n mod N`` of epoch ``n div N``'s permutation."""
        position = numbers % self.count
        if not self.shuffle:
            return position
        epoch = numbers // self.count
        # RandomIndexShuffle: a stateless random permutation evaluated at single positions (one
        # seed row per number, so numbers of two epochs in one batch use two permutations). The
        # raw op because tf.random.experimental.index_shuffle mis-pads [n, 2] seeds in TF 2.21.
        seeds = tf.stack([tf.fill(tf.shape(numbers), tf.constant(self.seed, tf.int64)), epoch,
                          tf.fill(tf.shape(numbers), tf.constant(_SHUFFLE_STREAM, tf.int64))], axis=1)
        return tf.raw_ops.RandomIndexShuffle(index=position, seed=seeds,
                                             max_index=tf.constant(self.count - 1, tf.int64), rounds=4)

    def whole(self, image):
        """Image ``image`` (scalar int64) as ``(lr, hr)`` tensors (h, w, C) and (h*s, w*s, C)."""
        image = tf.cast(image, self.index_dtype)
        start, height, width = (tf.gather(t, image) for t in (self.offsets, self.heights, self.widths))
        s = self.scale
        lr = tf.reshape(self.lr[start:start + height * width], tf.stack([height, width, -1]))
        hr = tf.reshape(self.hr[start * s * s:(start + height * width) * s * s], tf.stack([height * s, width * s, -1]))
        return lr, hr


# tf.data's default static optimisations rewrite the dataset's graph when the first iterator starts,
# copying every captured tensor (here: all the images) into it: ~1.5 s per 500 MB. This pipeline is
# one map and a prefetch and gains nothing from them; tf.data.Options set later by a caller still apply.
_NO_GRAPH_REWRITES = tf.data.Options()
_NO_GRAPH_REWRITES.experimental_optimization.apply_default_optimizations = False

# The third word of the shuffle's seed: keeps the image order's random stream apart from others.
_SHUFFLE_STREAM = 0x5EED


def _dihedral_tables(size: int, augment: bool) -> tuple[tf.Tensor, ...]:
    """Where each output pixel of a ``size`` x ``size`` patch comes from, under each of the 8 transforms.

    Transform ``t`` (``t >= 4``: horizontal flip, then ``t % 4`` counter-clockwise quarter turns, as
    :func:`random_flip_rotate_pair` numbers them) puts source pixel ``(R(i, j), C(i, j))`` at output
    ``(i, j)``; applying the transform to the coordinate grids gives R and C. For a flip or rotation
    each of R and C depends on ``i`` alone or on ``j`` alone, so ``R(i, j) = R(i, 0) + R(0, j) - R(0, 0)``
    (and alike for C): the returned four (T, size) int32 tables ``R(i, 0)``, ``C(i, 0)``,
    ``R(0, j) - R(0, 0)``, ``C(0, j) - C(0, 0)`` let :func:`_gather_patches` build a patch's
    row numbers with one broadcast add. T = 8, or 1 (the identity) without ``augment``.
    For the same ``t``, an HR patch ``s`` times larger maps every s x s block onto the block of the
    LR pixel it covers, so LR and HR stay aligned.
    """
    rows, cols = np.indices((size, size), dtype=np.int32)
    grids = []
    for transform in range(8 if augment else 1):
        flipped = [np.fliplr(g) if transform >= 4 else g for g in (rows, cols)]
        grids.append([np.rot90(g, transform % 4) for g in flipped])
    grids = np.array(grids)  # (T, 2, size, size): R and C of every transform
    row, col = grids[:, 0], grids[:, 1]
    return tuple(tf.constant(np.ascontiguousarray(t)) for t in (
        row[:, :, 0], col[:, :, 0], row[:, 0, :] - row[:, :1, 0], col[:, 0, :] - col[:, :1, 0]))


def _gather_patches(flat, offset, width, top, left, transform, tables):
    """(B,) patch corners of (B,) images in a packed tensor -> (B, P, P, C), each under its transform."""
    row_i, col_i, row_j, col_j = (tf.cast(tf.gather(t, transform), offset.dtype) for t in tables)  # (B, P)
    width = width[:, None]
    along_i = (offset + top * width[:, 0] + left)[:, None] + row_i * width + col_i
    along_j = row_j * width + col_j
    return tf.gather(flat, along_i[:, :, None] + along_j[:, None, :])


def _whole_image_dataset(images: _PackedPairs, batch_size, augment, repeat, seed, channels):
    """Whole images (``lr_patch=None``): one element per image, then batched (sizes may differ at batch 1)."""
    base_seed = tf.constant(seed, dtype=tf.int64)

    def one(number):
        lr, hr = images.whole(images.image_for(number[None])[0])
        if augment:
            lr, hr = random_flip_rotate_pair(lr, hr, tf.stack([base_seed, number]))
        return tf.ensure_shape(lr, (None, None, channels)), tf.ensure_shape(hr, (None, None, channels))

    numbers = tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(len(images))
    dataset = numbers.map(one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE).with_options(_NO_GRAPH_REWRITES)
