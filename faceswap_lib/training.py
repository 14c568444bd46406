"""Train the shared-encoder face swap: load faces, make warped pairs, train resumably, save.

- :func:`load_faces` reads an ``extract`` folder (aligned PNGs + ``alignments.json``) into a
  (N, size, size, 3) float32 array, the landmark-hull masks (N, size, size, 1) and the entries.
- :func:`pair_batches` / :func:`make_dataset`: endless batches ``((warped_a, warped_b),
  (target_a, target_b))`` from :func:`faceswap_lib.augment.augment`; with masks, the mask gets
  exactly the same affine and warp as its face (see :func:`augment_with_mask`).
- :class:`PreviewCallback` writes a preview PNG every N steps, :class:`ProgressBar` a tqdm bar.
- :func:`train` puts it together with ``sr_lib.training.fit_steps`` (``BackupAndRestore`` every
  ``chunk`` steps: an interrupted run resumes and loses at most the steps since the last chunk).
- :func:`save_model` / :func:`load_model`: a model folder holds ``faceswap.json`` (settings,
  steps trained) and ``faceswap.weights.h5``.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "load_faces",
    "hull_masks",
    "augment_with_mask",
    "pair_batches",
    "make_dataset",
    "PreviewCallback",
    "ProgressBar",
    "preview_grid",
    "save_model",
    "load_model",
    "train",
]

CONFIG_FILE = "faceswap.json"
WEIGHTS_FILE = "faceswap.weights.h5"
_FORMAT = "faceswap_lib.model/1"


def hull_masks(landmarks_in_crop, size: int) -> np.ndarray:
    """(N, 68, 2) landmarks in crop pixels -> (N, size, size, 1) float32 convex-hull masks (0 or 1)."""
    from .convert import hull_mask

    return np.stack([hull_mask(points, (size, size))[..., None] for points in landmarks_in_crop]).astype(np.float32)


def load_faces(folder: str | os.PathLike, size: int, *, indices=None) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Aligned faces of one ``extract`` folder, shrunk to ``size`` px.

    Args:
        folder: a folder written by :func:`faceswap_lib.extract.extract`.
        size: side of the returned faces (crops are shrunk with INTER_AREA; never enlarged).
        indices: which faces of ``alignments.json`` to load (default all).

    Returns:
        ``(faces, masks, entries)``: (N, size, size, 3) float32 in [0, 1], (N, size, size, 1)
        float32 landmark-hull masks, and the N alignment entries (frame, landmarks, matrix ...);
        the sidecar's ``size`` and ``padding`` are copied into every entry.

    Raises:
        FileNotFoundError: no folder or no ``alignments.json`` in it (run ``extract`` first).
        ValueError: the folder holds no faces, or crops smaller than ``size``.
    """
    import cv2

    from .align import transform_points
    from .extract import ALIGNMENTS_FILE, read_alignments

    folder = Path(folder)
    if not (folder / ALIGNMENTS_FILE).is_file():
        raise FileNotFoundError(
            f"{folder}: no {ALIGNMENTS_FILE} here; run `python -m faceswap_lib extract VIDEO {folder}` first"
        )
    sidecar = read_alignments(folder)
    entries = sidecar["faces"]
    if indices is not None:
        entries = [entries[i] for i in indices]
    if not entries:
        raise ValueError(f"{folder}: no faces in {ALIGNMENTS_FILE} (was a face found in any frame?)")
    crop_size = int(sidecar["size"])
    if crop_size < size:
        raise ValueError(f"{folder}: crops are {crop_size} px, smaller than the model's {size} px; extract with --size {size} or more")
    faces, points = [], []
    for entry in entries:
        image = cv2.imread(str(folder / entry["file"]), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"{folder / entry['file']}: missing or not an image")
        if image.shape[:2] != (crop_size, crop_size):
            raise ValueError(f"{folder / entry['file']}: {image.shape[1]} x {image.shape[0]} px, expected {crop_size} x {crop_size}")
        if crop_size != size:
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        faces.append(image[..., ::-1].astype(np.float32) / 255)
        # Pixel centres: crop coordinate u maps to (u + 0.5) * size / crop_size - 0.5.
        crop_points = transform_points(entry["landmarks"], entry["matrix"])
        points.append((crop_points + 0.5) * size / crop_size - 0.5)
        entry["size"], entry["padding"] = crop_size, float(sidecar["padding"])
    return np.stack(faces), hull_masks(points, size), entries


