"""Train the shared-encoder face swap: load faces, make warped pairs, train resumably, save.

- :func:`load_faces` reads an ``extract`` folder (aligned PNGs + ``alignments.json``,
  :mod:`faceswap_lib.alignments`) into a (N, size, size, 3) float32 array, the landmark-hull masks
  (N, size, size, 1; :mod:`faceswap_lib.masks`) and the entries.
- :func:`pair_batches` / :func:`make_dataset`: endless batches ``((warped_a, warped_b),
  (target_a, target_b))`` from :func:`faceswap_lib.augment.augment`; with masks, the mask gets
  exactly the same affine and warp as its face (see :func:`augment_with_mask`).
- :class:`PreviewCallback` writes a preview PNG every N steps or minutes, named by the global
  step; :class:`ProgressBar` a tqdm bar of the global step with smoothed losses.
- :func:`train` puts it together with ``sr_lib.training.fit_steps`` up to a total of steps and/or
  minutes (``BackupAndRestore`` every ``chunk`` steps; Ctrl-C saves the model at the step reached).
- :func:`save_model` / :func:`load_model`: a model folder holds ``faceswap.json`` (settings,
  steps and seconds trained, held-out faces; read without TensorFlow by
  :mod:`faceswap_lib.model_folder`) and ``faceswap.weights.h5``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "load_faces",
    "tight_crop",
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

from sr_lib.console import one_line
from sr_lib.data.io import write_image

from .masks import hull_masks, priority_masks
from .model_folder import CONFIG_FILE, FORMAT as _FORMAT, OPTIMIZER_FILE, WEIGHTS_FILE, read_settings
from .recipe import RECIPE


def tight_crop(crop_size: int, padding: float, new_padding: float | None) -> tuple[int, int, float]:
    """The centre square of an aligned ``crop_size`` crop (``padding``) that has ``new_padding``.

    Returns ``(side, offset, padding)``: the square's side and its offset in the crop, both whole
    pixels (side rounded so the border is even), and the padding that square really has, which
    ``convert`` must cut with (``aligned_crop(frame, landmarks, side, padding)`` gives the same
    pixels). ``new_padding`` None or not smaller than ``padding``: the whole crop.
    """
    if new_padding is None or new_padding >= padding:
        return int(crop_size), 0, float(padding)
    if not 0 <= new_padding < 0.5:
        raise ValueError(f"padding must be in [0, 0.5), got {new_padding}")
    inner = crop_size * (1 - 2 * padding)  # the mean face's unit square, pixels
    side = int(round(inner / (1 - 2 * new_padding)))
    side -= (crop_size - side) % 2
    return side, (crop_size - side) // 2, 0.5 - inner / (2 * side)


def load_faces(folder: str | os.PathLike, size: int, *, indices=None, padding: float | None = None,
               priority: bool = False) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Aligned faces of one ``extract`` folder, shrunk to ``size`` px.

    Args:
        folder: a folder written by :func:`faceswap_lib.extract.extract`.
        size: side of the returned faces (crops are shrunk with INTER_AREA; never enlarged).
        indices: which faces of ``alignments.json`` to load (default all).
        padding: a tighter crop than the folder's (:func:`tight_crop`: the centre square where the
            mean face has this padding, e.g. 0.1 = eyebrows to chin); None: the whole crop.
        priority: also return the eyes-and-mouth masks (:func:`faceswap_lib.masks.priority_masks`)
            as a 2nd mask channel.

    Returns:
        ``(faces, masks, entries)``: (N, size, size, 3) float32 in [0, 1], (N, size, size, 1)
        float32 landmark-hull masks (2 channels with ``priority``), and the N alignment entries
        (frame, landmarks, matrix ...); the crop's ``size`` and ``padding`` (of the tight crop
        when ``padding`` is given) are copied into every entry.

    Raises:
        FileNotFoundError: no folder or no ``alignments.json`` in it (run ``extract`` first).
        ValueError: the folder holds no faces, or crops smaller than ``size``.
    """
    import cv2

    from .alignments import ALIGNMENTS_FILE, AlignedFace, read_alignments

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
    side, offset, cut_padding = tight_crop(crop_size, float(sidecar["padding"]), padding)
    if side < size:
        need = math.ceil(size * crop_size / side)
        what = f"crops are {crop_size} px" if side == crop_size else f"the tight crop of its {crop_size} px crops is {side} px"
        raise ValueError(f"{folder}: {what}, smaller than the model's {size} px; extract with --size {need} or more")
    faces, points = [], []
    for entry in entries:
        image = cv2.imread(str(folder / entry["file"]), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"{folder / entry['file']}: missing or not an image")
        if image.shape[:2] != (crop_size, crop_size):
            raise ValueError(f"{folder / entry['file']}: {image.shape[1]} x {image.shape[0]} px, expected {crop_size} x {crop_size}")
        # The tight centre square as a face of its own (the matrix shifted by the offset), shrunk
        # to the model's size (INTER_AREA: side >= size was checked above).
        matrix = np.asarray(entry["matrix"], np.float64) - [[0, 0, offset], [0, 0, offset]]
        image, face = AlignedFace(entry["landmarks"], matrix, side, cut_padding).resize(
            image[offset:offset + side, offset:offset + side], size)
        faces.append(image[..., ::-1].astype(np.float32) / 255)
        points.append(face.points)
        entry["size"], entry["padding"] = side, cut_padding
    masks = hull_masks(points, size)
    if priority:
        masks = np.concatenate([masks, priority_masks(points, size)], -1)
    return np.stack(faces), masks, entries


