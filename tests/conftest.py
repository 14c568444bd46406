"""Shared fixtures. Tests are small: the whole suite runs on 2 CPU cores in CI."""

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def mirror_root() -> Path | None:
    """The offline data mirror named by SRFS_DATA_DIR, if it holds the SR benchmarks."""
    value = os.environ.get("SRFS_DATA_DIR")
    if value and (Path(value) / "sr" / "Set5").is_dir():
        return Path(value)
    return None


@pytest.fixture
def mirror() -> Path:
    """Skip without the mirror, except where SRFS_REQUIRE_MIRROR=1 (CI) makes its absence a failure."""
    root = mirror_root()
    if root is None:
        if os.environ.get("SRFS_REQUIRE_MIRROR") == "1":
            pytest.fail("SRFS_REQUIRE_MIRROR=1 but SRFS_DATA_DIR does not point at a mirror with sr/Set5")
        pytest.skip("needs the offline data mirror (set SRFS_DATA_DIR)")
    return root


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def run_notebooks():
    """``tools/run_notebooks.py`` imported as a module (it is a script, not part of a package)."""
    path = Path(__file__).resolve().parents[1] / "tools" / "run_notebooks.py"
    spec = importlib.util.spec_from_file_location("run_notebooks", path)
    runner = importlib.util.module_from_spec(spec)
    sys.modules["run_notebooks"] = runner  # dataclasses look their module up there
    spec.loader.exec_module(runner)
    return runner
