"""Training throughput of the input pipeline: ours against the keras.io ESPCN example's and against pre-cut patches.

Three ways to feed the same model, timed in one run, back to back, in turns (so other jobs on the
machine slow them alike), with repetitions:

- **peer**: the recipe of the keras.io example "Image Super-Resolution using an Efficient Sub-Pixel
  CNN" (Xingyu Long, 2020; keras.io/examples/vision/super_resolution_sub_pixel), re-implemented
  faithfully on T91 instead of BSDS500 (no internet here; T91 comes from the data registry):
  ``keras.utils.image_dataset_from_directory`` (per image: read the file, decode, resize to 300 x 300;
  then batches of 4; the same 80 % training split with seed 1337), ``map(/ 255)``, then
  ``map`` to YUV, the Y channel, and ``tf.image.resize(..., method="area")`` to 100 x 100 for the LR
  input. Its model (four convolutions, ReLU, orthogonal initialisation, depth-to-space x3), Adam 1e-3,
  MSE. Two changes, neither in the data path: the depth-to-space is ``sr_lib.layers.PixelShuffle``
  (the example calls ``tf.nn.depth_to_space`` on a Keras tensor, which Keras 3 refuses), and the
  dataset is ``repeat()``-ed so that every arm runs the same number of steps per timing (the
  example's epoch re-reads the files each time; so does ``repeat``).
- **ours**: ``sr_lib.data.make_dataset`` (packed in-memory images, vectorised crops, flips and
  rotations per batch) on the same 73 training images as (LR, HR) Y-channel pairs made by the
  library (MATLAB bicubic x1/3), with the same model, LR patch 100 (HR 300) and batch 4. Images
  with a short side under 300 px are first enlarged to 300 (the peer resizes every image to
  300 x 300; a 300 px crop must fit in ours).
- **in-memory**: the upper bound, training on patches already cut: 16 batches of ours stacked into
  tensors and cycled (``from_tensor_slices(...).repeat()``), no work per step but a slice.

Then the same ours-against-in-memory comparison for notebook 06's demo SRResNet (6 residual blocks, 32
filters, bicubic residual, x4, LR patch 24, batch 16, RGB T91 pairs, Adam 1e-4, MSE), and for notebook
01's ESPCN (``sr_lib.models.espcn``, x3, Y channel, LR patch 17, batch 32, Adam 1e-3, MSE; steps of a
few milliseconds, so the pipeline's share is largest there), where two more arms run: **per-element**,
the previous ``make_dataset`` (one ``tf.data`` element per patch: crop, flip/rotate, then batch),
rebuilt here from ``random_crop_pair`` and ``random_flip_rotate_pair``; and the **peer**'s data recipe
at notebook 01's settings (every image read, decoded and resized to 51 x 51 per patch, Y, area
resize to 17 x 17, batches of 32) feeding the same model.

Why two peer comparisons: at the example's own settings (a 100 x 100 LR patch through 64-filter 5 x 5
convolutions, batch 4) a step is ~0.4 s of model compute, and the example's pipeline already keeps up
with it (it reaches ~90 % of the in-memory bound), so no pipeline can be 2x faster there: the bound
itself is ~1.1x the peer. At notebook 01's settings a step is a few milliseconds and the data path
decides the speed; that is where the 2x target can be measured.

Each timing is ``--steps`` training steps (Keras' ``train_function``, what ``fit`` runs per step) on
a fresh iterator after a few untimed steps (see ``compare``: a live iterator of another arm would take
CPU from the arm being timed), after a first warm-up (tracing, and one whole epoch of the peer so that
its short last batch is traced too); patches/s counts the patches actually trained (the peer's epoch
ends with a batch of 1), per wall-clock second and per CPU second of this process
(on cores shared with other jobs the wall clock swings by 2x or more from one timing to the next; the
CPU time of our own threads much less). The table shows the medians over ``--repeats`` turns and, as
the ratios, the median of the per-turn ratios (arms timed next to each other share the load).
Targets (issue 22): ours >= 2x the peer, ours >= 90 % of in-memory.

Prints the tables and writes ``results/training_throughput.json`` (atomically). Needs T91 (data mirror
``SRFS_DATA_DIR`` or the cache). Numbers are for this CPU; rerun on a GPU.

Usage: python benchmarks/training_throughput.py [--steps 10] [--repeats 9] [--only espcn,srresnet,espcn01]
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
from keras import layers  # noqa: E402

from sr_lib import losses, models  # noqa: E402
from sr_lib.data import load_hr_images, registry  # noqa: E402
from sr_lib.data.degrade import bicubic_downscale, modcrop  # noqa: E402
from sr_lib.data.imresize import imresize  # noqa: E402
from sr_lib.data.pipeline import make_dataset  # noqa: E402
from sr_lib.files import atomic_path  # noqa: E402
from sr_lib.layers import PixelShuffle  # noqa: E402
from sr_lib.images import rgb_to_y  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"
# The keras.io example's settings.
PEER_CROP, PEER_SCALE, PEER_BATCH, PEER_SPLIT_SEED = 300, 3, 4, 1337
# Notebook 06's demo SRResNet.
SRRESNET = {"scale": 4, "num_res_blocks": 6, "filters": 32, "bicubic_residual": True}
SRRESNET_PATCH, SRRESNET_BATCH = 24, 16
# Notebook 01's ESPCN (the library's, Y channel), where a step is short and the pipeline's share largest.
ESPCN_NB01_SCALE, ESPCN_NB01_PATCH, ESPCN_NB01_BATCH, ESPCN_NB01_STEPS = 3, 17, 32, 10  # steps: x --steps
IN_MEMORY_BATCHES = 16


# ---------------------------------------------------------------------------------------------
# The peer: the keras.io ESPCN example's data pipeline and model


def peer_dataset(folder: Path, crop: int = PEER_CROP, scale: int = PEER_SCALE, batch: int = PEER_BATCH):
    """The example's training dataset, on the images in ``folder``; returns (dataset, its file paths).

    ``crop`` (HR side), ``scale`` and ``batch`` default to the example's; other values run the same
    recipe at another model's settings (every image read, decoded and resized to ``crop`` x ``crop``
    per patch, as the example does)."""
    train_ds = keras.utils.image_dataset_from_directory(
        str(folder), batch_size=batch, image_size=(crop, crop), validation_split=0.2,
        subset="training", seed=PEER_SPLIT_SEED, label_mode=None, verbose=False)
    paths = train_ds.file_paths

    def scaling(input_image):
        return input_image / 255.0

    def process_input(input, crop_size, upscale_factor):
        y, _, _ = tf.split(tf.image.rgb_to_yuv(input), 3, axis=len(input.shape) - 1)
        crop_size = crop_size // upscale_factor
        return tf.image.resize(y, [crop_size, crop_size], method="area")

    def process_target(input):
        y, _, _ = tf.split(tf.image.rgb_to_yuv(input), 3, axis=len(input.shape) - 1)
        return y

    train_ds = train_ds.map(scaling)
    train_ds = train_ds.map(lambda x: (process_input(x, crop, scale), process_target(x)))
    return train_ds.repeat(), paths


def peer_model() -> keras.Model:
    """The example's ``get_model(upscale_factor=3, channels=1)``; depth-to-space as a layer (Keras 3)."""
    conv_args = {"activation": "relu", "kernel_initializer": "Orthogonal", "padding": "same"}
    inputs = keras.Input(shape=(PEER_CROP // PEER_SCALE, PEER_CROP // PEER_SCALE, 1))
    x = layers.Conv2D(64, 5, **conv_args)(inputs)
    x = layers.Conv2D(64, 3, **conv_args)(x)
    x = layers.Conv2D(32, 3, **conv_args)(x)
    x = layers.Conv2D(PEER_SCALE**2, 3, **conv_args)(x)
    outputs = PixelShuffle(PEER_SCALE)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss=keras.losses.MeanSquaredError())
    return model


def peer_patches(steps: int, images: int, batch: int = PEER_BATCH) -> int:
    """Patches in the first ``steps`` batches of the repeated peer dataset (each epoch ends with a short batch)."""
    sizes = [batch] * (images // batch) + ([images % batch] if images % batch else [])
    return sum(sizes[step % len(sizes)] for step in range(steps))


# ---------------------------------------------------------------------------------------------
# Ours and the in-memory bound


def espcn_pairs(names: set[str]):
    """Y-channel (LR, HR) pairs of the named T91 images, short side enlarged to the peer's crop if needed."""
    pairs = []
    for name, hr in load_hr_images("T91"):
        if name not in names:
            continue
        short = min(hr.shape[:2])
        if short < PEER_CROP:
            hr = np.clip(imresize(hr, PEER_CROP / short), 0.0, 1.0)
        hr = modcrop(rgb_to_y(hr)[..., None], PEER_SCALE)
        pairs.append((bicubic_downscale(hr, PEER_SCALE), hr))
    return pairs


def srresnet_pairs():
    pairs = []
    for _, hr in load_hr_images("T91"):
        hr = modcrop(hr, SRRESNET["scale"])
        lr = bicubic_downscale(hr, SRRESNET["scale"])
        if min(lr.shape[:2]) >= SRRESNET_PATCH:  # drops T91's one image under 96 px (78 x 78)
            pairs.append((lr, hr))
    return pairs


def in_memory(dataset) -> tf.data.Dataset:
    """The upper bound: batches of ``dataset`` cut once, then cycled from memory."""
    lr, hr = (np.stack(t) for t in zip(*[(a.numpy(), b.numpy()) for a, b in dataset.take(IN_MEMORY_BATCHES)]))
    return tf.data.Dataset.from_tensor_slices((lr, hr)).repeat().prefetch(tf.data.AUTOTUNE)


def srresnet_model() -> keras.Model:
    model = models.srresnet(**SRRESNET)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=losses.mse)
    return model


def espcn_nb01_pairs():
    pairs = []
    for _, hr in load_hr_images("T91"):
        hr = modcrop(rgb_to_y(hr)[..., None], ESPCN_NB01_SCALE)
        pairs.append((bicubic_downscale(hr, ESPCN_NB01_SCALE), hr))
    return pairs


def espcn_nb01_model() -> keras.Model:
    model = models.espcn(ESPCN_NB01_SCALE)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses.mse)
    return model


