"""Extract aligned faces from a video clip: the first step of a face swap.

For every frame (or every n-th): find the faces, keep the largest, predict its 68 landmarks, cut
out the aligned crop (:mod:`faceswap_lib.align`) and save it as a PNG. One JSON sidecar per clip,
``alignments.json``, keeps what the later steps need to put a generated face back: per saved crop
the frame index, the detector box, the 68 landmarks and the 2 x 3 matrix (frame -> crop), plus the
frames where no face was found.

Speed: on a 480-512 px frame the HOG detector is the expensive part (~15-40 ms at full
resolution on one core), so it runs on a copy of the frame shrunk to ``detect_size`` pixels on the
long side (a face filling these close-up clips is still far above the detector's 80-pixel
minimum); the box is scaled back up and the landmarks are predicted on the full-resolution
frame. If the small frame shows no face, the full-resolution frame is tried before the frame is
counted as faceless. ``benchmarks/extract_faces.py`` measures the frame rate on the provided clips.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .align import DEFAULT_PADDING, aligned_crop
from .landmarks import detect, load_models
from .video import read_frames, video_info

__all__ = ["ALIGNMENTS_FILE", "DEFAULT_DETECT_SIZE", "ExtractSummary", "extract", "read_alignments"]

#: Name of the per-clip sidecar written next to the crops.
ALIGNMENTS_FILE = "alignments.json"

#: Long side (pixels) of the frame copy the detector sees.
DEFAULT_DETECT_SIZE = 256

_FORMAT = "faceswap_lib.alignments/1"


@dataclass
class ExtractSummary:
    """What :func:`extract` did. ``frames_per_second`` counts frames read (decoded and processed)."""

    video: str
    out_dir: str
    frames_read: int
    faces_saved: int
    frames_without_face: int
    seconds: float

    @property
    def frames_per_second(self) -> float:
        return self.frames_read / self.seconds if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "frames_per_second": self.frames_per_second}


def _write_png(path: Path, rgb_uint8: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb_uint8[..., ::-1])):
        raise OSError(f"could not write {path}")


def _format_sidecar(sidecar: dict[str, Any]) -> str:
    """JSON with the header fields one per line and each face on one line (diffable, greppable)."""
    header = {k: v for k, v in sidecar.items() if k != "faces"}
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in header.items()]
    faces = ",\n".join(f"  {json.dumps(face)}" for face in sidecar["faces"])
    return "{\n" + "\n".join(lines) + '\n "faces": [\n' + faces + ("\n" if faces else "") + " ]\n}\n"


def extract(
    video_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    size: int = 256,
    padding: float = DEFAULT_PADDING,
    every_nth: int = 1,
    max_frames: int | None = None,
    progress: bool = True,
    *,
    detect_size: int | None = DEFAULT_DETECT_SIZE,
    upsample: int = 0,
    model_path: str | os.PathLike | None = None,
) -> ExtractSummary:
    """Detect, align and save the largest face of every frame of a clip.

    Args:
        video_path: the clip (anything ``cv2.VideoCapture`` decodes).
        out_dir: folder for the crops and ``alignments.json`` (created; one folder per clip,
            because the sidecar's name is fixed).
        size: side of the square aligned crops, pixels.
        padding: crop margin on each side as a fraction of ``size`` (see
            :data:`faceswap_lib.align.DEFAULT_PADDING`).
        every_nth: process frames 0, n, 2n, ... only.
        max_frames: stop after this many processed frames (None: the whole clip).
        progress: show a tqdm progress bar.
        detect_size: long side of the frame copy the detector sees (None: full resolution).
        upsample: dlib detector upsampling (1 finds faces half as large, 4x slower).
        model_path: another 68-point model file.

    Returns:
        An :class:`ExtractSummary` (its time excludes loading the models, which happens once per
        process and takes a few seconds). Crops are ``<clip stem>_<frame:06d>.png`` (uint8 RGB PNG).

    Raises:
        FileNotFoundError / faceswap_lib.video.VideoError: the clip is missing, cannot be
            opened, or has no decodable frame (the message names the file).
    """
    video_path = Path(video_path)
    info = video_info(video_path)  # fails early, naming the file, if it cannot be opened
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    total = -(-info.frame_count // every_nth) if info.frame_count > 0 else None
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    load_models(model_path)  # a few seconds, once per process: not part of the measured time
    frames = read_frames(video_path, every_nth=every_nth, max_frames=max_frames, as_uint8=True)
    if progress:
        # The plain text bar, not tqdm.auto: a widget bar needs ipywidgets and is lost in stored
        # notebooks. One update per second keeps a stored notebook's output short.
        from tqdm import tqdm

        frames = tqdm(frames, total=total, desc=f"extract {video_path.name}", unit="frame", mininterval=1.0)

    faces: list[dict[str, Any]] = []
    without_face: list[int] = []
    frames_read = 0
    start = time.perf_counter()
    for index, frame in frames:
        frames_read += 1
        found = detect(frame, upsample=upsample, detect_size=detect_size, model_path=model_path)
        if not found and detect_size is not None:
            found = detect(frame, upsample=upsample, detect_size=None, model_path=model_path)
        if not found:
            without_face.append(index)
            continue
        face = found[0]  # detect() sorts by size: the largest face
        crop, matrix = aligned_crop(frame, face.landmarks, size, padding)
        name = f"{video_path.stem}_{index:06d}.png"
        _write_png(out / name, crop)
        faces.append({
            "file": name,
            "frame": index,
            "box": list(face.box),
            "score": round(face.score, 4),
            "faces_in_frame": len(found),
            "landmarks": face.landmarks.tolist(),
            "matrix": matrix.tolist(),
        })
    seconds = time.perf_counter() - start

    sidecar = {
        "format": _FORMAT,
        "video": video_path.name,
        "video_path": str(video_path.resolve()),
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "size": size,
        "padding": padding,
        "every_nth": every_nth,
        "max_frames": max_frames,
        "detect_size": detect_size,
        "frames_read": frames_read,
        "frames_without_face": without_face,
        "faces": faces,
    }
    (out / ALIGNMENTS_FILE).write_text(_format_sidecar(sidecar), encoding="utf-8")
    return ExtractSummary(
        video=str(video_path),
        out_dir=str(out),
        frames_read=frames_read,
        faces_saved=len(faces),
        frames_without_face=len(without_face),
        seconds=seconds,
    )


def read_alignments(path: str | os.PathLike) -> dict[str, Any]:
    """Load an ``alignments.json`` (or the folder holding one), with NumPy arrays per face.

    Returns the sidecar as a dict; in each entry of ``"faces"``, ``"landmarks"`` is a (68, 2)
    float64 array, ``"matrix"`` a (2, 3) float64 array and ``"box"`` a tuple
    (left, top, right, bottom).
    """
    path = Path(path)
    if path.is_dir():
        path = path / ALIGNMENTS_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a faceswap_lib alignments file (format {data.get('format')!r})")
    for face in data["faces"]:
        face["landmarks"] = np.asarray(face["landmarks"], dtype=np.float64)
        face["matrix"] = np.asarray(face["matrix"], dtype=np.float64)
        face["box"] = tuple(face["box"])
    return data
