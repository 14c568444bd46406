"""Train ESPCN on T91 (Y channel) and measure it on Set5 / Set14 with the SR protocol.

This is the run behind the shipped weights (``assets/weights/espcn_x{2,3,4}.weights.h5``) and the
numbers in notebook 01 and the README. Prints a table and writes ``results/espcn_x{scale}.json``;
with ``--save`` it also (re)writes the weights and their registry entry.

Paper (Shi et al. 2016, T91 training, x3): Set5 32.55 dB, Set14 29.08 dB.

Usage:
    python benchmarks/train_espcn.py --scale 3 [--steps 60000] [--save] [--backup-dir DIR]
Needs T91, Set5 and Set14 (SRFS_DATA_DIR pointing at the mirror, or the download cache).
Several GPUs are used through ``get_strategy()``; with ``TF_CONFIG`` set, start the same command on
every machine (README, "Scaling up"): ``--batch-size`` is the global batch, and only the chief
scores, records and saves.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from sr_lib.data import load_hr_images, luma_pairs, make_pairs  # noqa: E402
from sr_lib.data.pipeline import make_dataset  # noqa: E402
from sr_lib.inference import model_upscaler  # noqa: E402
from sr_lib.models import espcn  # noqa: E402
from sr_lib.training import fit_steps, get_strategy, is_chief, step_schedule  # noqa: E402
from training_record import score, write_record  # noqa: E402  (benchmarks/, beside this script)

PAPER = {3: {"Set5": 32.55, "Set14": 29.08}}


def main() -> None:
    parser = argparse.ArgumentParser(description="Train ESPCN on T91 and evaluate it on Set5/Set14.")
    parser.add_argument("--scale", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60000)
    parser.add_argument("--batch-size", type=int, default=32, help="global batch: split over GPUs / workers")
    parser.add_argument("--lr-patch", type=int, default=17, help="LR patch side (paper: 17)")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--activation", default="tanh")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", action="store_true", help="write assets/weights/espcn_x{scale}.weights.h5")
    parser.add_argument("--backup-dir", help="keep backups here and resume from them (one shared folder for all workers)")
    args = parser.parse_args()

    strategy = get_strategy()  # first: MultiWorkerMirroredStrategy must exist before other TensorFlow work
    keras.utils.set_random_seed(args.seed)
    train = luma_pairs(make_pairs(load_hr_images("T91"), args.scale))
    dataset = make_dataset(train, scale=args.scale, lr_patch=args.lr_patch, batch_size=args.batch_size, seed=args.seed)
    kwargs = {"scale": args.scale, "activation": args.activation}
    with strategy.scope():
        model = espcn(**kwargs)
        model.compile(optimizer=keras.optimizers.Adam(step_schedule(args.learning_rate, args.steps)), loss="mse")

    started = time.perf_counter()
    fit_steps(model, dataset, args.steps, chunk=5000, batch_size=args.batch_size,
              backup_dir=args.backup_dir)
    train_seconds = time.perf_counter() - started
    if not is_chief():
        return  # every worker holds the same weights: the chief scores and writes them

    scores = score(model_upscaler(model), args.scale, "ESPCN")
    for name, s in scores.items():
        s["paper_psnr"] = PAPER.get(args.scale, {}).get(name)

    print(f"\nESPCN x{args.scale}: {args.steps} steps of {args.batch_size} {args.lr_patch}x{args.lr_patch} "
          f"LR patches in {train_seconds / 60:.1f} min on {os.cpu_count()} CPU threads")
    print(f"{'set':<7}{'bicubic':>10}{'ESPCN':>9}{'paper':>8}{'SSIM':>8}")
    for name, s in scores.items():
        paper = f"{s['paper_psnr']:.2f}" if s["paper_psnr"] else "-"
        print(f"{name:<7}{s['bicubic_psnr']:>10.2f}{s['psnr']:>9.2f}{paper:>8}{s['ssim']:>8.4f}")

    recipe = {
        "data": "T91, Y channel, LR by MATLAB-compatible bicubic; augment: flips + 90-degree rotations",
        "steps": args.steps, "batch_size": args.batch_size, "lr_patch": args.lr_patch,
        "optimizer": f"Adam {args.learning_rate:g}, x0.1 at 70% and 90% of the steps", "loss": "MSE",
    }
    write_record(model, f"espcn_x{args.scale}", benchmark="train_espcn", factory="espcn", kwargs=kwargs,
                 recipe=recipe, train_seconds=train_seconds, seed=args.seed, scores=scores, save=args.save)

if __name__ == "__main__":
    main()
