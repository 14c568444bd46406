"""Pairs from the benchmarks and from the built-in photos; the fallback that keeps a fresh offline clone working."""

import numpy as np
import pytest

from sr_lib.data import datasets, registry


def test_builtin_photos_load_offline():
    images = datasets.load_builtin()
    assert [n for n, _ in images] == list(datasets.BUILTIN_IMAGES)
    for name, image in images:
        assert image.dtype == np.float32 and image.ndim == 3 and image.shape[-1] in (1, 3), name
        assert 0.0 <= image.min() and image.max() <= 1.0
    with pytest.raises(KeyError, match="lena"):
        datasets.load_builtin(["lena"])


def test_make_pairs_crops_to_a_multiple_of_the_scale():
    pairs = datasets.make_pairs(datasets.load_builtin(["coffee", "camera"]), 3)
    for pair in pairs:
        h, w, c = pair.hr.shape
        assert h % 3 == 0 and w % 3 == 0
        assert pair.lr.shape == (h // 3, w // 3, c)
    with pytest.raises(ValueError, match="scale"):
        datasets.make_pairs(datasets.load_builtin(["coffee"]), 1)


def test_evaluation_pairs_falls_back_to_builtin_without_data(monkeypatch, tmp_path):
    monkeypatch.delenv("SRFS_DATA_DIR", raising=False)
    monkeypatch.setenv("SRFS_CACHE_DIR", str(tmp_path))
    pairs, source = datasets.evaluation_pairs("Set5", 4)
    assert "built-in" in source and len(pairs) == len(datasets.BUILTIN_IMAGES)


def test_benchmark_pairs_from_the_mirror(mirror, monkeypatch):
    monkeypatch.setenv("SRFS_DATA_DIR", str(mirror))
    pairs, source = datasets.evaluation_pairs("Set14", 3)
    assert source == "Set14" and len(pairs) == 14
    for pair in pairs:
        assert pair.hr.shape[:2] == (pair.lr.shape[0] * 3, pair.lr.shape[1] * 3)
    assert {p.hr.shape[-1] for p in pairs} == {1, 3}  # the bridge stays grayscale
    t91 = datasets.load_hr_images("T91")
    assert len(t91) == 91 and all(img.shape[-1] == 3 for _, img in t91)


def test_unknown_benchmark_and_scale():
    with pytest.raises(KeyError, match="Set5"):
        datasets.load_benchmark("Urban100", 4)
    with pytest.raises(ValueError, match="2, 3, 4"):
        datasets.load_benchmark("Set5", 8)