def augment_with_mask(face, mask, rng: np.random.Generator, **kwargs):
    """:func:`faceswap_lib.augment.augment` of a face, and the *same* geometry applied to its mask.

    The mask (S, S, 1) is augmented with a copy of the generator in the state the face started
    from, colour jitter switched off: ``augment`` draws the same numbers in the same order whatever
    the pixel values (the jitter's draws with range 0 are still drawn), so the affine and the warp
    are identical. Returns ``(warped_rgba, target_rgba)``, (s, s, 4) each, the mask as channel 4.
    """
    from .augment import augment

    twin = copy.deepcopy(rng)
    warped, target = augment(face, rng, **kwargs)
    plain = {**kwargs, "brightness": 0, "contrast": 0, "saturation": 0}
    _, mask_target = augment(np.repeat(mask, 3, axis=-1).astype(np.float32), twin, **plain)
    # The input keeps RGB only (+ a dummy mask the encoder never sees); the target carries the mask.
    return np.concatenate([warped, mask_target[..., :1]], -1), np.concatenate([target, mask_target[..., :1]], -1)


def _side_batch(faces, masks, rng, batch_size, augment_kwargs):
    from .augment import augment

    picks = rng.integers(0, len(faces), size=batch_size)
    if masks is None:
        pairs = [augment(faces[i], rng, **augment_kwargs) for i in picks]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    pairs = [augment_with_mask(faces[i], masks[i], rng, **augment_kwargs) for i in picks]
    return np.stack([p[0][..., :3] for p in pairs]), np.stack([p[1] for p in pairs])


def pair_batches(faces_a, faces_b, batch_size: int, seed: int = 0, *, masks_a=None, masks_b=None, **augment_kwargs):
    """Endless ``((warped_a, warped_b), (target_a, target_b))`` NumPy batches, seeded.

    Faces are drawn with replacement; targets have 4 channels (RGB + mask) when masks are given.
    ``augment_kwargs`` go to :func:`faceswap_lib.augment.augment` (``warp``, ``rotation``, ...).
    """
    if len(faces_a) == 0 or len(faces_b) == 0:
        raise ValueError(f"pair_batches: need faces of both people, got {len(faces_a)} (A) and {len(faces_b)} (B)")
    if faces_a.shape[1:] != faces_b.shape[1:]:
        raise ValueError(f"pair_batches: size mismatch, A faces are {faces_a.shape[1:]}, B faces {faces_b.shape[1:]}")
    if (masks_a is None) != (masks_b is None):
        raise ValueError("pair_batches: give masks for both people or for neither")
    rng = np.random.default_rng(seed)
    while True:
        wa, ta = _side_batch(faces_a, masks_a, rng, batch_size, augment_kwargs)
        wb, tb = _side_batch(faces_b, masks_b, rng, batch_size, augment_kwargs)
        yield (wa, wb), (ta, tb)


def make_dataset(faces_a, faces_b, batch_size: int, seed: int = 0, *, masks_a=None, masks_b=None, **augment_kwargs):
    """:func:`pair_batches` as a prefetching ``tf.data.Dataset`` (augmentation overlaps training)."""
    import tensorflow as tf

    size = faces_a.shape[1]
    channels = 3 if masks_a is None else 4
    image = tf.TensorSpec((batch_size, size, size, 3), tf.float32)
    target = tf.TensorSpec((batch_size, size, size, channels), tf.float32)
    dataset = tf.data.Dataset.from_generator(
        lambda: pair_batches(faces_a, faces_b, batch_size, seed, masks_a=masks_a, masks_b=masks_b, **augment_kwargs),
        output_signature=((image, image), (target, target)),
    )
    return dataset.prefetch(2)


