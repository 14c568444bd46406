"""A registry of the project's named datasets, resolved offline first.

Every file of every dataset is listed in ``manifest.tsv`` (shipped with the package) with its path,
size, sha256 and pinned upstream URL. A dataset is looked up, in order, in

1. ``$SRFS_DATA_DIR`` (an offline mirror with the same layout; CI points it at ``../shared/data``),
2. the download cache ``$SRFS_CACHE_DIR`` (default ``~/.cache/srfs``),
3. the upstream URLs, downloaded into the cache with the sha256 checked — only when downloads are
   allowed (``SRFS_OFFLINE`` unset) and the network answers.

If none of these work, :class:`DatasetUnavailableError` names the dataset, a URL, and the variable to set.
Downloading is its own function (:func:`download`); nothing else in the library touches the network.

DIV2K (800 + 100 2K images, several GB) and CelebA (200,000 faces) are not in the manifest: full-mode
notebooks load them through ``tensorflow-datasets`` (:func:`load_div2k`, :func:`load_celeba_faces`).
With ``SRFS_MOCK_TFDS=1`` both loaders return random pixels in the real shapes and dtypes instead
(``tfds.testing.mock_data``; nothing is downloaded) and say so: the notebook runner's dry run
(``tools/run_notebooks.py --mode full --dry-run``) and the tests use it. Never on by default.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = [
    "RemoteFile",
    "Dataset",
    "DatasetUnavailableError",
    "DATASETS",
    "cache_dir",
    "mirror_dir",
    "is_available",
    "fetch",
    "download",
    "file_sha256",
    "load_div2k",
    "load_celeba_faces",
    "MOCK_TFDS_ENV",
    "mocking_tfds",
    "CELEBA_CROP",
]

#: ``SRFS_MOCK_TFDS=1``: the tensorflow-datasets loaders return mocked data (random pixels, real shapes).
MOCK_TFDS_ENV = "SRFS_MOCK_TFDS"


class DatasetUnavailableError(RuntimeError):
    """A dataset is neither in the mirror nor in the cache, and could not be downloaded."""


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative to the data root, e.g. "sr/Set5/image_SRF_4/img_001_SRF_4_HR.png"
    size: int
    sha256: str
    url: str


@dataclass(frozen=True)
class Dataset:
    name: str
    prefix: str  # folder under the data root
    description: str
    licence: str
    files: tuple[RemoteFile, ...]


def _read_manifest() -> list[RemoteFile]:
    text = resources.files("sr_lib.data").joinpath("manifest.tsv").read_text()
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return [RemoteFile(r["path"], int(r["bytes"]), r["sha256"], r["upstream_url"]) for r in rows]


_DESCRIPTIONS = {
    "Set5": ("sr/Set5/", "Set5 benchmark (Bevilacqua et al. 2012): HR + MATLAB-bicubic LR at x2/x3/x4",
             "academic benchmark, research use"),
    "Set14": ("sr/Set14/", "Set14 benchmark (Zeyde et al. 2010): HR + MATLAB-bicubic LR at x2/x3/x4",
              "academic benchmark, research use"),
    "T91": ("sr/T91/", "T91 training images (Yang et al. 2010), 91 PNG", "Apache-2.0 (TF-ESPCN repository)"),
    "face_clips": ("faces/videos/", "two single-person talking-head clips (d6.mp4, d14.mp4), 30 fps",
                   "MIT (LivePortrait repository); teaching/testing only, label swapped output as synthetic"),
    "dlib_faces": ("faces/dlib_landmarks/", "11 photos with 68-point ground-truth landmarks (dlib examples)",
                   "Boost 1.0 (dlib); photos mostly PASCAL VOC, research use"),
    "opencv_dnn_superres": ("peers/opencv_dnn_superres/",
                            "the ESPCN and FSRCNN x2/x3/x4 graphs OpenCV's dnn_superres loads: peers to time against",
                            "Apache-2.0 (TF-ESPCN and FSRCNN_Tensorflow repositories)"),
}


def _build_registry() -> dict[str, Dataset]:
    files = _read_manifest()
    registry = {}
    for name, (prefix, description, licence) in _DESCRIPTIONS.items():
        members = tuple(f for f in files if f.path.startswith(prefix))
        registry[name] = Dataset(name, prefix, description, licence, members)
    return registry


DATASETS: dict[str, Dataset] = _build_registry()


def _dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; registered: {', '.join(DATASETS)}") from None


def cache_dir() -> Path:
    """Download cache: ``$SRFS_CACHE_DIR`` or ``~/.cache/srfs``."""
    return Path(os.environ.get("SRFS_CACHE_DIR", Path.home() / ".cache" / "srfs")).expanduser()


def mirror_dir() -> Path | None:
    """The mirror named by ``$SRFS_DATA_DIR`` as an absolute path, or None when the variable is unset.

    A relative value is resolved against the current directory. The commands that start notebook
    kernels (``make``, ``tools/run_notebooks.py``) make it absolute first, because a kernel's current
    directory is the notebook's folder, not the one the user typed the path in. A value that names no
    folder raises rather than being skipped: a silently missed mirror turns into a run on stand-in
    data, or a download, that nobody asked for.

    Raises:
        DatasetUnavailableError: ``$SRFS_DATA_DIR`` is set but is not a folder.
    """
    value = os.environ.get("SRFS_DATA_DIR", "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if not path.is_dir():
        relative = "" if Path(value).expanduser().is_absolute() else f" (a relative path, resolved against {Path.cwd()})"
        raise DatasetUnavailableError(
            f"SRFS_DATA_DIR={value}: no such folder{relative}. Set it to the absolute path of the data "
            "mirror, or unset it to use the download cache and the built-in images."
        )
    # Absolute, but symlinks kept: the mirror is reported under the name the user gave it.
    return Path(os.path.abspath(path))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Files whose checksum was verified in this process; hashing 30 MB again on every call is waste.
_VERIFIED: set[tuple[str, float, int]] = set()


def _verify(path: Path, expected: RemoteFile) -> None:
    stat = path.stat()
    key = (str(path), stat.st_mtime, stat.st_size)
    if key in _VERIFIED:
        return
    actual = file_sha256(path)
    if actual != expected.sha256:
        raise DatasetUnavailableError(
            f"{path} is corrupt: sha256 {actual} differs from the registry's {expected.sha256} "
            f"(upstream {expected.url}). Delete it, or restore the mirror, and try again."
        )
    _VERIFIED.add(key)


def _complete_root(dataset: Dataset, root: Path | None) -> bool:
    return root is not None and all((root / f.path).is_file() for f in dataset.files)


def is_available(name: str) -> bool:
    """True if the dataset is complete in the mirror or the cache (no download, no checksum)."""
    dataset = _dataset(name)
    return any(_complete_root(dataset, root) for root in (mirror_dir(), cache_dir()))


def _downloads_allowed() -> bool:
    return os.environ.get("SRFS_OFFLINE", "").strip().lower() not in ("1", "true", "yes")


def download(remote: RemoteFile, destination: Path, *, timeout: float = 60.0) -> Path:
    """Download one file to ``destination``, verify its sha256, and move it into place atomically."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False, suffix=".part") as tmp:
        tmp_path = Path(tmp.name)
        try:
            with urllib.request.urlopen(remote.url, timeout=timeout) as response:
                for block in iter(lambda: response.read(1 << 20), b""):
                    digest.update(block)
                    tmp.write(block)
        except BaseException:
            tmp.close()
            tmp_path.unlink(missing_ok=True)
            raise
    if digest.hexdigest() != remote.sha256:
        tmp_path.unlink(missing_ok=True)
        raise DatasetUnavailableError(
            f"download of {remote.url} has sha256 {digest.hexdigest()}, expected {remote.sha256}; "
            "the upstream file changed or the transfer was corrupted. Nothing was saved."
        )
    shutil.move(str(tmp_path), destination)
    return destination


