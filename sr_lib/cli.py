"""Command line: ``python -m sr_lib {upscale,evaluate,models} ...`` (see ``--help``).

    python -m sr_lib upscale photo.png photo_x3.png --model espcn_x3
    python -m sr_lib upscale photos/ photos_x4/ --model espcn_x4 --tile 256 --overlap 16
    python -m sr_lib evaluate --model espcn_x4 --dataset Set5 --scale 4
    python -m sr_lib evaluate --model bicubic --dataset my_hr_folder/ --scale 3
    python -m sr_lib evaluate --model edsr_x4 --dataset Set5 --self-ensemble
    python -m sr_lib models

``--model`` is a name from ``assets/weights/registry.json`` (:mod:`sr_lib.pretrained`) or
``bicubic`` (then ``--scale`` is required). ``--self-ensemble`` (both commands) averages the model over
the 8 flips and rotations of each image (:func:`sr_lib.inference.self_ensemble`, "EDSR+"): up to a
few tenths of a dB more PSNR for 8 times the time; ``evaluate`` labels it ``<model>+``. For ``bicubic`` it is allowed
but changes little: interpolation is symmetric under flips, and a quarter turn only swaps which of
its two passes comes first (each rounds to 8 bits, as MATLAB's does).

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

What ``upscale`` never does: overwrite its input (the same path however it is spelled, a symlink or
a hard link to it; an output folder equal to the input folder), or destroy an earlier result.
Every output (and ``evaluate --json``) is written to a temporary file in the destination folder and
renamed over the destination only when complete, so a run that fails leaves the old file as it
was. In folder mode the input files are listed before anything is written and only the folder
itself (not its subfolders) is read, so an output folder inside the input folder is never read
back as input; hidden files (``.name``, e.g. an interrupted run's temporary files) are skipped.

**Errors.** Every error is one line on stderr, ``error: <file>: <what is wrong>``, exit status 2,
never a traceback: unreadable or too large input, unknown model, corrupt weights (HDF5), an output
that would overwrite the input, an image too small to evaluate, and failures inside OpenCV or
TensorFlow (named by the file being processed). ``<file>`` is the image, weights file or folder
concerned, or the option (``--model``) when no file is. In a folder, files that cannot be read
are reported as ``skipped: <file>: ...`` and skipped, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from sr_lib.console import one_line
from sr_lib.files import FileError, refuse_unwritable, same_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

#: sr_lib.lpips.MIN_SIZE (not imported: it would pull in Keras for every command).
LPIPS_MIN_SIZE = 32
#: The SSIM window of sr_lib.metrics: evaluated images must keep this much after the border crop.
SSIM_WINDOW = 11


class CliError(Exception):
    """A problem with the user's input: printed as one ``error: <file>: <what>`` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error contract (argparse prints usage lines before its error)."""

    def error(self, message):
        print(f"error: {self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _file_error(path, error: BaseException) -> str:
    """``<path>: <what>`` for an exception raised while handling ``path``, without repeating the path."""
    from sr_lib.data.io import ImageReadError

    message = one_line(error)
    for prefix in (f"Cannot read image {path}: ", f"{path}: "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    if isinstance(error, FileNotFoundError):
        message = "does not exist"
    elif not isinstance(error, (ImageReadError, ValueError)):
        message = f"{type(error).__name__}: {message}"  # OpenCV, TensorFlow, OS errors: keep their kind
    return f"{path}: {message}"


def _import_tensorflow_quietly() -> None:
    """:func:`sr_lib.console.import_tensorflow_quietly`, a failure as one :class:`CliError` line."""
    from sr_lib.console import import_tensorflow_quietly

    try:
        import_tensorflow_quietly()
    except Exception as error:
        raise CliError(f"tensorflow: cannot be imported: {one_line(error)}") from None


#: The file being processed, for the one-line message of an interrupted run (Ctrl-C).
_current_file = None


def _output_error(path, error: BaseException) -> str:
    """``<output>: cannot be written: <reason>`` for an OS error while writing ``path`` (its message
    would name the temporary file, or say "does not exist" about a folder that cannot be created)."""
    reason = getattr(error, "strerror", None) or one_line(error)
    return f"{path}: cannot be written: {reason}"


def _check_writable(path: Path) -> None:
    """:func:`sr_lib.files.refuse_unwritable` as a :class:`CliError` (same one-line message)."""
    try:
        refuse_unwritable(path)
    except FileError as error:
        raise CliError(str(error)) from None


def _check_image_suffix(path: Path) -> None:
    """Refuse an output extension no image format is written for, before upscaling."""
    from PIL import Image

    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None or image_format not in Image.SAVE:
        raise CliError(f"{path}: cannot save as {path.suffix or '(no extension)'}: unknown image format "
                       f"(use one of {', '.join(IMAGE_SUFFIXES)})")


# ------------------------------------------------------------------------------------------------
# Models as upscalers


def make_upscaler(name: str, scale: int | None = None):
    """The :class:`sr_lib.inference.Upscaler` for a registered model name or ``"bicubic"`` (at ``scale``).

    ``up(lr)`` maps one float32 (h, w, C) image in [0, 1] (C = 1 or 3) to (h*scale, w*scale, C),
    clipped to [0, 1]; ``up.scale`` is the model's factor (or ``scale`` for bicubic), ``up.multiple``
    the size its input must divide.

    Raises:
        CliError: a bad or missing ``--scale``, an unknown model, a broken registry or weights file,
            or TensorFlow that cannot be imported (one line naming the file or option).
    """
    from sr_lib import pretrained
    from sr_lib.evaluation import BASELINES
    if scale is not None and scale < 1:
        raise CliError(f"--scale: must be a whole number >= 1, got {scale}")
    if name == "bicubic":
        if scale is None:
            raise CliError("--scale: --model bicubic needs --scale")
        return BASELINES["bicubic"].at(int(scale))
    try:
        info = pretrained.info(name)
    except KeyError:
        known = ", ".join(["bicubic", *pretrained.available()])
        raise CliError(f"--model: unknown model {name!r}; choose one of: {known}") from None
    except (pretrained.PretrainedError, ValueError) as error:
        raise CliError(f"{pretrained.weights_dir() / 'registry.json'}: {one_line(error)}") from None
    if scale is not None and int(scale) != info["scale"]:
        raise CliError(f"--scale: model {name!r} upscales x{info['scale']}, but --scale {scale} was given")
    _import_tensorflow_quietly()
    try:
        return pretrained.upscaler(name)
    except pretrained.PretrainedError as error:
        raise CliError(one_line(error)) from None  # starts with the weights file's path
    except Exception as error:  # anything else from HDF5 / Keras while building and loading
        raise CliError(_file_error(pretrained.weights_dir() / info.get("file", name), error)) from None


def _label(upscaler, args) -> str:
    """The method's name in reports: the model as the user named it, ``<name>+`` when self-ensembled
    (the ensemble's own name, so the two never disagree)."""
    return upscaler.name if args.self_ensemble else args.model


def _maybe_self_ensemble(upscaler, args):
    """``upscaler`` averaged over the 8 flips and rotations when ``--self-ensemble`` was given
    (:func:`sr_lib.inference.self_ensemble`, named ``<name>+``), else as it is."""
    if not args.self_ensemble:
        return upscaler
    from sr_lib.inference import self_ensemble

    return self_ensemble(upscaler)


# ------------------------------------------------------------------------------------------------
# upscale


def upscale_file(source: Path, target: Path, upscaler, *, tile, overlap: int, progress: bool = False,
                 workers: int = 1) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Upscale one image file into ``target`` with ``upscaler`` (an :class:`sr_lib.inference.Upscaler`
    with a fixed scale), in tiles aligned to its ``multiple``; returns (input shape, output shape).

    ``target`` is replaced only once the new file is complete (:func:`sr_lib.data.io.write_image`).

    Raises:
        CliError: ``target`` is ``source`` (however reached), or JPEG output for an image with alpha.
        sr_lib.data.io.ImageReadError, FileNotFoundError: ``source`` cannot be read.
    """
    from sr_lib.data.imresize import imresize
    from sr_lib.data.io import read_image_with_alpha, write_image
    from sr_lib.images import to_uint8
    from sr_lib.tiling import upscale_tiled

    if same_file(source, target):
        raise CliError(f"{target}: is the input {source}; writing it would overwrite the input, choose another path")
    image, alpha = read_image_with_alpha(source, mode="keep")
    if alpha is not None and target.suffix.lower() in (".jpg", ".jpeg"):
        raise CliError(f"{target}: JPEG cannot store the input's alpha channel; use a .png output")
    out = upscale_tiled(upscaler, image, upscaler.scale, tile=tile, overlap=overlap, multiple=upscaler.multiple,
                        out_dtype=np.uint8, progress=progress, workers=workers)
    alpha8 = None if alpha is None else to_uint8(imresize(alpha, upscaler.scale))
    try:
        write_image(target, out, alpha=alpha8)
    except OSError as error:  # the output's folder, not the input: name the output
        raise CliError(_output_error(target, error)) from None
    except ValueError as error:  # write_image(<target>): ... (format, mode)
        message = one_line(error).removeprefix(f"write_image({target}): ")
        raise CliError(f"{target}: {message}") from None
    return image.shape, out.shape


def _image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (not in subfolders), hidden files skipped."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def cmd_upscale(args) -> int:
    from sr_lib.data.io import ImageReadError
    from sr_lib.images import ImageError

    source, target = Path(args.input), Path(args.output)
    if not source.exists():
        raise CliError(f"{source}: does not exist")
    if args.tile is not None and args.tile < 0:
        raise CliError(f"--tile: must be a positive number of LR pixels (or 0 for no tiling), got {args.tile}")
    if args.overlap < 0:
        raise CliError(f"--overlap: must be >= 0, got {args.overlap}")
    if args.workers < 1:
        raise CliError(f"--workers: must be >= 1, got {args.workers}")
    if source.is_dir():
        if target.exists() and not target.is_dir():
            raise CliError(f"{target}: the input {source} is a folder, so the output must be a folder too")
        if same_file(source, target):
            raise CliError(f"{target}: is the input folder; the results would overwrite the inputs")
        # Listed once, before anything is written: outputs never become inputs of this run.
        files = _image_files(source)
        if not files:
            raise CliError(f"{source}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        jobs = [(f, target / f.name) for f in files]
    else:
        jobs = [(source, target / source.name if target.is_dir() else target)]
    for src, dst in jobs:  # all checked before the first write (a hard link in the output folder)
        if same_file(src, dst):
            raise CliError(f"{dst}: is the input {src}; writing it would overwrite the input, choose another path")
    for dst in dict.fromkeys(dst for _, dst in jobs):  # before the (slow) model: format, writable folder
        _check_image_suffix(dst)
    for dst in {dst.parent: dst for _, dst in jobs}.values():  # one output per destination folder
        _check_writable(dst)

    upscaler = _maybe_self_ensemble(make_upscaler(args.model, args.scale), args)
    tile = args.tile or None
    progress = not args.quiet
    iterator = jobs
    if progress and len(jobs) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(jobs, desc="images", unit="image")
    failures = 0
    global _current_file
    for src, dst in iterator:
        _current_file = src
        started = time.perf_counter()
        try:
            shape_in, shape_out = upscale_file(src, dst, upscaler, tile=tile, overlap=args.overlap,
                                               progress=progress, workers=args.workers)
        except (ImageReadError, ImageError, FileNotFoundError) as error:
            if len(jobs) == 1:
                raise CliError(_file_error(src, error)) from None
            print(f"skipped: {_file_error(src, error)}", file=sys.stderr)
            failures += 1
            continue
        except CliError:
            raise
        except Exception as error:  # OpenCV, TensorFlow, the file system: name the file, no traceback
            raise CliError(_file_error(src, error)) from None
        if not args.quiet:
            print(f"{src} {shape_in[1]}x{shape_in[0]} -> {dst} {shape_out[1]}x{shape_out[0]} "
                  f"(x{upscaler.scale}, {_label(upscaler, args)}, "
                  f"{time.perf_counter() - started:.2f} s)")
    return 1 if failures else 0


# ------------------------------------------------------------------------------------------------
# evaluate


def evaluation_pairs_for(dataset: str, scale: int, *, own_lr: bool = False, lpips: bool = False):
    """(pairs, label): a benchmark (Set5, Set14: their own LR unless ``own_lr``), another registered
    dataset or a folder of HR images (LR made with the MATLAB-compatible ``imresize``).

    Folder images too small to measure are refused by name: after the border crop SSIM needs its
    11 x 11 window and, with ``lpips``, LPIPS needs 32 x 32 pixels."""
    from sr_lib.data import datasets, registry
    from sr_lib.data.io import read_image

    if dataset in datasets.BENCHMARKS:
        return datasets.load_benchmark(dataset, scale, own_lr=own_lr), dataset
    if dataset in registry.DATASETS:
        return datasets.make_pairs(datasets.load_hr_images(dataset), scale), dataset
    folder = Path(dataset)
    if not folder.is_dir():
        known = ", ".join(sorted(registry.DATASETS))
        raise CliError(f"{dataset}: --dataset is neither a registered dataset ({known}) nor a folder")
    files = _image_files(folder)
    if not files:
        raise CliError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    # Smallest side that keeps an SSIM window (and LPIPS' 32 pixels) after modcrop and the border crop.
    needed = max(SSIM_WINDOW, LPIPS_MIN_SIZE if lpips else 0)
    smallest = -(-(needed + 2 * scale) // scale) * scale
    images = []
    for path in files:
        try:
            image = read_image(path, mode="keep")
        except Exception as error:
            raise CliError(_file_error(path, error)) from None
        if min(image.shape[:2]) < smallest:
            raise CliError(
                f"{path}: {image.shape[1]}x{image.shape[0]} pixels is too small to evaluate at x{scale}: "
                f"{'LPIPS' if needed > SSIM_WINDOW else 'SSIM'} needs {needed}x{needed} pixels after cropping the "
                f"{scale}-pixel border{' (or pass --no-lpips)' if needed > SSIM_WINDOW else ''}, "
                f"so at least {smallest}x{smallest}"
            )
        images.append((path.stem, image))
    return datasets.make_pairs(images, scale), str(folder)


def _check_json_output(path: Path, dataset: str) -> None:
    """Refuse, before evaluating, a ``--json`` path that is a folder, an input file (a file of the
    dataset folder, a registered dataset's file in the mirror or the cache), a file inside a
    registered dataset's mirror folder, or that cannot be created."""
    from sr_lib.data import registry

    inputs = []
    folder = Path(dataset)
    if dataset not in registry.DATASETS and folder.is_dir():
        inputs = [p for p in folder.iterdir() if p.is_file()]
    try:
        mirror = registry.mirror_dir()
    except Exception:
        mirror = None
    roots = [root for root in (mirror, registry.cache_dir()) if root is not None]
    for name, entry in registry.DATASETS.items():
        if name == dataset:
            inputs += [root / f.path for root in roots for f in entry.files]
        if mirror is not None:
            protected = (mirror / entry.prefix).resolve()
            if protected == path.resolve() or protected in path.resolve().parents:
                raise CliError(f"{path}: is inside the {name} dataset's mirror folder {protected}; "
                               "choose another --json path")
    for source in inputs:
        if same_file(path, source):
            raise CliError(f"{path}: is the input {source}; writing the JSON would overwrite it, "
                           "choose another --json path")
    _check_writable(path)


def cmd_evaluate(args) -> int:
    from sr_lib import evaluation
    from sr_lib.data import DatasetUnavailableError
    from sr_lib.data.io import ImageReadError

    if args.json:
        _check_json_output(Path(args.json), args.dataset)
    upscaler = _maybe_self_ensemble(make_upscaler(args.model, args.scale), args)
    method = _label(upscaler, args)
    try:
        pairs, label = evaluation_pairs_for(args.dataset, upscaler.scale, own_lr=args.own_lr, lpips=not args.no_lpips)
    except CliError:
        raise
    except (DatasetUnavailableError, ImageReadError, FileNotFoundError, ValueError, KeyError) as error:
        raise CliError(f"{args.dataset}: {one_line(error)}") from None
    with_lpips = not args.no_lpips
    if with_lpips:
        from sr_lib.perceptual import converted_weights_file

        if not converted_weights_file().is_file():
            raise CliError(f"{converted_weights_file()}: LPIPS needs the converted VGG-16/LPIPS weights; "
                           "run `make install` or `python -m sr_lib.perceptual fetch` (or pass --no-lpips)")
        _import_tensorflow_quietly()
    started = time.perf_counter()
    try:
        result = evaluation.evaluate(upscaler, pairs, method=method, dataset=label,
                                     progress=not args.quiet, lpips=with_lpips)
    except Exception as error:  # the message starts with the image's name (evaluation.evaluate)
        raise CliError(_file_error(args.dataset, error)) from None
    seconds = time.perf_counter() - started
    if args.per_image:
        lpips_values = result.lpips or [None] * len(result.names)
        for name, p, s, d in zip(result.names, result.psnr, result.ssim, lpips_values):
            print(f"{name:<20}{p:>8.2f} dB {s:>8.4f}" + (f" {d:>8.4f}" if d is not None else ""))
    print(evaluation.format_table([result]))
    if args.json:
        from sr_lib.files import atomic_path

        text = json.dumps({**result.as_dict(), "own_lr": args.own_lr, "seconds": round(seconds, 2)}, indent=1)
        try:
            with atomic_path(args.json) as temporary:  # an earlier result survives a failed write
                temporary.write_text(text + "\n")
        except OSError as error:
            raise CliError(_output_error(args.json, error)) from None
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
    parser = _Parser(
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
    p.add_argument("--self-ensemble", action="store_true", help=_SELF_ENSEMBLE_HELP)
    p.add_argument("--max-pixels", type=int, default=None, metavar="N", help=_MAX_PIXELS_HELP)
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
    p.add_argument("--no-lpips", action="store_true",
                   help="skip LPIPS (measured by default beside PSNR-Y and SSIM-Y: RGB, border = scale; ~1-2 s per image)")
    p.add_argument("--per-image", action="store_true", help="also print every image's scores")
    p.add_argument("--json", default=None, help="also write the result to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--self-ensemble", action="store_true", help=_SELF_ENSEMBLE_HELP + "; labelled <model>+")
    p.add_argument("--max-pixels", type=int, default=None, metavar="N", help=_MAX_PIXELS_HELP)
    p.set_defaults(run=cmd_evaluate)

    p = commands.add_parser("models", help="list the registered models")
    p.set_defaults(run=cmd_models)
    return parser


_SELF_ENSEMBLE_HELP = ("average the model over the 8 flips and rotations of each image (geometric "
                       "self-ensemble): up to a few tenths of a dB more PSNR, 8x slower, EDSR+ style")
_MAX_PIXELS_HELP = ("read images of up to N pixels (default: Pillow's decompression-bomb limit, about 179 "
                    "million; 0: no limit). Only for files you trust: a tiny file can decode to gigabytes")


def _set_max_pixels(value) -> None:
    """``--max-pixels``: Pillow refuses more than 2 * MAX_IMAGE_PIXELS pixels and warns above it."""
    import warnings

    from PIL import Image

    if value is None:
        return
    if value < 0:
        raise CliError(f"--max-pixels: must be >= 0 (0: no limit), got {value}")
    Image.MAX_IMAGE_PIXELS = None if value == 0 else max(1, value // 2)
    # The user chose the limit: Pillow's "could be decompression bomb" warning would only repeat it.
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)


def main(argv=None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 some folder files skipped, 2 error)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    global _current_file
    _current_file = None
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        print("error: python -m sr_lib: interrupted", file=sys.stderr)
        return 130
    try:
        _set_max_pixels(getattr(args, "max_pixels", None))
        return args.run(args)
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback (nor TensorFlow's import chatter)
        concerned = (_current_file or getattr(args, "input", None) or getattr(args, "dataset", None)
                     or "python -m sr_lib")
        print(f"error: {concerned}: interrupted", file=sys.stderr)
        return 130
    except CliError as error:
        message = one_line(error)
    except Exception as error:  # the contract: one line naming the file, never a traceback
        concerned = getattr(args, "input", None) or getattr(args, "dataset", None) or "python -m sr_lib"
        message = _file_error(concerned, error)
    print(f"error: {message}", file=sys.stderr)
    return 2
