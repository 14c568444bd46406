"""Face-swap speed: training images/s of the shared-encoder autoencoder, and convert frames/s.

Training: ``faceswap_lib.models.faceswap_autoencoder(64)`` (the notebook 09 model) on warped pairs
from ``faceswap_lib.training.make_dataset`` (augmentation included, as in real training); images/s
counts both people's faces (2 x batch per step), after a warm-up. Convert: ``convert_video`` on
frames of d6.mp4 (detect, align, encode/decode, colour correction, Poisson blending, label, mp4
write), after the models are loaded; the weights do not change the speed, so the model is
untrained. Prints a table and writes results/faceswap_speed.json.

Needs the clips (SRFS_DATA_DIR pointing at the mirror, or the download cache).
Usage: python benchmarks/faceswap_speed.py [--steps 100] [--frames 60] [--batch-size 16]
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from faceswap_lib.convert import convert_video  # noqa: E402
from faceswap_lib.extract import extract  # noqa: E402
from faceswap_lib.landmarks import load_models  # noqa: E402
from faceswap_lib.models import faceswap_autoencoder  # noqa: E402
from faceswap_lib.training import load_faces, make_dataset  # noqa: E402
from sr_lib.data import registry  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="timed training steps (after 10 warm-up steps)")
    parser.add_argument("--batch-size", type=int, default=16, help="faces per person per step")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=60, help="frames of d6.mp4 to convert")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results" / "faceswap_speed.json"))
    args = parser.parse_args()

    clips = registry.fetch("face_clips") / registry.DATASETS["face_clips"].prefix
    load_models()
    keras.utils.set_random_seed(0)
    model = faceswap_autoencoder(args.size)
    model.compile(optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5))
    with tempfile.TemporaryDirectory(prefix="faceswap_speed_") as tmp:
        for name in ("d6", "d14"):
            extract(clips / f"{name}.mp4", Path(tmp) / name, size=128, max_frames=40, progress=False)
        faces_a, _, _ = load_faces(Path(tmp) / "d6", args.size)
        faces_b, _, _ = load_faces(Path(tmp) / "d14", args.size)
        dataset = make_dataset(faces_a, faces_b, args.batch_size, seed=0)
        model.fit(dataset, epochs=1, steps_per_epoch=10, verbose=0)  # warm-up: tracing, first allocations
        started = time.perf_counter()
        model.fit(dataset, epochs=1, steps_per_epoch=args.steps, verbose=0)
        train_seconds = time.perf_counter() - started
        convert_video(clips / "d6.mp4", model, Path(tmp) / "warm.mp4", "b", max_frames=2, progress=False, crop_size=128)
        summary = convert_video(clips / "d6.mp4", model, Path(tmp) / "out.mp4", "b", max_frames=args.frames,
                                progress=False, crop_size=128)

    steps_per_s = args.steps / train_seconds
    images_per_s = steps_per_s * 2 * args.batch_size
    result = {
        "model": {"size": args.size, "parameters": int(model.count_params())},
        "train": {"steps": args.steps, "batch_size_per_person": args.batch_size, "seconds": round(train_seconds, 2),
                  "steps_per_second": round(steps_per_s, 2), "images_per_second": round(images_per_s, 1)},
        "convert": {"frames": summary.frames_written, "swapped": summary.frames_swapped,
                    "seconds": round(summary.seconds, 2), "frames_per_second": round(summary.frames_per_second, 2),
                    "settings": "detect_size 256, 128 px crop -> 64 px, LAB colour, seamlessClone, label, mp4v"},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.processor()},
    }
    print(f"\nmodel: {args.size} px, {result['model']['parameters']:,} parameters")
    print(f"{'what':<10}{'amount':>14}{'seconds':>10}{'rate':>22}")
    print(f"{'train':<10}{args.steps:>8} steps{train_seconds:>10.1f}{images_per_s:>15.1f} images/s")
    print(f"{'convert':<10}{summary.frames_written:>7} frames{summary.seconds:>10.1f}{summary.frames_per_second:>15.2f} frames/s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