def fetch(name: str, *, verify: bool = True, progress: bool = True) -> Path:
    """Local root folder under which every file of dataset ``name`` exists (see the module docstring).

    Returns ``root`` such that ``root / "sr/Set5/..."`` are the dataset's files.

    Raises:
        KeyError: unknown dataset name.
        DatasetUnavailableError: not in the mirror or cache and not downloadable here, or a file's
            checksum is wrong.
    """
    dataset = _dataset(name)
    mirror = mirror_dir()
    for root in (mirror, cache_dir()):
        if _complete_root(dataset, root):
            if verify:
                for remote in dataset.files:
                    _verify(root / remote.path, remote)
            return root

    root = cache_dir()
    missing = [f for f in dataset.files if not (root / f.path).is_file()]
    where = f"SRFS_DATA_DIR={mirror}" if mirror else "SRFS_DATA_DIR is not set"
    hint = (
        f"Dataset {name!r} ({dataset.description}) is not available: {where}, cache {root} is incomplete "
        f"({len(missing)} of {len(dataset.files)} files missing, e.g. {missing[0].url}). "
        "Set SRFS_DATA_DIR to a folder holding the mirror (layout like "
        f"'{dataset.files[0].path}'), or run once on a machine with internet."
    )
    if not _downloads_allowed():
        raise DatasetUnavailableError(hint + " Downloads are switched off (SRFS_OFFLINE is set).")
    iterator = missing
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(missing, desc=f"downloading {name}", unit="file")
    try:
        for remote in iterator:
            download(remote, root / remote.path)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        raise DatasetUnavailableError(f"{hint} The download failed: {error}") from error
    if verify:
        for remote in dataset.files:
            _verify(root / remote.path, remote)
    return root