def per_element(pairs, scale: int, lr_patch: int, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """The previous ``make_dataset`` (before the batched one), for comparison: whole images cached and
    shuffled, then one ``tf.data`` element per patch: crop, flip/rotate, batch."""
    from sr_lib.data.pipeline import random_crop_pair, random_flip_rotate_pair

    channels = pairs[0][0].shape[-1]
    spec = tf.TensorSpec((None, None, channels), tf.float32)
    dataset = tf.data.Dataset.from_generator(lambda: iter(pairs), output_signature=(spec, spec))
    dataset = dataset.cache().repeat().shuffle(len(pairs), seed=seed)

    def transform(index, pair):
        crop_seed, augment_seed = tf.unstack(tf.random.split(tf.stack([tf.constant(seed, tf.int64), index]), 2))
        lr, hr = random_crop_pair(pair[0], pair[1], lr_patch, scale, crop_seed)
        lr, hr = random_flip_rotate_pair(lr, hr, augment_seed)
        return (tf.ensure_shape(lr, (lr_patch, lr_patch, channels)),
                tf.ensure_shape(hr, (lr_patch * scale, lr_patch * scale, channels)))

    dataset = dataset.enumerate().map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------------------------
# Timing


def compare(arms: dict, steps: int, repeats: int, warmup: int, turn_warmup: int = 3) -> dict:
    """``arms``: name -> (build_model, dataset, patches_in(steps)). Returns name -> {"wall": [...], "cpu": [...]}.

    Every arm gets its own model (same architecture, same seed) and a first warm-up of ``warmup``
    steps that traces everything (for the peer a whole epoch, so that its short last batch is traced
    too). Then the arms take turns, ``repeats`` times, the order rotating each turn so none always
    runs first. A timing takes a **fresh iterator** over the arm's dataset, ``turn_warmup`` untimed
    steps (its threads start and its prefetch buffers fill, as in a long ``fit``), then ``steps``
    timed steps of Keras' own ``train_function`` (what ``fit`` calls once per step); the iterator is
    dropped afterwards. Why not one iterator per arm for the whole run: a live iterator's threads
    keep filling its prefetch buffer while the *other* arms are timed. Measured at notebook 01's
    settings: with the peer's iterator alive, ours and in-memory ran ~17 % slower (its file
    decoding took their CPU), and the peer banked batches made in their time for its own timing.
    Per timing: patches per wall-clock second, and patches per CPU second of this process (all its
    threads: training and input pipeline), which other jobs on the machine disturb far less.
    """
    trained = {}
    for name, (build, dataset, _) in arms.items():
        keras.utils.set_random_seed(0)
        model = build()
        model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)  # builds and traces model.train_function
        iterator = iter(dataset)
        for _ in range(warmup):
            model.train_function(iterator)
        del iterator
        trained[name] = model
    rates = {name: {"wall": [], "cpu": []} for name in arms}
    names = list(arms)
    for turn in range(repeats):
        for name in names[turn % len(names):] + names[:turn % len(names)]:
            _, dataset, patches_in = arms[name]
            iterator = iter(dataset)
            for _ in range(turn_warmup):
                logs = trained[name].train_function(iterator)
            float(logs["loss"])
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(steps):
                logs = trained[name].train_function(iterator)
            float(logs["loss"])  # the step has finished
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            del iterator  # stops its threads before the next arm is timed
            patches = patches_in(turn_warmup + steps) - patches_in(turn_warmup)
            rates[name]["wall"].append(patches / wall)
            rates[name]["cpu"].append(patches / cpu)
        print(f"  turn {turn + 1}/{repeats}, patches/s (per CPU s): "
              + ", ".join(f"{n} {rates[n]['wall'][-1]:,.1f} ({rates[n]['cpu'][-1]:,.1f})" for n in names), flush=True)
    return rates


