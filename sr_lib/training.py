"""Training that counts steps, shows progress, and resumes after an interruption.

For models whose whole objective fits in ``compile(loss=...)`` (ESPCN, the autoencoders) Keras' own
``fit`` is the training loop; this module adds what the notebooks need around it:

- :func:`step_schedule` — Adam's learning rate as a step function (the ESPCN paper lowers it once
  training stalls; we lower it by 10x at fixed fractions of the budget).
- :func:`fit_steps` — ``fit`` for a number of *steps*, in chunks ("epochs" of ``chunk`` steps), with
  ``BackupAndRestore`` so an interrupted run continues from its last chunk *step-exactly* (weights,
  optimizer state and the position in the data stream), and a one-line log per chunk (or nothing).

Several-network models (GANs, VAEs, the face-swap autoencoder) get their own ``train_step`` in later
modules (:class:`sr_lib.models.SRGAN`, ``VAE``, ``DCGAN``, ``CycleGAN``, the face-swap autoencoder) and
still use :func:`fit_steps`.

Scaling up: :func:`get_strategy` picks ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names
several machines (or processes), ``MirroredStrategy`` when several GPUs are visible;
:func:`use_mixed_precision` turns on ``mixed_float16`` only where it pays (a GPU). Build and compile
models inside ``get_strategy().scope()``; :func:`fit_steps` works under all of them. Keras 3's own
``fit`` fails under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585), so there
:func:`fit_steps` runs its own loop: ``strategy.run(model.train_step)``, the model's backups written by
the chief only (tests/test_multiworker.py trains ESPCN and the SRGAN step on two local workers).
Watching a run:
:class:`ComparisonGrid` saves LR | SR | HR crops every N steps; ``fit_steps(tensorboard_dir=...)``
writes TensorBoard logs.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np

__all__ = ["step_schedule", "fit_steps", "get_strategy", "is_chief", "read_tf_config", "TFConfigError",
           "use_mixed_precision", "ComparisonGrid"]


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


class _StepTimer:
    """Wall time of each optimizer step after the first (the first one traces and compiles the graph).

    Keras calls the callbacks in list order at both ends of a step, so the clock is started by a callback
    placed last (:attr:`start`) and stopped by one placed first (:attr:`stop`): other callbacks' per-step
    work (a preview image every step, say) is not counted.
    """

    def __init__(self):
        self.seconds: list[float] = []  # wall time
        self.cpu_seconds: list[float] = []  # CPU time of the process, all threads: what other jobs do not inflate
        self.count = 0
        self.started = (0.0, 0.0)
        timer = self

        class Start(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                timer.started = (time.perf_counter(), time.process_time())

        class Stop(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                timer.count += 1
                if timer.count > 1:
                    timer.seconds.append(time.perf_counter() - timer.started[0])
                    timer.cpu_seconds.append(time.process_time() - timer.started[1])

        self.start, self.stop = Start(), Stop()


def _record_step_time(model, timer: _StepTimer, batch_size: int | None) -> None:
    """In a dry run (``$SRFS_MAX_STEPS``), record the median step time so the notebook runner collects it."""
    from sr_lib.notebook import record

    if not timer.seconds:
        print(f"dry run: {model.name}: one step only, no step time after the first (tracing) step")
        return
    median, cpu = float(np.median(timer.seconds)), float(np.median(timer.cpu_seconds))
    batch = f", batch {batch_size}" if batch_size else ""
    print(f"dry run: {model.name}{batch}: {median:.3f} s per step, {cpu:.3f} CPU s per step "
          f"(medians of {len(timer.seconds)} after the first)")
    record(f"step time {model.name}{batch}", round(median, 4), unit="s/step")
    record(f"CPU time {model.name}{batch}", round(cpu, 4), unit="CPU s/step")


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
        backup_dir: if given, the model and optimizer state are kept there after every chunk;
            calling ``fit_steps`` again with the same folder (and the same ``chunk``) resumes where
            the interrupted run stopped, losing at most one chunk. The folder is removed when
            training finishes.
        batch_size: only for the log's patches/s.
        tensorboard_dir: if given, TensorBoard logs (losses per chunk) go there.

    Under ``MultiWorkerMirroredStrategy`` (the model was built in its scope) every worker runs the
    same call with the same ``dataset`` of *global* batches, seeded identically; each batch is split
    between the workers (``AutoShardPolicy.DATA``), so the result equals one process training on the
    global batches. Keras 3's ``fit`` fails there, so this runs its own loop (callbacks still get
    ``on_*_begin/end``); ``backup_dir`` must be one folder all workers can read (a shared file
    system): only the chief writes it, every worker restores from it. Callbacks run on every worker;
    ``tensorboard_dir`` is written by the chief only.

    Resuming is step-exact: a backup after ``k`` chunks holds ``k * chunk`` steps, and the resumed
    run trains on ``dataset.skip(k * chunk)``, i.e. batches ``k * chunk, k * chunk + 1, ...`` of the
    stream, the ones the uninterrupted run would have seen next (not batch 0 again). That needs a
    *deterministic* ``dataset``: the same batches in the same order every time it is iterated
    (seeded shuffles and augmentations, ``deterministic`` parallel maps), as the notebooks' pipelines
    are; an unseeded stream resumes to an arbitrary, though fresh, position. Why ``skip`` rather
    than checkpointing the ``tf.data`` iterator (``tf.train.Checkpoint(iterator=...)``): Keras'
    ``fit`` makes its iterator internally, and under ``MirroredStrategy`` /
    ``MultiWorkerMirroredStrategy`` it is a distributed iterator, whose checkpoint (with a shuffle
    buffer of decoded patches in it) is large and per-worker; ``skip`` is an ordinary dataset
    transformation applied *before* the strategy distributes the data, so every worker skips the
    same global batches and no extra state is saved. Its cost: on resume the skipped batches are
    produced and thrown away once (input-pipeline work, no training), usually seconds.

    Returns:
        The Keras ``History``.
    """
    if steps < 1 or chunk < 1:
        raise ValueError(f"steps and chunk must be positive, got steps={steps}, chunk={chunk}")
    chunk = min(chunk, steps)
    epochs = math.ceil(steps / chunk)
    all_callbacks = list(callbacks)
    multi_worker = _is_multi_worker(model.distribute_strategy)
    if backup_dir is not None and not multi_worker:
        all_callbacks.append(keras.callbacks.BackupAndRestore(str(backup_dir), save_freq="epoch", delete_checkpoint=True))
    if tensorboard_dir is not None and (not multi_worker or is_chief()):
        all_callbacks.append(keras.callbacks.TensorBoard(str(tensorboard_dir), write_graph=False))
    if verbose:
        all_callbacks.append(_ChunkLogger(chunk, epochs * chunk, batch_size))
    if multi_worker:
        return _fit_multi_worker(model, dataset, epochs, chunk, backup_dir, all_callbacks)
    if backup_dir is not None:
        # BackupAndRestore restores the weights and chunk count from this folder when fit begins;
        # the data stream resumes at the same step (see the docstring).
        dataset = _skip_done(dataset, _keras_backup_chunks(Path(backup_dir)) * chunk)
    from sr_lib.notebook import max_steps

    step_timer = _StepTimer() if max_steps() is not None else None  # dry run: measure the steps
    if step_timer is not None:
        all_callbacks = [step_timer.stop, *all_callbacks, step_timer.start]
    # shuffle=False: the tf.data pipeline shuffles; Keras would only warn that it cannot.
    history = model.fit(dataset, epochs=epochs, steps_per_epoch=chunk, callbacks=all_callbacks, verbose=0, shuffle=False)
    if step_timer is not None:
        _record_step_time(model, step_timer, batch_size)
    return history


