"""Read video clips frame by frame with OpenCV.

Frames come out in the library convention, float32 RGB in [0, 1], shape (H, W, 3) (OpenCV decodes
to uint8 BGR; the conversion happens here, once). Only one frame is in memory at a time, so clips of
any length can be processed. Frame indices count every frame from 0, also the ones that
``every_nth`` skips, so an index always names the same frame of the file.

Damaged files: OpenCV's ``grab()`` returns False both at the end of a clip and at a frame it cannot
decode. Measured on an 8-frame mp4v clip with 4,000 random bytes written over its middle (OpenCV
4.x, FFmpeg backend): a plain ``while capture.read()[0]`` loop stops after 2, 3 or 5 frames
(depending on where the damage is), but calling ``grab()`` again goes on: the failed calls each
consume one frame and decoding resumes with the next intact one (e.g. ``ok ok ok FAIL FAIL ok ok
ok``: 6 frames decoded, 2 lost, 8 calls = the container's frame count). So :func:`read_frames`
keeps calling ``grab()`` after a failure until as many frames as the container announces
(``CAP_PROP_FRAME_COUNT``) have been tried, gives the failed ones their index, and counts them in a
:class:`ReadReport`. The frames decoded after the damage are *not* clean: in that clip they are
predicted frames whose reference was lost, so until the next key frame they show an older picture
with the later changes applied (mean difference 0.03-0.15 against the undamaged frame, against
0.000 before the damage). They are kept: for face extraction a slightly wrong frame still holds
a face, and the report says which frames were lost.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = ["VideoError", "VideoInfo", "ReadReport", "video_info", "read_frames", "bgr_to_float_rgb", "to_bgr8"]

#: Without a frame count in the header, give up after this many failed frames in a row.
MAX_FAILURES_WITHOUT_COUNT = 25


class VideoError(RuntimeError):
    """A video file cannot be opened or decoded; the message starts with the file, ``filename`` names it."""

    def __init__(self, filename, message: str):
        super().__init__(f"{filename}: {message}")
        self.filename = str(filename)
        self.message = message


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a clip (``frame_count`` is the header's estimate)."""

    path: str
    frame_count: int
    fps: float
    width: int
    height: int


@dataclass
class ReadReport:
    """What :func:`read_frames` managed to read, filled in as the iteration goes.

    Attributes:
        frame_count: frames the container announces (0 if its header does not say).
        decoded: frames decoded, including those ``every_nth`` skips.
        undecodable: indices of frames OpenCV could not decode (skipped; see the module notes).
            Failures after the last decoded frame count only up to ``frame_count``.
    """

    frame_count: int = 0
    decoded: int = 0
    undecodable: list[int] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """No frame was lost to decoding errors."""
        return not self.undecodable

    def message(self) -> str:
        """``"read 6 of 8 frames: 2 could not be decoded (frames 3, 4)"``, for warnings."""
        lost = self.undecodable
        listed = ", ".join(map(str, lost[:10])) + (", ..." if len(lost) > 10 else "")
        total = self.frame_count or self.decoded + len(lost)
        return (f"read {self.decoded} of {total} frames: {len(lost)} could not be decoded "
                f"(frame{'s' if len(lost) != 1 else ''} {listed}) and were skipped")


def _open(path: str | os.PathLike):
    import cv2

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "video file not found", str(path))
    if not path.is_file():
        raise VideoError(path, "not a video file (a folder?)")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoError(path, "cannot open this video: OpenCV found no decoder for it (not a video, or a broken file?)")
    return capture


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Frame count, frame rate and size of a clip, from its header (nothing is decoded).

    Raises:
        FileNotFoundError: no such file. VideoError: OpenCV cannot open it.
    """
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


def to_bgr8(image) -> np.ndarray:
    """RGB image -> C-contiguous uint8 BGR, what ``cv2.imwrite``, ``VideoWriter`` and ``seamlessClone`` take.

    ``image``: (H, W, 3) RGB, uint8 (kept), uint16 (/ 257), or float (clipped to [0, 1], x 255,
    rounded half to even: :func:`sr_lib.images.to_uint8`, the library's one rule). Returns
    (H, W, 3) uint8.

    Raises:
        sr_lib.images.ImageError: another dtype, or NaN / infinite float values.
        ValueError: not (H, W, 3).
    """
    from sr_lib.images import to_uint8

    array = np.asarray(image)
    if np.issubdtype(array.dtype, np.floating):
        array = np.clip(array, 0, 1)  # the blends may overshoot a little; to_uint8 refuses beyond 1.5
    pixels = to_uint8(array)
    if pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise ValueError(f"to_bgr8: expected an (H, W, 3) RGB image, got shape {pixels.shape}")
    return np.ascontiguousarray(pixels[..., ::-1])


def read_frames(
    path: str | os.PathLike,
    *,
    start: int = 0,
    every_nth: int = 1,
    max_frames: int | None = None,
    as_uint8: bool = False,
    report: ReadReport | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, frame)`` for the frames of a clip, skipping frames that cannot be decoded.

    Args:
        path: a video file OpenCV can decode (mp4/H.264 with the pip wheels).
        start: the first frame to keep (earlier frames are grabbed, not converted).
        every_nth: keep frames start, start + n, start + 2n, ... (the others are grabbed but
            not converted to RGB).
        max_frames: stop after yielding this many frames (None: the whole clip).
        as_uint8: yield uint8 RGB instead of float32 (saves a conversion when the frame goes
            straight to dlib or into a PNG).
        report: a :class:`ReadReport` to fill in (frames decoded, indices of undecodable frames);
            a damaged clip is read as far as possible, and this is how a caller learns what was lost.

    Yields:
        The frame's index in the file and the frame, (H, W, 3) float32 RGB in [0, 1] (or uint8
        RGB with ``as_uint8``). An undecodable frame keeps its index (the next frame yielded has
        a larger one), so indices still name frames of the file.

    Raises:
        FileNotFoundError: no such file.
        VideoError: the file cannot be opened, or not a single frame can be decoded. Raised when
            the iteration starts (generators run lazily).
    """
    import cv2

    if every_nth < 1:
        raise ValueError(f"every_nth must be >= 1, got {every_nth}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if max_frames is not None and max_frames < 0:
        raise ValueError(f"max_frames must be >= 0 or None, got {max_frames}")
    report = ReadReport() if report is None else report
    capture = _open(path)
    try:
        count = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        report.frame_count, report.decoded, report.undecodable[:] = count, 0, []
        index = yielded = 0
        failed: list[int] = []  # failures since the last decoded frame: lost frames, or the end
        while max_frames is None or yielded < max_frames:
            ok = capture.grab()
            frame = None
            if ok and index >= start and (index - start) % every_nth == 0:
                ok, frame = capture.retrieve()
            if not ok:
                failed.append(index)
                index += 1
                # The end of the clip looks like a damaged frame: retry only while the container
                # says more frames exist (or, without a count, a bounded number of times).
                if (count and index >= count) or (not count and len(failed) >= MAX_FAILURES_WITHOUT_COUNT):
                    break
                continue
            report.undecodable.extend(failed)
            failed = []
            report.decoded += 1
            if frame is not None:
                rgb = np.ascontiguousarray(frame[..., ::-1]) if as_uint8 else bgr_to_float_rgb(frame)
                yield index, rgb
                yielded += 1
            index += 1
        # Frames the container announces but that never decoded are lost, not the clip's end.
        report.undecodable.extend(i for i in failed if i < count)
        if report.decoded == 0 and (max_frames is None or max_frames > 0):
            raise VideoError(path, f"no frame could be decoded (the container announces {count})")
    finally:
        capture.release()