def augment_with_mask(face, mask, rng: np.random.Generator, **kwargs):
    """:func:`faceswap_lib.augment.augment` of a face, and the *same* geometry applied to its mask.

    The mask (S, S, k) follows the target's shrink and affine with the same sampling maps
    (:func:`~faceswap_lib.augment.augment`'s ``extra``: no colour jitter, no warp), so the draws and
    the face pair are exactly those of ``augment(face, rng)``. Returns ``(warped, target)``:
    (s, s, 3 + k) each, the mask as channels 4.. (the input carries the mask only to keep the
    shapes alike; the encoder never sees it).
    """
    from .augment import augment

    warped, target, mask_target = augment(face, rng, extra=mask, **kwargs)
    return np.concatenate([warped, mask_target], -1), np.concatenate([target, mask_target], -1)


#: :func:`expression_weights`: width of a mouth-opening band (inter-ocular distances; the score's
#: mouth tolerance, :attr:`faceswap_lib.score.Thresholds.mouth`).
EXPRESSION_BAND = 0.10
#: :func:`expression_weights`: a band counts as holding at least this share of the faces, so a band of
#: one or two faces is not drawn as often as a band of hundreds.
MIN_BAND_SHARE = 0.05


def expression_weights(entries: list[dict]) -> np.ndarray:
    """Sampling probabilities that draw every mouth-opening band about equally often.

    A talking-head clip shows a closed or nearly closed mouth in most frames; drawn uniformly, the
    few frames with an open mouth hardly train the decoder (the course's d14: 30 of 456 training
    faces open the mouth beyond 0.10). This is the expression counterpart of DeepFaceLab's
    ``uniform_yaw`` sampling, which balances head poses the same way. Faces are grouped in bands of
    :data:`EXPRESSION_BAND` of mouth opening (:func:`faceswap_lib.expression.mouth_opening`); each face
    gets 1 / max(its band's count, :data:`MIN_BAND_SHARE` x N), normalised.

    Args:
        entries: alignment entries with ``"landmarks"`` (68, 2), as :func:`load_faces` returns.

    Returns:
        (N,) float64 probabilities summing to 1.

    Raises:
        ValueError: no entries.
    """
    from .expression import mouth_opening

    if not entries:
        raise ValueError("expression_weights: no faces")
    band = np.floor(np.array([mouth_opening(e["landmarks"]) for e in entries]) / EXPRESSION_BAND).astype(int)
    _, inverse, counts = np.unique(band, return_inverse=True, return_counts=True)
    weights = 1.0 / np.maximum(counts[inverse], MIN_BAND_SHARE * len(entries))
    return weights / weights.sum()


