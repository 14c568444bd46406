"""U-Net / SRResNet / critics, the SRGAN train_step, resuming, and MirroredStrategy on two CPU devices."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_lib import losses, models
from sr_lib.models import SRGAN
from sr_lib.models.adversarial import adversarial_loss, discriminator_loss
from sr_lib.training import ComparisonGrid, fit_steps, get_strategy


def _batch(rng, n=4, lr_size=8, scale=4):
    lr = rng.random((n, lr_size, lr_size, 3), dtype=np.float32)
    hr = rng.random((n, lr_size * scale, lr_size * scale, 3), dtype=np.float32)
    return lr, hr


def _tiny_srgan(conditional=False, seed=0):
    keras.utils.set_random_seed(seed)
    generator = models.srresnet(4, num_res_blocks=1, filters=8)
    if conditional:
        critic = models.patchgan_critic(filters=8, num_layers=2)
    else:
        critic = models.srgan_discriminator(32, filters=4)
    gan = SRGAN(generator, critic, scale=4, conditional=conditional)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), content_loss=losses.mse)
    return gan


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_generators_keep_shapes(scale, rng):
    x = rng.random((1, 12, 8, 3), dtype=np.float32)
    for model in (models.unet(scale, filters=4, depth=2), models.srresnet(scale, num_res_blocks=1, filters=8)):
        assert model(x).shape == (1, 12 * scale, 8 * scale, 3), model.name


def test_untrained_residual_unet_is_bicubic(rng):
    x = rng.random((1, 8, 12, 3), dtype=np.float32)
    expected = tf.image.resize(x, (32, 48), method="bicubic", antialias=False)
    np.testing.assert_allclose(np.asarray(models.unet(4, filters=4)(x)), np.asarray(expected), atol=1e-5)


def test_srresnet_layout_follows_the_paper():
    model = models.srresnet(4)
    assert model.get_layer("head_conv").kernel.shape == (9, 9, 3, 64)
    assert sum(layer.name.endswith("_conv1") for layer in model.layers) == 16
    assert [layer.name for layer in model.layers if "shuffle" in layer.name] == ["up_0_shuffle", "up_1_shuffle"]
    # Ledig et al. give no parameter count; count by hand: head 9*9*3*64+64 + PReLU 64; per block
    # 2 * (3*3*64*64 + 64) convs + 2 * 4*64 BN + 64 PReLU; body conv + BN; 2 x (3*3*64*256 + 256 + 64); tail 9*9*64*3 + 3.
    block = 2 * (3 * 3 * 64 * 64 + 64) + 2 * 4 * 64 + 64
    expected = (9 * 9 * 3 * 64 + 64 + 64) + 16 * block + (3 * 3 * 64 * 64 + 64 + 4 * 64) \
        + 2 * (3 * 3 * 64 * 256 + 256 + 64) + (9 * 9 * 64 * 3 + 3)
    assert model.count_params() == expected


def test_critics_shapes(rng):
    disc = models.srgan_discriminator(96)
    assert disc(rng.random((2, 96, 96, 3), dtype=np.float32)).shape == (2, 1)
    assert disc.get_layer("conv_7").kernel.shape[-1] == 512 and disc.get_layer("dense_1024").units == 1024
    with pytest.raises(ValueError, match="multiple of 16"):
        models.srgan_discriminator(90)
    critic = models.patchgan_critic()
    image = rng.random((1, 64, 64, 3), dtype=np.float32)
    assert critic([image, image]).shape == (1, 8, 8, 1)
    assert models.patchgan_critic(condition_channels=None)(image).shape == (1, 8, 8, 1)


def test_scale_must_be_made_of_twos_and_threes():
    with pytest.raises(ValueError, match="products? of 2s and 3s"):
        models.srresnet(5)
    with pytest.raises(ValueError, match="integer >= 2"):
        models.unet(1)


def test_gan_losses_against_closed_form():
    real, fake = np.array([[2.0], [-1.0]], np.float32), np.array([[0.5], [-3.0]], np.float32)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    expected_d = -np.log(sig(real[:, 0])) - np.log(1 - sig(fake[:, 0]))
    np.testing.assert_allclose(np.asarray(discriminator_loss(real, fake)), expected_d, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(adversarial_loss(fake)), -np.log(sig(fake[:, 0])), rtol=1e-5)


@pytest.mark.parametrize("conditional", [False, True])
def test_one_fit_step_changes_both_networks(conditional, rng):
    gan = _tiny_srgan(conditional)
    lr, hr = _batch(rng)
    g_before = [w.numpy().copy() for w in gan.generator.trainable_weights]
    d_before = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    logs = gan.fit(lr, hr, batch_size=4, epochs=1, verbose=0).history
    for name in ("d_loss", "g_loss", "content_loss", "adversarial_loss", "d_real", "d_fake"):
        assert np.isfinite(logs[name][0]), name
    assert logs["g_loss"][0] == pytest.approx(logs["content_loss"][0] + 1e-3 * logs["adversarial_loss"][0], rel=1e-5)
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(g_before, gan.generator.trainable_weights))
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(d_before, gan.discriminator.trainable_weights))
    result = gan.evaluate(lr, hr, batch_size=4, verbose=0, return_dict=True)
    assert set(result) == {"content_loss", "psnr"} and np.isfinite(result["psnr"])


class _Interrupt(keras.callbacks.Callback):
    """Stop training like a killed process would, after ``at`` optimizer steps."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.at:
            raise KeyboardInterrupt("simulated kill")


