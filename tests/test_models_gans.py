"""DCGAN / CycleGAN factories and train steps, instance normalisation, and the diversity measures (sr_lib.models.gans)."""

import keras
import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist

from sr_lib import models
from sr_lib.models import DCGAN, CycleGAN
from sr_lib.models.gans import (
    SampleGrid,
    checkerboard_energy,
    image_dataset,
    mean_pairwise_distance,
    nearest_neighbour,
    unpaired_dataset,
)
from sr_lib.layers import InstanceNormalization


def _adam():
    return keras.optimizers.Adam(1e-3, beta_1=0.5)


def _snapshot(model):
    return [w.numpy().copy() for w in model.trainable_weights]


def _changed(before, model):
    return [not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]


# --- instance normalisation -------------------------------------------------------------------------

def test_instance_norm_matches_numpy(rng):
    x = (rng.standard_normal((3, 5, 7, 4)) * 3 + 2).astype(np.float32)
    layer = InstanceNormalization(epsilon=1e-3)
    layer.build(x.shape)
    gamma, beta = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    layer.set_weights([gamma, beta])
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)  # biased, as in Ulyanov et al.
    expected = gamma * (x - mean) / np.sqrt(var + 1e-3) + beta
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-4, atol=1e-4)
    # Batch-independent: one image alone gives the same result as within the batch.
    np.testing.assert_allclose(np.asarray(layer(x[1:2])), expected[1:2], rtol=1e-4, atol=1e-4)


def test_instance_norm_config_and_saving(tmp_path, rng):
    layer = InstanceNormalization(epsilon=1e-4, center=False, name="inorm")
    clone = InstanceNormalization.from_config(layer.get_config())
    assert (clone.epsilon, clone.center, clone.scale, clone.name) == (1e-4, False, True, "inorm")
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, InstanceNormalization()(keras.layers.Conv2D(3, 3, padding="same")(inputs)))
    model.layers[-1].set_weights([rng.random(3).astype(np.float32), rng.random(3).astype(np.float32)])
    x = rng.random((2, 8, 6, 3), dtype=np.float32)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="epsilon"):
        InstanceNormalization(epsilon=0)


# --- factories ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("upsampling", ["transposed", "subpixel"])
def test_dcgan_shapes(upsampling, rng):
    generator = models.dcgan_generator(latent_dim=8, size=32, filters=8, upsampling=upsampling)
    images = np.asarray(generator(rng.standard_normal((2, 8)).astype(np.float32)))
    assert images.shape == (2, 32, 32, 3) and images.min() >= 0 and images.max() <= 1
    assert models.dcgan_discriminator(32, filters=4)(images).shape == (2, 1)
    with pytest.raises(ValueError, match="power of two"):
        models.dcgan_generator(size=48)
    with pytest.raises(ValueError, match="upsampling"):
        models.dcgan_generator(size=32, upsampling="bilinear")