def _side_batch(faces, masks, rng, batch_size, augment_kwargs, weights=None):
    from .augment import augment

    picks = (rng.integers(0, len(faces), size=batch_size) if weights is None
             else rng.choice(len(faces), size=batch_size, p=weights))
    if masks is None:
        pairs = [augment(faces[i], rng, **augment_kwargs) for i in picks]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    warped, targets = [], []
    for i in picks:
        w, t, m = augment(faces[i], rng, extra=masks[i], **augment_kwargs)
        warped.append(w)
        targets.append(np.concatenate([t, m], -1))
    return np.stack(warped), np.stack(targets)


def pair_batches(faces_a, faces_b, batch_size: int, seed: int = 0, *, masks_a=None, masks_b=None,
                 weights_a=None, weights_b=None, **augment_kwargs):
    """Endless ``((warped_a, warped_b), (target_a, target_b))`` NumPy batches, seeded.

    Faces are drawn with replacement, uniformly or with the probabilities ``weights_a`` /
    ``weights_b`` ((N,) summing to 1, e.g. :func:`expression_weights`); targets have 3 + k channels
    (RGB + masks) when (N, S, S, k) masks are given.
    ``augment_kwargs`` go to :func:`faceswap_lib.augment.augment` (``warp``, ``rotation``, ...).
    """
    _check_pair_inputs(faces_a, faces_b, masks_a, masks_b, weights_a, weights_b)
    return _pairs(faces_a, faces_b, batch_size, seed, masks_a, masks_b, weights_a, weights_b, augment_kwargs)


def _check_pair_inputs(faces_a, faces_b, masks_a, masks_b, weights_a, weights_b) -> None:
    """:func:`pair_batches`' argument checks, run at the call (its generator would run them only at
    the first ``next()``, inside tf.data for :func:`make_dataset`). Raises ValueError."""
    if len(faces_a) == 0 or len(faces_b) == 0:
        raise ValueError(f"pair_batches: need faces of both people, got {len(faces_a)} (A) and {len(faces_b)} (B)")
    if faces_a.shape[1:] != faces_b.shape[1:]:
        raise ValueError(f"pair_batches: size mismatch, A faces are {faces_a.shape[1:]}, B faces {faces_b.shape[1:]}")
    if (masks_a is None) != (masks_b is None):
        raise ValueError("pair_batches: give masks for both people or for neither")
    _check_weights(weights_a, len(faces_a), "weights_a")
    _check_weights(weights_b, len(faces_b), "weights_b")


def _check_weights(weights, n: int, name: str) -> None:
    """Raise ValueError unless ``weights`` is None or n finite probabilities >= 0 summing to 1."""
    if weights is None:
        return
    w = np.asarray(weights, float)
    if w.shape != (n,):
        raise ValueError(f"pair_batches: {name} must be {n} probabilities (one per face), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"pair_batches: {name} must be finite, >= 0 and sum to 1, got sum {w.sum():g}"
                         + (" and negative or non-finite values" if not np.all(np.isfinite(w) & (w >= 0)) else ""))


def _pairs(faces_a, faces_b, batch_size, seed, masks_a, masks_b, weights_a, weights_b, augment_kwargs):
    rng = np.random.default_rng(seed)
    while True:
        wa, ta = _side_batch(faces_a, masks_a, rng, batch_size, augment_kwargs, weights_a)
        wb, tb = _side_batch(faces_b, masks_b, rng, batch_size, augment_kwargs, weights_b)
        yield (wa, wb), (ta, tb)


