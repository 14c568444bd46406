"""The dataset registry: mirror first, then cache, then a checksum-verified download (simulated here:
tests never touch the network)."""

import hashlib
import io
import urllib.error
from pathlib import Path

import pytest

from sr_lib.data import registry


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No mirror, an empty cache in tmp_path, downloads allowed but routed through a fake urlopen."""
    monkeypatch.delenv("SRFS_DATA_DIR", raising=False)
    monkeypatch.delenv("SRFS_OFFLINE", raising=False)
    monkeypatch.setenv("SRFS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _fake_dataset(monkeypatch, contents: dict[str, bytes], served: dict[str, bytes] | None = None):
    """Register a tiny dataset 'Tiny' whose files have `contents`; the fake network serves `served`."""
    files = tuple(
        registry.RemoteFile(f"tiny/{name}", len(data), hashlib.sha256(data).hexdigest(), f"https://example.invalid/{name}")
        for name, data in contents.items()
    )
    monkeypatch.setitem(registry.DATASETS, "Tiny", registry.Dataset("Tiny", "tiny/", "a test set", "none", files))
    served = contents if served is None else served
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        name = url.rsplit("/", 1)[1]
        if name not in served:
            raise urllib.error.URLError("no network in tests")
        return io.BytesIO(served[name])

    monkeypatch.setattr(registry.urllib.request, "urlopen", fake_urlopen)
    return calls


def test_manifest_covers_the_registered_datasets():
    counts = {name: len(d.files) for name, d in registry.DATASETS.items()}
    assert counts["Set5"] == 30 and counts["Set14"] == 84 and counts["T91"] == 91
    assert counts["face_clips"] == 2
    for d in registry.DATASETS.values():
        for f in d.files:
            assert len(f.sha256) == 64 and f.url.startswith("https://") and f.path.startswith(d.prefix)


def test_mirror_is_used_and_verified(mirror, monkeypatch):
    monkeypatch.setenv("SRFS_DATA_DIR", str(mirror))
    assert registry.is_available("Set5")
    assert registry.fetch("Set5") == mirror


def test_download_into_cache_verifies_checksum(isolated, monkeypatch):
    calls = _fake_dataset(monkeypatch, {"a.png": b"alpha", "b.png": b"beta"})
    assert not registry.is_available("Tiny")
    root = registry.fetch("Tiny", progress=False)
    assert root == isolated / "cache"
    assert (root / "tiny/a.png").read_bytes() == b"alpha"
    assert len(calls) == 2
    # Second call: served from the cache, no network.
    assert registry.fetch("Tiny", progress=False) == root and len(calls) == 2


def test_corrupt_download_is_rejected_and_not_saved(isolated, monkeypatch):
    _fake_dataset(monkeypatch, {"a.png": b"alpha"}, served={"a.png": b"tampered"})
    with pytest.raises(registry.DatasetUnavailableError, match="sha256"):
        registry.fetch("Tiny", progress=False)
    assert not (isolated / "cache/tiny/a.png").exists()
    assert not list((isolated / "cache/tiny").glob("*.part"))


def test_corrupt_file_in_mirror_names_the_file(isolated, monkeypatch):
    _fake_dataset(monkeypatch, {"a.png": b"alpha"})
    mirror = isolated / "mirror"
    (mirror / "tiny").mkdir(parents=True)
    (mirror / "tiny/a.png").write_bytes(b"alphx")
    monkeypatch.setenv("SRFS_DATA_DIR", str(mirror))
    with pytest.raises(registry.DatasetUnavailableError, match=r"a\.png is corrupt"):
        registry.fetch("Tiny")


def test_offline_and_missing_gives_one_clear_error(isolated, monkeypatch):
    _fake_dataset(monkeypatch, {"a.png": b"alpha"}, served={})
    with pytest.raises(registry.DatasetUnavailableError) as error:
        registry.fetch("Tiny", progress=False)
    message = str(error.value)
    assert "'Tiny'" in message and "https://example.invalid/a.png" in message and "SRFS_DATA_DIR" in message


def test_srfs_offline_forbids_downloads(isolated, monkeypatch):
    calls = _fake_dataset(monkeypatch, {"a.png": b"alpha"})
    monkeypatch.setenv("SRFS_OFFLINE", "1")
    with pytest.raises(registry.DatasetUnavailableError, match="SRFS_OFFLINE"):
        registry.fetch("Tiny")
    assert calls == []


def test_unknown_dataset():
    with pytest.raises(KeyError, match="Set5"):
        registry.fetch("Set6")


def test_relative_data_dir_resolves_against_the_current_directory(isolated, monkeypatch):
    # The README's own example, SRFS_DATA_DIR=../shared/data, typed in the repository root.
    (isolated / "shared" / "data" / "tiny").mkdir(parents=True)
    (isolated / "shared" / "data" / "tiny" / "a.png").write_bytes(b"A")
    (isolated / "repo" / "notebooks").mkdir(parents=True)
    _fake_dataset(monkeypatch, {"a.png": b"A"}, served={})
    monkeypatch.setenv("SRFS_DATA_DIR", "../shared/data")
    monkeypatch.chdir(isolated / "repo")
    assert registry.fetch("Tiny", progress=False) == isolated / "shared" / "data"


def test_data_dir_that_names_no_folder_is_an_error_not_a_silent_fallback(isolated, monkeypatch):
    # From notebooks/ (a kernel's cwd) the same relative value names nothing: say so, naming the
    # value and the folder it was resolved against, instead of quietly using stand-in data.
    (isolated / "repo" / "notebooks").mkdir(parents=True)
    _fake_dataset(monkeypatch, {"a.png": b"A"}, served={"a.png": b"A"})
    monkeypatch.setenv("SRFS_DATA_DIR", "../shared/data")
    monkeypatch.chdir(isolated / "repo" / "notebooks")
    for call in (lambda: registry.is_available("Tiny"), lambda: registry.fetch("Tiny", progress=False)):
        with pytest.raises(registry.DatasetUnavailableError) as info:
            call()
        message = str(info.value)
        assert "SRFS_DATA_DIR=../shared/data" in message
        assert str(isolated / "repo" / "notebooks") in message and "absolute" in message
    monkeypatch.setenv("SRFS_DATA_DIR", str(isolated / "missing"))
    with pytest.raises(registry.DatasetUnavailableError, match="no such folder"):
        registry.is_available("Tiny")