def preview_grid(model, faces_a, faces_b) -> np.ndarray:
    """One image: rows of ``[A, A->A, A->B | B, B->B, B->A]`` for the given faces, float32 RGB."""
    rows = []
    for a, b in zip(faces_a, faces_b):
        ra, rb = model.reconstruct(a[None], "a")[0, ..., :3], model.reconstruct(b[None], "b")[0, ..., :3]
        sa, sb = model.swap(a[None], "b")[0, ..., :3], model.swap(b[None], "a")[0, ..., :3]
        gap = np.ones((a.shape[0], 4, 3), np.float32)
        rows.append(np.concatenate([a, ra, sa, gap, b, rb, sb], axis=1))
    return np.concatenate(rows, axis=0)


def _write_png(path, image):
    """Float RGB [0, 1] -> 8-bit PNG, via a temporary file renamed on success."""
    import cv2

    from sr_lib.images import to_uint8

    from sr_lib.files import FileError, atomic_path

    pixels = to_uint8(image, name=str(path))
    with atomic_path(path) as temporary:
        if not cv2.imwrite(str(temporary), np.ascontiguousarray(pixels[..., ::-1])):
            raise FileError(path, "could not write the PNG")


def _keras_callback():
    import keras

    return keras.callbacks.Callback


class PreviewCallback(_keras_callback()):
    """Every ``every`` steps write ``preview_<step>.png`` (see :func:`preview_grid`) into ``folder``."""

    def __init__(self, faces_a, faces_b, folder, every: int, start_step: int = 0):
        super().__init__()
        self.faces_a, self.faces_b, self.every = faces_a, faces_b, int(every)
        self.folder, self.step = Path(folder), int(start_step)
        self.written: list[Path] = []

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.every > 0 and self.step % self.every == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"preview_{self.step:07d}.png"
            _write_png(path, preview_grid(self.model, self.faces_a, self.faces_b))
            self.written.append(path)


class ProgressBar(_keras_callback()):
    """A tqdm bar over all training steps showing ``loss_a`` and ``loss_b`` (plain text, 1 update/s)."""

    def __init__(self, total: int, initial: int = 0, desc: str = "train"):
        super().__init__()
        self.total, self.initial, self.desc = total, initial, desc
        self.bar = None

    def on_train_begin(self, logs=None):
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, initial=self.initial, desc=self.desc, unit="step", mininterval=1.0)

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs:
            self.bar.set_postfix({k: f"{float(v):.4f}" for k, v in logs.items() if k in ("loss_a", "loss_b")}, refresh=False)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()


class _StepWatch(_keras_callback()):
    """Counts steps and chunks; a non-finite loss stops training with :class:`NonFiniteLoss`."""

    def __init__(self, start_step: int, chunk: int):
        super().__init__()
        self.start, self.chunk = int(start_step), int(chunk)
        self.done_chunks = 0  # whole chunks behind us (a run resumed from a backup starts later)
        self.in_chunk = 0

    @property
    def step(self) -> int:
        """The last finished step, counted over the model's whole training."""
        return self.start + self.done_chunks * self.chunk + self.in_chunk

    @property
    def checkpoint(self) -> int:
        """The step of the last backup (``BackupAndRestore`` saves after every whole chunk), or the
        model folder's step when no chunk of this run finished."""
        return self.start + self.done_chunks * self.chunk

    def on_epoch_begin(self, epoch, logs=None):
        self.done_chunks, self.in_chunk = int(epoch), 0

    def on_epoch_end(self, epoch, logs=None):
        self.done_chunks, self.in_chunk = int(epoch) + 1, 0

    def on_train_batch_end(self, batch, logs=None):
        self.in_chunk += 1
        for name, value in (logs or {}).items():
            if "loss" in name and not math.isfinite(float(value)):
                raise NonFiniteLoss(self.step, name, float(value))


