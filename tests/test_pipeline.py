"""Tests for sr_lib.data.pipeline: shapes, aligned crops/augmentation, determinism, input checks."""

import numpy as np
import pytest
import tensorflow as tf

from sr_lib.data.degrade import bicubic_downscale
from sr_lib.data.pipeline import make_dataset, random_crop_pair, random_flip_rotate_pair

SCALE = 2


def _nearest_pairs(sizes, channels=3, seed=0):
    """Random LR images and HR = nearest-neighbour upsampling, so every aligned HR patch equals the
    upsampled LR patch exactly and any misaligned crop or mismatched flip/rotation breaks that."""
    rng = np.random.default_rng(seed)
    pairs = []
    for height, width in sizes:
        lr = rng.random((height, width, channels), dtype=np.float32)
        pairs.append((lr, np.repeat(np.repeat(lr, SCALE, axis=0), SCALE, axis=1)))
    return pairs


def _upsample_batch(lr_batch):
    return np.repeat(np.repeat(lr_batch, SCALE, axis=1), SCALE, axis=2)


def test_shapes_and_dtypes_with_bicubic_pairs():
    rng = np.random.default_rng(0)
    pairs = []
    for size in [(40, 36), (34, 50), (48, 48)]:
        hr = rng.random(size + (3,), dtype=np.float32)
        pairs.append((bicubic_downscale(hr, SCALE), hr))
    dataset = make_dataset(pairs, scale=SCALE, lr_patch=8, batch_size=4)
    assert dataset.element_spec[0].shape == (4, 8, 8, 3)
    assert dataset.element_spec[1].shape == (4, 16, 16, 3)
    for lr_batch, hr_batch in dataset.take(2):
        assert lr_batch.dtype == tf.float32 and hr_batch.dtype == tf.float32
        assert lr_batch.shape == (4, 8, 8, 3) and hr_batch.shape == (4, 16, 16, 3)
        assert 0 <= float(tf.reduce_min(lr_batch)) and float(tf.reduce_max(hr_batch)) <= 1


def test_crops_and_augmentation_are_aligned():
    pairs = _nearest_pairs([(12, 15), (10, 10), (20, 11)])
    lr_patches = []
    for lr_batch, hr_batch in make_dataset(pairs, scale=SCALE, lr_patch=6, batch_size=8, seed=3).take(6):
        np.testing.assert_array_equal(_upsample_batch(lr_batch.numpy()), hr_batch.numpy())
        lr_patches.extend(lr_batch.numpy())
    # The test only means something if crops and transforms actually vary.
    assert len({patch.tobytes() for patch in lr_patches}) > 30


def test_flip_rotate_covers_all_eight_transforms_aligned():
    (lr, hr), = _nearest_pairs([(4, 4)], channels=1)
    outcomes = set()
    for seed in range(64):
        lr_out, hr_out = random_flip_rotate_pair(lr, hr, seed)
        np.testing.assert_array_equal(_upsample_batch(lr_out.numpy()[None])[0], hr_out.numpy())
        outcomes.add(lr_out.numpy().tobytes())
    assert len(outcomes) == 8


def test_random_crop_pair_eager_non_square():
    (lr, hr), = _nearest_pairs([(9, 14)])
    positions = set()
    for seed in range(40):
        lr_crop, hr_crop = random_crop_pair(lr, hr, 5, SCALE, tf.constant([seed, 1]))
        assert lr_crop.shape == (5, 5, 3) and hr_crop.shape == (10, 10, 3)
        np.testing.assert_array_equal(_upsample_batch(lr_crop.numpy()[None])[0], hr_crop.numpy())
        positions.add(lr_crop.numpy()[0, 0, 0])
    assert len(positions) > 10


