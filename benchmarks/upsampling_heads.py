"""Speed of the four upsampling heads on this machine: float32 vs mixed_bfloat16, XLA on/off.

For every head of ``sr_lib.models.HEADS`` on the ESPCN x3 body, and every (precision, jit_compile):

- training throughput: LR patches (17x17, batch 32) per second of ``fit``, after a warm-up;
- inference throughput: output megapixels per second on a 256x256 LR image (768x768 out), median
  of several calls after a warm-up;
- fidelity: the largest difference from the float32 output of the *same weights*, in 8-bit grey
  levels (a setting that changes the saved image by more than a grey level is not "correct" for
  the evaluation protocol, however fast).

Prints a table, picks the fastest correct setting for training and for inference, and writes
``results/upsampling_heads.json``. Numbers are for this CPU; on a GPU, rerun.

Usage: python benchmarks/upsampling_heads.py [--train-steps 200] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from sr_lib.models import HEADS, espcn  # noqa: E402

# One tf.function per model is intended here; TF's retracing warning would only add noise.
tf.get_logger().setLevel("ERROR")

RESULTS = Path(__file__).resolve().parents[1] / "results"
SCALE, PATCH, BATCH = 3, 17, 32


def _patches(seed: int = 0):
    rng = np.random.default_rng(seed)
    lr = rng.random((256, PATCH, PATCH, 1)).astype("float32")
    hr = rng.random((256, PATCH * SCALE, PATCH * SCALE, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((lr, hr)).repeat().batch(BATCH).prefetch(tf.data.AUTOTUNE)


def _build(head: str, precision: str, weights=None):
    keras.mixed_precision.set_global_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        model = espcn(SCALE, head=head)
        if weights is not None:
            model.set_weights(weights)
        return model
    finally:
        keras.mixed_precision.set_global_policy("float32")


def train_throughput(head: str, precision: str, jit: bool, steps: int) -> float:
    model = _build(head, precision)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit)
    data = _patches()
    model.fit(data, steps_per_epoch=20, epochs=1, verbose=0)  # warm-up: tracing and compilation
    started = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * BATCH / (time.perf_counter() - started)


def inference(head: str, precision: str, jit: bool, weights, image, calls: int) -> tuple[float, np.ndarray]:
    model = _build(head, precision, weights)
    run = tf.function(lambda x: model(x, training=False), jit_compile=jit)
    output = np.asarray(run(image), dtype=np.float32)  # warm-up
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        output = np.asarray(run(image), dtype=np.float32)
        times.append(time.perf_counter() - started)
    megapixels = output.shape[1] * output.shape[2] / 1e6
    return megapixels / statistics.median(times), output


def espcn_rows_all(rows):
    return [r for r in rows if r["head"] == "subpixel_icnr"]


def main() -> None:
    parser = argparse.ArgumentParser(description="Throughput of the upsampling heads.")
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="only the sub-pixel ICNR head")
    args = parser.parse_args()

    heads = ("subpixel_icnr",) if args.quick else HEADS
    image = np.random.default_rng(1).random((1, 256, 256, 1)).astype("float32")
    rows = []
    for head in heads:
        reference_weights = _build(head, "float32").get_weights()
        _, reference = inference(head, "float32", False, reference_weights, image, 1)
        for precision in ("float32", "mixed_bfloat16"):
            for jit in (False, True):
                label = f"{head:<16}{precision:<16}{'xla' if jit else 'no-xla':<8}"
                try:
                    train = train_throughput(head, precision, jit, args.train_steps)
                    infer, output = inference(head, precision, jit, reference_weights, image, args.calls)
                except Exception as error:  # e.g. XLA refusing a mixed-precision gradient: a result too
                    message = str(error).strip().splitlines()[-1][:300] if str(error).strip() else type(error).__name__
                    rows.append({"head": head, "precision": precision, "jit_compile": jit, "error": message})
                    print(f"{label}failed: {message[:120]}", flush=True)
                    continue
                grey_levels = float(np.abs(np.clip(output, 0, 1) - np.clip(reference, 0, 1)).max() * 255)
                rows.append({"head": head, "precision": precision, "jit_compile": jit,
                             "train_patches_per_s": round(train, 1), "infer_megapixels_per_s": round(infer, 2),
                             "max_diff_grey_levels": round(grey_levels, 3)})
                print(f"{label}{train:>10,.0f} patches/s{infer:>9.2f} MP/s{grey_levels:>9.3f} grey levels", flush=True)

    correct = [r for r in rows if "error" not in r and r["max_diff_grey_levels"] <= 1.0]
    espcn_rows = [r for r in correct if r["head"] == "subpixel_icnr"]
    fastest_train = max(espcn_rows, key=lambda r: r["train_patches_per_s"])
    fastest_infer = max(espcn_rows, key=lambda r: r["infer_megapixels_per_s"])
    rejected = sorted({(r["precision"], r["jit_compile"]) for r in espcn_rows_all(rows) if r not in correct})
    reason = (
        f"on this CPU ({platform.machine()}, {os.cpu_count()} threads) the fastest setting whose output stays within "
        f"one grey level of float32 is {fastest_train['precision']} with jit_compile={fastest_train['jit_compile']} "
        f"for training ({fastest_train['train_patches_per_s']:,.0f} patches/s) and {fastest_infer['precision']} with "
        f"jit_compile={fastest_infer['jit_compile']} for inference ({fastest_infer['infer_megapixels_per_s']:.2f} MP/s)"
        + (f"; rejected as not exact enough: {rejected}" if rejected else "")
    )
    print("\n" + reason)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "upsampling_heads.json"
    out.write_text(json.dumps({
        "benchmark": "upsampling_heads", "machine": {"processor": platform.machine(), "cpu_threads": os.cpu_count(),
                                                     "tensorflow": tf.__version__, "keras": keras.__version__},
        "scale": SCALE, "lr_patch": PATCH, "batch_size": BATCH, "train_steps": args.train_steps,
        "rows": rows,
        "default": {"precision": fastest_train["precision"], "jit_compile": fastest_train["jit_compile"],
                    "inference_precision": fastest_infer["precision"],
                    "inference_jit_compile": fastest_infer["jit_compile"], "reason": reason},
    }, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
