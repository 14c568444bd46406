"""Read video clips frame by frame with OpenCV.

Frames come out in the library convention, float32 RGB in [0, 1], shape (H, W, 3) (OpenCV decodes
to uint8 BGR; the conversion happens here, once). Only one frame is in memory at a time, so clips of
any length can be processed. Frame indices count every decoded frame from 0, also the ones that
``every_nth`` skips, so an index always names the same frame of the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = ["VideoError", "VideoInfo", "video_info", "read_frames", "bgr_to_float_rgb"]


class VideoError(RuntimeError):
    """A video file cannot be opened or decoded; the message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a clip (``frame_count`` is the header's estimate)."""

    path: str
    frame_count: int
    fps: float
    width: int
    height: int


def _open(path: str | os.PathLike):
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"cannot open video {path}: OpenCV found no decoder for it (not a video, or a broken file?)")
    return capture


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Frame count, frame rate and size of a clip, from its header (nothing is decoded)."""
    import cv2

    capture = _open(path)
    try:
        return VideoInfo(
            path=str(path),
            frame_count=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
            fps=float(capture.get(cv2.CAP_PROP_FPS)),
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        capture.release()


def bgr_to_float_rgb(frame: np.ndarray) -> np.ndarray:
    """uint8 BGR (as OpenCV decodes) -> float32 RGB in [0, 1]."""
    return frame[..., ::-1].astype(np.float32) * np.float32(1 / 255)


def read_frames(
    path: str | os.PathLike,
    *,
    every_nth: int = 1,
    max_frames: int | None = None,
    as_uint8: bool = False,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, frame)`` for the frames of a clip.

    Args:
        path: a video file OpenCV can decode (mp4/H.264 with the pip wheels).
        every_nth: keep frames 0, n, 2n, ... (the others are decoded but not converted).
        max_frames: stop after yielding this many frames (None: the whole clip).
        as_uint8: yield uint8 RGB instead of float32 (saves a conversion when the frame goes
            straight to dlib or into a PNG).

    Yields:
        The frame's index in the file and the frame, (H, W, 3) float32 RGB in [0, 1] (or uint8
        RGB with ``as_uint8``).

    Raises:
        FileNotFoundError: no such file.
        VideoError: the file cannot be opened, or not a single frame can be decoded. Raised when
            the iteration starts (generators run lazily).
    """
    if every_nth < 1:
        raise ValueError(f"every_nth must be >= 1, got {every_nth}")
    if max_frames is not None and max_frames < 0:
        raise ValueError(f"max_frames must be >= 0 or None, got {max_frames}")
    capture = _open(path)
    try:
        index = yielded = 0
        while max_frames is None or yielded < max_frames:
            if index % every_nth:
                ok = capture.grab()  # decode without the copy out of the decoder
                frame = None
            else:
                ok, frame = capture.read()
            if not ok:
                if index == 0:
                    raise VideoError(f"no frames could be decoded from video {path}")
                break
            if frame is not None:
                rgb = np.ascontiguousarray(frame[..., ::-1]) if as_uint8 else bgr_to_float_rgb(frame)
                yield index, rgb
                yielded += 1
            index += 1
    finally:
        capture.release()