def test_same_seed_same_first_batch():
    pairs = _nearest_pairs([(12, 15), (10, 10), (20, 11)])

    def first_batch(seed):
        lr_batch, hr_batch = next(iter(make_dataset(pairs, scale=SCALE, lr_patch=6, batch_size=3, seed=seed)))
        return lr_batch.numpy(), hr_batch.numpy()

    a, b, c = first_batch(5), first_batch(5), first_batch(6)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_whole_images_without_patch():
    pairs = _nearest_pairs([(6, 6), (6, 6)], channels=1)
    dataset = make_dataset(pairs, scale=SCALE, batch_size=2, repeat=False, shuffle=False, augment=False)
    batches = list(dataset)
    assert len(batches) == 1
    np.testing.assert_array_equal(batches[0][0].numpy(), np.stack([lr for lr, _ in pairs]))
    with pytest.raises(ValueError, match="equal image sizes"):
        make_dataset(_nearest_pairs([(6, 6), (6, 8)]), scale=SCALE, batch_size=2)


def test_too_small_image_names_its_size():
    pairs = _nearest_pairs([(12, 12), (5, 9)])
    with pytest.raises(ValueError, match=r"pair 1 \('tiny.png'\).*5x9.*8x8"):
        make_dataset(pairs, scale=SCALE, lr_patch=8, names=["big.png", "tiny.png"])


def test_mismatched_scale():
    pairs = _nearest_pairs([(8, 8), (8, 8)])
    with pytest.raises(ValueError, match=r"pair 0 HR is 16x16.*x scale 3"):
        make_dataset(pairs, scale=3, lr_patch=4)
    lr, hr = pairs[1]
    with pytest.raises(ValueError, match="pair 1"):
        make_dataset([pairs[0], (lr, hr[:-1])], scale=SCALE, lr_patch=4)


def test_other_input_checks():
    (lr, hr), = _nearest_pairs([(8, 8)])
    with pytest.raises(ValueError, match="channels"):
        make_dataset([(lr, hr), (lr[..., :1], hr[..., :1])], scale=SCALE, lr_patch=4)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        make_dataset([(lr * 255, hr * 255)], scale=SCALE, lr_patch=4)
    with pytest.raises(TypeError, match="int64"):  # 0..255 or 0..65535? refused, not guessed
        make_dataset([(lr.astype(np.int64), hr.astype(np.int64))], scale=SCALE, lr_patch=4)
    with pytest.raises(ValueError, match="empty"):
        make_dataset([], scale=SCALE)


def test_make_patch_dataset_streams_aligned_float_patches_from_uint8_pairs():
    import tensorflow as tf

    from sr_lib.data.pipeline import make_patch_dataset

    rng = np.random.default_rng(0)
    # HR made of 4x4 constant blocks: every aligned LR pixel equals the block it covers.
    images = []
    for h, w in ((10, 12), (9, 14), (11, 11)):
        lr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        images.append((lr, np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1)))
    source = tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=(tf.TensorSpec((None, None, 3), tf.uint8),) * 2)
    dataset = make_patch_dataset(source, scale=4, lr_patch=6, batch_size=5, patches_per_image=3, seed=7)
    first = [tuple(t.numpy() for t in batch) for batch in dataset.take(4)]
    again = [tuple(t.numpy() for t in batch) for batch in
             make_patch_dataset(source, scale=4, lr_patch=6, batch_size=5, patches_per_image=3, seed=7).take(4)]
    for (lr, hr), (lr2, hr2) in zip(first, again):
        assert lr.shape == (5, 6, 6, 3) and hr.shape == (5, 24, 24, 3) and lr.dtype == np.float32
        assert 0.0 <= lr.min() and hr.max() <= 1.0
        np.testing.assert_array_equal(hr[:, ::4, ::4], lr)  # crops stay aligned through flips/rotations
        np.testing.assert_array_equal(lr, lr2)  # seeded: repeatable
    assert len({lr.tobytes() for lr, _ in first}) == 4


