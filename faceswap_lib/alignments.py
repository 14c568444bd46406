"""The ``alignments.json`` sidecar of an extract folder, and the aligned-face record.

The sidecar (format ``faceswap_lib.alignments/2``) holds the crop ``size`` and ``padding`` of the
folder, ``clips`` (clip key -> where the clip came from and which frames had no face) and
``faces``, one entry per saved crop: ``file``, ``video`` (its clip key), ``frame``, ``box``,
``score``, ``faces_in_frame``, ``landmarks`` (68 x 2 frame pixels) and ``matrix`` (the 2 x 3
frame -> crop matrix). :func:`format_alignments` writes it with one face per line (diffable,
greppable); :func:`read_alignments` reads it back, and the older one-clip format
``faceswap_lib.alignments/1`` too.

:class:`AlignedFace` is one face's geometry: landmarks, matrix, crop size and padding. Its
:attr:`~AlignedFace.interpolation` follows the matrix's scale: ``cv2.INTER_AREA`` when the matrix
shrinks (each crop pixel covers several source pixels, so they are averaged: no aliasing),
``cv2.INTER_CUBIC`` when it enlarges or keeps the size.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sr_lib.files import FileError

from .align import DEFAULT_PADDING, align_matrix, matrix_parameters, transform_points

__all__ = [
    "ALIGNMENTS_FILE",
    "FORMAT",
    "OLD_FORMAT",
    "CLIP_FIELDS",
    "read_alignments",
    "format_alignments",
    "interpolation_for",
    "rescale_matrix",
    "AlignedFace",
]

#: Name of the per-folder sidecar written next to the crops.
ALIGNMENTS_FILE = "alignments.json"
#: The format written now: several clips per folder, their settings under ``"clips"``.
FORMAT = "faceswap_lib.alignments/2"
#: The earlier one-clip format, its settings at the top level; still read.
OLD_FORMAT = "faceswap_lib.alignments/1"
#: Per-clip fields of the sidecar (under ``"clips"``; at the top level in the old format).
CLIP_FIELDS = ("video", "video_path", "width", "height", "fps", "every_nth", "max_frames", "detect_size",
               "frames_read", "frames_without_face", "frame_count", "undecodable_frames")


def format_alignments(sidecar: dict[str, Any]) -> str:
    """The sidecar as JSON text: header fields one per line, each face on one line.

    ``sidecar``: a dict with a ``"faces"`` list (of JSON-ready dicts) and JSON-ready header fields.
    """
    header = {k: v for k, v in sidecar.items() if k != "faces"}
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in header.items()]
    faces = ",\n".join(f"  {json.dumps(face)}" for face in sidecar["faces"])
    return "{\n" + "\n".join(lines) + '\n "faces": [\n' + faces + ("\n" if faces else "") + " ]\n}\n"


def read_alignments(path: str | os.PathLike, *, arrays: bool = True) -> dict[str, Any]:
    """Load an ``alignments.json`` (or the folder holding one), with NumPy arrays per face.

    Returns the sidecar as a dict: ``"size"``, ``"padding"``, ``"clips"`` (clip key -> that clip's
    settings and frame lists) and ``"faces"``; every face has ``"video"``, its clip key. When the
    folder holds one clip, that clip's fields (``"video"``, ``"frames_without_face"``, ...) are
    also at the top level, as in the earlier one-clip format, which is read too. In each face
    (with ``arrays``), ``"landmarks"`` is a (68, 2) float64 array, ``"matrix"`` a (2, 3) float64
    array and ``"box"`` a tuple (left, top, right, bottom).

    Raises:
        FileNotFoundError: no such file.
        sr_lib.files.FileError (a ValueError): not valid JSON, or not a faceswap_lib alignments file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / ALIGNMENTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise FileError(path, f"not valid JSON ({error})") from error
    if not isinstance(data, dict) or data.get("format") not in (FORMAT, OLD_FORMAT):
        found = data.get("format") if isinstance(data, dict) else None
        raise FileError(path, f"not a faceswap_lib alignments file (format {found!r})")
    if data["format"] == OLD_FORMAT:  # one clip, keyed by its stem as the old crop names were
        key = Path(data["video"]).stem
        data["clips"] = {key: {k: data[k] for k in CLIP_FIELDS if k in data}}
        for face in data["faces"]:
            face.setdefault("video", key)
        data["format"] = FORMAT
    if len(data["clips"]) == 1:
        data.update(next(iter(data["clips"].values())))
    if arrays:
        for face in data["faces"]:
            face["landmarks"] = np.asarray(face["landmarks"], dtype=np.float64)
            face["matrix"] = np.asarray(face["matrix"], dtype=np.float64)
            face["box"] = tuple(face["box"])
    return data


