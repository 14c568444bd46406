"""Step-counted training: the schedule, the log, and resuming after an interruption."""

import numpy as np
import pytest

import keras
import tensorflow as tf

from sr_lib.models import espcn
from sr_lib.training import fit_steps, step_schedule


def _dataset(seed=0):
    rng = np.random.default_rng(seed)
    lr = rng.random((8, 6, 6, 1)).astype("float32")
    hr = np.repeat(np.repeat(lr, 2, axis=1), 2, axis=2)
    return tf.data.Dataset.from_tensor_slices((lr, hr)).batch(4).repeat()


def _model():
    keras.utils.set_random_seed(0)
    model = espcn(2, filters=(8, 4))
    model.compile(optimizer=keras.optimizers.Adam(step_schedule(1e-2, 6)), loss="mse")
    return model


def test_step_schedule_drops_by_ten():
    schedule = step_schedule(1e-3, 100, drops=(0.5, 0.9))
    assert [float(schedule(s)) for s in (0, 49, 51, 89, 91)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-5])


def test_fit_steps_counts_steps_and_logs(capsys):
    model = _model()
    history = fit_steps(model, _dataset(), 6, chunk=2, batch_size=4)
    assert len(history.history["loss"]) == 3
    assert int(model.optimizer.iterations) == 6
    assert np.isfinite(history.history["loss"]).all()
    assert "step       6/6" in capsys.readouterr().out


class _StopAfter(keras.callbacks.Callback):
    """Simulates an interruption (Ctrl-C, a killed kernel) after a number of chunks."""

    def __init__(self, chunks):
        super().__init__()
        self.chunks = chunks

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.chunks:
            raise KeyboardInterrupt


def test_interrupted_training_resumes_from_the_last_chunk(tmp_path):
    backup = tmp_path / "backup"
    reference = _model()
    fit_steps(reference, _dataset(), 6, chunk=2, verbose=False)

    interrupted = _model()
    with pytest.raises(KeyboardInterrupt):
        fit_steps(interrupted, _dataset(), 6, chunk=2, backup_dir=backup, callbacks=[_StopAfter(2)], verbose=False)
    assert backup.exists()

    resumed = _model()  # a fresh process would start from new weights too
    fit_steps(resumed, _dataset(), 6, chunk=2, backup_dir=backup, verbose=False)
    assert int(resumed.optimizer.iterations) == 6  # 4 restored + 2 trained, not 6 more
    assert not backup.exists()  # finished runs clean up
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _never_repeating(seed=0):
    """Batch ``i`` holds LR values drawn from seed (seed, i): no two batches are alike, so a run whose
    data stream restarted (or skipped) after a resume trains on other batches than one straight run."""

    def pair(i):
        lr = tf.random.stateless_uniform((4, 6, 6, 1), seed=tf.stack([tf.cast(seed, tf.int64), i]))
        return lr, tf.repeat(tf.repeat(lr, 2, axis=1), 2, axis=2)

    return tf.data.Dataset.range(10**6).map(pair)


def test_resume_is_step_exact_on_a_stream_that_never_repeats(tmp_path):
    """Straight 6 steps == 4 steps, an interruption, and 2 resumed steps: the resumed run continues
    with batches 4 and 5 of the stream, not 0 and 1 again."""
    backup = tmp_path / "backup"
    initial = _model().get_weights()
    reference = _model()
    fit_steps(reference, _never_repeating(), 6, chunk=2, verbose=False)

    interrupted = _model()
    with pytest.raises(KeyboardInterrupt):
        fit_steps(interrupted, _never_repeating(), 6, chunk=2, backup_dir=backup, callbacks=[_StopAfter(2)],
                  verbose=False)
    resumed = _model()
    fit_steps(resumed, _never_repeating(), 6, chunk=2, backup_dir=backup, verbose=False)
    assert int(resumed.optimizer.iterations) == 6
    # Training moved the weights far more than the tolerance, so replayed batches would fail below.
    assert max(np.abs(a - b).max() for a, b in zip(reference.get_weights(), initial)) > 1e-2
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        fit_steps(_model(), _dataset(), 0)
