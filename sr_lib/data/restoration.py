"""Same-size (degraded, clean) pairs for restoration models such as the autoencoder of notebook 02.

A restoration model gets an image at its final size that is *worse* than it should be, here an HR
image "crapified" (fastai's word) by :func:`sr_lib.data.degrade.crapify`: shrunk by ``scale`` with
the MATLAB-compatible bicubic, optionally blurred, noised and JPEG-compressed, and enlarged back
with bicubic interpolation. This is the SRCNN / VDSR set-up: the network sees the bicubic
enlargement and learns to restore the detail bicubic could not.

The pairs feed :func:`sr_lib.data.pipeline.make_dataset` with ``scale=1`` (input and target have
the same size); :func:`sr_lib.inference.pre_upsampled_upscaler` turns a trained restorer back into
an SR upscaler (bicubic first, then the model). All images are float32 in [0, 1], (H, W, C).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np

from sr_lib.data.degrade import crapify, modcrop

__all__ = ["restoration_pairs"]


def _draw(value, rng: np.random.Generator, integer: bool = False):
    """``None`` / a number as given, or a (low, high) range drawn uniformly (inclusive for ints)."""
    if value is None or isinstance(value, numbers.Number):
        return value
    low, high = value
    return int(rng.integers(low, high + 1)) if integer else float(rng.uniform(low, high))


def restoration_pairs(
    images: Iterable[tuple[str, np.ndarray]],
    scales: Sequence[int] = (4,),
    *,
    channel: str = "y",
    blur_sigma=None,
    noise_sigma=None,
    jpeg_quality=None,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Degrade every HR image at every scale: a list of ``(degraded, clean)`` same-size pairs.

    For each image and each ``s`` in ``scales`` the clean image is ``modcrop(hr, s)`` and the input
    ``crapify(hr, s, blur_sigma=, noise_sigma=, jpeg_quality=, upsample=True, rng=)``: LR by bicubic,
    the optional degradations, bicubic back to the HR size. Degradation happens in RGB (JPEG's
    chroma subsampling is an RGB affair); with ``channel="y"`` both images are then reduced to
    their BT.601 luma (grayscale images keep their gray values).

    Args:
        images: ``(name, hr)`` pairs, hr (H, W), (H, W, 1) or (H, W, 3) in uint8, uint16 or float
            [0, 1] (:mod:`sr_lib.images`; RGBA raises), e.g. from
            :func:`sr_lib.data.load_hr_images` or :func:`sr_lib.data.load_builtin`.
        scales: shrink factors; several scales give one pair per image and scale (one model for
            all of them, as in VDSR).
        channel: "y" -> (H, W, 1) luma pairs; "rgb" -> the images' own channels.
        blur_sigma, noise_sigma, jpeg_quality: as in ``crapify``; each may also be a
            ``(low, high)`` range, drawn once per pair (JPEG quality as an integer, inclusive).
        seed: seeds the draws and the noise, so the pairs are reproducible.

    Returns:
        List of ``(degraded, clean)`` float32 arrays of equal shape, image-major then scale.
    """
    from sr_lib import images as image_core
    from sr_lib.images import rgb_to_y

    if channel not in ("y", "rgb"):
        raise ValueError(f"restoration_pairs: channel must be 'y' or 'rgb', got {channel!r}")
    rng = np.random.default_rng(seed)
    pairs = []
    for name, hr in images:
        hr = image_core.to_float32(image_core.as_hwc(hr, f"restoration_pairs: {name}"), name)
        for scale in scales:
            degraded = crapify(
                hr, scale,
                blur_sigma=_draw(blur_sigma, rng), noise_sigma=_draw(noise_sigma, rng),
                jpeg_quality=_draw(jpeg_quality, rng, integer=True), upsample=True, rng=rng,
            )
            clean = modcrop(hr, scale)
            if channel == "y" and hr.shape[-1] == 3:
                degraded, clean = rgb_to_y(degraded)[..., None], rgb_to_y(clean)[..., None]
            pairs.append((degraded.astype(np.float32, copy=False), np.ascontiguousarray(clean, dtype=np.float32)))
    if not pairs:
        raise ValueError("restoration_pairs: no images given")
    return pairs
