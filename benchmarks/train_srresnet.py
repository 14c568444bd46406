"""Train notebook 06's demo SRResNet x4 on T91 (RGB) and measure it on Set5 / Set14 with the SR protocol.

The recipe is the notebook's demo mode: SRResNet (Ledig et al. 2017) slimmed to 6 residual blocks x 32
filters, with the bicubic residual (``bicubic_residual=True``: the untrained network is bicubic),
Adam at the paper's 1e-4 (x0.1 at 70 % and 90 %), MSE, 16 LR patches of 24 x 24 per step. With
``--save`` it ships the weights as ``srresnet_x4_demo`` (``sr_lib.pretrained.load("srresnet_x4_demo")``),
an RGB model. Prints a table and writes ``results/srresnet_x4_demo.json``.

Usage: python benchmarks/train_srresnet.py [--steps 3000] [--save]
Needs T91, Set5 and Set14 (SRFS_DATA_DIR pointing at the mirror, or the download cache).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from sr_lib import losses  # noqa: E402
from sr_lib.data import load_hr_images, make_pairs  # noqa: E402
from sr_lib.data.pipeline import make_dataset  # noqa: E402
from sr_lib.inference import model_upscaler  # noqa: E402
from sr_lib.models import srresnet  # noqa: E402
from sr_lib.training import fit_steps, step_schedule  # noqa: E402
from training_record import score, write_record  # noqa: E402  (benchmarks/, beside this script)

NAME = "srresnet_x4_demo"


def main() -> None:
    parser = argparse.ArgumentParser(description="Train notebook 06's demo SRResNet x4 and evaluate it.")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr-patch", type=int, default=24)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--save", action="store_true", help=f"write assets/weights/{NAME}.weights.h5")
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    pairs = [(p.lr, p.hr) for p in make_pairs(load_hr_images("T91"), 4)]
    train = [(lr, hr) for lr, hr in pairs if min(lr.shape[:2]) >= args.lr_patch]  # T91 has a few tiny images
    dataset = make_dataset(train, scale=4, lr_patch=args.lr_patch, batch_size=args.batch_size, seed=args.seed)
    kwargs = {"scale": 4, "num_res_blocks": 6, "filters": 32, "bicubic_residual": True}
    model = srresnet(**kwargs)
    model.compile(optimizer=keras.optimizers.Adam(step_schedule(args.learning_rate, args.steps)), loss=losses.mse)
    started = time.perf_counter()
    fit_steps(model, dataset, args.steps, chunk=500, batch_size=args.batch_size)
    train_seconds = time.perf_counter() - started

    scores = score(model_upscaler(model, channel="rgb"), 4, "SRResNet")
    print(f"\nSRResNet x4 (6 blocks x 32, bicubic residual): {args.steps} steps of {args.batch_size} "
          f"{args.lr_patch}x{args.lr_patch} LR patches in {train_seconds / 60:.1f} min on {os.cpu_count()} CPU threads")
    print(f"{'set':<7}{'bicubic':>10}{'SRResNet':>10}{'SSIM':>8}")
    for name, s in scores.items():
        print(f"{name:<7}{s['bicubic_psnr']:>10.2f}{s['psnr']:>10.2f}{s['ssim']:>8.4f}")

    recipe = {
        "data": "T91 RGB, LR by MATLAB-compatible bicubic, images >= 24 px (LR); augment: flips + 90-degree rotations",
        "mode": "notebook 06 demo recipe", "channel": "rgb", "multiple": 1,
        "steps": args.steps, "batch_size": args.batch_size, "lr_patch": args.lr_patch,
        "optimizer": f"Adam {args.learning_rate:g}, x0.1 at 70% and 90% of the steps", "loss": "MSE",
    }
    write_record(model, NAME, benchmark="train_srresnet", factory="srresnet", kwargs=kwargs, recipe=recipe,
                 train_seconds=train_seconds, seed=args.seed, scores=scores, save=args.save)

if __name__ == "__main__":
    main()
