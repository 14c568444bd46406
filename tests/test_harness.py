"""Every custom layer and every model factory through the same checks (see tests/harness.py).

Layers: everything ``sr_lib.layers`` registers (PixelShuffle, SubPixelConv2D, Sampling,
BicubicUpsampling, InstanceNormalization). Models: every factory ``sr_lib.models`` exports (each
upsampling head kind included) and faceswap_lib.models' encoder, decoder and autoencoder.
``test_every_registered_layer_is_covered`` fails when a new layer is registered without a case.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest

import faceswap_lib.models as fs_models
import sr_lib.layers as sr_layers
from harness import (BATCH, Case, as_model, call, flat, load_all_in_fresh_process, round_trip, save_all,
                     symbolic_shapes)  # tests/harness.py (pytest puts tests/ on the path)
from sr_lib import models


def _head(kind):
    def build():
        x = keras.Input((8, 8, 4))
        return keras.Model(x, models.upsampling_head(x, channels=1, scale=2, kind=kind), name=f"head_{kind}")
    return build


def _rng():
    return np.random.default_rng(0)


def _faceswap_batch():
    rng = _rng()
    faces = [rng.random((BATCH, 32, 32, 3)).astype("float32") for _ in range(4)]
    return (faces[0], faces[1]), (faces[2], faces[3])


def _face_encoder():
    return fs_models.face_encoder(size=32, filters=(4, 4, 4, 4), latent=8)


def _face_decoder():
    return fs_models.face_decoder(_face_encoder().output_shape[1:], filters=(4, 4, 4))


# Under a mixed policy every model returns float32 (its last layers run in float32, as
# sr_lib.training.use_mixed_precision documents); mixed_dtype=None marks outputs that are not images.
LAYERS = [
    Case("PixelShuffle", lambda: sr_layers.PixelShuffle(2), (6, 6, 8), fit=None, mixed_dtype=None),
    Case("SubPixelConv2D", lambda: sr_layers.SubPixelConv2D(3, 2), (6, 6, 4), mixed_dtype=None),
    Case("Sampling", lambda: sr_layers.Sampling(seed=0), [(4,), (4,)], deterministic=False, fit=None,
         mixed_dtype=None),
    Case("BicubicUpsampling", lambda: sr_layers.BicubicUpsampling(2), (6, 6, 1), fit=None, mixed_dtype=None),
    Case("InstanceNormalization", lambda: sr_layers.InstanceNormalization(), (6, 6, 4), mixed_dtype=None),
]

MODELS = [
    Case("espcn", lambda: models.espcn(2, filters=(8, 4)), (8, 8, 1)),
    *[Case(f"upsampling_head_{kind}", _head(kind), (8, 8, 4)) for kind in models.HEADS],
    Case("autoencoder", lambda: models.autoencoder(channels=1, filters=4, depth=2), (16, 16, 1)),
    Case("unet", lambda: models.unet(scale=2, channels=1, filters=4, depth=2), (16, 16, 1)),
    Case("srresnet", lambda: models.srresnet(scale=2, num_res_blocks=1, filters=8, channels=3), (8, 8, 3)),
    Case("edsr", lambda: models.edsr(scale=4, num_res_blocks=1, filters=8, channels=1, bicubic_residual=True),
         (6, 6, 1)),
    Case("srgan_discriminator", lambda: models.srgan_discriminator(input_size=16, filters=4), (16, 16, 3)),
    Case("patchgan_critic", lambda: models.patchgan_critic(channels=3, condition_channels=1, filters=4,
                                                           num_layers=2), [(16, 16, 1), (16, 16, 3)]),
    Case("patchgan_critic_unconditional", lambda: models.patchgan_critic(condition_channels=None, filters=4,
                                                                         num_layers=2), (16, 16, 3)),
    Case("vae", lambda: models.vae(input_shape=(16, 16, 1), latent_dim=2, filters=4, depth=2, seed=0),
         (16, 16, 1), deterministic=False, fit="own", data=lambda: _rng().random((BATCH, 16, 16, 1)).astype("float32")),
    Case("conditional_vae", lambda: models.conditional_vae(scale=2, channels=1, latent_channels=2, filters=4,
                                                           blocks=1, seed=0),
         (8, 8, 1), deterministic=False, fit="own",
         data=lambda: (_rng().random((BATCH, 8, 8, 1)).astype("float32"),
                       _rng().random((BATCH, 16, 16, 1)).astype("float32"))),
    Case("dcgan_generator", lambda: models.dcgan_generator(latent_dim=8, size=16, filters=4), (8,)),
    Case("dcgan_discriminator", lambda: models.dcgan_discriminator(size=16, filters=4), (16, 16, 3)),
    Case("cyclegan_generator", lambda: models.cyclegan_generator(filters=4, num_res_blocks=1, num_downsamplings=1),
         (16, 16, 3)),
    Case("face_encoder", _face_encoder, (32, 32, 3), mixed_dtype=None),  # a latent code, not an image
    Case("face_decoder", _face_decoder, tuple(_face_encoder().output_shape[1:])),
    Case("faceswap_autoencoder", lambda: fs_models.faceswap_autoencoder(size=32, encoder_filters=(4, 4, 4, 4),
                                                                        latent=8, decoder_filters=(4, 4, 4)),
         (32, 32, 3), fit="own", data=_faceswap_batch),
]

CASES = LAYERS + MODELS
ids = [case.name for case in CASES]


def test_every_registered_layer_is_covered():
    registered = {name for name, obj in vars(sr_layers).items()
                  if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer) and obj.__module__ == sr_layers.__name__}
    assert registered == {case.name for case in LAYERS}


def test_every_model_factory_is_covered():
    factories = {name for name, obj in vars(models).items()
                 if inspect.isfunction(obj) and not name.startswith("_")} - {"upsampling_head"}
    covered = {case.name for case in MODELS}
    assert factories <= covered, factories - covered


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_output_shape_symbolic_and_eager(case):
    obj = case.build()
    symbolic = symbolic_shapes(obj, case)
    eager = [out.shape for out in flat(call(obj, case.sample()))]
    assert [(BATCH, *shape[1:]) for shape in symbolic] == [tuple(shape) for shape in eager]
    assert all(shape[0] is None for shape in symbolic)
    assert all(np.isfinite(out).all() for out in flat(call(obj, case.sample())))


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_get_config_round_trip(case):
    obj = case.build()
    arrays = case.sample()
    expected = flat(call(obj, arrays))
    config, clone = round_trip(obj)
    assert clone.get_config() == config
    if not clone.built:
        symbolic_shapes(clone, case)
    clone.set_weights(obj.get_weights())
    outputs = flat(call(clone, arrays))
    assert [o.shape for o in outputs] == [e.shape for e in expected]
    if case.deterministic:
        for out, exp in zip(outputs, expected):
            np.testing.assert_allclose(out, exp, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Every case saved as .keras here, loaded and run in ONE fresh process."""
    folder = tmp_path_factory.mktemp("keras_files")
    save_all([(case, as_model(case.build(), case)) for case in CASES], folder)
    return folder, load_all_in_fresh_process(folder)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_keras_file_loads_in_a_fresh_process(case, loaded):
    folder, report = loaded
    assert report.get(case.name) == "ok", report.get(case.name)
    expected = [np.load(p) for p in sorted(folder.glob(f"{case.name}.out*.npy"))]
    outputs = [np.load(p) for p in sorted(folder.glob(f"{case.name}.loaded*.npy"))]
    assert [o.shape for o in outputs] == [e.shape for e in expected]
    if case.deterministic:
        for out, exp in zip(outputs, expected):
            np.testing.assert_allclose(out, exp, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if c.fit], ids=[c.name for c in CASES if c.fit])
