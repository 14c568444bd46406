"""The dry-run switches of the notebooks: ``SRFS_MAX_STEPS`` / ``SRFS_MAX_EVAL_IMAGES`` cap step and
evaluation-image counts (and nothing else), and ``fit_steps`` records its step time in a dry run."""

import json

import pytest

from sr_lib.notebook import MAX_EVAL_ENV, MAX_STEPS_ENV, RESULTS_ENV, eval_images, max_steps, steps


def test_no_cap_by_default(monkeypatch):
    monkeypatch.delenv(MAX_STEPS_ENV, raising=False)
    monkeypatch.delenv(MAX_EVAL_ENV, raising=False)
    assert max_steps() is None
    assert steps(200_000) == 200_000
    assert eval_images(None) is None and eval_images(100) == 100 and eval_images(0) == 0


def test_caps(monkeypatch):
    monkeypatch.setenv(MAX_STEPS_ENV, "3")
    monkeypatch.setenv(MAX_EVAL_ENV, "2")
    assert max_steps() == 3
    assert steps(200_000) == 3 and steps(2) == 2
    assert eval_images(None) == 2 and eval_images(100) == 2 and eval_images(1) == 1
    assert eval_images(0) == 0  # "skip" stays "skip"


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_bad_cap_raises(monkeypatch, value):
    monkeypatch.setenv(MAX_STEPS_ENV, value)
    with pytest.raises(ValueError, match=MAX_STEPS_ENV):
        steps(10)


def test_fit_steps_records_step_time_in_a_dry_run(monkeypatch, tmp_path):
    keras = pytest.importorskip("keras")
    import numpy as np
    import tensorflow as tf

    from sr_lib.training import fit_steps

    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(MAX_STEPS_ENV, "3")
    monkeypatch.setenv(RESULTS_ENV, str(results))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name="tiny")
    model.compile(optimizer="sgd", loss="mse")
    data = tf.data.Dataset.from_tensors((np.ones((2, 4), np.float32), np.ones((2, 1), np.float32))).repeat()
    fit_steps(model, data, steps(1000), chunk=500, batch_size=2, verbose=False)
    (entry,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert entry["name"] == "step time tiny, batch 2" and entry["unit"] == "s/step" and entry["value"] > 0
