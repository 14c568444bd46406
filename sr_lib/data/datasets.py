"""Named image collections as (LR, HR) pairs: the benchmarks, T91, and built-in offline photos.

All images come back float32 in [0, 1], (H, W, C); grayscale images keep C = 1 so that metrics can
measure them on their gray values (the published convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sr_lib.data import registry
from sr_lib.data.degrade import bicubic_downscale, modcrop
from sr_lib.data.io import read_image

__all__ = [
    "ImagePair",
    "BENCHMARKS",
    "BUILTIN_IMAGES",
    "load_benchmark",
    "load_hr_images",
    "load_builtin",
    "make_pairs",
    "luma_pairs",
    "evaluation_pairs",
]

BENCHMARKS = ("Set5", "Set14")
# Real photographs bundled inside scikit-image (no download): smoke mode works on a fresh offline clone.
BUILTIN_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "camera")


@dataclass
class ImagePair:
    """One evaluation or training pair. ``hr`` is ``scale`` times ``lr`` in height and width."""

    name: str
    lr: np.ndarray  # (h, w, C) float32 [0, 1]
    hr: np.ndarray  # (h * scale, w * scale, C) float32 [0, 1]
    scale: int


def _check_scale(scale: int) -> int:
    if int(scale) != scale or scale < 2:
        raise ValueError(f"scale must be an integer >= 2, got {scale}")
    return int(scale)


def load_benchmark(name: str, scale: int, *, own_lr: bool = False) -> list[ImagePair]:
    """Set5 or Set14 at x2/x3/x4 from the registry (mirror, cache, or download).

    Args:
        name: "Set5" or "Set14".
        scale: 2, 3 or 4.
        own_lr: False uses the dataset's own MATLAB-bicubic LR images (what the published tables
            use); True makes LR from HR with this library's ``imresize`` instead.
    """
    scale = _check_scale(scale)
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; choose one of {BENCHMARKS}")
    if scale not in (2, 3, 4):
        raise ValueError(f"{name} ships LR images for scales 2, 3, 4 only; got {scale}")
    root = registry.fetch(name)
    folder = root / registry.DATASETS[name].prefix / f"image_SRF_{scale}"
    pairs = []
    for hr_path in sorted(folder.glob("*_HR.png")):
        # Paired files: pixels as stored, so LR and HR stay aligned whatever their EXIF tags say.
        hr = read_image(hr_path, mode="keep", orientation="ignore")
        if own_lr:
            lr = bicubic_downscale(hr, scale)
        else:
            lr = read_image(Path(str(hr_path).replace("_HR.png", "_LR.png")), mode="keep", orientation="ignore")
        pairs.append(ImagePair(hr_path.name.split("_SRF")[0], lr, hr, scale))
    return pairs


def load_hr_images(name: str) -> list[tuple[str, np.ndarray]]:
    """All images of a registered folder of HR images (e.g. "T91") as (name, image) pairs."""
    if name in BENCHMARKS:
        # Benchmarks store HR per scale, cropped to a multiple of it; x2 crops the least.
        return [(p.name, p.hr) for p in load_benchmark(name, 2)]
    root = registry.fetch(name)
    folder = root / registry.DATASETS[name].prefix
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    return [(p.stem, read_image(p, mode="RGB")) for p in paths]


def load_builtin(names=BUILTIN_IMAGES) -> list[tuple[str, np.ndarray]]:
    """Photos shipped inside scikit-image as (name, image) pairs, float32 [0, 1], (H, W, 3) or (H, W, 1)."""
    from skimage import data as skdata

    images = []
    for name in names:
        if name not in BUILTIN_IMAGES:
            raise KeyError(f"unknown built-in image {name!r}; choose from {BUILTIN_IMAGES}")
        array = getattr(skdata, name)()
        if array.ndim == 2:
            array = array[..., None]
        images.append((name, array[..., :3].astype(np.float32) / 255.0))
    return images


def make_pairs(images, scale: int) -> list[ImagePair]:
    """HR images -> pairs with LR made by the MATLAB-compatible bicubic (HR cropped to a multiple of scale)."""
    scale = _check_scale(scale)
    pairs = []
    for name, hr in images:
        hr = modcrop(hr, scale)
        pairs.append(ImagePair(name, bicubic_downscale(hr, scale), hr, scale))
    return pairs


def luma_pairs(pairs) -> list[tuple[np.ndarray, np.ndarray]]:
    """(LR, HR) luma arrays for Y-channel models (ESPCN, SRCNN): each (h, w, 1) float32 [0, 1].

    Colour images give their BT.601 Y channel, grayscale images their gray values.
    """
    from sr_lib.images import rgb_to_y

    def luma(image):
        return image if image.shape[-1] == 1 else rgb_to_y(image)[..., None]

    return [(luma(p.lr), luma(p.hr)) for p in pairs]


def evaluation_pairs(name: str, scale: int) -> tuple[list[ImagePair], str]:
    """The benchmark if it is available locally, else the built-in photos; returns (pairs, source label).

    Notebooks call this so that they run on a fresh offline clone (built-in photos) and give the
    published numbers wherever the mirror or cache holds the benchmark.
    """
    if registry.is_available(name):
        return load_benchmark(name, scale), name
    return make_pairs(load_builtin(), scale), "built-in photos (scikit-image)"