def _keras_backup_chunks(folder: Path) -> int:
    """The number of chunks (epochs) Keras' ``BackupAndRestore`` will restore from ``folder`` (0: none).

    Read from the same ``training_metadata.json`` the callback reads in ``on_train_begin``.
    """
    state = folder / "training_metadata.json"
    if not state.exists():
        return 0
    return int(json.loads(state.read_text())["epoch"])


def _skip_done(dataset, steps_done: int):
    """``dataset`` from its batch ``steps_done`` on: where a run that already trained that many steps continues."""
    return dataset.skip(steps_done) if steps_done else dataset


def _is_multi_worker(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


_BACKUP_WEIGHTS, _BACKUP_STATE = "latest.weights.h5", "training_state.json"


def _fit_multi_worker(model, dataset, epochs, chunk, backup_dir, callbacks):
    """``fit`` for ``MultiWorkerMirroredStrategy``: the loop Keras 3's ``fit`` cannot run there.

    Keras 3.15's ``fit`` under this strategy stops before the first step: its symbolic build reduces a
    distributed batch with ``strategy.reduce`` ("Attempt to convert a value (PerReplica...)"), and its
    log reduction asks for ``axis=0`` on scalar metrics ("Invalid reduction dimension 0 for input
    with 0 dimensions", tensorflow/tensorflow#72388). ``model.train_step`` itself is fine in a
    replica context (the optimizer all-reduces the gradients), so this runs it with
    ``strategy.run`` and reduces the logs with ``axis=None``. Keras 3's ``BackupAndRestore`` would
    have every worker write the same files, hence the chief-only backup here.
    """
    import tensorflow as tf

    strategy = model.distribute_strategy
    chief = is_chief()
    if not model.optimizer.built:  # the backup holds optimizer slots: they must exist before a restore
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)
    start = 0
    if backup_dir is not None:
        start = _restore_backup(model, Path(backup_dir))
        _check_same_on_every_worker(strategy, start, "the chunk to resume from",
                                    f"is backup_dir {str(backup_dir)!r} one folder that every worker reads?")
    dataset = _skip_done(dataset, start * chunk)  # before distributing: every worker skips the same global batches
    options = tf.data.Options()
    # DATA: every worker runs the whole (seeded) pipeline and keeps its part of each global batch.
    # AUTO would first try FILE sharding and warn on in-memory data; FILE would need >= 1 file per worker.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    iterator = iter(strategy.experimental_distribute_dataset(dataset.with_options(options)))

    @tf.function
    def train_step(iterator):
        logs = strategy.run(model.train_step, args=(next(iterator),))
        return {name: strategy.reduce("MEAN", value, axis=None) for name, value in logs.items()}

    callback_list = keras.callbacks.CallbackList(callbacks, add_history=True, model=model, epochs=epochs,
                                                 steps=chunk, verbose=0)
    model.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(start, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for batch in range(chunk):
            callback_list.on_train_batch_begin(batch)
            logs = train_step(iterator)
            callback_list.on_train_batch_end(batch, logs)
        logs = {name: float(value) for name, value in logs.items()}
        if backup_dir is not None and chief:
            _write_backup(model, Path(backup_dir), epoch + 1)
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    if backup_dir is not None and chief:
        shutil.rmtree(backup_dir, ignore_errors=True)
    return next(c for c in callback_list.callbacks if isinstance(c, keras.callbacks.History))


def _write_backup(model, folder: Path, epochs_done: int) -> None:
    """Weights + optimizer state, then the chunk count; each file replaced atomically (a kill leaves the old one)."""
    from sr_lib.files import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / _BACKUP_WEIGHTS) as temporary:
        model.save_weights(temporary)
    with atomic_path(folder / _BACKUP_STATE) as temporary:
        temporary.write_text(json.dumps({"epochs_done": epochs_done}))