def mocking_tfds() -> bool:
    """True when ``$SRFS_MOCK_TFDS`` asks the tensorflow-datasets loaders for mocked data."""
    return os.environ.get(MOCK_TFDS_ENV, "").strip().lower() in ("1", "true", "yes")


def _tfds_data_dir(data_dir: str | None) -> str:
    """``data_dir``, else ``$TFDS_DATA_DIR``, else ``$SRFS_DATA_DIR/tensorflow_datasets`` when that prepared folder exists (a mirror
    is read-only), else ``<cache>/tensorflow_datasets``."""
    if data_dir is not None:
        return data_dir
    if os.environ.get("TFDS_DATA_DIR"):  # tensorflow-datasets' own variable, when the reader set it
        return os.environ["TFDS_DATA_DIR"]
    mirror = mirror_dir()
    mirrored = mirror / "tensorflow_datasets" if mirror is not None else None
    return str(mirrored if mirrored is not None and mirrored.is_dir() else cache_dir() / "tensorflow_datasets")


# Sizes (height, width) of real DIV2K HR images: the mocked pairs cycle through them, so full-mode code
# meets 2K images (and their memory) in a dry run. All are multiples of 12, like every DIV2K HR image.
_DIV2K_HR_SIZES = ((1356, 2040), (1404, 2040), (2040, 1356), (1152, 2040), (1536, 2040), (2040, 1404))
_DIV2K_SPLIT_SIZES = {"train": 800, "validation": 100}


def _mock_div2k_fn(scale: int, hr_sizes):
    """A tfds ``as_dataset_fn``: DIV2K-shaped ``{"lr", "hr"}`` uint8 examples, HR = scale x LR exactly.

    tfds' own random examples draw every image side independently (LR and HR would not match), so the
    pairs are built here, with the builder's real split sizes and feature names.
    """
    import tensorflow as tf

    sizes = tf.constant(hr_sizes, tf.int32)

    def as_dataset(self, split, *args, **kwargs):
        name = str(split).split("[")[0]
        count = _DIV2K_SPLIT_SIZES.get(name)
        if count is None:
            raise ValueError(f"DIV2K has the splits {', '.join(_DIV2K_SPLIT_SIZES)}; got {split!r}")

        def example(i):
            hr_size = sizes[i % len(hr_sizes)]
            lr_size = hr_size // scale
            seed = tf.stack([tf.cast(i, tf.int32), 4 * scale])
            lr = tf.random.stateless_uniform(tf.concat([lr_size, [3]], 0), seed, maxval=256, dtype=tf.int32)
            # Random LR, and an HR that is that LR blown up: cheap, and the pair is aligned as the real one.
            hr = tf.repeat(tf.repeat(lr, scale, axis=0), scale, axis=1)
            return {"lr": tf.cast(lr, tf.uint8), "hr": tf.cast(hr, tf.uint8)}

        return tf.data.Dataset.range(count).map(example).apply(tf.data.experimental.assert_cardinality(count))

    return as_dataset