def make_dataset(faces_a, faces_b, batch_size: int, seed: int = 0, *, masks_a=None, masks_b=None,
                 weights_a=None, weights_b=None, **augment_kwargs):
    """:func:`pair_batches` as a prefetching ``tf.data.Dataset`` (augmentation overlaps training)."""
    import tensorflow as tf

    _check_pair_inputs(faces_a, faces_b, masks_a, masks_b, weights_a, weights_b)  # now, not inside tf.data
    size = faces_a.shape[1]
    channels = 3 if masks_a is None else 3 + masks_a.shape[-1]
    image = tf.TensorSpec((batch_size, size, size, 3), tf.float32)
    target = tf.TensorSpec((batch_size, size, size, channels), tf.float32)
    dataset = tf.data.Dataset.from_generator(
        lambda: pair_batches(faces_a, faces_b, batch_size, seed, masks_a=masks_a, masks_b=masks_b,
                             weights_a=weights_a, weights_b=weights_b, **augment_kwargs),
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


def _keras_callback():
    import keras

    return keras.callbacks.Callback


class PreviewCallback(_keras_callback()):
    """Write ``preview_<step>.png`` (see :func:`preview_grid`) into ``folder`` every ``every`` steps
    and/or every ``minutes`` minutes of training.

    Files are named by the model's global step (7 digits): ``step`` is a callable returning it (the
    training loop's own count, right after a resume too); without it, steps are counted from
    ``start_step``. ``every=0`` and ``minutes=None`` (or 0) write nothing; :meth:`write` writes one now.
    """

    def __init__(self, faces_a, faces_b, folder, every: int = 0, start_step: int = 0, *, minutes: float | None = None,
                 step=None):
        super().__init__()
        self.faces_a, self.faces_b, self.every = faces_a, faces_b, int(every)
        self.folder, self.count = Path(folder), int(start_step)
        self.seconds = 60.0 * minutes if minutes else None
        self.global_step = step
        self.written: list[Path] = []

    @property
    def step(self) -> int:
        return int(self.global_step()) if self.global_step is not None else self.count

    def on_train_begin(self, logs=None):
        self.last_time = time.monotonic()

    def write(self) -> Path:
        """Write the preview of the current step now (once per step); returns its path."""
        path = self.folder / f"preview_{self.step:07d}.png"
        if path not in self.written:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_image(path, preview_grid(self.model, self.faces_a, self.faces_b))
            self.written.append(path)
        self.last_time = time.monotonic()
        return path

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1
        by_steps = self.every > 0 and self.step % self.every == 0
        by_time = self.seconds is not None and time.monotonic() - self.last_time >= self.seconds
        if by_steps or by_time:
            self.write()


class ProgressBar(_keras_callback()):
    """A tqdm bar of the model's global steps, with a smoothed ``loss_a`` and ``loss_b``.

    The bar starts at the global step when the first chunk begins (after ``BackupAndRestore`` has
    restored an interrupted run), so it shows the true step after a resume; ``step`` is a callable
    returning it (default: ``initial`` plus the steps seen). ``total`` None: no end known (a time
    budget), the bar counts and shows ``left`` (time left) when ``deadline`` (a ``time.monotonic()``
    value) is given. The losses are exponential moving averages of the per-step losses over about
    ``smoothing`` steps (debiased like Adam's moments, so the first values are not pulled to 0);
    Keras' logs hold the mean since the chunk began, from which each step's loss is recovered.
    One update per second at most; plain text.
    """

    def __init__(self, total: int | None, initial: int = 0, desc: str = "train", *, step=None, smoothing: int = 50,
                 deadline: float | None = None):
        super().__init__()
        self.total, self.initial, self.desc = total, initial, desc
        self.global_step, self.deadline = step, deadline
        self.alpha = 2.0 / (smoothing + 1)
        self.bar = None
        self.average: dict[str, float] = {}
        self.weight = 0.0  # 1 - (1 - alpha)^n: the debiasing divisor
        self.previous_mean: dict[str, float] = {}
        self.count = int(initial)

    def _step(self) -> int:
        return int(self.global_step()) if self.global_step is not None else self.count

    def on_epoch_begin(self, epoch, logs=None):
        self.previous_mean, self.batch = {}, 0
        if self.bar is None:  # created here, not in on_train_begin: a restored backup has set the epoch by now
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=self._step(), desc=self.desc, unit="step", mininterval=1.0)

    def on_train_batch_end(self, batch, logs=None):
        self.batch += 1
        self.count += 1
        k = self.batch
        self.weight = 1 - (1 - self.alpha) * (1 - self.weight)
        for name in ("loss_a", "loss_b"):
            if not logs or name not in logs:
                continue
            mean = float(logs[name])
            value = k * mean - (k - 1) * self.previous_mean.get(name, 0.0)  # this step's loss from the running mean
            self.previous_mean[name] = mean
            self.average[name] = (1 - self.alpha) * self.average.get(name, 0.0) + self.alpha * value
        shown = {k_: f"{v / self.weight:.4f}" for k_, v in self.average.items()}
        if self.deadline is not None:
            left = max(0, int(self.deadline - time.monotonic()))
            shown["left"] = f"{left // 60}:{left % 60:02d}"
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(self._step() - self.bar.n)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()