def _restore_backup(model, folder: Path) -> int:
    """Load the chief's last backup into ``model``; returns the number of chunks it holds (0: none)."""
    state = folder / _BACKUP_STATE
    if not state.exists():
        return 0
    model.load_weights(folder / _BACKUP_WEIGHTS)
    return int(json.loads(state.read_text())["epochs_done"])


def _check_same_on_every_worker(strategy, value: int, what: str, hint: str) -> None:
    """All-reduce ``value`` and ``value**2``: they agree on every worker iff n * sum(v^2) == sum(v)^2."""
    import tensorflow as tf

    local = tf.constant([value, value * value], tf.float64)

    # A tf.function: collectives run eagerly make TensorFlow print a warning about their overhead.
    @tf.function(autograph=False)
    def all_reduce():
        return strategy.reduce("SUM", strategy.run(tf.identity, args=(local,)), axis=None)

    total = all_reduce().numpy()
    n = strategy.num_replicas_in_sync
    if n * total[1] != total[0] ** 2:
        raise RuntimeError(f"workers disagree on {what} (this worker: {value}, mean over workers: "
                           f"{total[0] / n:g}); {hint}")


class TFConfigError(ValueError):
    """``TF_CONFIG`` is malformed; the message is one line saying what is wrong and what a valid one looks like."""


_TF_CONFIG_EXAMPLE = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                      '"task": {"type": "worker", "index": 0}}')


