"""The tensorflow-datasets loaders (full mode) on mocked data: ``SRFS_MOCK_TFDS=1`` routes them through
``tfds.testing.mock_data``, so DIV2K and CelebA are exercised here without the data or a download."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_datasets")

from sr_lib.data import registry  # noqa: E402
from sr_lib.data.pipeline import make_patch_dataset  # noqa: E402

SMALL = ((48, 72), (96, 60))  # HR sizes for the mocked DIV2K: small, multiples of 12, two orientations


@pytest.fixture
def mocked(monkeypatch, tmp_path):
    monkeypatch.setenv(registry.MOCK_TFDS_ENV, "1")
    monkeypatch.setenv("SRFS_OFFLINE", "1")
    monkeypatch.setenv("SRFS_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("SRFS_DATA_DIR", raising=False)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_div2k_pairs_are_uint8_and_aligned(mocked, capsys, scale):
    pairs = list(registry.load_div2k("train", scale, _mock_hr_sizes=SMALL).take(3).as_numpy_iterator())
    assert len(pairs) == 3
    for lr, hr in pairs:
        assert lr.dtype == np.uint8 and hr.dtype == np.uint8
        assert lr.ndim == 3 and lr.shape[2] == 3 and hr.shape == (scale * lr.shape[0], scale * lr.shape[1], 3)
    assert {hr.shape[:2] for _, hr in pairs} == set(SMALL)
    assert "MOCKED" in capsys.readouterr().out  # a mocked run says so


def test_div2k_split_sizes_and_names(mocked):
    assert registry.load_div2k("validation", 4, _mock_hr_sizes=SMALL).cardinality().numpy() == 100
    assert registry.load_div2k("train", 4, _mock_hr_sizes=SMALL).cardinality().numpy() == 800
    with pytest.raises(registry.DatasetUnavailableError, match="splits"):
        registry.load_div2k("test", 4)
    with pytest.raises(ValueError, match="scales"):
        registry.load_div2k("train", 8)


def test_div2k_default_sizes_are_2k(mocked):
    lr, hr = next(registry.load_div2k("validation", 4).as_numpy_iterator())
    assert max(hr.shape[:2]) == 2040 and hr.shape[0] == 4 * lr.shape[0]


def test_patch_pipeline_streams_from_div2k(mocked):
    pairs = registry.load_div2k("train", 4, _mock_hr_sizes=SMALL)
    batches = make_patch_dataset(pairs, scale=4, lr_patch=8, batch_size=5, patches_per_image=2, shuffle_buffer=2)
    for lr, hr in batches.take(2):
        assert lr.shape == (5, 8, 8, 3) and hr.shape == (5, 32, 32, 3)
        assert lr.dtype == tf.float32 and hr.dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(hr)) and float(tf.reduce_max(hr)) <= 1.0
        # The mocked HR is its LR blown up 4x, so aligned crops agree exactly.
        np.testing.assert_allclose(hr.numpy()[:, ::4, ::4], lr.numpy(), atol=1e-6)


def test_celeba_faces_at_notebook_size(mocked, capsys):
    faces = registry.load_celeba_faces(5, 64)
    assert faces.shape == (5, 64, 64, 3) and faces.dtype == np.float32
    assert 0.0 <= faces.min() and faces.max() <= 1.0 and faces.std() > 0
    assert "MOCKED" in capsys.readouterr().out


def test_not_mocked_offline_names_the_dataset(monkeypatch, tmp_path):
    monkeypatch.delenv(registry.MOCK_TFDS_ENV, raising=False)
    monkeypatch.setenv("SRFS_OFFLINE", "1")
    monkeypatch.delenv("SRFS_DATA_DIR", raising=False)
    with pytest.raises(registry.DatasetUnavailableError, match="DIV2K"):
        registry.load_div2k("train", 4, data_dir=str(tmp_path))


def test_celeba_mock_repeats_a_few_distinct_images_up_to_count(mocked, monkeypatch, capsys):
    # Drawing 60,000 random images made the dry run slow; a few distinct ones, repeated, fill the array.
    monkeypatch.setattr(registry, "_MOCK_CELEBA_DISTINCT", 3)
    faces = registry.load_celeba_faces(7, 32)
    assert faces.shape == (7, 32, 32, 3) and faces.dtype == np.float32
    assert not np.array_equal(faces[0], faces[1])
    np.testing.assert_array_equal(faces[3:6], faces[:3])  # cropped once, repeated
    assert "3 distinct" in capsys.readouterr().out


@pytest.mark.parametrize("count, size, error", [(2.5, 32, TypeError), (64.0, 32, TypeError), (True, 32, TypeError),
                                                (0, 32, ValueError), (-1, 32, ValueError), (4, 0, ValueError),
                                                (4, 32.0, TypeError)])
def test_celeba_arguments_are_checked_before_loading(mocked, count, size, error):
    # Before: 2.5 gave a "needs internet" message under the mock, -1/0/64.0 numpy or TensorFlow errors.
    with pytest.raises(error, match="count|size"):
        registry.load_celeba_faces(count, size)


def test_celeba_mock_message_counts_one_image(mocked, capsys):
    registry.load_celeba_faces(1, 32)
    assert "1 image (1 distinct random one" in capsys.readouterr().out