def load_div2k(split: str = "train", scale: int = 4, *, data_dir: str | None = None, _mock_hr_sizes=None):
    """DIV2K (Agustsson & Timofte 2017) as a ``tf.data.Dataset`` of (lr, hr) uint8 pairs via tfds.

    Each element: ``lr`` (h, w, 3) and ``hr`` (scale*h, scale*w, 3), uint8 (HR cropped to exactly
    ``scale`` times the LR, in case a side is not a multiple). Splits: "train" (800), "validation" (100).

    Only for full mode: the bicubic track is several GB and ``tensorflow-datasets`` downloads it
    into ``data_dir``: default ``$SRFS_DATA_DIR/tensorflow_datasets`` when such a prepared folder
    exists (a mirror is read-only), else ``<cache>/tensorflow_datasets``. With ``$SRFS_MOCK_TFDS``
    set: random pixels in real DIV2K sizes (``_mock_hr_sizes`` overrides them, for fast tests).
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    if scale not in (2, 3, 4):
        raise ValueError(f"DIV2K bicubic has scales 2, 3, 4; got {scale}")
    data_dir = _tfds_data_dir(data_dir)
    mock = mocking_tfds()
    try:
        with (tfds.testing.mock_data(as_dataset_fn=_mock_div2k_fn(scale, _mock_hr_sizes or _DIV2K_HR_SIZES))
              if mock else contextlib.nullcontext()):
            dataset = tfds.load(
                f"div2k/bicubic_x{scale}", split=split, data_dir=data_dir, as_supervised=True,
                download=_downloads_allowed(),
            )
    except Exception as error:  # tfds raises several types for "not there and cannot download"
        raise DatasetUnavailableError(
            f"DIV2K bicubic x{scale} ({split}) could not be loaded through tensorflow-datasets "
            f"(data_dir={data_dir}): {error}. It needs internet once (several GB); "
            "demo and smoke modes do not need it."
        ) from error
    if mock:
        print(f"DIV2K x{scale} {split}: MOCKED ({MOCK_TFDS_ENV}=1, tfds.testing.mock_data): random pixels "
              "in real DIV2K sizes, nothing downloaded; figures from it mean nothing")

    def aligned(lr, hr):
        shape = tf.shape(lr)
        return lr, hr[: scale * shape[0], : scale * shape[1]]

    return dataset.map(aligned, num_parallel_calls=tf.data.AUTOTUNE)


#: CelebA's usual face crop (DCGAN and most GAN papers): the 140 x 140 square at row 39, column 19 of
#: the aligned 218 x 178 images, which holds the face from brows to chin.
CELEBA_CROP = (39, 19, 140)


#: Distinct random images a mocked CelebA draws (then repeats), see load_celeba_faces.
_MOCK_CELEBA_DISTINCT = 2048


def load_celeba_faces(count: int, size: int, *, split: str = "train", data_dir: str | None = None):
    """``count`` CelebA faces (Liu et al. 2015) via tfds: (count, size, size, 3) float32 in [0, 1].

    Each aligned 218 x 178 image is cropped to :data:`CELEBA_CROP` and area-resized to ``size``. The
    set (about 1.4 GB) is downloaded into ``data_dir`` (default: as :func:`load_div2k`) once; with
    ``$SRFS_MOCK_TFDS`` set, tfds' random images of the real shape stand in for it.

    Raises:
        TypeError: ``count`` or ``size`` is not an integer (a bool is not one).
        ValueError: ``count`` < 1 or ``size`` < 1.
        DatasetUnavailableError: the set is neither in ``data_dir`` nor downloadable.
    """
    import numbers

    for name, value in (("count", count), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"load_celeba_faces: {name} must be an integer, got {value!r}")
        if value < 1:
            raise ValueError(f"load_celeba_faces: {name} must be at least 1, got {value}")
    count, size = int(count), int(size)

    import numpy as np
    import tensorflow as tf
    import tensorflow_datasets as tfds

    data_dir = _tfds_data_dir(data_dir)
    mock = mocking_tfds()
    # Mocked: a few thousand distinct random faces, cropped once and repeated up to ``count``. tfds'
    # mock makes every example in Python (4-5 ms each: 60,000 took about 4 minutes of a dry run);
    # the (count, size, size, 3) array, whose memory a full run needs, is still filled in full.
    distinct = min(count, _MOCK_CELEBA_DISTINCT)
    try:
        with tfds.testing.mock_data(num_examples=distinct) if mock else contextlib.nullcontext():
            dataset = tfds.load("celeb_a", split=split, data_dir=data_dir, download=_downloads_allowed())
    except Exception as error:
        raise DatasetUnavailableError(
            f"CelebA ({split}) could not be loaded through tensorflow-datasets (data_dir={data_dir}): {error}. "
            "It needs internet once (about 1.4 GB, from Google Drive); demo and smoke modes do not need it."
        ) from error
    if mock:
        plural = "s" if count != 1 else ""
        print(f"CelebA {split}: MOCKED ({MOCK_TFDS_ENV}=1, tfds.testing.mock_data): {count} image{plural} "
              f"({distinct} distinct random {'ones' if distinct != 1 else 'one'}, repeated) "
              "of the real 218 x 178 shape, nothing downloaded")
    top, left, side = CELEBA_CROP

    def crop(example):
        face = tf.image.crop_to_bounding_box(example["image"], top, left, side, side)
        return tf.image.resize(face, (size, size), method="area") / 255

    faces_dataset = dataset.map(crop, num_parallel_calls=tf.data.AUTOTUNE)
    if mock:
        faces_dataset = faces_dataset.take(distinct).cache().repeat()
    faces = np.empty((count, size, size, 3), np.float32)  # filled in place: no list of arrays, no copy
    n = 0
    for batch in faces_dataset.take(count).batch(1024).as_numpy_iterator():
        faces[n : n + len(batch)] = batch
        n += len(batch)
    return faces[:n]
