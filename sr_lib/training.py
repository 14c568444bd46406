"""Training that counts steps, shows progress, and resumes after an interruption.

For models whose whole objective fits in ``compile(loss=...)`` (ESPCN, the autoencoders) Keras' own
``fit`` is the training loop; this module adds what the notebooks need around it:

- :func:`step_schedule` — Adam's learning rate as a step function (the ESPCN paper lowers it once
  training stalls; we lower it by 10x at fixed fractions of the budget).
- :func:`fit_steps` — ``fit`` for a number of *steps*, in chunks ("epochs" of ``chunk`` steps), with
  ``BackupAndRestore`` so an interrupted run continues from its last chunk, and a one-line log per
  chunk (or nothing).

Several-network models (GANs, VAEs, the face-swap autoencoder) get their own ``train_step`` in later
modules and still use :func:`fit_steps`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras

__all__ = ["step_schedule", "fit_steps"]


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
    if verbose:
        all_callbacks.append(_ChunkLogger(chunk, epochs * chunk, batch_size))
    # shuffle=False: the tf.data pipeline shuffles; Keras would only warn that it cannot.
    return model.fit(dataset, epochs=epochs, steps_per_epoch=chunk, callbacks=all_callbacks, verbose=0, shuffle=False)