class NonFiniteLoss(ValueError):
    """Training produced a NaN or infinite loss; the model folder was not touched."""

    def __init__(self, step: int, name: str, value: float):
        super().__init__(f"{name} became {'NaN' if math.isnan(value) else value} at step {step}")
        self.step, self.name, self.value = step, name, value


def save_model(model, folder, settings: dict[str, Any]) -> Path:
    """Write ``faceswap.weights.h5`` and ``faceswap.json`` (``settings``: factory arguments, steps, ...).

    Both are written under temporary names first and renamed only when both are complete, so a
    failure (disk full, interrupted) leaves the folder's earlier model as it was.
    """
    from sr_lib.files import atomic_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS_FILE) as weights, atomic_path(folder / CONFIG_FILE) as config:
        model.save_weights(str(weights))
        config.write_text(json.dumps({"format": _FORMAT, **settings}, indent=1) + "\n", encoding="utf-8")
    return folder


def read_settings(folder) -> dict[str, Any]:
    """The ``faceswap.json`` of a model folder; FileNotFoundError / ValueError name the folder."""
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
    if not isinstance(settings, dict) or settings.get("format") != _FORMAT:
        found = settings.get("format") if isinstance(settings, dict) else None
        raise FileError(path, f"not a faceswap_lib model file (format {found!r})")
    if not isinstance(settings.get("model"), dict):
        raise FileError(path, "has no \"model\" settings (the factory arguments)")
    return settings


