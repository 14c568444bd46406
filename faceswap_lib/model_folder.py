"""A model folder and its faces, readable without TensorFlow: what ``train`` writes, ``convert`` and ``score`` read.

A model folder holds ``faceswap.json`` (the settings: the model factory's arguments, the steps and
seconds trained so far, the learning rate, the crop size and padding of the faces, the two face
folders, and which faces were held out), ``faceswap.weights.h5``, ``faceswap.optimizer.npz`` (Adam's
state, for resuming), and while training ``backup/`` and ``previews/``. This module imports neither TensorFlow nor Keras (importing them takes 10-20 s
on a busy CPU), so the command line checks a model folder, its face folders and the options given
before it loads TensorFlow: a missing folder or a finished run is reported at once.

Held-out faces (``train --holdout FRACTION``): of every clip in a face folder, the *last*
``ceil(FRACTION x faces of that clip)`` faces in frame order are kept out of training (a contiguous
end of the clip, not every n-th frame: neighbouring frames are near-duplicates, so frames between
trained ones would not be unseen). :func:`holdout_split` makes the split and the record stored under
``"holdout"`` in ``faceswap.json``; :func:`held_out_frames` reads it back for ``score``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "OPTIMIZER_FILE",
    "FORMAT",
    "RECOMMENDED_FACES",
    "read_settings",
    "holdout_split",
    "held_out_frames",
    "find_clip",
    "face_counts",
    "resume_check",
    "finished",
]

CONFIG_FILE = "faceswap.json"
WEIGHTS_FILE = "faceswap.weights.h5"
#: Adam's state (step count and moments) at the last save, so a resumed run continues the same
#: optimisation instead of restarting Adam's moments; optional (older folders have none).
OPTIMIZER_FILE = "faceswap.optimizer.npz"
FORMAT = "faceswap_lib.model/1"

#: ``train`` warns when a person has fewer training faces than this. A rule of thumb, not a
#: measurement: the decoder can only learn the expressions and head poses it is shown, and a few
#: dozen frames of a clip cover a handful of them. The course's clips give 536 (d14) and 1,008 (d6).
RECOMMENDED_FACES = 200


def read_settings(folder) -> dict[str, Any]:
    """The ``faceswap.json`` of a model folder, as a dict.

    Raises:
        FileNotFoundError: no such folder, or no ``faceswap.json`` in it (the message names the folder).
        sr_lib.files.FileError: the file is not valid JSON or not a faceswap_lib model file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: model folder not found (train one with `python -m faceswap_lib train`)")
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a face-swap model folder: {CONFIG_FILE} is missing")
    from sr_lib.files import FileError

    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FileError(path, f"not a faceswap_lib model file: not valid JSON ({error})") from error
    if not isinstance(settings, dict) or settings.get("format") != FORMAT:
        found = settings.get("format") if isinstance(settings, dict) else None
        raise FileError(path, f"not a faceswap_lib model file (format {found!r})")
    if not isinstance(settings.get("model"), dict):
        raise FileError(path, "has no \"model\" settings (the factory arguments)")
    return settings


def holdout_split(entries: list[dict], fraction: float, clips: dict[str, dict] | None = None):
    """Split a face folder's faces into training and held-out faces: the last share of every clip.

    Args:
        entries: the ``"faces"`` of :func:`faceswap_lib.alignments.read_alignments` (each has
            ``"video"``, its clip key, and ``"frame"``).
        fraction: share of each clip's faces to hold out, in [0, 1); 0 holds out nothing. A clip
            with faces keeps at least one for training and, when ``fraction > 0``, holds out at least one.
        clips: the sidecar's ``"clips"`` (clip key -> settings), to record each clip's ``video_path``.

    Returns:
        ``(train_indices, held_indices, record)``: sorted indices into ``entries``, and a JSON-able
        record ``{clip key: {"first_frame": F, "faces": n held out, "video_path": ...}}`` meaning
        "frames >= F of this clip were never trained on" (empty when ``fraction`` is 0).

    Raises:
        ValueError: ``fraction`` outside [0, 1) or not finite.
    """
    if not (isinstance(fraction, (int, float)) and math.isfinite(fraction) and 0 <= fraction < 1):
        raise ValueError(f"holdout fraction must be in [0, 1), got {fraction}")
    by_clip: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        by_clip.setdefault(entry.get("video", ""), []).append(i)
    train, held, record = [], [], {}
    for key, indices in by_clip.items():
        indices = sorted(indices, key=lambda i: entries[i]["frame"])
        n_held = min(math.ceil(fraction * len(indices)), len(indices) - 1) if fraction > 0 else 0
        cut = len(indices) - n_held
        train += indices[:cut]
        held += indices[cut:]
        if n_held:
            record[key] = {"first_frame": int(entries[indices[cut]]["frame"]), "faces": n_held,
                           "video_path": (clips or {}).get(key, {}).get("video_path")}
    return sorted(train), sorted(held), record


