"""Extract aligned faces from a video clip: the first step of a face swap.

For every frame (or every n-th): find the faces, keep the largest, predict its 68 landmarks, cut
out the aligned crop (:mod:`faceswap_lib.align`) and save it as a PNG. One JSON sidecar per folder,
``alignments.json`` (its format: :mod:`faceswap_lib.alignments`), keeps what the later steps need to put a generated face back: per saved crop
the clip, the frame index, the detector box, the 68 landmarks and the 2 x 3 matrix (frame ->
crop), plus per clip its settings, the frames where no face was found and the frames that could
not be decoded.

Several clips in one folder: extracting another clip into a folder that already holds an
``alignments.json`` **merges** it in. Crops are named ``<clip key>_<frame:06d>.png`` and every face
entry carries its clip key (the clip's file stem, made unique with ``-2``, ``-3`` ... if another
clip with the same stem is already there), so two clips' frames cannot collide. Extracting the
*same* clip again (same resolved path) replaces that clip's entries and removes its old crops that
the new run did not write (``overwrite=False``, the command line without ``--overwrite``, refuses
that instead: the earlier faces are kept). All clips of one folder share one crop size and padding (training
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
counted as faceless (:func:`faceswap_lib.landmarks.detect_faces`, which convert and score use too). ``benchmarks/extract_faces.py`` measures the frame rate on the provided clips.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sr_lib.data.io import write_image
from sr_lib.files import FileError, atomic_path, refuse_same_file, temporary_name

from .align import aligned_crop
from .alignments import ALIGNMENTS_FILE, FORMAT, format_alignments, read_alignments
from .errors import Interrupted
from .landmarks import DEFAULT_DETECT_SIZE, detect_faces, load_models
from .recipe import MIN_EXTRACT_SIZE, RECIPE
from .video import ReadReport, read_frames, video_info

__all__ = ["ExtractSummary", "extract"]


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


def _refuse_replacing(out: Path, old: dict[str, Any] | None, key: str, rerun: bool) -> None:
    """Raise FileError if this run (clip ``key``) would replace faces already in ``out``."""
    remedy = "pass --overwrite (overwrite=True) to replace them, or choose another folder"
    if rerun:
        n = sum(1 for f in old["faces"] if f["video"] == key)
        raise FileError(out, f"already holds {n} face{'s' * (n != 1)} of this clip (clip key {key}) from an earlier "
                             f"extract; extracting it again would replace them: {remedy}")
    listed = {f["file"] for f in old["faces"]} if old else set()
    clashing = sorted(p.name for p in out.glob(f"{key}_[0-9]*.png") if p.name not in listed) if out.is_dir() else []
    if clashing:
        raise FileError(out, f"already holds {len(clashing)} face{'s' * (len(clashing) != 1)} named like this clip's "
                             f"crops ({clashing[0]}, ...) that its {ALIGNMENTS_FILE} does not list; extracting "
                             f"would replace them: {remedy}")


def extract(
    video_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    size: int = RECIPE.extract_size,
    padding: float = RECIPE.extract_padding,
    every_nth: int = 1,
    max_frames: int | None = None,
    progress: bool = True,
    *,
    detect_size: int | None = DEFAULT_DETECT_SIZE,
    upsample: int = 0,
    model_path: str | os.PathLike | None = None,
    overwrite: bool = True,
) -> ExtractSummary:
    """Detect, align and save the largest face of every frame of a clip.

    Args:
        video_path: the clip (anything ``cv2.VideoCapture`` decodes).
        out_dir: folder for the crops and ``alignments.json`` (created). If it already holds
            other clips, this one is merged in (see the module notes).
        size: side of the square aligned crops, pixels (default: the recipe's, 256;
            :data:`faceswap_lib.recipe.RECIPE`).
        padding: crop margin on each side as a fraction of ``size`` (default: the recipe's, 0.25,
            :data:`faceswap_lib.align.DEFAULT_PADDING`; training cuts its tighter crop from it).
        every_nth: process frames 0, n, 2n, ... only.
        max_frames: stop after this many processed frames (None: the whole clip).
        progress: show a tqdm progress bar.
        detect_size: long side of the frame copy the detector sees (None: full resolution).
        upsample: dlib detector upsampling (1 finds faces half as large, 4x slower).
        model_path: another 68-point model file.
        overwrite: extracting a clip the folder already holds replaces its faces (True, the
            default); False refuses that (``python -m faceswap_lib extract`` without
            ``--overwrite``), and also refuses to write over crops of this clip's names that the
            folder's ``alignments.json`` does not list. Other clips are merged in either way.

    Returns:
        An :class:`ExtractSummary` (its time excludes loading the models, which happens once per
        process and takes a few seconds). Crops are ``<clip key>_<frame:06d>.png`` (uint8 RGB
        PNG). Frames that cannot be decoded are skipped and listed in the summary. When no face
        was found, ``faces_saved`` is 0 and nothing was written (the folder is as before).

    Raises:
        FileNotFoundError / faceswap_lib.video.VideoError: the clip is missing, cannot be
            opened, or has no decodable frame (the message names the file).
        faceswap_lib.files.FileError: ``out_dir`` is the clip itself or a file, or holds an
            unreadable ``alignments.json``, or clips of another crop size / padding, or (with
            ``overwrite=False``) faces of this clip already.
        ValueError: ``size`` below :data:`faceswap_lib.recipe.MIN_EXTRACT_SIZE`.
        faceswap_lib.errors.Interrupted: Ctrl-C; the interrupted run's crops were removed.
    """
    if isinstance(size, bool) or int(size) != size or size < MIN_EXTRACT_SIZE:
        raise ValueError(f"extract: size must be a whole number of pixels >= {MIN_EXTRACT_SIZE} "
                         f"(the smallest model input), got {size!r}")
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
    # A size mismatch first: --overwrite cannot cure it, so it is the message that helps.
    if others and (old["size"] != size or old["padding"] != padding):
        raise FileError(out / ALIGNMENTS_FILE,
                        f"holds crops of size {old['size']} with padding {old['padding']} from "
                        f"{', '.join(sorted(clips))}; asked for size {size}, padding {padding}. "
                        "Extract into another folder (one crop size per folder)")
    if not overwrite:
        _refuse_replacing(out, old, key, rerun)
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
            found = detect_faces(frame, detect_size=detect_size, upsample=upsample, model_path=model_path)
            if not found:
                without_face.append(index)
                continue
            face = found[0]  # detect() sorts by size: the largest face
            crop, matrix = aligned_crop(frame, face.landmarks, size, padding)
            name = f"{key}_{index:06d}.png"
            temporary = temporary_name(out / name)
            pending.append((temporary, out / name))
            write_image(temporary, crop)
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
    sidecar = {"format": FORMAT, "size": size, "padding": padding, "clips": clips, "faces": kept + faces}
    try:
        for temporary, final in pending:
            os.replace(temporary, final)
        with atomic_path(out / ALIGNMENTS_FILE) as temporary:
            temporary.write_text(format_alignments(sidecar), encoding="utf-8")
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