class _FirstStep(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if not hasattr(self, "step"):
            self.step = int(self.model.g_optimizer.iterations.numpy())
            self.weights = [w.numpy().copy() for w in self.model.weights]


def test_interrupted_run_resumes_at_its_checkpoint_with_identical_weights(tmp_path, rng):
    lr, hr = _batch(rng)
    data = tf.data.Dataset.from_tensors((lr, hr)).repeat()
    reference = _tiny_srgan(seed=5)
    snapshots = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch] = [w.numpy().copy() for w in self.model.weights]

    fit_steps(reference, data, 6, chunk=3, callbacks=[Snapshot()], verbose=False)

    backup = tmp_path / "backup"
    killed = _tiny_srgan(seed=5)
    with pytest.raises(KeyboardInterrupt):
        fit_steps(killed, data, 6, chunk=3, backup_dir=backup, callbacks=[_Interrupt(at=5)], verbose=False)
    assert backup.is_dir(), "the backup of the first chunk should survive the interruption"

    restarted, first = _tiny_srgan(seed=99), _FirstStep()  # different init: everything must come from the backup
    fit_steps(restarted, data, 6, chunk=3, backup_dir=backup, callbacks=[first], verbose=False)
    assert first.step == 3, "resumed at the step of the last checkpoint"
    for a, b in zip(snapshots[0], first.weights):
        np.testing.assert_array_equal(a, b)
    assert int(restarted.g_optimizer.iterations.numpy()) == 6 == int(restarted.d_optimizer.iterations.numpy())
    for a, w in zip(snapshots[1], restarted.weights):
        np.testing.assert_allclose(a, w.numpy(), rtol=0, atol=1e-6)
    assert not backup.exists(), "a finished run removes its backup"


def test_comparison_grid_writes_pngs(tmp_path, rng):
    gan = _tiny_srgan()
    lr, hr = _batch(rng, n=2)
    grid = ComparisonGrid(lr, hr, tmp_path / "grids", every=2)
    gan.fit(tf.data.Dataset.from_tensors((lr, hr)).repeat(), steps_per_epoch=3, epochs=1, verbose=0, callbacks=[grid])
    names = sorted(p.name for p in (tmp_path / "grids").iterdir())
    assert names == ["grid_step0000002.png", "grid_step0000003.png"]
    from sr_lib.data.io import read_image

    assert read_image(tmp_path / "grids" / names[0]).shape == (2 * 32, 3 * 32, 3)


def test_get_strategy_on_one_device_is_the_default():
    strategy = get_strategy()
    assert strategy.num_replicas_in_sync == 1


