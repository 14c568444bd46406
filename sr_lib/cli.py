"""Command line: ``python -m sr_lib {upscale,evaluate,models} ...`` (see ``--help``).

    python -m sr_lib upscale photo.png photo_x3.png --model espcn_x3
    python -m sr_lib upscale photos/ photos_x4/ --model espcn_x4 --tile 256 --overlap 16
    python -m sr_lib evaluate --model espcn_x4 --dataset Set5 --scale 4
    python -m sr_lib evaluate --model bicubic --dataset my_hr_folder/ --scale 3
    python -m sr_lib models

``--model`` is a name from ``assets/weights/registry.json`` (:mod:`sr_lib.pretrained`) or
``bicubic`` (then ``--scale`` is required).

What ``upscale`` keeps and changes:

- the image mode: grayscale stays grayscale, RGB stays RGB; an alpha channel (RGBA, gray + alpha)
  is upscaled on its own with the MATLAB-compatible bicubic (``sr_lib.data.imresize``) and written
  back, so the output is RGBA / LA again;
- Y-channel models (ESPCN) super-resolve the luma and take the chroma bicubic
  (:func:`sr_lib.inference.upscale_via_y`), per tile; RGB models get the colour image;
- 16-bit files (PNG, TIFF) are read exactly (float32 holds all 16 bits), but the output is always
  **8-bit**: the models were trained on 8-bit images and the evaluation protocol is 8-bit, so extra
  output bits would carry no measured information; an 8-bit file is also half the size;
- large images are processed in tiles (:mod:`sr_lib.tiling`) into an 8-bit buffer, so memory is
  bounded by the output size plus one tile.

Errors (unreadable input, unknown model, an output that would overwrite the input, a scale that does
not match the model) print one line ``error: ...`` and exit with status 2. In a folder, files that
cannot be read are reported and skipped, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class CliError(Exception):
    """A problem with the user's input: printed as one ``error:`` line, exit status 2."""


# ------------------------------------------------------------------------------------------------
# Models as upscalers


def make_upscaler(name: str, scale: int | None = None):
    """``(upscale, scale, multiple, channel)`` for a registered model name or ``"bicubic"``.

    ``upscale`` maps one float32 (h, w, C) image in [0, 1] (C = 1 or 3) to (h*scale, w*scale, C),
    clipped to [0, 1].
    """
    from sr_lib import pretrained
    from sr_lib.evaluation import bicubic
    if name == "bicubic":
        if scale is None:
            raise CliError("--model bicubic needs --scale")
        return (lambda lr: bicubic(lr, scale)), int(scale), 1, "rgb"
    try:
        info = pretrained.info(name)
    except KeyError:
        known = ", ".join(["bicubic", *pretrained.available()])
        raise CliError(f"unknown model {name!r}; choose one of: {known}") from None
    except pretrained.PretrainedError as error:
        raise CliError(str(error)) from None
    if scale is not None and int(scale) != info["scale"]:
        raise CliError(f"model {name!r} upscales x{info['scale']}, but --scale {scale} was given")
    try:
        upscaler = pretrained.upscaler(name)
    except pretrained.PretrainedError as error:
        raise CliError(str(error)) from None
    s = info["scale"]
    return (lambda lr: upscaler(lr, s)), s, info["multiple"], info["channel"]


# ------------------------------------------------------------------------------------------------
# upscale


def _save_uint8(path: Path, image: np.ndarray, alpha: np.ndarray | None) -> None:
    """Write uint8 (H, W, 1|3) plus an optional uint8 (H, W, 1) alpha; the format follows the suffix."""
    from PIL import Image

    array = image[..., 0] if image.shape[2] == 1 else image
    if alpha is not None:
        if path.suffix.lower() in (".jpg", ".jpeg"):
            raise CliError(f"{path}: JPEG cannot store the input's alpha channel; use a .png output")
        array = np.dstack([array, alpha[..., 0]])
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        Image.fromarray(array).save(path)
    except (KeyError, ValueError, OSError) as error:
        raise CliError(f"cannot write {path}: {error}") from None