def test_one_fit_step(case):
    model = as_model(case.build(), case)
    before = [w.copy() for w in model.get_weights()]
    if case.fit == "own":
        model.compile(optimizer="adam", run_eagerly=True, **case.compile_kwargs)
        data = case.data()
        history = model.fit(*data if isinstance(data, tuple) else (data,), epochs=1, batch_size=BATCH, verbose=0)
    else:
        model.compile(optimizer="adam", loss="mse", run_eagerly=True)
        x = case.sample()
        rng = np.random.default_rng(1)
        y = [rng.random(out.shape).astype("float32") for out in flat(call(model, x))]
        history = model.fit(x if len(x) > 1 else x[0], y if len(y) > 1 else y[0], epochs=1, batch_size=BATCH,
                            verbose=0)
    losses = [v[-1] for k, v in history.history.items() if "loss" in k]
    assert losses and np.isfinite(losses).all(), history.history
    assert int(model.optimizer.iterations) == 1
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.fixture
def mixed_bfloat16():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_output_dtype_under_mixed_precision(case, mixed_bfloat16, request):
    if case.mixed_xfail:
        request.applymarker(pytest.mark.xfail(strict=True, reason=case.mixed_xfail))
    obj = case.build()
    expected = case.mixed_dtype or obj.compute_dtype
    assert expected == (case.mixed_dtype or "bfloat16")
    outputs = keras.tree.flatten(call(obj, case.sample()))
    assert [keras.backend.standardize_dtype(o.dtype) for o in outputs] == [expected] * len(outputs)
    assert all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(o, "float32"))).all() for o in outputs)
