"""Training that counts steps, shows progress, and resumes after an interruption.

For models whose whole objective fits in ``compile(loss=...)`` (ESPCN, the autoencoders) Keras' own
``fit`` is the training loop; this module adds what the notebooks need around it:

- :func:`step_schedule` — Adam's learning rate as a step function (the ESPCN paper lowers it once
  training stalls; we lower it by 10x at fixed fractions of the budget).
- :func:`fit_steps` — ``fit`` for a number of *steps*, in chunks ("epochs" of ``chunk`` steps), with
  ``BackupAndRestore`` so an interrupted run continues from its last chunk, and a one-line log per
  chunk (or nothing).

Several-network models (GANs, VAEs, the face-swap autoencoder) get their own ``train_step`` in later
modules and still use :func:`fit_steps`: :class:`SRGAN` (from :mod:`sr_lib.gan`) is re-exported here.

Scaling up (the GPU path): :func:`get_strategy` picks ``MirroredStrategy`` when several GPUs are
visible; :func:`use_mixed_precision` turns on ``mixed_float16`` only where it pays (a GPU).
Build and compile models inside ``get_strategy().scope()``. Watching a run:
:class:`ComparisonGrid` saves LR | SR | HR crops every N steps; ``fit_steps(tensorboard_dir=...)``
writes TensorBoard logs.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import numpy as np

from sr_lib.gan import SRGAN

__all__ = ["step_schedule", "fit_steps", "get_strategy", "use_mixed_precision", "ComparisonGrid", "SRGAN"]


def step_schedule(learning_rate: float, steps: int, drops=(0.7, 0.9), factor: float = 0.1):
    """Piecewise-constant learning rate: ``learning_rate``, times ``factor`` at each fraction in ``drops``."""
    boundaries = [max(1, int(steps * d)) for d in drops]
    values = [learning_rate * factor**i for i in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


class _ChunkLogger(keras.callbacks.Callback):
    """One line per chunk: step, loss, steps/s — readable in a notebook and in CI logs."""

    def __init__(self, chunk: int, total_steps: int, batch_size: int | None):
        super().__init__()
        self.chunk, self.total, self.batch_size = chunk, total_steps, batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        step = min((epoch + 1) * self.chunk, self.total)
        rate = self.chunk / max(seconds, 1e-9)
        extra = f", {rate * self.batch_size:,.0f} patches/s" if self.batch_size else ""
        values = ", ".join(f"{k} {v:.5f}" for k, v in (logs or {}).items() if not k.startswith("val_"))
        print(f"step {step:>7}/{self.total}: {values} ({rate:,.1f} steps/s{extra})", flush=True)


def fit_steps(
    model: keras.Model,
    dataset,
    steps: int,
    *,
    chunk: int = 1000,
    backup_dir: str | Path | None = None,
    batch_size: int | None = None,
    callbacks=(),
    tensorboard_dir: str | Path | None = None,
    verbose: bool = True,
):
    """Train ``model`` (already compiled) for ``steps`` batches of a repeating ``dataset``.

    Args:
        steps: number of optimizer steps; rounded up to a whole number of chunks.
        chunk: steps per Keras "epoch": the unit of logging and of backups.
        backup_dir: if given, ``keras.callbacks.BackupAndRestore`` keeps the model and optimizer
            state there after every chunk; calling ``fit_steps`` again with the same folder resumes
            where the interrupted run stopped, losing at most one chunk. The folder is removed when
            training finishes.
        batch_size: only for the log's patches/s.
        tensorboard_dir: if given, TensorBoard logs (losses per chunk) go there.

    Returns:
        The Keras ``History``.
    """
    if steps < 1 or chunk < 1:
        raise ValueError(f"steps and chunk must be positive, got steps={steps}, chunk={chunk}")
    chunk = min(chunk, steps)
    epochs = math.ceil(steps / chunk)
    all_callbacks = list(callbacks)
    if backup_dir is not None:
        all_callbacks.append(keras.callbacks.BackupAndRestore(str(backup_dir), save_freq="epoch", delete_checkpoint=True))
    if tensorboard_dir is not None:
        all_callbacks.append(keras.callbacks.TensorBoard(str(tensorboard_dir), write_graph=False))
    if verbose:
        all_callbacks.append(_ChunkLogger(chunk, epochs * chunk, batch_size))
    # shuffle=False: the tf.data pipeline shuffles; Keras would only warn that it cannot.
    return model.fit(dataset, epochs=epochs, steps_per_epoch=chunk, callbacks=all_callbacks, verbose=0, shuffle=False)


def get_strategy(devices=None):
    """The ``tf.distribute`` strategy to build and train under.

    ``MirroredStrategy`` (one model copy per device, gradients all-reduced) when ``devices`` are
    given or more than one GPU is visible; otherwise the default strategy (plain single-device
    execution, no overhead). Tests pass ``devices=["/cpu:0", "/cpu:1"]`` after splitting the CPU
    into two logical devices.
    """
    import tensorflow as tf

    if devices is not None:
        return tf.distribute.MirroredStrategy(devices=list(devices))
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def use_mixed_precision(enable: bool | None = None) -> str:
    """Set Keras' global dtype policy; returns its name.

    ``enable=None`` (default): ``mixed_float16`` when a GPU is visible (tensor cores make float16
    matrix products several times faster), ``float32`` on CPUs (float16 is *slower* there). Call it
    before building models: layers take the policy at construction. Our models keep their last layer
    in float32, so outputs and losses stay float32.
    """
    import tensorflow as tf

    if enable is None:
        enable = bool(tf.config.list_logical_devices("GPU"))
    policy = "mixed_float16" if enable else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


class ComparisonGrid(keras.callbacks.Callback):
    """Every ``every`` steps, save a PNG grid of bicubic | model output | HR for a few fixed LR images.

    Args:
        lr_images: (n, h, w, C) float32 [0, 1] LR inputs (kept fixed so grids are comparable).
        hr_images: (n, h*scale, w*scale, C) matching HR images.
        folder: where ``grid_step{step:07d}.png`` files go (created).
        every: steps between grids; the grid is also written at the end of training.
        generator: the network to run; default the model being trained (for :class:`SRGAN`, pass
            ``model.generator`` or leave it: the wrapper's ``call`` runs the generator).
    """

    def __init__(self, lr_images, hr_images, folder, every: int = 1000, generator=None):
        super().__init__()
        self.lr, self.hr = np.asarray(lr_images, np.float32), np.asarray(hr_images, np.float32)
        if self.lr.ndim != 4 or self.hr.ndim != 4 or len(self.lr) != len(self.hr):
            raise ValueError(f"ComparisonGrid needs matching (n, h, w, C) batches, got {self.lr.shape} and {self.hr.shape}")
        self.folder, self.every, self.generator = Path(folder), int(every), generator
        self.step = 0
        self.saved: list[Path] = []

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every == 0:
            self.save()

    def on_train_end(self, logs=None):
        if self.step % self.every:
            self.save()

    def save(self) -> Path:
        """Write the grid for the current step and return its path."""
        from sr_lib.evaluation import bicubic
        from sr_lib.data.io import write_image

        network = self.generator or self.model
        sr = np.clip(np.asarray(network(self.lr, training=False), np.float32), 0, 1)
        scale = self.hr.shape[1] // self.lr.shape[1]
        rows = [np.concatenate([bicubic(lr, scale), out, hr], axis=1) for lr, out, hr in zip(self.lr, sr, self.hr)]
        grid = np.concatenate(rows, axis=0)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"grid_step{self.step:07d}.png"
        write_image(path, grid)  # float [0, 1] -> 8-bit PNG
        self.saved.append(path)
        return path