def interpolation_for(scale: float) -> int:
    """The OpenCV interpolation for resampling by ``scale`` (output pixels per input pixel).

    ``cv2.INTER_AREA`` when ``scale < 1`` (shrinking: average what each output pixel covers),
    ``cv2.INTER_CUBIC`` otherwise (enlarging or the same size).

    Raises:
        ValueError: ``scale`` is not a positive finite number.
    """
    import cv2

    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"interpolation_for: scale must be a positive finite number, got {scale}")
    return cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC


def rescale_matrix(matrix, crop_size: int, size: int) -> np.ndarray:
    """A frame -> ``crop_size`` crop matrix rescaled to a ``size`` crop of the same square.

    Pixel centres are at integers, so crop coordinate u becomes ``(u + 0.5) * size / crop_size - 0.5``.
    Returns a (2, 3) float64 matrix.
    """
    k = size / crop_size
    m = np.asarray(matrix, dtype=np.float64) * k
    m[:, 2] += 0.5 * k - 0.5
    return m


@dataclass(frozen=True)
class AlignedFace:
    """One face's aligned crop geometry.

    Attributes:
        landmarks: (68, 2) float64 (x, y) landmarks in frame pixels.
        matrix: (2, 3) float64 frame -> crop matrix (see :mod:`faceswap_lib.align`).
        size: side of the square crop, pixels.
        padding: margin of the mean face in the crop, a fraction of ``size`` in [0, 0.5).
    """

    landmarks: np.ndarray
    matrix: np.ndarray
    size: int
    padding: float = DEFAULT_PADDING

    @classmethod
    def from_landmarks(cls, landmarks, size: int, padding: float = DEFAULT_PADDING) -> "AlignedFace":
        """The aligned face of (68, 2) frame landmarks (:func:`faceswap_lib.align.align_matrix`).

        Raises:
            ValueError: landmarks not (68, 2), or padding outside [0, 0.5).
        """
        points = np.asarray(landmarks, dtype=np.float64)
        if points.shape != (68, 2):
            raise ValueError(f"AlignedFace: expected (68, 2) landmarks, got {points.shape}")
        return cls(points, align_matrix(points, size, padding), int(size), float(padding))

    @classmethod
    def from_entry(cls, entry: dict[str, Any], size: int, padding: float) -> "AlignedFace":
        """A face of :func:`read_alignments` (``"landmarks"``, ``"matrix"``), with the folder's size and padding."""
        return cls(np.asarray(entry["landmarks"], np.float64), np.asarray(entry["matrix"], np.float64),
                   int(size), float(padding))

    @property
    def scale(self) -> float:
        """Crop pixels per frame pixel (> 1: the crop enlarges the face)."""
        return matrix_parameters(self.matrix)["scale"]

    @property
    def interpolation(self) -> int:
        """``cv2.INTER_AREA`` if the matrix shrinks the face (:attr:`scale` < 1), else ``cv2.INTER_CUBIC``."""
        return interpolation_for(self.scale)

    @property
    def points(self) -> np.ndarray:
        """(68, 2) float64 landmarks in crop pixels."""
        return transform_points(self.landmarks, self.matrix)

    def resized(self, size: int) -> "AlignedFace":
        """The same face and padding in a ``size`` crop (the matrix rescaled, :func:`rescale_matrix`)."""
        return AlignedFace(self.landmarks, rescale_matrix(self.matrix, self.size, size), int(size), self.padding)

    def resize(self, crop, size: int) -> tuple[np.ndarray, "AlignedFace"]:
        """``(crop at size, record at size)``: this face's (S, S, C) crop resampled to ``size``.

        The interpolation follows the scale ``size / self.size`` (:func:`interpolation_for`:
        ``INTER_AREA`` when shrinking, as the training faces are made). The crop keeps its dtype;
        ``size == self.size`` returns it as is.

        Raises:
            ValueError: the crop is not ``self.size`` pixels square.
        """
        import cv2

        crop = np.asarray(crop)
        if crop.shape[:2] != (self.size, self.size):
            raise ValueError(f"AlignedFace.resize: expected a {self.size} x {self.size} crop, got {crop.shape[:2]}")
        if size == self.size:
            return crop, self
        out = cv2.resize(crop, (size, size), interpolation=interpolation_for(size / self.size))
        return out, self.resized(size)