def load_model(folder):
    """``(model, settings)`` from a folder written by :func:`save_model`.

    Raises:
        FileNotFoundError: no folder, or no settings / weights file in it.
        faceswap_lib.files.FileError: settings that are not ours, or a weights file that cannot be
            loaded (truncated, corrupt, or of another model); the message names the file.
    """
    from sr_lib.files import FileError
    from .models import faceswap_autoencoder

    folder = Path(folder)
    settings = read_settings(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{folder}: {WEIGHTS_FILE} is missing (was training interrupted before the first save?)")
    try:
        model = faceswap_autoencoder(**settings["model"])
    except (TypeError, ValueError) as error:
        raise FileError(folder / CONFIG_FILE, f"its model settings do not build a model ({error})") from error
    try:
        model.load_weights(str(weights))
    except Exception as error:  # h5py OSError, Keras ValueError, ... : all mean "not these weights"
        text = " ".join(str(error).split())
        raise FileError(weights, f"cannot load the weights ({type(error).__name__}: {text})") from error
    return model, settings


def train(
    dir_a,
    dir_b,
    model_dir,
    *,
    steps: int = 1000,
    batch_size: int = 16,
    size: int = 64,
    learning_rate: float = 1e-4,
    chunk: int = 100,
    preview_every: int = 0,
    mask: bool = False,
    model_kwargs: dict | None = None,
    seed: int = 0,
    progress: bool = True,
    verbose: bool = False,
):
    """Train (or continue training) a face-swap model on two ``extract`` folders; save it in ``model_dir``.

    If ``model_dir`` already holds a model, training continues from its weights (its size must
    match ``size``); ``steps`` more steps are trained. Inside a run, ``BackupAndRestore`` in
    ``model_dir/backup`` saves every ``chunk`` steps, so calling ``train`` again after an
    interruption resumes the run. ``steps`` is rounded up to whole chunks. Previews go to ``model_dir/previews`` every ``preview_every``
    steps (0: none).

    Refused before anything runs: a ``model_dir`` that is ``dir_a`` or ``dir_b``, ``dir_a`` and
    ``dir_b`` the same folder, a learning rate that is not positive and finite, and ``mask=True``
    on an existing model trained without a mask (like a size mismatch).

    Returns:
        ``(model, history, settings)``.

    Raises:
        sr_lib.files.FileError: a non-finite loss (the model folder is left as it was, nothing saved).
        faceswap_lib.errors.Interrupted: Ctrl-C; says the step reached and the last backup's step
            (calling ``train`` again continues from it).
    """
    import keras

    from sr_lib.training import fit_steps

    from .models import faceswap_autoencoder

    from sr_lib.files import FileError

    from .errors import Interrupted, refuse_overlapping_folders

    model_dir = Path(model_dir)
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate}")
    refuse_overlapping_folders(dir_a, dir_b, model_dir)  # never write the model into a face folder
    if model_dir.exists() and not model_dir.is_dir():  # found now, not after the whole training
        raise FileError(model_dir, "exists and is not a folder (the model folder must be one)")
    faces_a, masks_a, entries_a = load_faces(dir_a, size)
    faces_b, masks_b, entries_b = load_faces(dir_b, size)
    (crop_a, pad_a), (crop_b, pad_b) = ((e[0]["size"], e[0]["padding"]) for e in (entries_a, entries_b))
    if crop_a != crop_b:
        raise ValueError(f"size mismatch: {dir_a} holds {crop_a} px crops, {dir_b} {crop_b} px; extract both with the same --size")
    if pad_a != pad_b:
        raise ValueError(f"padding mismatch: {dir_a} was extracted with padding {pad_a}, {dir_b} with {pad_b}")
    previous_steps = 0
    model_args = {"size": size, "mask": mask, **(model_kwargs or {})}
    if (model_dir / CONFIG_FILE).is_file():
        model, old = load_model(model_dir)
        if old["model"]["size"] != size:
            raise ValueError(f"size mismatch: {model_dir} holds a {old['model']['size']} px model, asked to train {size} px")
        if mask and not old["model"].get("mask", False):
            raise ValueError(f"mask mismatch: {model_dir} holds a model trained without a mask, asked to train "
                             "with --mask; a mask needs a new model: train into another model folder")
        model_args, previous_steps = old["model"], int(old.get("steps", 0))
    else:
        keras.utils.set_random_seed(seed)
        model = faceswap_autoencoder(**model_args)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=0.999))
    dataset = make_dataset(faces_a, faces_b, batch_size, seed + previous_steps,
                           masks_a=masks_a if model_args["mask"] else None,
                           masks_b=masks_b if model_args["mask"] else None)
    chunk = min(chunk, steps)
    trained = -(-steps // chunk) * chunk  # fit_steps trains whole chunks
    watch = _StepWatch(previous_steps, chunk)
    callbacks = [watch]
    if progress:
        callbacks.append(ProgressBar(previous_steps + trained, previous_steps))
    if preview_every:
        callbacks.append(PreviewCallback(faces_a[:4], faces_b[:4], model_dir / "previews", preview_every, previous_steps))
    try:
        history = fit_steps(model, dataset, steps, chunk=chunk, backup_dir=model_dir / "backup",
                            batch_size=2 * batch_size, callbacks=callbacks, verbose=verbose)
    except KeyboardInterrupt as error:  # Ctrl-C: the backup of the last whole chunk lets a re-run continue
        raise Interrupted(model_dir, f"stopped at step {watch.step}; last checkpoint at step {watch.checkpoint}; "
                                     "run the same command to continue") from error
    except NonFiniteLoss as error:  # never save NaN weights over the model
        raise FileError(model_dir, f"{error}; model folder left at step {previous_steps} (try a smaller "
                                   "--learning-rate)") from error
    settings = {
        "model": model_args,
        "steps": previous_steps + trained,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "padding": pad_a,
        "crop_size": crop_a,
        "a": str(Path(dir_a).resolve()),
        "b": str(Path(dir_b).resolve()),
    }
    save_model(model, model_dir, settings)
    return model, history, settings