def test_float_bicubic_overshoot_is_clipped_not_rejected():
    """Notebook 06 without the mirror: LR = float imresize of a built-in photo rings to about -0.02.
    make_dataset clips it to [0, 1] (what an 8-bit LR file would hold); 0..255 data still raises."""
    from sr_lib.data import load_builtin
    from sr_lib.data.degrade import modcrop
    from sr_lib.data.imresize import imresize

    (_, photo), = load_builtin(["astronaut"])
    hr = modcrop(photo[:96, :96], 4)
    lr = imresize(hr, 1 / 4)  # float in, float out, not clipped: overshoots at hard edges
    assert lr.min() < -0.005 or lr.max() > 1.005, (lr.min(), lr.max())  # the reported kind of pair
    dataset = make_dataset([(lr, hr)], scale=4, lr_patch=24, batch_size=1, augment=False, shuffle=False)
    lr_batch, hr_batch = next(iter(dataset))
    np.testing.assert_allclose(lr_batch.numpy()[0], np.clip(lr, 0, 1), atol=0)  # whole image as the patch
    np.testing.assert_array_equal(hr_batch.numpy()[0], hr)
    # The exact span from the report passes too; far outside [0, 1] is still refused.
    reported = np.clip(lr, 0, 1) * (0.9358 + 0.01983) - 0.01983
    make_dataset([(reported.astype(np.float32), hr)], scale=4, lr_patch=8, batch_size=1)
    with pytest.raises(ValueError, match=r"LR.*span .*outside \[0, 1\]"):
        make_dataset([(lr * 255, hr)], scale=4, lr_patch=8, batch_size=1)


# ---- the batched, vectorised make_dataset: positions, transforms, epochs -----------------------

LR_BITS, HR_BITS = 20, 22  # pixel values k / 2**bits are exact in float32 for k < 2**24


def _coordinate_pairs(sizes, scale=SCALE):
    """Pairs whose pixels say where they are: LR (i, r, c) holds (i*4096 + r*64 + c) / 2**20 and HR
    (i, R, C) holds (i*2**14 + R*128 + C) / 2**22 (i = image, r, c < 64; R, C < 128), all in [0, 1)."""
    pairs = []
    for image, (height, width) in enumerate(sizes):
        r, c = np.indices((height, width))
        R, C = np.indices((height * scale, width * scale))
        lr = (image * 4096 + r * 64 + c) / 2.0**LR_BITS
        hr = (image * 2**14 + R * 128 + C) / 2.0**HR_BITS
        pairs.append((lr[..., None].astype(np.float32), hr[..., None].astype(np.float32)))
    return pairs