def summary(rates: dict, reference: str, versus: list[str]) -> dict:
    """Medians per arm; ratios ``reference / other`` as the median of the per-turn ratios (arms that
    ran next to each other shared the machine's load) and as the ratio of the medians."""
    result = {"patches_per_s": {n: r["wall"] for n, r in rates.items()},
              "patches_per_cpu_s": {n: r["cpu"] for n, r in rates.items()}}
    for clock, key in (("wall", "patches_per_s"), ("cpu", "patches_per_cpu_s")):
        result[f"median_{key}"] = {n: statistics.median(r[clock]) for n, r in rates.items()}
        result[f"ratio_{key}"] = {
            f"{reference}/{other}": statistics.median(a / b for a, b in zip(rates[reference][clock], rates[other][clock]))
            for other in versus}
    return result


def print_table(title: str, result: dict, reference: str) -> None:
    print(f"\n{title}")
    print(f"{'pipeline':<11} {'patches/s':>10} {'range':>15} {'ours/this':>10} {'patches/CPU s':>14} {'ours/this':>10}")
    for name, values in result["patches_per_s"].items():
        ratio = result["ratio_patches_per_s"].get(f"{reference}/{name}", 1.0)
        cpu_ratio = result["ratio_patches_per_cpu_s"].get(f"{reference}/{name}", 1.0)
        print(f"{name:<11} {result['median_patches_per_s'][name]:>10,.1f} "
              f"{f'{min(values):,.1f}-{max(values):,.1f}':>15} {ratio:>9.2f}x "
              f"{result['median_patches_per_cpu_s'][name]:>14,.1f} {cpu_ratio:>9.2f}x")
    print("(medians over the turns; ratios: median of the per-turn ratios)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10, help="training steps per timing (default 10)")
    parser.add_argument("--repeats", type=int, default=9, help="turns of every arm (default 9)")
    parser.add_argument("--only", default="espcn,srresnet,espcn01",
                        help="comma-separated: espcn (against the peer), srresnet, espcn01 (notebook 01)")
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    load_start = os.getloadavg()[0]
    out = RESULTS / "training_throughput.json"
    # --only re-measures some comparisons: the others stay as the earlier run recorded them.
    report = json.loads(out.read_text()) if out.exists() and chosen != {"espcn", "srresnet", "espcn01"} else {}
    for stale in ("steps", "repeats"):  # whole-run keys of the earlier format: every comparison has its own now
        report.pop(stale, None)
    report.update({"benchmark": "training_throughput"})
    # Each comparison records its own steps, turns and load: --only re-runs some of them.
    section = lambda: {"steps": args.steps, "repeats": args.repeats, "load_start": os.getloadavg()[0]}  # noqa: E731

    if "espcn" in chosen:
        started = section()
        folder = registry.fetch("T91") / registry.DATASETS["T91"].prefix
        peer, paths = peer_dataset(folder)
        ours = make_dataset(espcn_pairs({Path(p).stem for p in paths}), scale=PEER_SCALE,
                            lr_patch=PEER_CROP // PEER_SCALE, batch_size=PEER_BATCH, seed=0)
        full = lambda steps: steps * PEER_BATCH  # noqa: E731
        epoch = -(-len(paths) // PEER_BATCH)
        print(f"ESPCN x{PEER_SCALE} (keras.io model), LR patch {PEER_CROP // PEER_SCALE}, batch {PEER_BATCH}, "
              f"{len(paths)} T91 training images; {args.steps} steps x {args.repeats} turns")
        rates = compare({"peer": (peer_model, peer, lambda steps: peer_patches(steps, len(paths))),
                         "ours": (peer_model, ours, full),
                         "in-memory": (peer_model, in_memory(ours), full)},
                        args.steps, args.repeats, warmup=epoch + 1)
        result = summary(rates, "ours", ["peer", "in-memory"])
        result.update({"model": "keras.io example's ESPCN (4 convolutions, ReLU), Y channel", "scale": PEER_SCALE,
                       "lr_patch": PEER_CROP // PEER_SCALE, "batch": PEER_BATCH, "images": len(paths),
                       "peer": "keras.io examples/vision/super_resolution_sub_pixel (Xingyu Long, 2020) on T91"})
        result.update({**started, "load_end": os.getloadavg()[0]})
        report["espcn"] = result
        print_table(f"ESPCN x{PEER_SCALE}, batch {PEER_BATCH}, LR patch {PEER_CROP // PEER_SCALE}", result, "ours")

    if "srresnet" in chosen:
        started = section()
        ours = make_dataset(srresnet_pairs(), scale=SRRESNET["scale"], lr_patch=SRRESNET_PATCH,
                            batch_size=SRRESNET_BATCH, seed=0)
        full = lambda steps: steps * SRRESNET_BATCH  # noqa: E731
        print(f"\nSRResNet x{SRRESNET['scale']} ({SRRESNET['num_res_blocks']} blocks, {SRRESNET['filters']} filters), "
              f"LR patch {SRRESNET_PATCH}, batch {SRRESNET_BATCH}; {args.steps} steps x {args.repeats} turns")
        rates = compare({"ours": (srresnet_model, ours, full), "in-memory": (srresnet_model, in_memory(ours), full)},
                        args.steps, args.repeats, warmup=3)
        result = summary(rates, "ours", ["in-memory"])
        result.update({"model": "srresnet (notebook 06 demo)", **SRRESNET, "lr_patch": SRRESNET_PATCH,
                       "batch": SRRESNET_BATCH})
        result.update({**started, "load_end": os.getloadavg()[0]})
        report["srresnet"] = result
        print_table(f"SRResNet x{SRRESNET['scale']}, batch {SRRESNET_BATCH}, LR patch {SRRESNET_PATCH}", result, "ours")

    if "espcn01" in chosen:
        started = section()
        pairs = espcn_nb01_pairs()
        ours = make_dataset(pairs, scale=ESPCN_NB01_SCALE, lr_patch=ESPCN_NB01_PATCH, batch_size=ESPCN_NB01_BATCH,
                            seed=0)
        full = lambda steps: steps * ESPCN_NB01_BATCH  # noqa: E731
        steps = args.steps * ESPCN_NB01_STEPS
        started["steps"] = steps
        print(f"\nESPCN x{ESPCN_NB01_SCALE} (sr_lib, notebook 01), LR patch {ESPCN_NB01_PATCH}, batch {ESPCN_NB01_BATCH}; "
              f"{steps} steps x {args.repeats} turns")
        # The peer's recipe at notebook 01's settings: the keras.io data path (read, decode and resize
        # every image per patch) feeding notebook 01's model, patch and batch; its epoch is 3 batches.
        folder = registry.fetch("T91") / registry.DATASETS["T91"].prefix
        peer, paths = peer_dataset(folder, ESPCN_NB01_PATCH * ESPCN_NB01_SCALE, ESPCN_NB01_SCALE, ESPCN_NB01_BATCH)
        rates = compare({"peer": (espcn_nb01_model, peer,
                                  lambda steps: peer_patches(steps, len(paths), ESPCN_NB01_BATCH)),
                         "ours": (espcn_nb01_model, ours, full),
                         "in-memory": (espcn_nb01_model, in_memory(ours), full),
                         "per-element": (espcn_nb01_model, per_element(pairs, ESPCN_NB01_SCALE, ESPCN_NB01_PATCH,
                                                                       ESPCN_NB01_BATCH), full)},
                        steps, args.repeats, warmup=10, turn_warmup=10)
        result = summary(rates, "ours", ["peer", "in-memory", "per-element"])
        result.update({"model": "espcn (sr_lib, notebook 01), Y channel", "scale": ESPCN_NB01_SCALE,
                       "lr_patch": ESPCN_NB01_PATCH, "batch": ESPCN_NB01_BATCH, "steps": steps, "images": len(paths),
                       "peer": "the keras.io example's data recipe at notebook 01's crop (51 px), x3 and batch 32"})
        result.update({**started, "load_end": os.getloadavg()[0]})
        report["espcn_notebook01"] = result
        print_table(f"ESPCN x{ESPCN_NB01_SCALE} (notebook 01), batch {ESPCN_NB01_BATCH}, LR patch {ESPCN_NB01_PATCH}",
                    result, "ours")

    # Other jobs stretch the times: the load average before and after says how busy the cores were.
    report["load_average_1min"] = {"start": load_start, "end": os.getloadavg()[0]}
    report["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__,
                         "keras": keras.__version__}
    print(f"\n1-minute load average: {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
          f"({os.cpu_count()} CPUs)")
    with atomic_path(out) as temporary:
        temporary.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
