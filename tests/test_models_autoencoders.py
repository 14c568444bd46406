"""sr_lib.models.autoencoder: shapes, the identity start, skip connections, and a .keras round trip."""

import numpy as np
import pytest

import keras

from sr_lib.layers import SubPixelConv2D
from sr_lib.models import autoencoder


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("channels", [1, 3])
def test_same_size_out_for_any_multiple_of_2_to_the_depth(skip, channels):
    model = autoencoder(channels=channels, filters=8, depth=2, skip_connections=skip)
    for h, w in [(4, 4), (12, 20), (36, 8)]:
        x = np.random.rand(2, h, w, channels).astype("float32")
        assert tuple(model(x).shape) == (2, h, w, channels)


def test_stage_shapes_and_bottleneck():
    model = autoencoder(filters=8, depth=3)
    probe = keras.Model(model.input, [model.get_layer(n).output for n in ("encoder_0", "encoder_3", "decoder_0")])
    full, bottleneck, decoded = probe(np.zeros((1, 32, 24, 1), "float32"))
    assert tuple(full.shape) == (1, 32, 24, 8)
    assert tuple(bottleneck.shape) == (1, 4, 3, 64)  # 32 / 2**3, 8 * 2**3 channels
    assert tuple(decoded.shape) == (1, 32, 24, 8)
    assert sum(isinstance(layer, SubPixelConv2D) for layer in model.layers) == 3


def test_untrained_residual_model_is_the_identity():
    x = np.random.rand(2, 16, 16, 1).astype("float32")
    np.testing.assert_array_equal(np.asarray(autoencoder(filters=8)(x)), x)
    assert not np.allclose(np.asarray(autoencoder(filters=8, residual=False)(x)), x)


def test_skip_connections_off_removes_the_concatenations():
    with_skips = autoencoder(filters=8, skip_connections=True)
    without = autoencoder(filters=8, skip_connections=False)
    assert sum(isinstance(l, keras.layers.Concatenate) for l in with_skips.layers) == 2
    assert not any(isinstance(l, keras.layers.Concatenate) for l in without.layers)
    assert without.count_params() < with_skips.count_params()


def test_sizes_not_divisible_by_2_to_the_depth_fail():
    model = autoencoder(filters=8, depth=2)
    with pytest.raises(Exception):
        model(np.zeros((1, 18, 16, 1), "float32"))  # 18 is not a multiple of 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="depth"):
        autoencoder(depth=0)
    with pytest.raises(ValueError, match="positive"):
        autoencoder(filters=0)


@pytest.mark.parametrize("skip", [True, False])
def test_keras_save_load_round_trip(skip, tmp_path):
    model = autoencoder(filters=8, skip_connections=skip)
    x = np.random.rand(2, 16, 24, 1).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.clip(x + 0.1, 0, 1), epochs=1, verbose=0)  # move the weights off their initial values
    path = tmp_path / "autoencoder.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    assert loaded.name == model.name
