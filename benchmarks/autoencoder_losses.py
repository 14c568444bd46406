"""Train the autoencoder of notebook 02 with every loss on the same budget; measure on Set5 / Set14.

The demo budget of notebook 02, run outside the notebook: one small encoder-decoder
(``sr_lib.models.autoencoder``, 16 filters, depth 2, skip connections, residual) per loss — MSE,
MAE, SSIM, PSNR, HFEN and the combined loss — then the same model without skip connections
(MSE), and one design check the notebook does not repeat: MSE trained on x4 inputs only instead
of x2 and x4 mixed. Every variant gets the same number of steps on the same data (T91, Y channel,
input = bicubic down and up again, ``sr_lib.data.restoration.restoration_pairs``) and is measured
with the SR protocol (PSNR-Y / SSIM, border = scale, 8-bit) on Set5 and Set14 at x2 and x4, the LR
image enlarged with bicubic before the model.

Prints the table and writes ``results/autoencoder_losses.json`` (with the seconds per variant).

Usage:
    python benchmarks/autoencoder_losses.py [--steps 1200] [--no-x4-only]
Needs T91, Set5 and Set14 (SRFS_DATA_DIR pointing at the mirror, or the download cache).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from sr_lib import evaluation, losses  # noqa: E402
from sr_lib.data import load_benchmark, load_hr_images  # noqa: E402
from sr_lib.data.pipeline import make_dataset  # noqa: E402
from sr_lib.data.restoration import restoration_pairs  # noqa: E402
from sr_lib.inference import pre_upsampled_upscaler, predict  # noqa: E402
from sr_lib.models import autoencoder  # noqa: E402
from sr_lib.training import fit_steps, step_schedule  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"
# (variant name, loss, skip connections, training scales); the notebook trains the first seven.
VARIANTS = [
    ("mse", "mse", True, (2, 4)),
    ("mae", "mae", True, (2, 4)),
    ("ssim", "ssim", True, (2, 4)),
    ("psnr", "psnr", True, (2, 4)),
    ("hfen", "hfen", True, (2, 4)),
    ("combined", "combined", True, (2, 4)),
    ("mse, no skips", "mse", False, (2, 4)),
    ("mse, x4 only", "mse", True, (4,)),
]
SETS, SCALES = ("Set5", "Set14"), (2, 4)


def loss_for(name: str):
    return losses.combined() if name == "combined" else losses.get(name)


def main() -> None:
    parser = argparse.ArgumentParser(description="Autoencoder SR: one training per loss, measured on Set5/Set14.")
    parser.add_argument("--steps", type=int, default=1200, help="training steps per variant (notebook demo: 1200)")
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--patch", type=int, default=48, help="patch side in HR pixels")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-x4-only", action="store_true", help="skip the x4-only training check")
    args = parser.parse_args()
    started_all = time.perf_counter()

    hr_images = load_hr_images("T91")
    train_pairs = {scales: restoration_pairs(hr_images, scales, seed=args.seed) for scales in {v[3] for v in VARIANTS}}
    test = {(name, s): load_benchmark(name, s) for name in SETS for s in SCALES}
    prepare_seconds = time.perf_counter() - started_all

    results = [evaluation.evaluate(evaluation.bicubic, pairs, method="bicubic", dataset=name)
               for (name, _), pairs in test.items()]
    variants = {}
    for label, loss, skip, scales in VARIANTS:
        if args.no_x4_only and scales == (4,):
            continue
        print(f"\n== {label}: loss {loss}, skip connections {skip}, trained on x{' and x'.join(map(str, scales))}")
        # Seed, then build the model and a fresh dataset: every variant starts from the same weights
        # and sees the same batches in the same order (as in the notebook).
        keras.utils.set_random_seed(args.seed)
        dataset = make_dataset(train_pairs[scales], scale=1, lr_patch=args.patch, batch_size=args.batch_size,
                               seed=args.seed)
        model = autoencoder(filters=args.filters, depth=args.depth, skip_connections=skip)
        optimizer = keras.optimizers.Adam(step_schedule(args.learning_rate, args.steps))
        model.compile(optimizer=optimizer, loss=loss_for(loss))
        start = time.perf_counter()
        history = fit_steps(model, dataset, args.steps, chunk=max(1, args.steps // 4),
                            batch_size=args.batch_size)
        train_seconds = time.perf_counter() - start
        upscaler = pre_upsampled_upscaler(lambda image: predict(model, image, clip=False), multiple=2**args.depth)
        start = time.perf_counter()
        scores = {}
        for (name, s), pairs in test.items():
            r = evaluation.evaluate(upscaler, pairs, method=label, dataset=name)
            results.append(r)
            scores[f"{name} x{s}"] = {"psnr": r.mean_psnr, "ssim": r.mean_ssim}
        eval_seconds = time.perf_counter() - start
        variants[label] = {
            "loss": loss, "skip_connections": skip, "train_scales": list(scales), "parameters": model.count_params(),
            "final_loss": float(history.history["loss"][-1]), "train_seconds": round(train_seconds, 1),
            "eval_seconds": round(eval_seconds, 1), "scores": scores,
        }
        print(f"{label}: trained in {train_seconds:.0f} s, evaluated in {eval_seconds:.0f} s; "
              + ", ".join(f"{k} {v['psnr']:.2f} dB" for k, v in scores.items()))

    print("\n" + evaluation.format_table(results))
    bicubic = {f"{r.dataset} x{r.scale}": {"psnr": r.mean_psnr, "ssim": r.mean_ssim}
               for r in results if r.method == "bicubic"}
    print(f"\n{'variant':<16}{'Set5 x4 gain over bicubic':>28}{'train s':>9}{'eval s':>8}")
    for label, v in variants.items():
        gain = v["scores"]["Set5 x4"]["psnr"] - bicubic["Set5 x4"]["psnr"]
        print(f"{label:<16}{gain:>+25.2f} dB{v['train_seconds']:>9.0f}{v['eval_seconds']:>8.0f}")
    total_seconds = time.perf_counter() - started_all

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "autoencoder_losses.json"
    out.write_text(json.dumps({
        "benchmark": "benchmarks/autoencoder_losses.py",
        "data": "T91 (Y channel); input = crapify(hr, s, upsample=True): MATLAB-bicubic down by s and up "
                "again; random 48 x 48 patches with flips/rotations",
        "protocol": "Set5/Set14 own LR images, bicubic-upsampled, then the model; PSNR-Y/SSIM-Y, 8-bit, border = scale",
        "model": f"sr_lib.models.autoencoder(filters={args.filters}, depth={args.depth}, residual=True)",
        "steps": args.steps, "batch_size": args.batch_size, "patch": args.patch,
        "optimizer": f"Adam {args.learning_rate:g}, x0.1 at 70% and 90% of the steps", "seed": args.seed,
        "combined_weights": losses.COMBINED_WEIGHTS,
        "bicubic": bicubic, "variants": variants,
        "prepare_seconds": round(prepare_seconds, 1), "total_seconds": round(total_seconds, 1),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "tensorflow": tf.__version__, "keras": keras.__version__},
        "date": time.strftime("%Y-%m-%d"),
    }, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out} ({total_seconds / 60:.1f} min in all)")


if __name__ == "__main__":
    main()
