"""A stand-in clip when the course's face clips are absent: one photo, turned, zoomed and shifted.

Notebooks 08 and 09 (and their solutions) fall back to this when ``registry.is_available("face_clips")``
is False (no data mirror, no internet), so they still run top to bottom; they say so in their output.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["make_moving_clip", "astronaut_head"]


def astronaut_head(size: int = 480) -> np.ndarray:
    """scikit-image's astronaut photo cut to her head and shoulders (260 x 260 px), resized to
    ``size`` x ``size`` with bicubic interpolation: (size, size, 3) float32 RGB in [0, 1]."""
    import cv2
    from skimage import data as skdata

    photo = skdata.astronaut()[:260, 92:352]
    return cv2.resize(photo, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255


def make_moving_clip(image, path: str | os.PathLike, n_frames: int, rng: np.random.Generator, fps: float = 10,
                     *, degrees: float = 12, zoom: float = 0.1, shift: float = 20) -> Path:
    """Write an MJPG clip of ``image`` turned, zoomed and shifted a little per frame; return its path.

    Args:
        image: the picture, any image :mod:`sr_lib.images` accepts ((H, W, 3) float RGB in [0, 1]
            or uint8 typically).
        path: the clip to write (``.avi``: Motion-JPEG).
        n_frames: number of frames.
        rng: draws, per frame and in this order, the angle (uniform in +-``degrees``), the scale
            (uniform in 1 +- ``zoom``) and the (x, y) shift (uniform in +-``shift`` pixels): the
            same draws as the helper notebooks 08 and 09 defined inline, so clips match theirs.
        fps: frames per second written in the header.
    """
    import cv2

    from .landmarks import to_uint8

    pixels = to_uint8(image)
    h, w = pixels.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"{path}: cannot open a Motion-JPEG writer")
    try:
        for _ in range(n_frames):
            m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-degrees, degrees), rng.uniform(1 - zoom, 1 + zoom))
            m[:, 2] += rng.uniform(-shift, shift, size=2)
            frame = cv2.warpAffine(pixels, m, (w, h), borderMode=cv2.BORDER_REFLECT)
            writer.write(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV writes BGR
    finally:
        writer.release()
    return Path(path)
