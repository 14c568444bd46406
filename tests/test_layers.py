"""Tests for sr_lib.layers: PixelShuffle, ICNR, SubPixelConv2D.

PixelShuffle is checked against ``pixel_shuffle_numpy`` below (explicit loops over sub-pixel
offsets, written from the formula) and ``tf.nn.depth_to_space``. Since the layer calls
``keras.ops.depth_to_space``, which on the TensorFlow backend *is* ``tf.nn.depth_to_space``, the
loop reference is the independent one; the tf comparison still pins the order the shipped weights
were trained with.
"""

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras import layers

from sr_lib.layers import ICNR, PixelShuffle, SubPixelConv2D


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def pixel_shuffle_numpy(x, scale):
    """Reference depth-to-space: out[n, h*r+i, w*r+j, c] = x[n, h, w, (i*r+j)*C + c]."""
    n, h, w, cr2 = x.shape
    r = scale
    c_out = cr2 // (r * r)
    out = np.empty((n, h * r, w * r, c_out), dtype=x.dtype)
    for i in range(r):
        for j in range(r):
            for c in range(c_out):
                out[:, i::r, j::r, c] = x[:, :, :, (i * r + j) * c_out + c]
    return out


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


# ---------------------------------------------------------------- PixelShuffle correctness


@pytest.mark.parametrize("r", [2, 3, 4])
@pytest.mark.parametrize("c_out", [1, 3, 5])
def test_numpy_reference_matches_tf_depth_to_space(r, c_out):
    # Pins down that the DCR formula in pixel_shuffle_numpy really is tf's order.
    x = _rand(2, 3, 4, c_out * r * r, seed=r * 10 + c_out)
    np.testing.assert_array_equal(pixel_shuffle_numpy(x, r), tf.nn.depth_to_space(x, r).numpy())


@pytest.mark.parametrize("r", [2, 3, 4])
@pytest.mark.parametrize("c_out", [1, 3, 5])
def test_pixel_shuffle_matches_references(r, c_out):
    x = _rand(2, 3, 4, c_out * r * r, seed=r * 10 + c_out)
    y = keras.ops.convert_to_numpy(PixelShuffle(r)(x))
    assert y.shape == (2, 3 * r, 4 * r, c_out)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, tf.nn.depth_to_space(x, r).numpy())
    np.testing.assert_array_equal(y, pixel_shuffle_numpy(x, r))


def test_pixel_shuffle_under_mixed_bfloat16_is_the_same_permutation():
    # Under mixed_bfloat16 the layer computes (and returns) bfloat16; a permutation must not change
    # any value, so it equals the reference applied to the bfloat16-rounded input, bit for bit.
    x = _rand(2, 3, 4, 12, seed=7)
    y = PixelShuffle(2, dtype="mixed_bfloat16")(x)
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    rounded = keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.cast(x, "bfloat16"), "float32"))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras.ops.cast(y, "float32")),
                                  pixel_shuffle_numpy(rounded, 2))


def test_pixel_shuffle_compute_output_shape_handles_none():
    layer = PixelShuffle(3)
    assert layer.compute_output_shape((None, None, None, 18)) == (None, None, None, 2)
    assert layer.compute_output_shape((4, 5, None, 9)) == (4, 15, None, 1)


def test_pixel_shuffle_in_dynamic_model_two_sizes():
    r, c_out = 2, 3
    inp = keras.Input((None, None, c_out * r * r))
    model = keras.Model(inp, PixelShuffle(r)(inp))
    assert tuple(model.output.shape) == (None, None, None, c_out)
    for shape in [(2, 5, 7), (1, 8, 3)]:
        x = _rand(*shape, c_out * r * r, seed=shape[1])
        y = model.predict(x, verbose=0)
        np.testing.assert_array_equal(y, pixel_shuffle_numpy(x, r))