_MIRRORED = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from sr_lib import losses, models
    from sr_lib.models import SRGAN
    from sr_lib.training import get_strategy

    def build():
        keras.utils.set_random_seed(0)
        generator = models.unet(4, filters=4, depth=1)
        # No BatchNorm: per-replica batch statistics would differ from one device's on purpose.
        critic = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(4, 3, strides=2),
                                   keras.layers.LeakyReLU(0.2), keras.layers.Conv2D(1, 3)])
        gan = SRGAN(generator, critic, scale=4)
        # SGD, not Adam: Adam's first step hardly depends on the gradient's scale, SGD's does.
        gan.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5), content_loss=losses.mse)
        return gan

    rng = np.random.default_rng(0)
    lr = rng.random((4, 8, 8, 3), dtype=np.float32); hr = rng.random((4, 32, 32, 3), dtype=np.float32)
    results = {}
    for label, strategy in (("mirrored", get_strategy(devices=["/cpu:0", "/cpu:1"])), ("single", tf.distribute.get_strategy())):
        with strategy.scope():
            gan = build()
        logs = gan.fit(tf.data.Dataset.from_tensors((lr, hr)), epochs=1, verbose=0).history
        results[label] = {"replicas": strategy.num_replicas_in_sync,
                          "logs": {k: float(v[0]) for k, v in logs.items()},
                          "weights": [w.numpy().tolist() for w in gan.weights]}
    print("RESULT" + json.dumps(results))
    """
)


def test_train_step_under_mirrored_strategy_on_two_cpu_devices():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, "-c", _MIRRORED], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    results = json.loads(line[len("RESULT"):])
    mirrored, single = results["mirrored"], results["single"]
    assert mirrored["replicas"] == 2 and single["replicas"] == 1
    for name in ("d_loss", "g_loss", "content_loss"):
        assert np.isfinite(mirrored["logs"][name])
        assert mirrored["logs"][name] == pytest.approx(single["logs"][name], rel=1e-4), name
    # Two replicas with half a batch each must take exactly the single-device step (losses are
    # divided by the replica count before the all-reduce sums the gradients).
    for a, b in zip(mirrored["weights"], single["weights"]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_predict_pads_to_a_multiple_and_crops_back(rng):
    from sr_lib.inference import model_upscaler, predict

    model = models.unet(2, filters=4, depth=2)  # untrained residual U-Net: bicubic x2
    image = rng.random((10, 13, 3), dtype=np.float32)
    with pytest.raises(Exception):
        model(image[None])  # 10 x 13 is not divisible by 4: the skip concatenation fails
    out = predict(model, image, multiple=4, clip=False)
    assert out.shape == (20, 26, 3)
    padded = np.pad(image, ((0, 2), (0, 3), (0, 0)), mode="symmetric")
    np.testing.assert_allclose(out, np.asarray(model(padded[None]))[0, :20, :26], atol=1e-6)
    gray = model_upscaler(model, channel="rgb", multiple=4)(image[..., :1], 2)
    assert gray.shape == (20, 26, 1)


def test_srresnet_options_bicubic_residual_and_no_batchnorm(rng):
    x = rng.random((1, 8, 12, 3), dtype=np.float32)
    model = models.srresnet(4, num_res_blocks=2, filters=8, bicubic_residual=True)
    expected = tf.image.resize(x, (32, 48), method="bicubic", antialias=False)
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(expected), atol=1e-5)
    plain = models.srresnet(4, num_res_blocks=2, filters=8, batch_norm=False)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in plain.layers)
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in models.srresnet(4, 2, 8).layers) == 5


def test_mixed_float16_wraps_optimizers_and_keeps_float32_outputs(rng):
    from sr_lib.training import use_mixed_precision

    try:
        assert use_mixed_precision(True) == "mixed_float16"
        gan = _tiny_srgan()
        assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
        lr, hr = _batch(rng)
        assert gan.generator(lr).dtype == "float32"
        assert gan.generator.get_layer("res_0_conv1").compute_dtype == "float16"
        logs = gan.fit(lr, hr, batch_size=4, epochs=1, verbose=0).history
        assert all(np.isfinite(v[0]) for v in logs.values())
    finally:
        assert use_mixed_precision(False) == "float32"


def test_precision_override_picks_the_policy_and_rejects_unknown_values(monkeypatch):
    from sr_lib.training import PRECISION_ENV, use_mixed_precision

    try:
        monkeypatch.setenv(PRECISION_ENV, "mixed_float16")
        assert use_mixed_precision() == "mixed_float16"
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
        assert use_mixed_precision(False) == "float32"  # an explicit choice wins over the variable
        monkeypatch.setenv(PRECISION_ENV, "float8")
        with pytest.raises(ValueError, match="SRFS_PRECISION='float8'"):
            use_mixed_precision()
        monkeypatch.setenv(PRECISION_ENV, "auto")  # what `--precision auto` means: the machine's choice
        assert use_mixed_precision() == "float32"  # this machine has no GPU
        monkeypatch.delenv(PRECISION_ENV)
        assert use_mixed_precision() == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_train_on_batch_and_test_on_batch_take_the_pair(rng):
    # Keras 3 hands train_step (x, y, sample_weight) from train_on_batch; unpacking two values failed there.
    lr, hr = _batch(rng)
    gan = _tiny_srgan(conditional=True)
    logs = gan.train_on_batch(lr, hr, return_dict=True)
    assert {"d_loss", "content_loss", "adversarial_loss"} <= set(logs) and all(np.isfinite(list(logs.values())))
    assert np.isfinite(list(gan.test_on_batch(lr, hr, return_dict=True).values())).all()