def find_clip(record: dict[str, dict], video: str | os.PathLike) -> str | None:
    """The key of ``video`` among the clips of a holdout or ``"clips"`` record, or None.

    Matched by the same file (:func:`sr_lib.files.same_file`) when the recorded path exists, else
    by the file's stem (a clip copied elsewhere keeps its name).
    """
    from sr_lib.files import same_file

    video = Path(video)
    for key, clip in record.items():
        path = clip.get("video_path")
        if path and Path(path).exists() and video.exists() and same_file(path, video):
            return key
    for key, clip in record.items():
        path = clip.get("video_path")
        if (Path(path).stem if path else key) == video.stem or key == video.stem:
            return key
    return None


def held_out_frames(settings: dict[str, Any], side: str, video: str | os.PathLike) -> tuple[int | None, str]:
    """Which frames of ``video`` person ``side`` ("a" or "b") of a model never trained on.

    Returns:
        ``(first_frame, status)``: frames ``>= first_frame`` were never trained on, and a word:
        ``"held out"`` (the clip was trained on, its end held out: ``first_frame`` is set),
        ``"unseen clip"`` (the clip is not one of the person's training clips: ``first_frame`` 0),
        ``"trained on"`` (the whole clip was trained on: ``first_frame`` None).
    """
    if side not in ("a", "b"):
        raise ValueError(f"side must be 'a' or 'b', got {side!r}")
    holdout = (settings.get("holdout") or {}).get(side) or {}
    key = find_clip(holdout, video)
    if key is not None:
        return int(holdout[key]["first_frame"]), "held out"
    clips = (settings.get("clips") or {}).get(side)
    if clips is None and settings.get(side):  # a model from before clips were recorded: its face folder's
        try:
            from .alignments import read_alignments

            clips = read_alignments(settings[side], arrays=False)["clips"]
        except (OSError, ValueError, KeyError):
            return None, "trained on"  # cannot tell: assume the worst
    if clips and find_clip(clips, video) is not None:
        return None, "trained on"
    return 0, "unseen clip"


def face_counts(folder: str | os.PathLike, holdout: float = 0.0) -> tuple[int, int]:
    """``(training faces, held-out faces)`` of an ``extract`` folder for a holdout fraction (reads
    only ``alignments.json``). Raises FileNotFoundError without one (says to run ``extract``)."""
    from .alignments import ALIGNMENTS_FILE, read_alignments

    folder = Path(folder)
    if not (folder / ALIGNMENTS_FILE).is_file():
        raise FileNotFoundError(
            f"{folder}: no {ALIGNMENTS_FILE} here; run `python -m faceswap_lib extract VIDEO {folder}` first")
    sidecar = read_alignments(folder, arrays=False)
    train, held, _ = holdout_split(sidecar["faces"], holdout)
    return len(train), len(held)