class _StepWatch(_keras_callback()):
    """Counts the model's global steps; stops at a target step or a time budget; a non-finite loss
    stops training with :class:`NonFiniteLoss`.

    Args:
        start_step: the model's step when this run began (its ``faceswap.json``).
        chunk: steps per Keras epoch (a restored backup starts at epoch k: step ``start + k * chunk``).
        target: stop (``model.stop_training``) once this global step is reached; None: no step limit.
        budget: stop after this many seconds of the training loop (first step's tracing included); None: none.
    """

    def __init__(self, start_step: int, chunk: int, target: int | None = None, budget: float | None = None):
        super().__init__()
        self.start, self.chunk = int(start_step), int(chunk)
        self.target, self.budget = target, budget
        self.step = self.start  # the last finished step, counted over the model's whole training
        self.checkpoint = self.start  # the step of the last save: the model folder's, or a backup's
        self.began = None
        self.stopped_by = None  # "steps", "time" or None

    @property
    def seconds(self) -> float:
        """Seconds since the training loop began (0 before)."""
        return 0.0 if self.began is None else time.monotonic() - self.began

    @property
    def deadline(self) -> float | None:
        return None if self.budget is None or self.began is None else self.began + self.budget

    def on_train_begin(self, logs=None):
        self.began = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        # BackupAndRestore (called after us in on_train_begin) may have restored epoch k > 0.
        self.step = self.start + int(epoch) * self.chunk
        self.checkpoint = max(self.checkpoint, self.step)

    def on_epoch_end(self, epoch, logs=None):
        if not self.model.stop_training:  # BackupAndRestore saved here (a stopped run deletes its backup)
            self.checkpoint = self.step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        for name, value in (logs or {}).items():
            if "loss" in name and not math.isfinite(float(value)):
                raise NonFiniteLoss(self.step, name, float(value))
        if self.target is not None and self.step >= self.target:
            self.model.stop_training, self.stopped_by = True, "steps"
        elif self.budget is not None and self.seconds >= self.budget:
            self.model.stop_training, self.stopped_by = True, "time"


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
    optimizer = getattr(model, "optimizer", None)
    state = [np.asarray(v) for v in optimizer.variables] if optimizer is not None and optimizer.built else None
    with contextlib.ExitStack() as files:  # all renamed only when all are complete
        weights, config = (files.enter_context(atomic_path(folder / name)) for name in (WEIGHTS_FILE, CONFIG_FILE))
        model.save_weights(str(weights))
        config.write_text(json.dumps({"format": _FORMAT, **settings}, indent=1) + "\n", encoding="utf-8")
        if state is not None:
            with open(files.enter_context(atomic_path(folder / OPTIMIZER_FILE)), "wb") as handle:
                np.savez(handle, *state)  # to a file object: given a path, np.savez appends ".npz"
    if state is None:  # no optimizer (a model saved before training): an older state would not match
        (folder / OPTIMIZER_FILE).unlink(missing_ok=True)
    return folder


