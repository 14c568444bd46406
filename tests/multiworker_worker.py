"""One worker of tests/test_multiworker.py: trains a tiny ESPCN and a tiny SRGAN with fit_steps.

Run as ``python tests/multiworker_worker.py OUT [--stop-after-chunks K] [--try-keras-fit]`` with or without
``TF_CONFIG`` (without it: one process, the reference). Both models see the same seeded data in
global batches; the weights, the step counts and which backups this process wrote go to
``OUT/<task>.npz`` and ``OUT/<task>.json`` (task = ``single`` or ``worker<i>``).
``--stop-after-chunks K`` ends the process with ``os._exit`` (no clean-up, like a kill) after
chunk K's backup, as an interrupted run. ``--try-keras-fit`` then also tries Keras' own ``fit``
under the same strategy and records how it fails (``OUT/<task>_keras_fit.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

# One thread per worker: two workers share the test machine's 2 cores.
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402

from sr_lib import losses, models  # noqa: E402
from sr_lib.models import SRGAN  # noqa: E402
from sr_lib.training import fit_steps, get_strategy, read_tf_config  # noqa: E402

STEPS, CHUNK, GLOBAL_BATCH, SCALE = 6, 2, 8, 2
INTERRUPTED = 3  # exit status of a deliberately interrupted worker


def dataset(channels: int, seed: int):
    """48 seeded LR/HR pairs in global batches of 8: 6 batches per pass, more than a run's steps, so
    a resumed run that restarted the data stream (instead of continuing where the interrupted one
    stopped) would train on other batches than an uninterrupted run and end with other weights."""
    rng = np.random.default_rng(seed)
    hr = rng.random((48, 8 * SCALE, 8 * SCALE, channels), dtype=np.float32)
    lr = hr.reshape(48, 8, SCALE, 8, SCALE, channels).mean(axis=(2, 4))  # box downscale
    return tf.data.Dataset.from_tensor_slices((lr, hr)).batch(GLOBAL_BATCH).repeat()


def build_espcn():
    keras.utils.set_random_seed(0)
    model = models.espcn(SCALE, filters=(8, 4))
    # SGD, not Adam: Adam's step hardly depends on the gradient's scale, so a wrong
    # cross-worker average (a sum, one worker's half batch) would go unnoticed.
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    return model


def build_srgan():
    keras.utils.set_random_seed(1)
    generator = models.espcn(SCALE, channels=3, filters=(8, 4), name="generator")
    # No BatchNorm: each worker would normalise with its half batch's statistics.
    critic = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(4, 3, strides=2),
                               keras.layers.LeakyReLU(0.2), keras.layers.Conv2D(1, 3)], name="critic")
    gan = SRGAN(generator, critic, scale=SCALE)
    gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05), content_loss=losses.mse,
                adversarial_weight=0.1)
    return gan


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, chunks: int):
        super().__init__()
        self.chunks = chunks

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.chunks:
            sys.stdout.flush()
            # Both workers stop here, but the faster one must not close its sockets while the other is
            # still receiving the last all-reduce of the chunk (a ring all-reduce ends at different
            # moments on its members): that made the slower worker fail with "Socket closed" (exit 1)
            # once in a CI run instead of stopping here too. The pause lets that receive finish.
            time.sleep(2.0)
            os._exit(INTERRUPTED)


def _record_saves(model) -> list[str]:
    """Make ``model.save_weights`` note every path it writes (fit_steps' backups go through it)."""
    saved, save = [], model.save_weights

    def recorded(*args, **kwargs):
        saved.append(str(kwargs.get("filepath", args[0] if args else None)))
        return save(*args, **kwargs)

    model.save_weights = recorded
    return saved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--stop-after-chunks", type=int, default=0)
    parser.add_argument("--try-keras-fit", action="store_true", help="afterwards, try Keras' own fit (see try_keras_fit)")
    args = parser.parse_args(argv)

    strategy = get_strategy()
    config = read_tf_config()
    task = "single" if config is None else f"{config['task']['type']}{config['task']['index']}"
    callbacks = [_Interrupt(args.stop_after_chunks)] if args.stop_after_chunks else []
    record, arrays = {"replicas": strategy.num_replicas_in_sync}, {}
    for name, build, channels in (("espcn", build_espcn, 1), ("srgan", build_srgan, 3)):
        with strategy.scope():
            model = build()
        arrays.update({f"{name}_initial_{i}": w for i, w in enumerate(model.get_weights())})
        saved = _record_saves(model)
        history = fit_steps(model, dataset(channels, seed=len(name)), STEPS, chunk=CHUNK,
                            backup_dir=args.out / f"backup_{name}", callbacks=callbacks, verbose=False)
        arrays.update({f"{name}_final_{i}": w for i, w in enumerate(model.get_weights())})
        record[name] = {
            "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
            "backups_written": len(saved),
            "losses": {k: [float(x) for x in v] for k, v in history.history.items()},
        }
    np.savez(args.out / f"{task}.npz", **arrays)
    (args.out / f"{task}.json").write_text(json.dumps(record))
    if args.try_keras_fit:
        (args.out / f"{task}_keras_fit.json").write_text(json.dumps(try_keras_fit(strategy)))
    return 0


def try_keras_fit(strategy) -> dict:
    """Keras 3's own ``model.fit`` for 2 steps under the same strategy: the path fit_steps avoids."""
    with strategy.scope():
        model = build_espcn()
    try:
        model.fit(dataset(1, seed=0), epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
    except Exception as error:  # noqa: BLE001 - recorded for the test, which names the known failure
        return {"error": type(error).__name__, "message": str(error).splitlines()[0][:200]}
    return {"error": None, "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations))}


if __name__ == "__main__":
    sys.exit(main())
