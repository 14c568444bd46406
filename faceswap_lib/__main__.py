"""Command line: ``python -m faceswap_lib {extract,train,convert} ...`` (see ``--help``).

    python -m faceswap_lib extract VIDEO OUT_DIR            # aligned crops + alignments.json
    python -m faceswap_lib train A_DIR B_DIR MODEL_DIR      # shared encoder, decoders A and B
    python -m faceswap_lib convert VIDEO MODEL_DIR OUT.mp4 [--direction a2b]

Errors (missing files, no face found, a model folder that is not one, size mismatches) print one
line ``error: ...`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

CONSENT = (
    "Consent: swap only faces of people who agreed to it (the course's two provided clips, or your "
    "own footage). Every swapped frame is labelled SYNTHETIC; keep the label on anything you share."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m faceswap_lib",
        description="Shared-encoder face swap: extract aligned faces, train, convert a clip.",
        epilog=CONSENT,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{extract,train,convert}")

    p = commands.add_parser("extract", help="detect, align and save the faces of a clip", epilog=CONSENT)
    p.add_argument("video", help="input clip (mp4, avi, ...)")
    p.add_argument("out_dir", help="folder for the aligned PNG crops and alignments.json")
    p.add_argument("--size", type=int, default=256, help="side of the aligned crops in pixels (default 256)")
    p.add_argument("--every-nth", type=int, default=1, help="process every n-th frame (default 1)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")

    p = commands.add_parser("train", help="train the face-swap autoencoder on two extract folders", epilog=CONSENT)
    p.add_argument("a_dir", help="extract folder of person A")
    p.add_argument("b_dir", help="extract folder of person B")
    p.add_argument("model_dir", help="model folder (created; if it holds a model, training continues)")
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps (default 1000)")
    p.add_argument("--batch-size", type=int, default=16, help="faces per person per step (default 16)")
    p.add_argument("--size", type=int, default=64, help="model input size in pixels (default 64)")
    p.add_argument("--learning-rate", type=float, default=1e-4, help="Adam learning rate (default 1e-4)")
    p.add_argument("--chunk", type=int, default=100, help="checkpoint every this many steps (default 100)")
    p.add_argument("--preview-every", type=int, default=0, help="write a preview PNG every N steps (0: never)")
    p.add_argument("--mask", action="store_true", help="decoders also predict a face mask")
    p.add_argument("--seed", type=int, default=0)

    p = commands.add_parser("convert", help="swap the face in every frame of a clip", epilog=CONSENT)
    p.add_argument("video", help="source clip")
    p.add_argument("model_dir", help="a folder written by `train`")
    p.add_argument("out", help="output video (.mp4; a side-by-side preview PNG is written beside it)")
    p.add_argument("--direction", choices=("a2b", "b2a"), default="a2b",
                   help="a2b: the clip shows person A, draw person B (default); b2a: the reverse")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--every-nth", type=int, default=1, help="convert every n-th frame")
    p.add_argument("--blend", choices=("none", "hard", "feathered", "seamless"), default="seamless")
    p.add_argument("--color", choices=("none", "lab", "histogram"), default="lab", help="colour correction")
    p.add_argument("--mask", choices=("hull", "extended", "predicted"), default="extended",
                   help="blend mask: landmark hull, hull + forehead (default), or the decoder's (models trained with --mask)")
    p.add_argument("--no-synthetic-label", action="store_true",
                   help="do NOT write the SYNTHETIC label on swapped frames (only for your own private tests)")
    return parser


def _positive(name: str, value):
    if value is not None and value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    if args.command == "extract":
        from .extract import extract

        _positive("--size", args.size)
        _positive("--every-nth", args.every_nth)
        _positive("--max-frames", args.max_frames)
        s = extract(args.video, args.out_dir, size=args.size, every_nth=args.every_nth, max_frames=args.max_frames)
        print(f"{s.faces_saved} faces from {s.frames_read} frames ({s.frames_without_face} without a face) "
              f"-> {s.out_dir}, {s.frames_per_second:.1f} frames/s")
        if s.faces_saved == 0:
            raise ValueError(f"no face found in any of the {s.frames_read} frames of {args.video}")
    elif args.command == "train":
        from .training import train

        for name in ("steps", "batch_size", "size", "chunk"):
            _positive("--" + name.replace("_", "-"), getattr(args, name))
        for folder in (args.a_dir, args.b_dir):
            if not Path(folder).is_dir():
                raise FileNotFoundError(f"extract folder not found: {folder}")
        model, history, settings = train(
            args.a_dir, args.b_dir, args.model_dir, steps=args.steps, batch_size=args.batch_size, size=args.size,
            learning_rate=args.learning_rate, chunk=args.chunk, preview_every=args.preview_every, mask=args.mask,
            seed=args.seed)
        last = {k: v[-1] for k, v in history.history.items()}
        print(f"trained to step {settings['steps']}: loss_a {last['loss_a']:.4f}, loss_b {last['loss_b']:.4f} "
              f"-> {args.model_dir}")
    else:
        from .convert import convert_video
        from .training import load_model, read_settings

        read_settings(args.model_dir)  # a clear error before TensorFlow starts
        model, settings = load_model(args.model_dir)
        to = "b" if args.direction == "a2b" else "a"
        s = convert_video(args.video, model, args.out, to, padding=settings.get("padding"),
                          every_nth=args.every_nth, max_frames=args.max_frames, label=not args.no_synthetic_label,
                          blend=args.blend, color=None if args.color == "none" else args.color, mask=args.mask,
                          crop_size=settings.get("crop_size", 256))
        print(f"{s.frames_swapped} of {s.frames_written} frames swapped ({len(s.frames_without_face)} without a face) "
              f"-> {s.out_path}, preview {s.preview_path}, {s.frames_per_second:.1f} frames/s")


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    from .video import VideoError

    try:
        run(args)
    except (FileNotFoundError, ValueError, VideoError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