def test_pixel_shuffle_fully_dynamic_graph():
    # Batch, H and W all unknown at trace time: depth_to_space must not need static sizes.
    layer = PixelShuffle(2)
    fn = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 8], tf.float32)])
    for shape in [(1, 3, 5, 8), (3, 4, 2, 8)]:
        x = _rand(*shape, seed=shape[0])
        np.testing.assert_array_equal(fn(x).numpy(), pixel_shuffle_numpy(x, 2))


def test_subpixel_conv_in_dynamic_model_two_sizes():
    inp = keras.Input((None, None, 4))
    model = keras.Model(inp, SubPixelConv2D(3, 2)(inp))
    assert tuple(model.output.shape) == (None, None, None, 3)
    assert model.predict(_rand(2, 5, 6, 4), verbose=0).shape == (2, 10, 12, 3)
    assert model.predict(_rand(1, 7, 3, 4), verbose=0).shape == (1, 14, 6, 3)


def test_subpixel_conv_valid_padding_shape():
    layer = SubPixelConv2D(2, 3, kernel_size=3, padding="valid")
    assert layer.compute_output_shape((None, 8, None, 4)) == (None, 18, None, 2)
    assert tuple(layer(_rand(1, 8, 5, 4)).shape) == (1, 18, 9, 2)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("bad", [0, 1, -2, 2.0, True, "2"])
def test_bad_scale_raises(bad):
    for ctor in (lambda: PixelShuffle(bad), lambda: SubPixelConv2D(3, bad),
                 lambda: ICNR(scale=bad)):
        with pytest.raises(ValueError, match="scale"):
            ctor()


def test_indivisible_channels_raise_and_name_count():
    with pytest.raises(ValueError, match=r"\b6\b.*divisible"):
        PixelShuffle(2)(np.zeros((1, 2, 2, 6), "float32"))
    with pytest.raises(ValueError, match=r"\b8\b.*divisible"):
        PixelShuffle(3).build((None, None, None, 8))
    with pytest.raises(ValueError, match=r"\b10\b"):
        ICNR(scale=2)((3, 3, 4, 10))


def test_icnr_scale_mismatch_in_subpixel_conv_raises():
    with pytest.raises(ValueError, match="scale"):
        SubPixelConv2D(3, 2, kernel_initializer=ICNR(scale=3))


# ---------------------------------------------------------------- ICNR


@pytest.mark.parametrize("r", [2, 3])
def test_icnr_kernel_repeats_base_filters_in_shuffle_order(r):
    c_out, c_in = 3, 4
    kernel = keras.ops.convert_to_numpy(ICNR(scale=r, seed=1)((3, 3, c_in, c_out * r * r)))
    base = kernel[..., :c_out]
    assert np.std(base) > 0  # a degenerate all-equal kernel would pass the checks trivially
    for i in range(r):
        for j in range(r):
            for c in range(c_out):
                np.testing.assert_array_equal(kernel[..., (i * r + j) * c_out + c], base[..., c])
    # Distinct output channels must get distinct base filters (not one filter repeated).
    assert not np.allclose(base[..., 0], base[..., 1])


def test_icnr_seed_determinism():
    shape = (3, 3, 2, 12)
    a = keras.ops.convert_to_numpy(ICNR(scale=2, seed=7)(shape))
    b = keras.ops.convert_to_numpy(ICNR(scale=2, seed=7)(shape))
    c = keras.ops.convert_to_numpy(ICNR(scale=2, seed=8)(shape))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("r", [2, 3])
def test_icnr_output_blocks_constant_glorot_not(r):
    x = _rand(2, 6, 5, 4)

    def max_subpixel_spread(kernel_initializer):
        layer = SubPixelConv2D(3, r, kernel_initializer=kernel_initializer)
        y = keras.ops.convert_to_numpy(layer(x))
        # (N, H, r, W, r, C): each r x r block compared with its top-left sub-pixel.
        blocks = y.reshape(2, 6, r, 5, r, 3)
        assert np.abs(blocks).max() > 1e-3  # not trivially zero
        return np.abs(blocks - blocks[:, :, :1, :, :1, :]).max()

    assert max_subpixel_spread("icnr") <= 1e-6
    assert max_subpixel_spread("glorot_uniform") > 1e-2