def restore_optimizer(model, folder) -> bool:
    """Load the Adam state that :func:`save_model` stored into ``model.optimizer`` (compiled, not yet
    trained); returns whether it was restored. A folder without the file (written before it existed)
    or with a state of another shape leaves the fresh optimizer, as training always did before."""
    path = Path(folder) / OPTIMIZER_FILE
    if not path.is_file():
        return False
    try:
        with np.load(path) as stored:
            state = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    except (OSError, ValueError, KeyError):  # truncated or foreign: the weights alone still resume
        return False
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    if len(state) != len(optimizer.variables) or any(
            tuple(v.shape) != a.shape for v, a in zip(optimizer.variables, state)):
        return False
    for variable, value in zip(optimizer.variables, state):
        variable.assign(value)
    return True


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
        raise FileError(weights, f"cannot load the weights ({type(error).__name__}: {one_line(error)})") from error
    return model, settings


def train(
    dir_a,
    dir_b,
    model_dir,
    *,
    steps: int | None = RECIPE.steps,
    minutes: float | None = None,
    batch_size: int = RECIPE.batch_size,
    size: int = RECIPE.size,
    learning_rate: float = RECIPE.learning_rate,
    chunk: int = 100,
    preview_every: int = 0,
    preview_minutes: float | None = None,
    holdout: float | None = None,
    mask: bool = False,
    padding: float | None = RECIPE.padding,
    model_kwargs: dict | None = None,
    augment_kwargs: dict | None = None,
    balance: bool | None = None,
    seed: int = 0,
    progress: bool = True,
    verbose: bool = False,
):
    """Train (or continue training) a face-swap model on two ``extract`` folders; save it in ``model_dir``.

    ``steps`` and ``minutes`` are **totals** over the model's whole training, not amounts to add:
    if ``model_dir`` already holds a model, training continues from its weights (its size must
    match ``size``) until its step count reaches ``steps`` or its training time (``"seconds"`` in
    ``faceswap.json``: the training loop's wall-clock time, the first step's tracing included)
    reaches ``minutes``, whichever comes first (None: no such limit; at least one must be given).
    A model that has already reached them is returned untrained. Inside a run,
    ``BackupAndRestore`` in ``model_dir/backup`` saves every ``chunk`` steps.

    Held-out faces: ``holdout`` (a fraction in [0, 1)) keeps the last share of every clip's faces out
    of training (:func:`faceswap_lib.model_folder.holdout_split`) and records which in
    ``faceswap.json`` (``"holdout"``), so ``score`` can measure on frames the model never saw. None:
    the fraction the model was trained with (0 for a new model); another fraction is refused.

    Defaults are the recipe's (:data:`faceswap_lib.recipe.RECIPE`, the command line's too): 64 px,
    batch 16, Adam 3e-4, padding 0.1, warp 0.02, no eyes-and-mouth term, 1,000 steps.

    ``padding``: train on a tighter crop of the faces (:func:`tight_crop`; 0.1: eyebrows to chin;
    None: the whole extracted crop); the padding and crop size really used are saved, so
    ``convert`` cuts faces alike. A model keeps the crop it started with. ``model_kwargs`` go to
    :func:`faceswap_lib.models.faceswap_autoencoder` (e.g. ``priority_weight``: the eyes-and-mouth
    loss term, which makes training load the eyes-and-mouth masks; None: the recipe's
    ``{"priority_weight": 0.0}``); ``augment_kwargs`` to :func:`faceswap_lib.augment.augment`
    (None: the recipe's ``{"warp": 0.02}``). ``balance``: draw training faces with
    :func:`expression_weights` (every mouth-opening band about equally often) instead of uniformly;
    None: the recipe's, or a resumed model's own; a model keeps the choice it started with, and
    asking a resumed model for the other one is refused (ValueError).

    Previews (:class:`PreviewCallback`) go to ``model_dir/previews``, named by the global step, every
    ``preview_every`` steps and/or every ``preview_minutes`` minutes, plus one at the end when either
    is on; they show held-out faces when there are any.

    Refused before anything runs: a ``model_dir`` that is ``dir_a`` or ``dir_b``, ``dir_a`` and
    ``dir_b`` the same folder, a learning rate that is not positive and finite, ``mask=True``
    on an existing model trained without a mask, a size or holdout mismatch, face folders other
    than the ones the model was trained on (swapped, say).

    Returns:
        ``(model, history, settings)``; ``history`` is None when nothing was trained.

    Raises:
        ValueError: a mismatch above, or neither ``steps`` nor ``minutes``.
        sr_lib.files.FileError: a non-finite loss (the model folder is left as it was, nothing saved).
        faceswap_lib.errors.Interrupted: Ctrl-C; if a step was trained, the model is saved at that
            step first (``faceswap.json`` and the weights, the backup removed), and the message says
            the step reached and the step saved (calling ``train`` again continues from it).
    """
    import keras

    from sr_lib.files import FileError
    from sr_lib.training import fit_steps

    from .alignments import read_alignments
    from .errors import Interrupted, refuse_overlapping_folders
    from .model_folder import finished, holdout_split, resume_check
    from .models import faceswap_autoencoder

    model_dir = Path(model_dir)
    model_kwargs = {"priority_weight": RECIPE.priority_weight} if model_kwargs is None else model_kwargs
    augment_kwargs = {"warp": RECIPE.warp} if augment_kwargs is None else augment_kwargs
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate}")
    if steps is None and minutes is None:
        raise ValueError("train: give steps or minutes (or both): the total to train to")
    refuse_overlapping_folders(dir_a, dir_b, model_dir)  # never write the model into a face folder
    old = resume_check(model_dir, size=size, mask=mask, holdout=holdout, dir_a=dir_a, dir_b=dir_b)
    fraction = float((old.get("holdout") or {}).get("fraction", 0.0)) if old else float(holdout or 0.0)
    if old is not None:  # a model keeps its crop (models saved before tight crops: the whole crop)
        padding = old.get("crop_padding")
        model_args = old["model"]
        augment_kwargs = old.get("augment") or {}
        if balance is not None and bool(balance) != bool(old.get("balance", False)):
            raise ValueError(f"this model was trained {'with' if old.get('balance') else 'without'} balanced "
                             "expressions and keeps that choice: leave the option out, or train a new model folder")
        balance = bool(old.get("balance", False))
    else:
        balance = RECIPE.balance if balance is None else bool(balance)
        model_args = {"size": size, "mask": mask, **(model_kwargs or {})}
    priority = float(model_args.get("priority_weight", 0.0)) > 0
    channels = ([0] if model_args["mask"] else []) + ([1] if priority else [])
    faces, held_faces, records, clips = {}, {}, {}, {}
    for side, folder in (("a", dir_a), ("b", dir_b)):
        all_faces, all_masks, entries = load_faces(folder, size, padding=padding, priority=priority)
        clips[side] = {k: {"video_path": c.get("video_path")}
                       for k, c in read_alignments(folder, arrays=False)["clips"].items()}
        kept, held, records[side] = holdout_split(entries, fraction, clips[side])
        faces[side] = (all_faces[kept], all_masks[kept], [entries[i] for i in kept])
        held_faces[side] = all_faces[held]
    (faces_a, masks_a, entries_a), (faces_b, masks_b, entries_b) = faces["a"], faces["b"]
    (crop_a, pad_a), (crop_b, pad_b) = ((e[0]["size"], e[0]["padding"]) for e in (entries_a, entries_b))
    if crop_a != crop_b:
        raise ValueError(f"size mismatch: {dir_a} holds {crop_a} px crops, {dir_b} {crop_b} px; extract both with the same --size")
    if pad_a != pad_b:
        raise ValueError(f"padding mismatch: {dir_a} was extracted with padding {pad_a}, {dir_b} with {pad_b}")
    previous_steps, previous_seconds = (int(old.get("steps", 0)), float(old.get("seconds", 0.0))) if old else (0, 0.0)
    if old is not None:
        model, old = load_model(model_dir)
    else:
        keras.utils.set_random_seed(seed)
        model = faceswap_autoencoder(**model_args)

    def settings_at(step: int, seconds: float) -> dict[str, Any]:
        return {
            "model": model_args,
            "steps": int(step),
            "seconds": round(float(seconds), 1),
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "padding": pad_a,
            "crop_size": crop_a,
            "crop_padding": padding,
            "augment": dict(augment_kwargs or {}),
            "balance": balance,
            "a": str(Path(dir_a).resolve()),
            "b": str(Path(dir_b).resolve()),
            "clips": clips,
            "holdout": {"fraction": fraction, "a": records["a"], "b": records["b"]},
        }

    if finished(old, steps, minutes):
        return model, None, {**old, **settings_at(previous_steps, previous_seconds)}
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=0.999))
    if old is not None:
        restore_optimizer(model, model_dir)  # Adam's moments and step count, not a cold restart
    dataset = make_dataset(faces_a, faces_b, batch_size, seed + previous_steps,
                           masks_a=masks_a[..., channels] if channels else None,
                           masks_b=masks_b[..., channels] if channels else None,
                           weights_a=expression_weights(entries_a) if balance else None,
                           weights_b=expression_weights(entries_b) if balance else None, **(augment_kwargs or {}))
    remaining = steps - previous_steps if steps is not None else 10**9  # a time budget alone: "endless"
    budget = 60.0 * minutes - previous_seconds if minutes is not None else None
    chunk = min(chunk, remaining)
    watch = _StepWatch(previous_steps, chunk, target=steps, budget=budget)
    callbacks = [watch]  # first: the others read its step
    if progress:
        callbacks.append(ProgressBar(steps, previous_steps, step=lambda: watch.step,
                                     deadline=None if budget is None else time.monotonic() + budget))
    preview = None
    if preview_every or preview_minutes:
        def pick(held, trained):
            pool = held if len(held) else trained
            return pool[np.linspace(0, len(pool) - 1, min(4, len(pool))).round().astype(int)]

        preview = PreviewCallback(pick(held_faces["a"], faces_a), pick(held_faces["b"], faces_b),
                                  model_dir / "previews", preview_every, minutes=preview_minutes,
                                  step=lambda: watch.step)
        callbacks.append(preview)
    try:
        history = fit_steps(model, dataset, remaining, chunk=chunk, backup_dir=model_dir / "backup",
                            batch_size=2 * batch_size, callbacks=callbacks, verbose=verbose)
    except KeyboardInterrupt as error:
        # Ctrl-C lands between steps (a step runs as one TensorFlow call): the weights are those of
        # a whole step, so save them as the model at that step; a re-run continues from there.
        saved = watch.checkpoint
        if watch.step > previous_steps:
            try:
                save_model(model, model_dir, settings_at(watch.step, previous_seconds + watch.seconds))
                shutil.rmtree(model_dir / "backup", ignore_errors=True)  # older than the model now
                saved = watch.step
            except (KeyboardInterrupt, Exception):  # a second Ctrl-C, a full disk: the backup remains
                pass
        raise Interrupted(model_dir, f"stopped at step {watch.step}; last checkpoint at step {saved}; "
                                     "run the same command to continue") from error
    except NonFiniteLoss as error:  # never save NaN weights over the model
        raise FileError(model_dir, f"{error}; model folder left at step {previous_steps} (try a smaller "
                                   "--learning-rate)") from error
    if preview is not None and watch.step > previous_steps:
        preview.write()
    settings = settings_at(watch.step, previous_seconds + watch.seconds)
    save_model(model, model_dir, settings)
    return model, history, settings