def read_tf_config(environ=None) -> dict | None:
    """``TF_CONFIG`` parsed and checked, or ``None`` when it is unset or empty.

    The variable ``tf.distribute`` reads to find the other machines:
    ``{"cluster": {"worker": ["host:port", ...], "chief": ["host:port"]}, "task": {"type": "worker",
    "index": i}}`` — the same ``cluster`` on every machine, each with its own ``task``. ``chief`` is
    optional (without it worker 0 is the chief).

    Raises:
        TFConfigError: not JSON; no ``cluster`` or ``task``; a job other than ``chief`` / ``worker``
            (a ``ps`` job means ``ParameterServerStrategy``, which this course does not build); an
            address that is not ``host:port``; a task type not in the cluster or an index out of range.
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG", "").strip()
    if not text:
        return None

    def fail(problem: str):
        raise TFConfigError(f"TF_CONFIG {problem}; expected e.g. {_TF_CONFIG_EXAMPLE}")

    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        fail(f"is not valid JSON ({error.msg} at character {error.pos})")
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) or not config["cluster"]:
        fail('has no "cluster" object')
    cluster = config["cluster"]
    for job, addresses in cluster.items():
        if job not in ("chief", "worker"):
            fail(f'names a {job!r} job; get_strategy() supports only "chief" and "worker"')
        if not isinstance(addresses, list) or not addresses:
            fail(f'job {job!r} must be a non-empty list of "host:port" strings')
        for address in addresses:
            host, _, port = str(address).rpartition(":") if isinstance(address, str) else ("", "", "")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                fail(f'job {job!r} has {address!r}, not a "host:port" address')
    if len(cluster.get("chief", [])) > 1:
        fail(f'has {len(cluster["chief"])} chiefs; at most one')
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        fail('has no "task" object with "type" and "index"')
    if task["type"] not in cluster:
        fail(f'task type {task["type"]!r} is not a job of the cluster ({", ".join(cluster)})')
    index = task["index"]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        fail(f'task index {index!r} is not one of 0..{len(cluster[task["type"]]) - 1} for job {task["type"]!r}')
    return config


def is_chief(environ=None) -> bool:
    """Whether this process writes checkpoints and logs: True without ``TF_CONFIG``; otherwise the
    ``chief`` task, or worker 0 when the cluster has no chief."""
    config = read_tf_config(environ)
    if config is None:
        return True
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task["index"] == 0


def get_strategy(devices=None):
    """The ``tf.distribute`` strategy to build and train under; call it first, before building anything.

    In this order:

    1. ``devices`` given: ``MirroredStrategy(devices)`` (one model copy per device, gradients
       all-reduced). Tests pass ``devices=["/cpu:0", "/cpu:1"]`` after splitting the CPU into two
       logical devices.
    2. ``TF_CONFIG`` names two or more tasks (workers and an optional chief):
       ``MultiWorkerMirroredStrategy``, one model copy per GPU of every machine (or one per machine
       without GPUs), gradients all-reduced over the network. Every machine runs the same program;
       :func:`fit_steps` trains there too (its own loop, see there), and only the chief
       (:func:`is_chief`) writes backups.
    3. More than one GPU visible: ``MirroredStrategy()`` over all of them.
    4. Otherwise the default strategy (plain single-device execution, no overhead).

    Batches: a dataset handed to :func:`fit_steps` yields *global* batches (N, ...), N = per-replica
    batch x ``strategy.num_replicas_in_sync``; each replica's ``train_step`` sees N / replicas
    samples, and the losses are scaled so the update is that of the global-batch mean. Choose N
    divisible by the number of replicas.

    Raises:
        TFConfigError: ``TF_CONFIG`` is set but malformed (a one-line message, see :func:`read_tf_config`).
    """
    import tensorflow as tf

    if devices is not None:
        return tf.distribute.MirroredStrategy(devices=list(devices))
    config = read_tf_config()
    if config is not None and sum(len(addresses) for addresses in config["cluster"].values()) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


#: Overrides :func:`use_mixed_precision`'s default choice of dtype policy (see there).
PRECISION_ENV = "SRFS_PRECISION"
_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def use_mixed_precision(enable: bool | None = None) -> str:
    """Set Keras' global dtype policy; returns its name.

    ``enable=None`` (default): ``mixed_float16`` when a GPU is visible (tensor cores make float16
    matrix products several times faster), ``float32`` on CPUs (float16 is *slower* there). Call it
    before building models: layers take the policy at construction. Our models keep their last layer
    in float32, so outputs and losses stay float32.

    The environment variable ``SRFS_PRECISION`` (``float32``, ``mixed_float16`` or ``mixed_bfloat16``;
    ``auto`` or empty: the default choice) overrides the default choice (not an explicit ``enable``): a full-mode dry run
    (``tools/run_notebooks.py --dry-run``) sets ``mixed_float16`` so that the CPU takes the GPU's
    float16 path (dtypes, loss scaling), slowly; ``mixed_bfloat16`` suits CPUs with bfloat16 units.

    Raises:
        ValueError: ``SRFS_PRECISION`` holds another value (the message names the variable).
    """
    import tensorflow as tf

    override = os.environ.get(PRECISION_ENV, "").strip()
    if enable is None and override and override != "auto":
        if override not in _POLICIES:
            raise ValueError(f"{PRECISION_ENV}={override!r}: choose auto or one of {', '.join(_POLICIES)}")
        keras.mixed_precision.set_global_policy(override)
        return override
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
        from sr_lib.data.imresize import bicubic
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