def upscale_file(source: Path, target: Path, upscale, scale: int, *, tile, overlap: int, multiple: int = 1,
                 progress: bool = False, workers: int = 1) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Upscale one image file into ``target``; returns (input shape, output shape)."""
    from sr_lib.data.imresize import imresize
    from sr_lib.data.io import read_image_with_alpha
    from sr_lib.metrics import to_uint8
    from sr_lib.tiling import upscale_tiled

    if target.resolve() == source.resolve():
        raise CliError(f"output {target} would overwrite the input; choose another path")
    image, alpha = read_image_with_alpha(source, mode="keep")
    out = upscale_tiled(upscale, image, scale, tile=tile, overlap=overlap, multiple=multiple,
                        out_dtype=np.uint8, progress=progress, workers=workers)
    alpha8 = None if alpha is None else to_uint8(imresize(alpha, scale))
    _save_uint8(target, out, alpha8)
    return image.shape, out.shape


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def cmd_upscale(args) -> int:
    from sr_lib.data.io import ImageReadError

    source, target = Path(args.input), Path(args.output)
    if not source.exists():
        raise CliError(f"input {source} does not exist")
    if args.tile is not None and args.tile < 0:
        raise CliError(f"--tile must be a positive number of LR pixels (or 0 for no tiling), got {args.tile}")
    if args.overlap < 0:
        raise CliError(f"--overlap must be >= 0, got {args.overlap}")
    if args.workers < 1:
        raise CliError(f"--workers must be >= 1, got {args.workers}")
    if source.is_dir():
        if target.exists() and not target.is_dir():
            raise CliError(f"input {source} is a folder, so the output {target} must be a folder too")
        if target.resolve() == source.resolve():
            raise CliError(f"output folder {target} is the input folder: the results would overwrite the inputs")
        files = _image_files(source)
        if not files:
            raise CliError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {source}")
        jobs = [(f, target / f.name) for f in files]
    else:
        jobs = [(source, target / source.name if target.is_dir() else target)]
        if jobs[0][1].resolve() == source.resolve():
            raise CliError(f"output {jobs[0][1]} would overwrite the input; choose another path")

    upscale, scale, multiple, _ = make_upscaler(args.model, args.scale)
    tile = args.tile or None
    progress = not args.quiet
    iterator = jobs
    if progress and len(jobs) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(jobs, desc="images", unit="image")
    failures = 0
    for src, dst in iterator:
        started = time.perf_counter()
        try:
            shape_in, shape_out = upscale_file(src, dst, upscale, scale, tile=tile, overlap=args.overlap,
                                               multiple=multiple, progress=progress, workers=args.workers)
        except ImageReadError as error:
            if len(jobs) == 1:
                raise CliError(str(error)) from None
            print(f"skipped: {error}", file=sys.stderr)
            failures += 1
            continue
        if not args.quiet:
            print(f"{src} {shape_in[1]}x{shape_in[0]} -> {dst} {shape_out[1]}x{shape_out[0]} "
                  f"(x{scale}, {args.model}, {time.perf_counter() - started:.2f} s)")
    return 1 if failures else 0


# ------------------------------------------------------------------------------------------------
# evaluate


def evaluation_pairs_for(dataset: str, scale: int, *, own_lr: bool = False):
    """(pairs, label): a benchmark (Set5, Set14: their own LR unless ``own_lr``), another registered
    dataset or a folder of HR images (LR made with the MATLAB-compatible ``imresize``)."""
    from sr_lib.data import datasets, registry
    from sr_lib.data.io import read_image

    if dataset in datasets.BENCHMARKS:
        return datasets.load_benchmark(dataset, scale, own_lr=own_lr), dataset
    if dataset in registry.DATASETS:
        return datasets.make_pairs(datasets.load_hr_images(dataset), scale), dataset
    folder = Path(dataset)
    if not folder.is_dir():
        known = ", ".join(sorted(registry.DATASETS))
        raise CliError(f"--dataset {dataset!r} is neither a registered dataset ({known}) nor a folder")
    files = _image_files(folder)
    if not files:
        raise CliError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    images = []
    for path in files:
        image = read_image(path, mode="keep")
        if min(image.shape[:2]) < 2 * scale:
            raise CliError(f"{path} is {image.shape[1]}x{image.shape[0]}: too small for x{scale}")
        images.append((path.stem, image))
    return datasets.make_pairs(images, scale), str(folder)


def cmd_evaluate(args) -> int:
    from sr_lib import evaluation
    from sr_lib.data import DatasetUnavailableError
    from sr_lib.data.io import ImageReadError

    upscale, scale, _, _ = make_upscaler(args.model, args.scale)
    try:
        pairs, label = evaluation_pairs_for(args.dataset, scale, own_lr=args.own_lr)
    except (DatasetUnavailableError, ImageReadError, FileNotFoundError, ValueError, KeyError) as error:
        raise CliError(str(error).strip("'\"")) from None
    started = time.perf_counter()
    result = evaluation.evaluate(lambda lr, s: upscale(lr), pairs, method=args.model, dataset=label,
                                 progress=not args.quiet)
    seconds = time.perf_counter() - started
    if args.per_image:
        for name, p, s in zip(result.names, result.psnr, result.ssim):
            print(f"{name:<20}{p:>8.2f} dB {s:>8.4f}")
    print(evaluation.format_table([result]))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**result.as_dict(), "own_lr": args.own_lr, "seconds": round(seconds, 2)},
                                  indent=1) + "\n")
    return 0


def cmd_models(args) -> int:
    from sr_lib import pretrained

    print(f"{'name':<16}{'scale':>6}  {'channel':<8}training")
    print(f"{'bicubic':<16}{'any':>6}  {'rgb':<8}MATLAB-compatible bicubic interpolation (no weights)")
    for name in pretrained.available():
        info = pretrained.info(name)
        seconds = info.get("train_seconds")
        trained = f"{info.get('steps', '?')} steps" + (f", {seconds / 60:.0f} min" if seconds else "")
        print(f"{name:<16}{info['scale']:>6}  {info['channel']:<8}{trained}; {info.get('data', '')}")
    return 0


# ------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sr_lib",
        description="Apply the project's trained super-resolution models to your images, or measure them.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{upscale,evaluate,models}")

    p = commands.add_parser(
        "upscale", help="upscale one image or a folder of images",
        description="Upscale an image (or every image in a folder) with a trained model, in tiles. "
                    "Grayscale stays grayscale, alpha is upscaled bicubically, 16-bit inputs are written 8-bit.")
    p.add_argument("input", help="an image file or a folder of images")
    p.add_argument("output", help="output file (or folder, for a folder input; created)")
    p.add_argument("--model", required=True, help="registered model name (see `models`) or 'bicubic'")
    p.add_argument("--scale", type=int, default=None, help="upscaling factor (required for bicubic; "
                   "for a model it must match the model's)")
    p.add_argument("--tile", type=int, default=256, help="tile side in input pixels (default 256; 0: whole image)")
    p.add_argument("--overlap", type=int, default=16,
                   help="input pixels of context around each tile (default 16; >= the model's receptive "
                        "field radius gives the whole-image result)")
    p.add_argument("--workers", type=int, default=2, help="tiles processed at once (default 2, one per core)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary lines")
    p.set_defaults(run=cmd_upscale)

    p = commands.add_parser(
        "evaluate", help="PSNR-Y / SSIM of a model on a dataset (the sr_lib.metrics protocol)",
        description="Measure a model with the SR protocol: 8-bit, Y channel, border = scale. Set5/Set14 use "
                    "their own MATLAB-made LR images; other datasets and folders of HR images get LR from "
                    "sr_lib's MATLAB-compatible imresize.")
    p.add_argument("--model", required=True, help="registered model name or 'bicubic'")
    p.add_argument("--dataset", required=True, help="Set5, Set14, another registered dataset, or a folder of HR images")
    p.add_argument("--scale", type=int, default=None, help="upscaling factor (default: the model's)")
    p.add_argument("--own-lr", action="store_true", help="Set5/Set14: make LR with sr_lib's imresize instead")
    p.add_argument("--per-image", action="store_true", help="also print every image's scores")
    p.add_argument("--json", default=None, help="also write the result to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_evaluate)

    p = commands.add_parser("models", help="list the registered models")
    p.set_defaults(run=cmd_models)
    return parser


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
