"""Extract aligned faces from a video clip: the first step of a face swap.

For every frame (or every n-th): find the faces, keep the largest, predict its 68 landmarks, cut
out the aligned crop (:mod:`faceswap_lib.align`) and save it as a PNG. One JSON sidecar per folder,
``alignments.json``, keeps what the later steps need to put a generated face back: per saved crop
the clip, the frame index, the detector box, the 68 landmarks and the 2 x 3 matrix (frame ->
crop), plus per clip its settings, the frames where no face was found and the frames that could
not be decoded.

Several clips in one folder: extracting another clip into a folder that already holds an
``alignments.json`` **merges** it in. Crops are named ``<clip key>_<frame:06d>.png`` and every face
entry carries its clip key (the clip's file stem, made unique with ``-2``, ``-3`` ... if another
clip with the same stem is already there), so two clips' frames cannot collide. Extracting the
*same* clip again (same resolved path) replaces that clip's entries and removes its old crops that
the new run did not write. All clips of one folder share one crop size and padding (training
needs that); a different size or padding is refused, unless the folder holds only this clip.
Files of the earlier format (``faceswap_lib.alignments/1``, one clip) are read as a one-clip
folder and upgraded when something is merged into them.

A failed run changes nothing: the crops are written under temporary names and renamed, with the
sidecar after them, only when the run is complete and found at least one face
(:mod:`sr_lib.files`). A clip with no face (or no decodable frame) leaves ``alignments.json``
byte-identical, or not created, and a new folder is removed again. Ctrl-C (``KeyboardInterrupt``)
is a failure too: the interrupted run's crops are deleted, the sidecar stays as it was (no orphan
crops, nothing half-merged), and :class:`faceswap_lib.errors.Interrupted` says at which frame.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .align import DEFAULT_PADDING, aligned_crop
from sr_lib.files import FileError, atomic_path, refuse_same_file, temporary_name
from .errors import Interrupted
from .landmarks import detect, load_models
from .video import ReadReport, read_frames, video_info

__all__ = ["ALIGNMENTS_FILE", "DEFAULT_DETECT_SIZE", "ExtractSummary", "extract", "read_alignments"]

#: Name of the per-clip sidecar written next to the crops.
ALIGNMENTS_FILE = "alignments.json"

#: Long side (pixels) of the frame copy the detector sees.
DEFAULT_DETECT_SIZE = 256

_FORMAT = "faceswap_lib.alignments/2"
_OLD_FORMAT = "faceswap_lib.alignments/1"  # one clip, its settings at the top level; still read

#: Per-clip fields of the sidecar (under ``"clips"``; at the top level in the old format).
_CLIP_FIELDS = ("video", "video_path", "width", "height", "fps", "every_nth", "max_frames", "detect_size",
                "frames_read", "frames_without_face", "frame_count", "undecodable_frames")


@dataclass
class ExtractSummary:
    """What :func:`extract` did. ``frames_per_second`` counts frames read (decoded and processed).

    ``frame_count`` is what the container announces; ``undecodable_frames`` the indices of frames
    OpenCV could not decode (skipped; a damaged file), see :class:`faceswap_lib.video.ReadReport`.
    ``clip`` is the key of this clip in the folder's sidecar (the prefix of its crop names).
    """

    video: str
    out_dir: str
    frames_read: int
    faces_saved: int
    frames_without_face: int
    seconds: float
    frame_count: int = 0
    undecodable_frames: list[int] = field(default_factory=list)
    clip: str = ""
    read_report: str = ""

    @property
    def frames_per_second(self) -> float:
        return self.frames_read / self.seconds if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "frames_per_second": self.frames_per_second}


def _write_png(path: Path, rgb_uint8: np.ndarray) -> None:
    """Write an RGB uint8 PNG via a temporary file (an earlier crop survives a failed write)."""
    import cv2

    with atomic_path(path) as temporary:
        if not cv2.imwrite(str(temporary), np.ascontiguousarray(rgb_uint8[..., ::-1])):
            raise FileError(path, "could not write the PNG")


def _format_sidecar(sidecar: dict[str, Any]) -> str:
    """JSON with the header fields one per line and each face on one line (diffable, greppable)."""
    header = {k: v for k, v in sidecar.items() if k != "faces"}
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in header.items()]
    faces = ",\n".join(f"  {json.dumps(face)}" for face in sidecar["faces"])
    return "{\n" + "\n".join(lines) + '\n "faces": [\n' + faces + ("\n" if faces else "") + " ]\n}\n"


def _clip_key(clips: dict[str, dict], video_path: Path) -> tuple[str, bool]:
    """(key, replaces): this clip's key in ``clips``, and whether it is already there (a re-run)."""
    resolved = str(video_path.resolve())
    stem, n = video_path.stem, 1
    key = stem
    while key in clips:
        if clips[key].get("video_path") == resolved:
            return key, True
        n += 1
        key = f"{stem}-{n}"
    return key, False


