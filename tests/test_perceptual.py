"""PerceptualLoss: preprocessing, layer names, frozen VGG, values against a NumPy reference, weight loading."""

import warnings

import keras
import numpy as np
import pytest

from sr_lib import losses, perceptual
from sr_lib.perceptual import PerceptualLoss, PerceptualWeightsUnavailable, gram_matrix, vgg_preprocess


def _untrained(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        loss = PerceptualLoss(weights=None, **kwargs)
        loss.extractor()
    return loss


@pytest.fixture(scope="module")
def vgg16_loss():
    keras.utils.set_random_seed(0)
    return _untrained()


def test_preprocess_matches_keras_preprocess_input(rng):
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    expected = keras.applications.vgg16.preprocess_input(images * 255.0)
    np.testing.assert_allclose(np.asarray(vgg_preprocess(images)), expected, atol=1e-4)
    gray = images[..., :1]
    np.testing.assert_allclose(np.asarray(vgg_preprocess(gray)), keras.applications.vgg16.preprocess_input(
        np.repeat(gray, 3, axis=-1) * 255.0), atol=1e-4)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        vgg_preprocess(rng.random((1, 4, 4, 2), dtype=np.float32))


def test_gram_matrix_matches_numpy(rng):
    features = rng.standard_normal((2, 5, 6, 4)).astype(np.float32)
    flat = features.reshape(2, 30, 4)
    expected = np.einsum("npi,npj->nij", flat, flat) / (5 * 6 * 4)
    np.testing.assert_allclose(np.asarray(gram_matrix(features)), expected, rtol=1e-5, atol=1e-6)


def test_default_and_srgan_layers_exist():
    assert "block3_conv3" in [layer.name for layer in keras.applications.VGG16(include_top=False, weights=None).layers]
    assert "block5_conv4" in [layer.name for layer in keras.applications.VGG19(include_top=False, weights=None).layers]
    with pytest.raises(ValueError, match="unknown vgg16 layer.*block9_conv9.*valid names: block1_conv1"):
        perceptual.vgg_feature_extractor(("block9_conv9",), weights=None)
    with pytest.raises(ValueError, match="unknown network"):
        PerceptualLoss(network="resnet50", weights=None)


def test_zero_for_identical_positive_otherwise(vgg16_loss, rng):
    a = rng.random((2, 32, 32, 3), dtype=np.float32)
    b = np.clip(a + 0.05 * rng.standard_normal(a.shape).astype(np.float32), 0, 1)
    same = np.asarray(vgg16_loss(a, a))
    assert same == pytest.approx(0.0, abs=1e-9)
    per_sample = np.asarray(vgg16_loss.call(a, b))
    assert per_sample.shape == (2,) and np.all(per_sample > 0)


def test_value_matches_numpy_reference(vgg16_loss, rng):
    a = rng.random((2, 24, 24, 3), dtype=np.float32)
    b = rng.random((2, 24, 24, 3), dtype=np.float32)
    extractor = vgg16_loss.extractor()
    fa = np.asarray(extractor(vgg_preprocess(a)), np.float64)
    fb = np.asarray(extractor(vgg_preprocess(b)), np.float64)
    expected = ((fb - fa) ** 2).mean(axis=(1, 2, 3)) / 12.75**2
    np.testing.assert_allclose(np.asarray(vgg16_loss.call(a, b)), expected, rtol=1e-4)


def test_style_term_and_layer_weights(rng):
    keras.utils.set_random_seed(0)
    plain = _untrained(layers=("block1_conv2", "block2_conv2"), layer_weights=(1.0, 0.5))
    keras.utils.set_random_seed(0)
    styled = _untrained(layers=("block1_conv2", "block2_conv2"), layer_weights=(1.0, 0.5), style_weight=10.0)
    a = rng.random((1, 16, 16, 3), dtype=np.float32)
    b = rng.random((1, 16, 16, 3), dtype=np.float32)
    fa = [np.asarray(f, np.float64) for f in styled.extractor()(vgg_preprocess(a))]
    fb = [np.asarray(f, np.float64) for f in styled.extractor()(vgg_preprocess(b))]
    gram = [np.asarray(gram_matrix(f), np.float64) for f in (*fa, *fb)]
    content = sum(w * ((y - x) ** 2).mean() for w, x, y in zip((1.0, 0.5), fa, fb))
    style = sum(w * ((gram[i + 2] - gram[i]) ** 2).mean() for i, w in enumerate((1.0, 0.5)))
    np.testing.assert_allclose(float(styled.call(a, b)[0]), (content + 10.0 * style) / 12.75**2, rtol=1e-4)
    assert float(styled.call(a, b)[0]) > float(plain.call(a, b)[0])
    with pytest.raises(ValueError, match="layer_weights has 1 entries for 2 layers"):
        PerceptualLoss(layers=("block1_conv2", "block2_conv2"), layer_weights=(1.0,), weights=None)


def test_vgg_is_frozen_and_never_trained(rng):
    keras.utils.set_random_seed(1)
    loss = _untrained(layers=("block2_conv2",))
    assert loss.extractor().trainable_weights == []
    vgg_before = [w.numpy().copy() for w in loss.extractor().weights]
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    before = [w.numpy().copy() for w in model.weights]
    x = rng.random((2, 16, 16, 3), dtype=np.float32)
    history = model.fit(x, x * 0.5, epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights)), "the model did not train"
    for a, w in zip(vgg_before, loss.extractor().weights):
        np.testing.assert_array_equal(a, w.numpy())
    assert len(model.trainable_weights) == 2  # kernel + bias: the VGG's are not the model's


def test_untrained_vgg_warns():
    loss = PerceptualLoss(weights=None, layers=("block1_conv1",))
    with pytest.warns(UserWarning, match="untrained"):
        loss.extractor()
    assert not loss.pretrained


def test_imagenet_offline_raises_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("SRFS_OFFLINE", "1")
    with pytest.raises(PerceptualWeightsUnavailable, match=r"vgg16_weights_tf_dim_ordering_tf_kernels_notop\.h5.*weights=None"):
        PerceptualLoss().extractor()


def test_imagenet_download_failure_is_wrapped(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("SRFS_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise OSError("URL fetch failure: no route to host")

    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "get_file", no_network)
    with pytest.raises(PerceptualWeightsUnavailable, match="no route to host.*Download https://storage.googleapis.com"):
        PerceptualLoss(network="vgg19").extractor()


def test_weights_from_a_local_file(tmp_path, rng):
    keras.utils.set_random_seed(3)
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    path = tmp_path / "my_vgg16.weights.h5"
    vgg.save_weights(path)
    loss = PerceptualLoss(weights=str(path), layers=("block1_conv2",))
    assert loss.pretrained
    a = rng.random((1, 16, 16, 3), dtype=np.float32)
    reference = keras.Model(vgg.input, vgg.get_layer("block1_conv2").output)
    np.testing.assert_allclose(np.asarray(loss.features(a)[0]), np.asarray(reference(vgg_preprocess(a))), rtol=1e-5, atol=1e-4)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        PerceptualLoss(weights=str(tmp_path / "missing.h5")).extractor()


def test_config_round_trip_and_export_from_losses():
    assert losses.PerceptualLoss is PerceptualLoss
    loss = PerceptualLoss(layers=("block2_conv2",), weights=None, style_weight=0.5, network="vgg19")
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(clone, PerceptualLoss)
    assert (clone.layers, clone.network, clone.style_weight, clone.vgg_weights) == (("block2_conv2",), "vgg19", 0.5, None)
