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
    from sr_lib.inference import model_upscaler

    monkeypatch.setenv("SRFS_DATA_DIR", str(mirror))
    monkeypatch.delenv("SRFS_WEIGHTS_DIR", raising=False)
    entries = pretrained.registry()
    assert entries, "the repository ships weights"
    for name, entry in entries.items():
        how = pretrained.info(name)
        pairs = load_benchmark("Set5", how["scale"])
        upscaler = model_upscaler(pretrained.load(name), channel=how["channel"], multiple=how["multiple"])
        result = evaluation.evaluate(upscaler, pairs)
        assert result.mean_psnr == pytest.approx(entry["scores"]["Set5"]["psnr"], abs=0.01), name