def _existing(out: Path) -> dict[str, Any] | None:
    """The folder's sidecar in the current layout, or None; a broken one is refused, not replaced."""
    path = out / ALIGNMENTS_FILE
    if not path.exists():
        return None
    try:
        return read_alignments(path, arrays=False)
    except (ValueError, KeyError, TypeError) as error:
        raise FileError(path, f"exists but cannot be read ({error}); not overwriting it: "
                              "move it away or extract into another folder") from error


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
        out_dir: folder for the crops and ``alignments.json`` (created). If it already holds
            other clips, this one is merged in (see the module notes).
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
        process and takes a few seconds). Crops are ``<clip key>_<frame:06d>.png`` (uint8 RGB
        PNG). Frames that cannot be decoded are skipped and listed in the summary. When no face
        was found, ``faces_saved`` is 0 and nothing was written (the folder is as before).

    Raises:
        FileNotFoundError / faceswap_lib.video.VideoError: the clip is missing, cannot be
            opened, or has no decodable frame (the message names the file).
        faceswap_lib.files.FileError: ``out_dir`` is the clip itself or a file, or holds an
            unreadable ``alignments.json``, or clips of another crop size / padding.
        faceswap_lib.errors.Interrupted: Ctrl-C; the interrupted run's crops were removed.
    """
    video_path = Path(video_path)
    out = Path(out_dir)
    refuse_same_file(out, video_path, what="output folder")
    info = video_info(video_path)  # fails early, naming the file, if it cannot be opened
    if out.exists() and not out.is_dir():
        raise FileError(out, "exists and is not a folder")
    old = _existing(out)
    clips = dict(old["clips"]) if old else {}
    key, rerun = _clip_key(clips, video_path)
    others = {k: v for k, v in clips.items() if k != key}
    if others and (old["size"] != size or old["padding"] != padding):
        raise FileError(out / ALIGNMENTS_FILE,
                        f"holds crops of size {old['size']} with padding {old['padding']} from "
                        f"{', '.join(sorted(clips))}; asked for size {size}, padding {padding}. "
                        "Extract into another folder (one crop size per folder)")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)

    total = -(-info.frame_count // every_nth) if info.frame_count > 0 else None
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    load_models(model_path)  # a few seconds, once per process: not part of the measured time
    report = ReadReport()
    frames = read_frames(video_path, every_nth=every_nth, max_frames=max_frames, as_uint8=True, report=report)
    if progress:
        # The plain text bar, not tqdm.auto: a widget bar needs ipywidgets and is lost in stored
        # notebooks. One update per second keeps a stored notebook's output short.
        from tqdm import tqdm

        frames = tqdm(frames, total=total, desc=f"extract {video_path.name}", unit="frame", mininterval=1.0)

    faces: list[dict[str, Any]] = []
    without_face: list[int] = []
    pending: list[tuple[Path, Path]] = []  # (temporary, final) crops of this run, renamed at the end
    frames_read = 0
    index = None
    start = time.perf_counter()

    def discard():
        for temporary, _ in pending:
            temporary.unlink(missing_ok=True)
        if created and not any(out.iterdir()):
            out.rmdir()

    try:
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
            name = f"{key}_{index:06d}.png"
            temporary = temporary_name(out / name)
            pending.append((temporary, out / name))
            _write_png(temporary, crop)
            faces.append({
                "file": name,
                "video": key,
                "frame": index,
                "box": list(face.box),
                "score": round(face.score, 4),
                "faces_in_frame": len(found),
                "landmarks": face.landmarks.tolist(),
                "matrix": matrix.tolist(),
            })
    except KeyboardInterrupt as error:
        discard()
        where = "before the first frame" if index is None else f"frame {index}"
        raise Interrupted(video_path, f"interrupted at {where} ({len(faces)} faces found so far); nothing "
                                      f"written: {out / ALIGNMENTS_FILE} and the crops are as before the run") from error
    except BaseException:
        discard()
        raise
    seconds = time.perf_counter() - start
    if not faces:  # a failed run: no sidecar written or changed (the caller reports "no face found")
        discard()
        return ExtractSummary(video=str(video_path), out_dir=str(out), frames_read=frames_read, faces_saved=0,
                              frames_without_face=len(without_face), seconds=seconds,
                              frame_count=report.frame_count, undecodable_frames=list(report.undecodable),
                              clip=key, read_report="" if report.complete else report.message())

    clips = {**others, key: {
        "video": video_path.name,
        "video_path": str(video_path.resolve()),
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "every_nth": every_nth,
        "max_frames": max_frames,
        "detect_size": detect_size,
        "frame_count": report.frame_count,
        "frames_read": frames_read,
        "frames_without_face": without_face,
        "undecodable_frames": list(report.undecodable),
    }}
    kept = [f for f in (old["faces"] if old else []) if f["video"] in others]
    sidecar = {"format": _FORMAT, "size": size, "padding": padding, "clips": clips, "faces": kept + faces}
    try:
        for temporary, final in pending:
            os.replace(temporary, final)
        with atomic_path(out / ALIGNMENTS_FILE) as temporary:
            temporary.write_text(_format_sidecar(sidecar), encoding="utf-8")
    except BaseException:
        discard()
        raise
    if rerun:  # this clip's crops of the earlier run that this run did not write again
        written = {f["file"] for f in faces}
        for stale in (f["file"] for f in old["faces"] if f["video"] == key and f["file"] not in written):
            (out / stale).unlink(missing_ok=True)
    return ExtractSummary(
        video=str(video_path),
        out_dir=str(out),
        frames_read=frames_read,
        faces_saved=len(faces),
        frames_without_face=len(without_face),
        seconds=seconds,
        frame_count=report.frame_count,
        undecodable_frames=list(report.undecodable),
        clip=key,
        read_report="" if report.complete else report.message(),
    )


def read_alignments(path: str | os.PathLike, *, arrays: bool = True) -> dict[str, Any]:
    """Load an ``alignments.json`` (or the folder holding one), with NumPy arrays per face.

    Returns the sidecar as a dict: ``"size"``, ``"padding"``, ``"clips"`` (clip key -> that clip's
    settings and frame lists) and ``"faces"``; every face has ``"video"``, its clip key. When the
    folder holds one clip, that clip's fields (``"video"``, ``"frames_without_face"``, ...) are
    also at the top level, as in the earlier one-clip format, which is read too. In each face
    (with ``arrays``), ``"landmarks"`` is a (68, 2) float64 array, ``"matrix"`` a (2, 3) float64
    array and ``"box"`` a tuple (left, top, right, bottom).

    Raises:
        FileNotFoundError: no such file. ValueError: not a faceswap_lib alignments file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / ALIGNMENTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise FileError(path, f"not valid JSON ({error})") from error
    if not isinstance(data, dict) or data.get("format") not in (_FORMAT, _OLD_FORMAT):
        found = data.get("format") if isinstance(data, dict) else None
        raise FileError(path, f"not a faceswap_lib alignments file (format {found!r})")
    if data["format"] == _OLD_FORMAT:  # one clip, keyed by its stem as the old crop names were
        key = Path(data["video"]).stem
        data["clips"] = {key: {k: data[k] for k in _CLIP_FIELDS if k in data}}
        for face in data["faces"]:
            face.setdefault("video", key)
        data["format"] = _FORMAT
    if len(data["clips"]) == 1:
        data.update(next(iter(data["clips"].values())))
    if arrays:
        for face in data["faces"]:
            face["landmarks"] = np.asarray(face["landmarks"], dtype=np.float64)
            face["matrix"] = np.asarray(face["matrix"], dtype=np.float64)
            face["box"] = tuple(face["box"])
    return data