def test_dcgan_generator_follows_the_paper():
    # size 64, filters 128: project to 4 x 4 x 1024, then 512, 256, 128 and 3 channels (Radford et al., Fig. 1).
    generator = models.dcgan_generator(100, 64, filters=128)
    widths = [layer.filters for layer in generator.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert generator.get_layer("reshape").output.shape[1:] == (4, 4, 1024) and widths == [512, 256, 128, 3]


def test_subpixel_dcgan_starts_without_checkerboard(rng):
    z = rng.standard_normal((4, 16)).astype(np.float32)
    keras.utils.set_random_seed(0)
    subpixel = np.asarray(models.dcgan_generator(16, 32, filters=8, upsampling="subpixel")(z))
    # ICNR + pixel shuffle in the last layer: constant 2 x 2 blocks before tanh, so no period-2 power at all.
    assert checkerboard_energy(subpixel) < 1e-10


@pytest.mark.parametrize("upsampling", ["transposed", "subpixel"])
def test_cyclegan_generator_keeps_shape(upsampling, rng):
    generator = models.cyclegan_generator(filters=4, num_res_blocks=1, upsampling=upsampling)
    x = rng.random((2, 16, 24, 3), dtype=np.float32)
    y = np.asarray(generator(x))
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert any(isinstance(layer, InstanceNormalization) for layer in generator.layers)


def test_patchgan_with_instance_norm(rng):
    critic = models.patchgan_critic(condition_channels=None, filters=4, num_layers=2, norm="instance")
    x = rng.random((3, 32, 32, 3), dtype=np.float32)
    logits = np.asarray(critic(x, training=True))
    assert logits.shape == (3, 8, 8, 1)
    # Instance norm: an image's logits do not depend on the rest of the batch (BatchNorm's would).
    np.testing.assert_allclose(np.asarray(critic(x[:1], training=True)), logits[:1], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="norm"):
        models.patchgan_critic(norm="layer")


# --- train steps -------------------------------------------------------------------------------------

@pytest.mark.parametrize("joint_batch", [False, True])
def test_dcgan_one_fit_step_changes_both_networks(joint_batch, rng):
    keras.utils.set_random_seed(0)
    gan = DCGAN(models.dcgan_generator(8, 16, filters=8), models.dcgan_discriminator(16, filters=4), seed=1,
                joint_batch=joint_batch)
    gan.compile(_adam(), _adam(), label_smoothing=0.1)
    g0, d0 = _snapshot(gan.generator), _snapshot(gan.discriminator)
    logs = gan.fit(rng.random((4, 16, 16, 3), dtype=np.float32), batch_size=4, epochs=1, verbose=0).history
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v[0]) for v in logs.values())
    assert all(_changed(g0, gan.generator)) and all(_changed(d0, gan.discriminator))
    assert gan.sample(3, seed=5).shape == (3, 16, 16, 3)
    np.testing.assert_array_equal(gan.sample(2, seed=5), gan.sample(2, seed=5))


def test_saturating_loss_value_and_vanishing_gradient():
    # Known answers: log(1 - sigmoid(l)) and its derivative -sigmoid(l), against the non-saturating
    # -log sigmoid(l) with derivative sigmoid(l) - 1. At l = -8 (D sure the sample is fake) the
    # saturating gradient is ~3e-4 of the non-saturating one: the failure it is kept to show.
    import tensorflow as tf

    from sr_lib.models.adversarial import adversarial_loss, saturating_adversarial_loss

    logits = tf.constant([[-8.0], [0.0], [3.0]])
    sigmoid = 1 / (1 + np.exp(-logits.numpy()[:, 0].astype(np.float64)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        saturating, non_saturating = saturating_adversarial_loss(logits), adversarial_loss(logits)
    np.testing.assert_allclose(saturating.numpy(), np.log(1 - sigmoid), rtol=1e-5)
    np.testing.assert_allclose(non_saturating.numpy(), -np.log(sigmoid), rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(saturating, logits).numpy()[:, 0], -sigmoid, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(tape.gradient(non_saturating, logits).numpy()[:, 0], sigmoid - 1, rtol=1e-4, atol=1e-7)


def test_dcgan_saturating_generator_loss_trains_and_bad_names_are_refused(rng):
    keras.utils.set_random_seed(0)
    gan = DCGAN(models.dcgan_generator(8, 16, filters=8), models.dcgan_discriminator(16, filters=4), seed=1)
    with pytest.raises(ValueError, match="generator_loss"):
        gan.compile(_adam(), _adam(), generator_loss="minimax")
    gan.compile(_adam(), _adam(), generator_loss="saturating")
    g0 = _snapshot(gan.generator)
    logs = gan.fit(rng.random((4, 16, 16, 3), dtype=np.float32), batch_size=4, epochs=1, verbose=0).history
    assert logs["g_loss"][0] < 0  # log(1 - D) is negative: the saturating form, not -log D
    assert all(_changed(g0, gan.generator))


def _tiny_cyclegan():
    keras.utils.set_random_seed(0)
    g = [models.cyclegan_generator(filters=4, num_res_blocks=1) for _ in range(2)]
    d = [models.patchgan_critic(condition_channels=None, filters=4, num_layers=2, norm="instance") for _ in range(2)]
    gan = CycleGAN(*g, *d, size=16)
    gan.compile(_adam(), _adam(), cycle_weight=10.0, identity_weight=5.0)
    return gan


def test_cyclegan_one_fit_step_changes_all_networks(rng):
    gan = _tiny_cyclegan()
    nets = (gan.generator_ab, gan.generator_ba, gan.discriminator_a, gan.discriminator_b)
    before = [_snapshot(n) for n in nets]
    a, b = rng.random((2, 16, 16, 3), dtype=np.float32), rng.random((2, 16, 16, 3), dtype=np.float32)
    logs = {k: v[0] for k, v in gan.fit(a, b, batch_size=2, epochs=1, verbose=0).history.items()}
    assert set(logs) == set(CycleGAN.LOSSES) and all(np.isfinite(v) for v in logs.values())
    for snapshot, net in zip(before, nets):
        assert all(_changed(snapshot, net)), net.name
    expected = (logs["adv_ab"] + logs["adv_ba"] + 10 * (logs["cycle_a"] + logs["cycle_b"])
                + 5 * (logs["identity_a"] + logs["identity_b"]))
    assert logs["g_loss"] == pytest.approx(expected, rel=1e-5)
    assert logs["d_loss"] == pytest.approx(0.5 * (logs["d_a"] + logs["d_b"]), rel=1e-5)


def test_cyclegan_swap_direction(rng):
    gan = _tiny_cyclegan()
    x = rng.random((1, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(gan.swap(x, "b"), np.asarray(gan.generator_ab(x)), atol=1e-6)
    np.testing.assert_allclose(gan.swap(x, "A"), np.asarray(gan.generator_ba(x)), atol=1e-6)
    with pytest.raises(ValueError, match="'a' or 'b'"):
        gan.swap(x, "c")


# --- data and measures -------------------------------------------------------------------------------

def test_datasets_and_sample_grid(rng):
    a, b = rng.random((6, 8, 8, 3), dtype=np.float32), rng.random((5, 8, 8, 3), dtype=np.float32)
    batch = next(iter(image_dataset(a, 4, seed=0)))
    flat = {tuple(np.round(im, 6).ravel()) for im in np.concatenate([a, a[:, :, ::-1]])}
    assert batch.shape == (4, 8, 8, 3) and all(tuple(np.round(im, 6).ravel()) in flat for im in batch.numpy())
    batch_a, batch_b = next(iter(unpaired_dataset(a, b, 3)))
    assert batch_a.shape == batch_b.shape == (3, 8, 8, 3)
    with pytest.raises(ValueError, match="cannot fill"):
        image_dataset(a, 7)
    grid = SampleGrid(lambda: a[:2], every=2)
    grid.on_train_begin()
    for step in range(3):
        grid.on_train_batch_end(step)
    grid.on_train_end()
    assert [s for s, _ in grid.grids] == [0, 2, 3]


def test_mean_pairwise_distance_matches_scipy(rng):
    x = rng.random((5, 4, 4, 3))
    expected = np.mean(pdist(x.reshape(5, -1)) / np.sqrt(48))
    assert mean_pairwise_distance(x) == pytest.approx(expected, rel=1e-9)
    assert mean_pairwise_distance(np.repeat(x[:1], 4, axis=0)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("block", [1, 3, 4096])  # blocks smaller than, not dividing, larger than the pool
def test_nearest_neighbour_matches_scipy(rng, block):
    images, pool = rng.random((6, 4, 4, 3)), rng.random((10, 4, 4, 3)).astype(np.float32)
    pool[7] = images[2] + 0.001  # one near-copy: index 7 at RMS 0.001
    distances = cdist(images.reshape(6, -1), pool.reshape(10, -1).astype(np.float64)) / np.sqrt(48)
    rms, index = nearest_neighbour(images, pool, block=block)
    np.testing.assert_array_equal(index, distances.argmin(1))
    np.testing.assert_allclose(rms, distances.min(1), rtol=1e-9, atol=1e-7)
    assert index[2] == 7 and rms[2] == pytest.approx(0.001, abs=1e-6)


def test_nearest_neighbour_uint8_does_not_wrap(rng):
    # uint8 arithmetic would wrap (200 - 10 squared overflows): distances must be those of the floats.
    images = rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
    pool = rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    distances = cdist(images.reshape(3, -1).astype(float), pool.reshape(5, -1).astype(float)) / np.sqrt(48)
    rms, index = nearest_neighbour(images, pool, block=2)
    np.testing.assert_array_equal(index, distances.argmin(1))
    np.testing.assert_allclose(rms, distances.min(1), rtol=1e-9)


def test_nearest_neighbour_of_no_images_is_empty(rng):
    rms, index = nearest_neighbour(np.zeros((0, 4, 4, 3)), rng.random((5, 4, 4, 3)))
    assert rms.shape == index.shape == (0,)


def test_nearest_neighbour_rejects_bad_arguments(rng):
    with pytest.raises(ValueError, match="share"):
        nearest_neighbour(rng.random((2, 4, 4, 3)), rng.random((5, 4, 4, 1)))
    with pytest.raises(ValueError, match="non-empty"):
        nearest_neighbour(rng.random((2, 4, 4, 3)), np.zeros((0, 4, 4, 3)))
    with pytest.raises(ValueError, match="block"):
        nearest_neighbour(rng.random((2, 4, 4, 3)), rng.random((5, 4, 4, 3)), block=0)


def test_checkerboard_energy():
    board = (np.indices((8, 8)).sum(0) % 2).astype(float)[None, :, :, None]
    assert checkerboard_energy(board) == pytest.approx(1.0)
    blocks = np.kron(np.random.default_rng(0).random((4, 4)), np.ones((2, 2)))[None, :, :, None]
    assert checkerboard_energy(blocks) < 1e-12


# --- interrupted training --------------------------------------------------------------------------

def _tiny_dcgan(seed):
    keras.utils.set_random_seed(seed)
    gan = DCGAN(models.dcgan_generator(8, 16, filters=8), models.dcgan_discriminator(16, filters=4), seed=1)
    gan.compile(_adam(), _adam())
    return gan


@pytest.mark.parametrize("make", [_tiny_dcgan, lambda seed: _tiny_cyclegan()], ids=["dcgan", "cyclegan"])
def test_interrupted_run_resumes_at_its_checkpoint(make, tmp_path, rng):
    """Killed after step 5 with a backup every 3 steps: the restarted run starts at step 3 from the
    backup's weights and optimizer state (a fresh model with another initialisation must not leak in)."""
    import tensorflow as tf

    from sr_lib.training import fit_steps
    from test_models_srresnets import _FirstStep, _Interrupt  # tests/ is on sys.path (pytest's default import mode)

    images = rng.random((4, 16, 16, 3), dtype=np.float32)
    data = tf.data.Dataset.from_tensors((images, images[::-1]) if make is not _tiny_dcgan else images).repeat()
    reference, snapshots = make(5), {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch] = [w.numpy().copy() for w in self.model.weights]

    fit_steps(reference, data, 6, chunk=3, callbacks=[Snapshot()], verbose=False)
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        fit_steps(make(5), data, 6, chunk=3, backup_dir=backup, callbacks=[_Interrupt(at=5)], verbose=False)
    restarted, first = make(99), _FirstStep()
    if make is not _tiny_dcgan:  # the CycleGAN factory is seeded inside: perturb it by hand
        for w in restarted.trainable_weights:
            w.assign(w.numpy() + 0.5)
    fit_steps(restarted, data, 6, chunk=3, backup_dir=backup, callbacks=[first], verbose=False)
    assert first.step == 3, "resumed at the step of the last checkpoint"
    for a, b in zip(snapshots[0], first.weights):
        np.testing.assert_array_equal(a, b)
    assert int(restarted.g_optimizer.iterations.numpy()) == 6 == int(restarted.d_optimizer.iterations.numpy())
    for a, w in zip(snapshots[1], restarted.weights):  # the noise generator's state is in the backup too
        np.testing.assert_allclose(a, w.numpy(), rtol=0, atol=1e-5)


def test_cyclegan_train_on_batch_takes_the_pair(rng):
    gan = _tiny_cyclegan()
    a, b = rng.random((2, 16, 16, 3), dtype=np.float32), rng.random((2, 16, 16, 3), dtype=np.float32)
    logs = gan.train_on_batch(a, b, return_dict=True)
    assert set(logs) == set(CycleGAN.LOSSES) and all(np.isfinite(v) for v in logs.values())