def test_subpixel_conv_icnr_kernel_structure():
    r, c_out = 2, 3
    layer = SubPixelConv2D(c_out, r)
    layer.build((None, None, None, 5))
    kernel = keras.ops.convert_to_numpy(layer.conv.kernel)
    assert kernel.shape == (3, 3, 5, c_out * r * r)
    for s in range(r * r):
        np.testing.assert_array_equal(kernel[..., s * c_out:(s + 1) * c_out], kernel[..., :c_out])


# ---------------------------------------------------------------- serialisation
# (get_config round trips, .keras in a fresh process and one fit step for every layer: tests/test_harness.py)


def test_icnr_config_round_trip():
    init = ICNR("glorot_normal", scale=3, seed=5)
    clone = ICNR.from_config(init.get_config())
    assert clone.get_config() == init.get_config()
    assert isinstance(clone.base_initializer, keras.initializers.GlorotNormal)
    shape = (3, 3, 2, 18)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(init(shape)), keras.ops.convert_to_numpy(clone(shape))
    )
    # Also through the generic Keras registry (what .keras loading uses).
    generic = keras.initializers.deserialize(keras.initializers.serialize(init))
    assert isinstance(generic, ICNR) and generic.get_config() == init.get_config()


@pytest.mark.parametrize("kernel_initializer", ["icnr", "glorot_uniform"])
def test_subpixel_conv_config_round_trip(kernel_initializer):
    layer = SubPixelConv2D(
        4, 3, kernel_size=5, padding="valid", activation="relu",
        kernel_initializer=kernel_initializer, use_bias=False, name="up",
    )
    config = layer.get_config()
    clone = SubPixelConv2D.from_config(config)
    assert clone.get_config() == config
    assert (clone.filters, clone.scale, clone.conv.kernel_size) == (4, 3, (5, 5))
    assert clone.conv.padding == "valid" and not clone.conv.use_bias
    assert type(clone.kernel_initializer) is type(layer.kernel_initializer)
    # Same weights -> same outputs.
    x = _rand(1, 7, 7, 2)
    layer.build(x.shape)
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)),
                                  keras.ops.convert_to_numpy(clone(x)))


def _small_model():
    inp = keras.Input((None, None, 3))
    h = layers.Conv2D(12, 3, padding="same", activation="relu")(inp)
    h = PixelShuffle(2)(h)  # -> 3 channels at 2x
    out = SubPixelConv2D(3, 2)(h)  # -> 3 channels at 4x
    return keras.Model(inp, out)


# ---------------------------------------------------------------- training


def test_gradients_finite_and_nonzero():
    model = _small_model()
    x = _rand(2, 6, 6, 3)
    y = _rand(2, 24, 24, 3, seed=1)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean((model(x, training=True) - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    assert len(grads) == 4  # conv kernel+bias, sub-pixel conv kernel+bias
    for var, g in zip(model.trainable_variables, grads):
        assert g is not None, var.path
        g = g.numpy()
        assert np.all(np.isfinite(g)), var.path
        assert np.abs(g).max() > 0, var.path


def test_sampling_weight_files_keep_the_noise_stream(tmp_path):
    """Keras leaves SeedGenerator state out of weight files; Sampling keeps it, so a model restored
    from a file (a training backup) draws exactly what the saved model would have drawn next."""
    import keras

    from sr_lib.layers import Sampling

    def model():
        mean = keras.Input((4,))
        return keras.Model(mean, Sampling(seed=3)([mean, mean]))

    x = np.zeros((2, 4), "float32")
    saved = model()
    saved(x)  # advance the stream past its start
    saved.save_weights(tmp_path / "m.weights.h5")
    expected = np.asarray(saved(x))
    restored = model()
    assert not np.allclose(np.asarray(restored(x)), expected)  # a fresh stream differs ...
    restored.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(np.asarray(restored(x)), expected)  # ... the restored one continues