def resume_check(model_dir: str | os.PathLike, *, size: int, mask: bool = False,
                 holdout: float | None = None, dir_a: str | os.PathLike | None = None,
                 dir_b: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """The settings of the model ``train`` would continue in ``model_dir``, or None for a new model.

    ``dir_a`` and ``dir_b`` (when given) must be the face folders the model was trained on,
    compared as resolved paths with the ``"a"`` and ``"b"`` of its ``faceswap.json``: the folders
    swapped (``train B A MODEL`` on a model trained as ``train A B MODEL``) would teach each decoder
    the other person's face. A model whose settings do not record them, or whose recorded folder no
    longer exists (moved), is accepted; training records the folders given.

    Raises:
        sr_lib.files.FileError: ``model_dir`` exists and is not a folder, or its ``faceswap.json``
            is not ours.
        ValueError: the model cannot continue with these options: another ``size``, ``mask`` asked
            of a model without one, or a ``holdout`` fraction other than the one it was trained with
            (the held-out faces would be trained on, or the record would lie), or face folders
            other than the ones it was trained on (``dir_a``, ``dir_b``).
    """
    from sr_lib.files import FileError

    model_dir = Path(model_dir)
    if model_dir.exists() and not model_dir.is_dir():
        raise FileError(model_dir, "exists and is not a folder (the model folder must be one)")
    if not (model_dir / CONFIG_FILE).is_file():
        return None
    old = read_settings(model_dir)
    if old["model"].get("size") != size:
        raise ValueError(f"size mismatch: {model_dir} holds a {old['model'].get('size')} px model, asked to train {size} px")
    if mask and not old["model"].get("mask", False):
        raise ValueError(f"mask mismatch: {model_dir} holds a model trained without a mask, asked to train "
                         "with --mask; a mask needs a new model: train into another model folder")
    recorded = float((old.get("holdout") or {}).get("fraction", 0.0))
    if holdout is not None and not math.isclose(holdout, recorded):
        raise ValueError(f"holdout mismatch: {model_dir} was trained with --holdout {recorded:g}, asked for "
                         f"{holdout:g}; leave --holdout out to continue, or train into another model folder")
    _check_face_folders(model_dir, old, dir_a, dir_b)
    return old


def _check_face_folders(model_dir: Path, old: dict[str, Any], dir_a, dir_b) -> None:
    """Refuse face folders other than the recorded ones (see :func:`resume_check`)."""
    if dir_a is None or dir_b is None:
        return
    given = {"a": Path(dir_a).resolve(), "b": Path(dir_b).resolve()}
    recorded = {side: Path(old[side]).resolve() if isinstance(old.get(side), str) and old[side] else None
                for side in ("a", "b")}
    wrong = [side for side in ("a", "b")
             if recorded[side] is not None and recorded[side].exists() and recorded[side] != given[side]]
    if not wrong:
        return
    swapped = recorded["a"] == given["b"] and recorded["b"] == given["a"]
    why = ("the two folders are swapped: each decoder would learn the other person's face"
           if swapped else "another person's faces would be trained into its decoder")
    raise ValueError(f"folders mismatch: {model_dir} was trained on A = {recorded['a']} and B = {recorded['b']}, "
                     f"asked to train A = {given['a']} and B = {given['b']}; {why}. Give the folders in the order "
                     "it was trained on (A first), or train into another model folder")


def finished(settings: dict[str, Any] | None, steps: int | None, minutes: float | None) -> str | None:
    """Why a model needs no more training for these totals, or None if it does.

    ``steps`` and ``minutes`` are totals over the model's whole training (None: no such limit);
    the model has reached them when its ``"steps"`` >= ``steps`` or its ``"seconds"`` >= 60 x ``minutes``.
    """
    if settings is None:
        return None
    done_steps, done_seconds = int(settings.get("steps", 0)), float(settings.get("seconds", 0.0))
    if steps is not None and done_steps >= steps:
        return (f"already trained to step {done_steps} (--steps {steps} is the total); nothing to do: "
                "give a larger --steps to train on")
    if minutes is not None and done_seconds >= 60 * minutes:
        return (f"already trained for {done_seconds / 60:.1f} minutes, step {done_steps} (--minutes {minutes:g} is "
                "the total); nothing to do: give a larger --minutes to train on")
    return None