def _decode(lr_batch, hr_batch):
    """-> (image, row, col) of every LR pixel's source and of every HR pixel's source, as int arrays."""
    lr = np.rint(lr_batch[..., 0] * 2.0**LR_BITS).astype(np.int64)
    hr = np.rint(hr_batch[..., 0] * 2.0**HR_BITS).astype(np.int64)
    return (lr // 4096, lr // 64 % 64, lr % 64), (hr // 2**14, hr // 128 % 128, hr % 128)


def _dihedral(grid):
    """The 8 flips/rotations of a square array, numbered like random_flip_rotate_pair."""
    return [np.rot90(np.fliplr(grid) if t >= 4 else grid, t % 4) for t in range(8)]


def test_batches_are_aligned_crops_of_one_image_under_one_of_eight_transforms():
    sizes = [(9, 12), (7, 7), (12, 8), (10, 10)]
    patch = 5
    transforms, positions = set(), set()
    for lr_batch, hr_batch in make_dataset(_coordinate_pairs(sizes), scale=SCALE, lr_patch=patch,
                                           batch_size=6, seed=1).take(20):
        assert lr_batch.shape == (6, patch, patch, 1) and hr_batch.shape == (6, 2 * patch, 2 * patch, 1)
        (lr_i, lr_r, lr_c), (hr_i, hr_r, hr_c) = _decode(lr_batch.numpy(), hr_batch.numpy())
        for k in range(6):
            image = lr_i[k, 0, 0]
            assert (lr_i[k] == image).all() and (hr_i[k] == image).all()  # one image per patch, LR = HR's
            top, left = lr_r[k].min(), lr_c[k].min()
            height, width = sizes[image]
            assert 0 <= top <= height - patch and 0 <= left <= width - patch
            rows, cols = np.indices((patch, patch))
            matches = [t for t, (tr, tc) in enumerate(zip(_dihedral(rows + top), _dihedral(cols + left)))
                       if (tr == lr_r[k]).all() and (tc == lr_c[k]).all()]
            assert len(matches) == 1, "the LR patch is not a flip/rotation of a p x p crop"
            transforms.add(matches[0])
            positions.add((image, top, left))
            # HR pixel (I, J) comes from inside the HR block of the LR pixel at (I // s, J // s).
            up = lambda a: np.repeat(np.repeat(a, SCALE, axis=0), SCALE, axis=1)  # noqa: E731
            np.testing.assert_array_equal(hr_r[k] // SCALE, up(lr_r[k]))
            np.testing.assert_array_equal(hr_c[k] // SCALE, up(lr_c[k]))
            # ... and HR is the same transform of the HR crop at s x the LR corner.
            big = np.indices((SCALE * patch, SCALE * patch))
            np.testing.assert_array_equal(hr_r[k], _dihedral(big[0] + SCALE * top)[matches[0]])
            np.testing.assert_array_equal(hr_c[k], _dihedral(big[1] + SCALE * left)[matches[0]])
    assert transforms == set(range(8))
    assert len(positions) > 40  # positions vary per patch, not per batch


def test_every_position_including_the_last_row_and_column_is_drawn():
    patch = 3
    corners = set()
    for lr_batch, hr_batch in make_dataset(_coordinate_pairs([(5, 6)]), scale=SCALE, lr_patch=patch, batch_size=8,
                                           augment=False, seed=0).take(20):
        (_, rows, cols), _ = _decode(lr_batch.numpy(), hr_batch.numpy())
        corners |= {(r, c) for r, c in zip(rows[:, 0, 0], cols[:, 0, 0])}
    assert corners == {(r, c) for r in range(3) for c in range(4)}


def test_each_epoch_is_a_new_permutation_of_the_images():
    sizes = [(6, 6)] * 6
    stream = make_dataset(_coordinate_pairs(sizes), scale=SCALE, lr_patch=4, batch_size=4, seed=2).take(6)
    images = np.concatenate([_decode(lr.numpy(), hr.numpy())[0][0][:, 0, 0] for lr, hr in stream])
    epochs = images.reshape(4, 6)  # 24 patches = 4 epochs of 6 images; batches straddle epochs
    for epoch in epochs:
        assert sorted(epoch) == list(range(6))
    assert len({tuple(e) for e in epochs}) > 1
    in_order = make_dataset(_coordinate_pairs(sizes), scale=SCALE, lr_patch=4, batch_size=4, shuffle=False).take(3)
    images = np.concatenate([_decode(lr.numpy(), hr.numpy())[0][0][:, 0, 0] for lr, hr in in_order])
    assert list(images) == list(range(6)) * 2


def test_seeded_stream_repeats_and_seeds_differ():
    pairs = _nearest_pairs([(12, 15), (10, 10), (20, 11)])

    def batches(seed):
        return [np.concatenate([lr.numpy().ravel(), hr.numpy().ravel()])
                for lr, hr in make_dataset(pairs, scale=SCALE, lr_patch=6, batch_size=4, seed=seed).take(5)]

    a, b, c = batches(7), batches(7), batches(8)
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        assert not np.array_equal(x, z)


def test_one_epoch_without_repeat():
    pairs = _nearest_pairs([(8, 8)] * 5)
    batches = list(make_dataset(pairs, scale=SCALE, lr_patch=4, batch_size=2, repeat=False))
    assert len(batches) == 2  # 5 images, batches of 2: the incomplete last one is dropped
    with pytest.raises(ValueError, match="yields no batches"):
        make_dataset(pairs, scale=SCALE, lr_patch=4, batch_size=6, repeat=False)


def test_whole_square_images_shuffled_and_augmented_stay_aligned():
    pairs = _nearest_pairs([(6, 6)] * 3, channels=1)
    for lr_batch, hr_batch in make_dataset(pairs, scale=SCALE, batch_size=2, seed=4).take(4):
        assert lr_batch.shape == (2, 6, 6, 1)
        np.testing.assert_array_equal(_upsample_batch(lr_batch.numpy()), hr_batch.numpy())


def test_streamed_patches_from_a_too_small_image_fail_with_a_message():
    from sr_lib.data.pipeline import make_patch_dataset

    lr = np.zeros((5, 9, 3), np.uint8)
    source = tf.data.Dataset.from_tensors((lr, np.zeros((10, 18, 3), np.uint8)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="smaller than the patch size 8"):
        next(iter(make_patch_dataset(source, scale=SCALE, lr_patch=8, batch_size=1, patches_per_image=1)))
