"""Training throughput of the notebook 05/06 generators alone and inside their GANs, on this machine.

For each configuration and precision (``float32``, and ``mixed_bfloat16``: bfloat16 compute with float32
weights, the CPU's mixed precision; GPUs use ``mixed_float16``): HR patches per second of ``fit`` (after a
warm-up) on this device:

- ``unet`` (notebook 05) with MSE, with its perceptual loss (VGG-16 ``relu2_2`` + MAE), then inside
  ``SRGAN`` with a conditional PatchGAN critic and that perceptual loss;
- ``srresnet`` (notebook 06) with MSE (phase 1, pre-training), then inside ``SRGAN`` with the paper's
  discriminator and notebook 06's content loss, VGG-16 ``relu5_3`` (phase 2).

The VGG-16 is the real one the notebooks use: torchvision's ImageNet weights converted by
``make install`` (``sr_lib.perceptual``, source ``"lpips-vgg16"``). Without them the benchmark
stops with the library's message (run ``make install``); ``--untrained-vgg`` times the same
networks with random weights instead (the arithmetic is the same, the recorded rows say which).

Prints a table and writes ``results/gan_speed.json``. The numbers are for this CPU; rerun on a GPU.

Usage: python benchmarks/gan_speed.py [--steps 20] [--batch 16] [--lr-patch 24] [--precisions float32,mixed_bfloat16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from sr_lib import losses, models, perceptual  # noqa: E402
from sr_lib.models import SRGAN  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"
SCALE = 4


def _data(batch: int, lr_patch: int):
    rng = np.random.default_rng(0)
    lr = rng.random((batch, lr_patch, lr_patch, 3), dtype=np.float32)
    hr = rng.random((batch, lr_patch * SCALE, lr_patch * SCALE, 3), dtype=np.float32)
    return tf.data.Dataset.from_tensors((lr, hr)).repeat()


def _configurations(lr_patch: int, vgg_weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the untrained-VGG warning: the rows say it
        relu5_3 = perceptual.PerceptualLoss(("block5_conv3",), weights=vgg_weights, network="vgg16", scale=1.0)
        relu5_3.extractor()
        relu2_2 = perceptual.PerceptualLoss(("block2_conv2",), weights=vgg_weights, network="vgg16")
        relu2_2.extractor()

    def notebook03_loss(y_true, y_pred):  # notebook 05's content loss: features + 1 x MAE
        return relu2_2(y_true, y_pred) + losses.mae(y_true, y_pred)

    def plain(factory, loss):
        def build():
            model = factory()
            model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss)
            return model
        return build

    def gan(factory, critic, loss, conditional):
        def build():
            model = SRGAN(factory(), critic(), scale=SCALE, conditional=conditional)
            model.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4), content_loss=loss)
            return model
        return build

    unet = lambda: models.unet(SCALE, filters=32, depth=2)  # noqa: E731  (notebook 05's size)
    srresnet = lambda: models.srresnet(SCALE)  # noqa: E731
    hr = lr_patch * SCALE
    return {
        "unet + MSE": plain(unet, losses.mse),
        "unet + VGG16 relu2_2 + MAE": plain(unet, notebook03_loss),
        "unet + VGG16 relu2_2 + PatchGAN (conditional)": gan(unet, lambda: models.patchgan_critic(), notebook03_loss, True),
        "srresnet + MSE": plain(srresnet, losses.mse),
        "srresnet + VGG16 relu5_3 + discriminator": gan(srresnet, lambda: models.srgan_discriminator(hr), relu5_3, False),
    }


def measure(build, data, steps: int, batch: int) -> float:
    model = build()
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # trace + warm-up
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr-patch", type=int, default=24)
    parser.add_argument("--precisions", default="float32,mixed_bfloat16",
                        help="comma-separated Keras dtype policies (default: float32,mixed_bfloat16)")
    parser.add_argument("--untrained-vgg", action="store_true",
                        help="time the VGG losses with random weights (when `make install` has not fetched them)")
    args = parser.parse_args()
    vgg_weights = None if args.untrained_vgg else perceptual.LPIPS_VGG16
    if vgg_weights and not perceptual.converted_weights_file().is_file():
        raise SystemExit(f"error: {perceptual.converted_weights_file()}: the converted VGG-16 weights are missing; "
                         "run `make install` (or pass --untrained-vgg)")
    data = _data(args.batch, args.lr_patch)
    rows = []
    print(f"x{SCALE}, LR patch {args.lr_patch} (HR {args.lr_patch * SCALE}), batch {args.batch}, {args.steps} timed steps")
    print(f"VGG-16 weights: {vgg_weights or 'untrained (random)'}")
    print(f"{'configuration':<46} {'precision':<16} {'HR patches/s':>12} {'s/step':>8}")
    for precision in args.precisions.split(","):
        # The policy applies to layers built from now on: set it before building the configurations.
        keras.mixed_precision.set_global_policy(precision)
        for name, build in _configurations(args.lr_patch, vgg_weights).items():
            rate = measure(build, data, args.steps, args.batch)
            rows.append({"configuration": name, "precision": precision, "patches_per_s": rate,
                         "seconds_per_step": args.batch / rate})
            print(f"{name:<46} {precision:<16} {rate:>12.1f} {args.batch / rate:>8.3f}", flush=True)
    keras.mixed_precision.set_global_policy("float32")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "gan_speed.json"
    out.write_text(json.dumps({
        "benchmark": "gan_speed", "scale": SCALE, "lr_patch": args.lr_patch, "batch": args.batch,
        "steps": args.steps, "vgg_weights": vgg_weights or "untrained", "load_average_1min": os.getloadavg()[0],  # other jobs stretch the times
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                          "tensorflow": tf.__version__, "keras": keras.__version__},
        "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
