"""The registry of shipped weights: round trip, and a clear error for every way a file can be wrong."""

import json

import numpy as np
import pytest

import keras

from sr_lib import pretrained
from sr_lib.models import espcn


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SRFS_WEIGHTS_DIR", str(tmp_path))
    return tmp_path


def _saved(weights_dir):
    keras.utils.set_random_seed(0)
    model = espcn(2, filters=(8, 4))
    pretrained.save(model, "tiny_x2", factory="espcn", kwargs={"scale": 2, "filters": [8, 4]},
                    metadata={"steps": 0, "data": "none"})
    return model


def test_round_trip(weights_dir):
    model = _saved(weights_dir)
    assert pretrained.available() == ["tiny_x2"]
    loaded = pretrained.load("tiny_x2")
    x = np.random.rand(1, 5, 7, 1).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    assert pretrained.registry()["tiny_x2"]["data"] == "none"


def test_unknown_name_lists_the_known_ones(weights_dir):
    _saved(weights_dir)
    with pytest.raises(KeyError, match="tiny_x2"):
        pretrained.load("espcn_x9")


def test_corrupt_file(weights_dir):
    _saved(weights_dir)
    path = weights_dir / "tiny_x2.weights.h5"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(pretrained.PretrainedError, match="corrupt"):
        pretrained.load("tiny_x2")


def test_missing_file(weights_dir):
    _saved(weights_dir)
    (weights_dir / "tiny_x2.weights.h5").unlink()
    with pytest.raises(pretrained.PretrainedError, match="missing"):
        pretrained.load("tiny_x2")


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_weights_that_do_not_fit_the_model(weights_dir):
    _saved(weights_dir)
    entries = json.loads((weights_dir / "registry.json").read_text())
    entries["tiny_x2"]["kwargs"]["filters"] = [16, 4]  # checksum still right, architecture wrong
    (weights_dir / "registry.json").write_text(json.dumps(entries))
    with pytest.raises(pretrained.PretrainedError, match="does not fit"):
        pretrained.load("tiny_x2")


def test_shipped_weights_if_any_load_and_verify():
    # Whatever the repository ships must load and pass its checksum.
    for name in pretrained.available():
        assert pretrained.load(name) is not None


def test_shipped_weights_reproduce_their_recorded_scores(mirror, monkeypatch):
    """The scores in assets/weights/registry.json were measured right after training; the shipped
    files must give them again (the registry cannot drift from the weights)."""
    from sr_lib import evaluation
    from sr_lib.data import load_benchmark
    monkeypatch.setenv("SRFS_DATA_DIR", str(mirror))
    monkeypatch.delenv("SRFS_WEIGHTS_DIR", raising=False)
    entries = pretrained.registry()
    assert entries, "the repository ships weights"
    for name, entry in entries.items():
        how = pretrained.info(name)
        pairs = load_benchmark("Set5", how["scale"])
        result = evaluation.evaluate(pretrained.upscaler(name), pairs)
        assert result.mean_psnr == pytest.approx(entry["scores"]["Set5"]["psnr"], abs=0.01), name


def test_bicubic_input_models_run_on_the_enlarged_image(weights_dir):
    """A restoration entry (input="bicubic") gets the bicubic-enlarged image: with an identity
    restorer, the upscaler must give exactly the benchmark's bicubic."""
    from sr_lib import evaluation, models

    model = models.autoencoder(filters=4, depth=1, residual=True)  # zero-initialised residual: identity
    pretrained.save(model, "restorer", factory="autoencoder", kwargs={"filters": 4, "depth": 1, "residual": True},
                    metadata={"scale": 3, "input": "bicubic", "multiple": 2})
    how = pretrained.info("restorer")
    assert (how["input"], how["scale"], how["multiple"]) == ("bicubic", 3, 2)
    lr = np.random.default_rng(0).random((7, 9, 3)).astype("float32")
    expected = evaluation.bicubic(lr, 3)
    np.testing.assert_allclose(pretrained.upscaler("restorer")(lr, 3), expected, atol=1e-5)
    up = pretrained.upscaler("restorer")
    assert (up.name, up.scale, up.channel, up.input, up.multiple) == ("restorer", 3, "y", "bicubic", 2)
    np.testing.assert_array_equal(up(lr), up(lr, 3))  # the scale is optional, and must be the model's
    with pytest.raises(ValueError, match="upscales x3, but was called with scale 2"):
        up(lr, 2)


def test_unknown_input_kind_is_named(weights_dir):
    _saved(weights_dir)
    entries = json.loads((weights_dir / "registry.json").read_text())
    entries["tiny_x2"]["input"] = "hr"
    (weights_dir / "registry.json").write_text(json.dumps(entries))
    with pytest.raises(pretrained.PretrainedError, match="input must be 'lr' or 'bicubic'"):
        pretrained.info("tiny_x2")


def test_saved_files_hold_weights_but_no_optimizer_state(weights_dir):
    """A compiled model's file would also carry Adam's slots (3x the size); users need only the weights."""
    import h5py

    model = espcn(2, filters=(8, 4))
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((2, 6, 6, 1), "float32"), np.zeros((2, 12, 12, 1), "float32"), verbose=0)
    path = pretrained.save(model, "tiny_x2", factory="espcn", kwargs={"scale": 2, "filters": [8, 4]}, metadata={})
    with h5py.File(path) as file:
        assert "optimizer" not in file
    x = np.random.rand(1, 5, 7, 1).astype("float32")
    np.testing.assert_allclose(pretrained.load("tiny_x2")(x), model(x), atol=1e-6)


def test_save_rejects_a_factory_that_does_not_rebuild_the_model(weights_dir):
    model = espcn(2, filters=(8, 4))
    with pytest.raises(pretrained.PretrainedError, match="does not match"):
        pretrained.save(model, "tiny_x2", factory="espcn", kwargs={"scale": 2, "filters": [16, 4]}, metadata={})


def test_two_threads_share_one_model_safely():
    """The CLI's tile workers call one model from two threads. Running its traced graph concurrently
    crashed the process (segfault) or corrupted tiles for edsr_x4 on TF 2.21's CPU build; inference
    serialises the graph call, so every result equals the single-threaded one."""
    import threading

    up = pretrained.upscaler("edsr_x4")
    rng = np.random.default_rng(0)
    images = [rng.random((12, 12, 3)).astype(np.float32) for _ in range(4)]
    expected = [up(image) for image in images]
    wrong = []

    def work(offset):
        for i in range(100):
            j = (i + offset) % len(images)
            if np.abs(up(images[j]) - expected[j]).max() > 1e-4:
                wrong.append(j)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong
