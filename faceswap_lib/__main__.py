"""Command line: ``python -m faceswap_lib {extract,train,convert,score} ...`` (see ``--help``).

    python -m faceswap_lib extract VIDEO OUT_DIR            # aligned crops + alignments.json
    python -m faceswap_lib train A_DIR B_DIR MODEL_DIR      # shared encoder, decoders A and B
        [--steps N] [--minutes M] [--holdout F]             # totals; F: share of each clip held out
    python -m faceswap_lib convert VIDEO MODEL_DIR OUT.mp4 [--direction a2b]
    python -m faceswap_lib score VIDEO OUT.mp4 MODEL_DIR [--direction a2b] [--json SCORE.json]

``train``: the recipe (defaults, :data:`faceswap_lib.recipe.RECIPE`, shared with
:func:`faceswap_lib.training.train` and notebook 09): Adam 3e-4, a tight crop
(``--padding 0.1``: eyebrows to chin; ``--padding 0.25`` trains on the whole extracted crop as
before), MAE + SSIM loss (``--priority-weight W`` adds the eyes-and-mouth term), warp 0.02.
``--steps`` (default 1,000 when ``--minutes`` is not given either) and ``--minutes`` are
totals over the model's whole training, whichever is reached first; a model that has reached them
is left alone with one line on stdout ("already trained to step N ... nothing to do"), exit status
0. ``--holdout F`` keeps the last share F of every clip's faces out of training and records which
in ``faceswap.json`` (a model keeps the fraction it started with; another one is refused). A
preview ``MODEL_DIR/previews/preview_<global step>.png`` every ``--preview-minutes`` (default 5)
and at the end; the progress bar (on a terminal) shows the global step and losses smoothed over
about 50 steps. Options, face folders and the model folder (size, mask, holdout, finished?) are
checked before TensorFlow is imported; fewer than :data:`faceswap_lib.model_folder.RECOMMENDED_FACES`
training faces per person print a ``warning:`` line with the count, and so does a person whose
training faces show less than half of the other's expressions (mouth and eye opening,
:func:`faceswap_lib.score.expression_coverage`): that decoder cannot learn what its person never
did. ``--balance-expressions`` draws every mouth-opening band of the training faces about equally
often (:func:`faceswap_lib.training.expression_weights`).

``score``: the swap score of :mod:`faceswap_lib.score` (identity, expression, sharpness, LPIPS, the
swap success rate; beside them a blur control and the real source frames) as a table on stdout,
on frames the model never trained on when it was trained with ``--holdout`` (a ``warning:`` line
otherwise); ``--json OUT`` also writes every frame's numbers (NaN as null). The report also says
which share of the scored frames show an expression the target ever shows in its training faces
(the ceiling of the expression and success shares), and when the source's mouth barely moves, that
a mouth correlation there measures landmark noise.

Errors: every failure, whatever raised it (our checks, OpenCV's ``cv2.error``, h5py reading a
corrupt weights file, TensorFlow, dlib), prints exactly one line ``error: <file>: <what is wrong>``
on stderr and exits with status 2, never a traceback; usage errors print
``error: python -m faceswap_lib <command>: <what>``, and a bad option value names the option
(``error: --size: must be at least 32, got 1``), as ``python -m sr_lib`` does. A clip that is
partly damaged is read as far as it decodes: the summary says how many frames were lost, a
``warning: <file>: ...`` line on stderr repeats it, and the exit status is 0 (2 only when no frame
could be read at all). ``score`` warns when the swapped clip is the source clip itself (the same
file or a byte-identical copy): its identity score would measure nothing.

Ctrl-C prints one line too (``error: <file>: interrupted at ...``; for ``train``: ``stopped at
step N; last checkpoint at step M; run the same command to continue``, where M = N when a step
was trained: the model is saved at the step reached) and exits with status 130.
Numeric options are checked before anything runs (``--max-frames 0``, ``--learning-rate nan`` are
usage errors).

Outputs are never written over inputs (``convert clip.mp4 MODEL clip.mp4`` is refused, also
through another path, a symlink or a hard link; ``train`` refuses a model folder that is one of its
face folders, and the same folder as both persons), and are written under temporary names that are
renamed only on success (:mod:`sr_lib.files`; also ``score --json``); ``extract`` into a folder that already holds
another clip merges the two clips' ``alignments.json`` (see :mod:`faceswap_lib.extract`); ``extract``
of a clip into a folder that already holds its faces is refused unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys

from sr_lib.console import one_line

from .recipe import MIN_EXTRACT_SIZE, RECIPE

#: ``train`` writes a preview this often by default (minutes of training).
DEFAULT_PREVIEW_MINUTES = 5.0

CONSENT = (
    "Consent: swap only faces of people who agreed to it (the course's two provided clips, or your "
    "own footage). Every swapped frame is labelled SYNTHETIC; keep the label on anything you share."
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``error: <prog>: <message>``), exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message}\n")


class CommandError(Exception):
    """A failure of one command, about one file: printed as ``error: <file>: <message>``."""

    def __init__(self, filename, message: str):
        super().__init__(f"{filename}: {message}")
        self.filename, self.message = str(filename), message


def _describe(error: BaseException, default_file, known_files=()) -> CommandError:
    """Turn any exception into a :class:`CommandError` naming the file it is about.

    The file is the exception's own ``filename`` (OSError, h5py, our FileError / VideoError), else
    the path a message starts with (``"<path>: ..."``, our convention), else ``default_file``: the
    file the failing step was working on.
    """
    if isinstance(error, CommandError):
        return error
    filename = getattr(error, "filename", None)
    message = getattr(error, "message", None)
    if not isinstance(message, str):
        if isinstance(error, OSError) and filename and error.strerror:
            message = error.strerror
        else:
            message = str(error) or type(error).__name__
    message = one_line(message)
    if not filename:
        head, sep, rest = message.partition(": ")
        known = [str(k) for k in known_files if k is not None]
        if sep and (head in known or any(head.startswith(k.rstrip(os.sep) + os.sep) for k in known)
                    or os.path.exists(head)):
            filename, message = head, rest
        else:
            filename = default_file
    if type(error).__module__.split(".")[0] in ("cv2", "h5py", "tensorflow", "keras", "dlib", "_dlib_pybind11"):
        message = f"{message} ({type(error).__module__.split('.')[0]})"
    return CommandError(filename, message)


class _about:
    """``with _about(file, *known):`` turns any exception inside into a CommandError about ``file``."""

    def __init__(self, default_file, *known_files):
        self.default_file, self.known_files = default_file, (default_file, *known_files)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is not None and isinstance(error, Exception):
            raise _describe(error, self.default_file, self.known_files) from error
        return False


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m faceswap_lib",
        description="Shared-encoder face swap: extract aligned faces, train, convert a clip, score the swap.",
        epilog=CONSENT,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{extract,train,convert,score}",
                                     parser_class=_Parser)

    p = commands.add_parser("extract", help="detect, align and save the faces of a clip", epilog=CONSENT)
    p.add_argument("video", help="input clip (mp4, avi, ...)")
    p.add_argument("out_dir", help="folder for the aligned PNG crops and alignments.json")
    p.add_argument("--size", type=int, default=RECIPE.extract_size,
                   help=f"side of the aligned crops in pixels, at least {MIN_EXTRACT_SIZE} (the smallest model "
                        f"input; default {RECIPE.extract_size})")
    p.add_argument("--every-nth", type=int, default=1, help="process every n-th frame (default 1)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--overwrite", action="store_true",
                   help="extract a clip again into a folder that already holds its faces, replacing them "
                        "(without it that is refused; other clips are always merged in)")

    p = commands.add_parser("train", help="train the face-swap autoencoder on two extract folders", epilog=CONSENT)
    p.add_argument("a_dir", help="extract folder of person A")
    p.add_argument("b_dir", help="extract folder of person B")
    p.add_argument("model_dir", help="model folder (created; if it holds a model, training continues)")
    p.add_argument("--steps", type=int, default=None,
                   help=f"train until the model has made this many optimizer steps in total (default {RECIPE.steps}, "
                        "or no step limit with --minutes); a finished model is left alone")
    p.add_argument("--minutes", type=float, default=None,
                   help="train until the model has trained this many minutes in total (with --steps: whichever "
                        "comes first)")
    p.add_argument("--batch-size", type=int, default=RECIPE.batch_size,
                   help=f"faces per person per step (default {RECIPE.batch_size})")
    p.add_argument("--size", type=int, default=RECIPE.size, help=f"model input size in pixels (default {RECIPE.size})")
    p.add_argument("--learning-rate", type=float, default=RECIPE.learning_rate,
                   help=f"Adam learning rate (default {RECIPE.learning_rate:g})")
    p.add_argument("--chunk", type=int, default=100, help="checkpoint every this many steps (default 100)")
    p.add_argument("--holdout", type=float, default=None,
                   help="keep the last FRACTION of every clip's faces out of training, for `score` (default 0; "
                        "a model keeps the fraction it was started with)")
    p.add_argument("--preview-minutes", type=float, default=DEFAULT_PREVIEW_MINUTES,
                   help=f"write MODEL_DIR/previews/preview_<step>.png every N minutes and at the end "
                        f"(default {DEFAULT_PREVIEW_MINUTES:g}; 0: never)")
    p.add_argument("--preview-every", type=int, default=0, help="also write a preview every N steps (0: never)")
    p.add_argument("--mask", action="store_true", help="decoders also predict a face mask")
    p.add_argument("--padding", type=float, default=RECIPE.padding,
                   help="train on the centre of the extracted crops where the face has this padding (smaller: "
                        f"tighter; default {RECIPE.padding}; the extract's own is {RECIPE.extract_padding}: head, neck "
                        "and border); "
                        "a model keeps the crop it started with")
    p.add_argument("--balance-expressions", action=argparse.BooleanOptionalAction, default=None,
                   help="draw training faces so that every mouth-opening band comes up about equally often, "
                        "not uniformly (the few open-mouth frames of a mostly silent clip get trained; default "
                        f"{'on' if RECIPE.balance else 'off'}; a model keeps its choice)")
    p.add_argument("--priority-weight", type=float, default=RECIPE.priority_weight,
                   help="weight of the extra eyes-and-mouth loss term (DeepFaceLab's eyes/mouth priority; "
                        f"default {RECIPE.priority_weight:g}; 0: off)")
    p.add_argument("--warp", type=float, default=RECIPE.warp,
                   help=f"random-warp strength, std of the displacements as a share of the size (default {RECIPE.warp:g})")
    p.add_argument("--seed", type=int, default=0)

    p = commands.add_parser("score", help="measure a swapped clip: identity, expression, sharpness", epilog=CONSENT)
    p.add_argument("source_clip", help="the clip that was converted")
    p.add_argument("swapped_clip", help="what `convert` made of it")
    p.add_argument("model_dir", help="the model folder `convert` used")
    p.add_argument("--direction", choices=("a2b", "b2a"), default="a2b", help="as given to convert (default a2b)")
    p.add_argument("--every-nth", type=int, default=1, help="as given to convert (default 1)")
    p.add_argument("--start", type=int, default=0, help="as given to convert (default 0)")
    p.add_argument("--frames", type=int, default=40, help="frames scored, evenly spaced (default 40)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the report (every frame) as JSON")
    p.add_argument("--no-control", action="store_true",
                   help="skip the blur control (the source's own decoder through the same conversion)")
    p.add_argument("--no-lpips", action="store_true", help="skip LPIPS (it needs the VGG-16/LPIPS weights)")
    p.add_argument("--source-faces", default=None, help="extract folder of the source person's real faces "
                                                        "(default: the model's, from faceswap.json)")
    p.add_argument("--target-faces", default=None, help="extract folder of the target person's real faces")
    p.add_argument("--blend", choices=("none", "hard", "feathered", "seamless"), default="seamless",
                   help="as given to convert, for the blur control")
    p.add_argument("--color", choices=("none", "lab", "histogram"), default="lab", help="as given to convert")
    p.add_argument("--mask", choices=("hull", "extended", "predicted"), default="extended", help="as given to convert")

    p = commands.add_parser("convert", help="swap the face in every frame of a clip", epilog=CONSENT)
    p.add_argument("video", help="source clip")
    p.add_argument("model_dir", help="a folder written by `train`")
    p.add_argument("out", help="output video (.mp4; a side-by-side preview PNG is written beside it)")
    p.add_argument("--direction", choices=("a2b", "b2a"), default="a2b",
                   help="a2b: the clip shows person A, draw person B (default); b2a: the reverse")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--every-nth", type=int, default=1, help="convert every n-th frame")
    p.add_argument("--start", type=int, default=0,
                   help="begin at this frame (e.g. the first held-out frame; give score the same --start)")
    p.add_argument("--blend", choices=("none", "hard", "feathered", "seamless"), default="seamless")
    p.add_argument("--color", choices=("none", "lab", "histogram"), default="lab", help="colour correction")
    p.add_argument("--mask", choices=("hull", "extended", "predicted"), default="extended",
                   help="blend mask: landmark hull, hull + forehead (default), or the decoder's (models trained with --mask)")
    p.add_argument("--no-synthetic-label", action="store_true",
                   help="do NOT write the SYNTHETIC label on swapped frames (only for your own private tests)")
    return parser


from sr_lib.console import import_tensorflow_quietly  # noqa: E402  (cheap: imports TF only when called)


def _positive(name: str, value):
    if value is not None and value < 1:
        raise CommandError(name, f"must be >= 1, got {value}")


def _positive_float(name: str, value):
    import math

    if not (math.isfinite(value) and value > 0):
        raise CommandError(name, f"must be a positive finite number, got {value}")


def _at_least_zero(name: str, value):
    if value < 0:
        raise CommandError(name, f"must be >= 0, got {value}")


#: Output extensions ``convert`` writes: video containers OpenCV's FFmpeg backend writes mp4v into.
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv")


class _cpp_stderr_to_log:
    """``with _cpp_stderr_to_log():`` sends file descriptor 2 to a temporary file, so C++ log lines
    (TensorFlow's grappler prints ``E0000 ... meta_optimizer.cc ... remapper failed`` through absl,
    which ``TF_CPP_MIN_LOG_LEVEL`` does not silence) stay off the terminal; Python's ``sys.stderr``
    (the progress bar, warnings) keeps writing to the real stderr through a duplicate."""

    def __enter__(self):
        import tempfile

        sys.stderr.flush()
        self.saved = os.dup(2)
        self.sink = tempfile.TemporaryFile()
        self.python_stderr = sys.stderr
        sys.stderr = open(self.saved, "w", buffering=1, closefd=False, encoding=getattr(sys.stderr, "encoding", None))
        os.dup2(self.sink.fileno(), 2)
        return self

    def __exit__(self, *exc):
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = self.python_stderr
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.sink.close()
        return False


def _warn(file, text: str) -> None:
    print(f"warning: {file}: {text}", file=sys.stderr)


def _refuse_predicted_mask(mask: str, settings: dict, model_dir) -> None:
    """``--mask predicted`` needs decoders that predict a mask: said about the model folder, before TensorFlow."""
    if mask == "predicted" and not settings["model"].get("mask", False):
        raise CommandError(model_dir, "was trained without a mask, so --mask predicted has no mask to use: "
                                      "give --mask extended or hull, or train a model with `train --mask`")


def _same_clip(source, swapped) -> str:
    """"is" when ``swapped`` is ``source`` (however reached), "is byte-identical to" when it is a copy, else ""."""
    import filecmp

    from sr_lib.files import same_file

    if same_file(source, swapped):
        return "is"
    try:
        return "is byte-identical to" if filecmp.cmp(source, swapped, shallow=False) else ""
    except OSError:
        return ""


def _train(args: argparse.Namespace) -> None:
    """``train``: every option, folder and the model folder's state checked before TensorFlow loads."""
    import math
    from pathlib import Path

    for name in ("steps", "batch_size", "size", "chunk"):
        _positive("--" + name.replace("_", "-"), getattr(args, name))
    _positive_float("--learning-rate", args.learning_rate)
    if args.minutes is not None:
        _positive_float("--minutes", args.minutes)
    if not (math.isfinite(args.preview_minutes) and args.preview_minutes >= 0):
        raise CommandError("--preview-minutes", f"must be >= 0, got {args.preview_minutes}")
    if args.holdout is not None and not (math.isfinite(args.holdout) and 0 <= args.holdout < 1):
        raise CommandError("--holdout", f"must be a fraction in [0, 1), got {args.holdout}")
    _at_least_zero("--preview-every", args.preview_every)
    _at_least_zero("--seed", args.seed)
    if not (math.isfinite(args.padding) and 0 <= args.padding < 0.5):
        raise CommandError("--padding", f"must be in [0, 0.5), got {args.padding}")
    for name in ("priority_weight", "warp"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value >= 0):
            raise CommandError(f"--{name.replace('_', '-')}", f"must be >= 0, got {value}")
    steps = RECIPE.steps if args.steps is None and args.minutes is None else args.steps
    for folder in (args.a_dir, args.b_dir):
        if not Path(folder).is_dir():
            raise CommandError(folder, "extract folder not found")
    from .errors import refuse_overlapping_folders
    from .model_folder import RECOMMENDED_FACES, face_counts, finished, resume_check

    with _about(args.model_dir):
        refuse_overlapping_folders(args.a_dir, args.b_dir, args.model_dir)
        old = resume_check(args.model_dir, size=args.size, mask=args.mask, holdout=args.holdout,
                           dir_a=args.a_dir, dir_b=args.b_dir)
    done = finished(old, steps, args.minutes)
    if done:
        print(f"{args.model_dir}: {done}")
        return
    fraction = float((old.get("holdout") or {}).get("fraction", 0.0)) if old else float(args.holdout or 0.0)
    for person, folder in (("A", args.a_dir), ("B", args.b_dir)):
        with _about(folder):
            n_train, n_held = face_counts(folder, fraction)
        if n_train < RECOMMENDED_FACES:
            held = f" ({n_held} more held out)" if n_held else ""
            _warn(folder, f"only {n_train} faces of person {person} to train on{held}; at least {RECOMMENDED_FACES} "
                          "are recommended (a longer clip, or several clips extracted into the folder)")
    with _about(args.a_dir, args.b_dir):
        _warn_expression_coverage(args.a_dir, args.b_dir, fraction)
    with _about(args.model_dir, args.a_dir, args.b_dir):
        import_tensorflow_quietly()  # training imports Keras at import time
        from .training import train

        with _cpp_stderr_to_log():
            model, history, settings = train(
                args.a_dir, args.b_dir, args.model_dir, steps=steps, minutes=args.minutes,
                batch_size=args.batch_size, size=args.size, learning_rate=args.learning_rate, chunk=args.chunk,
                preview_every=args.preview_every, preview_minutes=args.preview_minutes or None,
                holdout=args.holdout, mask=args.mask, padding=args.padding,
                model_kwargs={"priority_weight": args.priority_weight}, augment_kwargs={"warp": args.warp},
                balance=args.balance_expressions,
                seed=args.seed, progress=sys.stderr.isatty())
    if history is None:  # reached the total between the check above and now (another process?)
        print(f"{args.model_dir}: {finished(settings, steps, args.minutes)}")
        return
    last = {k: v[-1] for k, v in history.history.items()}
    held = settings["holdout"]
    kept = (f", {sum(c['faces'] for c in held['a'].values())} + {sum(c['faces'] for c in held['b'].values())} "
            "faces held out" if held["fraction"] else "")
    print(f"trained to step {settings['steps']} ({settings['seconds'] / 60:.1f} min in total{kept}): "
          f"loss_a {last['loss_a']:.4f}, loss_b {last['loss_b']:.4f} -> {args.model_dir}")


#: ``train`` warns when the target person shows fewer than this share of the source's expressions.
MIN_EXPRESSION_COVERAGE = 0.5


def _warn_expression_coverage(a_dir, b_dir, fraction: float) -> None:
    """Warn (one line per direction) when one person's training faces lack most of the other's
    expressions: that decoder cannot learn them (:func:`faceswap_lib.score.expression_coverage`)."""
    import numpy as np

    from .alignments import read_alignments
    from .model_folder import holdout_split
    from .score import expression_coverage, face_openings

    openings = {}
    for person, folder in (("A", a_dir), ("B", b_dir)):
        faces = read_alignments(folder, arrays=False)["faces"]  # once: a long clip's sidecar is megabytes
        train = holdout_split(faces, fraction)[0]
        openings[person] = face_openings([faces[i] for i in train])
    if not all(len(openings[person][0]) for person in openings):
        return  # a folder without training faces: train() says so, naming it
    for source, target, folder in (("A", "B", b_dir), ("B", "A", a_dir)):
        cover = expression_coverage(*openings[source], *openings[target])
        if cover["reachable"] < MIN_EXPRESSION_COVERAGE:
            source_p90 = float(np.percentile(openings[source][0], 90))
            _warn(folder, f"person {target} shows only {cover['reachable']:.0%} of person {source}'s expressions "
                          f"(mouth opening, 90th percentile: {target} {cover['target_mouth_p90']:.2f}, {source} "
                          f"{source_p90:.2f} inter-ocular distances): a decoder draws only what its person did, so "
                          f"{source}->{target} swaps will not follow {source}'s mouth and eyes there; add footage of "
                          f"{target} talking and laughing")


def _json_ready(value):
    """NaN and infinity (a correlation of a constant series) as null: JSON has no NaN."""
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def _score(args: argparse.Namespace) -> None:
    """``score``: clips, model folder, face folders and the JSON output checked before TensorFlow loads."""
    import json
    from pathlib import Path

    from sr_lib.files import atomic_path, refuse_same_file

    _positive("--every-nth", args.every_nth)
    _positive("--frames", args.frames)
    _at_least_zero("--start", args.start)
    for clip in (args.source_clip, args.swapped_clip):
        if not Path(clip).is_file():
            raise CommandError(clip, "video file not found")
    from .model_folder import CONFIG_FILE, WEIGHTS_FILE, read_settings

    with _about(args.model_dir):
        settings = read_settings(args.model_dir)
    _refuse_predicted_mask(args.mask, settings, args.model_dir)
    src, tgt = ("a", "b") if args.direction == "a2b" else ("b", "a")
    for option, folder in (("--source-faces", args.source_faces or settings.get(src)),
                           ("--target-faces", args.target_faces or settings.get(tgt))):
        if not folder or not Path(folder).is_dir():
            raise CommandError(folder or args.model_dir, f"face folder not found (the model's {CONFIG_FILE} names it; "
                                                         f"give the extract folder with {option})")
    if args.json:
        model_dir = Path(args.model_dir)
        with _about(args.json):
            refuse_same_file(args.json, args.source_clip, args.swapped_clip, model_dir, model_dir / CONFIG_FILE,
                             model_dir / WEIGHTS_FILE)
        if Path(args.json).is_dir():
            raise CommandError(args.json, "is a folder; give a file name such as score.json")
    same = _same_clip(args.source_clip, args.swapped_clip)
    if same:
        _warn(args.swapped_clip, f"{same} the source clip {args.source_clip}: the swapped clip is the source "
                                 "itself, so the identity score measures nothing (score the output of `convert`)")
    with _about(args.swapped_clip, args.source_clip, args.model_dir):
        import_tensorflow_quietly()
        from .score import format_report, score_clip

        with _cpp_stderr_to_log():
            report = score_clip(
                args.source_clip, args.swapped_clip, args.model_dir, direction=args.direction,
                every_nth=args.every_nth, start=args.start, frames=args.frames, control=not args.no_control, lpips=not args.no_lpips,
                source_faces=args.source_faces, target_faces=args.target_faces,
                convert_options={"blend": args.blend, "color": None if args.color == "none" else args.color,
                                 "mask": args.mask})
    print(format_report(report))
    if args.json:
        with _about(args.json), atomic_path(args.json) as temporary:
            temporary.write_text(json.dumps(_json_ready(report), indent=1) + "\n", encoding="utf-8")
        print(f"-> {args.json}")
    if report["held_out"] == "trained on":
        _warn(args.source_clip, "the model trained on every scored frame: the score flatters it "
                                "(train with --holdout FRACTION to keep frames out)")


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    if args.command == "extract":
        if args.size < MIN_EXTRACT_SIZE:
            raise CommandError("--size", f"must be at least {MIN_EXTRACT_SIZE} (the smallest model input), got {args.size}")
        _positive("--every-nth", args.every_nth)
        _positive("--max-frames", args.max_frames)
        with _about(args.video, args.out_dir):
            from .extract import extract

            s = extract(args.video, args.out_dir, size=args.size, every_nth=args.every_nth, max_frames=args.max_frames,
                        progress=sys.stderr.isatty(),  # a bar for people; no bar lines in captured stderr
                        overwrite=args.overwrite)
        lost = f", {len(s.undecodable_frames)} undecodable frames skipped" if s.undecodable_frames else ""
        print(f"{s.faces_saved} faces from {s.frames_read} frames ({s.frames_without_face} without a face{lost}) "
              f"-> {s.out_dir} (clip key {s.clip}), {s.frames_per_second:.1f} frames/s")
        if s.read_report:
            _warn(args.video, s.read_report)
        if s.faces_saved == 0:
            raise CommandError(args.video, f"no face found in any of the {s.frames_read} frames read")
    elif args.command == "train":
        _train(args)
    elif args.command == "score":
        _score(args)
    else:
        _positive("--max-frames", args.max_frames)
        _positive("--every-nth", args.every_nth)
        _at_least_zero("--start", args.start)
        from sr_lib.files import refuse_same_file
        from .model_folder import CONFIG_FILE, WEIGHTS_FILE, read_settings

        model_dir = Path(args.model_dir)
        with _about(args.out, args.video, args.model_dir):
            # Before anything is loaded or opened for writing: the output must not be an input.
            refuse_same_file(args.out, args.video, model_dir, model_dir / WEIGHTS_FILE, model_dir / CONFIG_FILE)
        if Path(args.out).suffix.lower() not in VIDEO_EXTENSIONS:
            raise CommandError(args.out, f"not a video file name: the output must end in one of "
                                         f"{', '.join(VIDEO_EXTENSIONS)} (a video is written there)")
        with _about(args.model_dir):
            settings = read_settings(args.model_dir)  # a missing or wrong model folder: said before TensorFlow loads
        _refuse_predicted_mask(args.mask, settings, args.model_dir)
        with _about(args.model_dir):
            import_tensorflow_quietly()  # training imports Keras at import time
            from .training import load_model

            model, settings = load_model(args.model_dir)
        to = "b" if args.direction == "a2b" else "a"
        with _about(args.video, args.out, args.model_dir):
            from .convert import convert_video

            s = convert_video(args.video, model, args.out, to, padding=settings.get("padding"),
                              start=args.start, every_nth=args.every_nth, max_frames=args.max_frames, label=not args.no_synthetic_label,
                              blend=args.blend, color=None if args.color == "none" else args.color, mask=args.mask,
                              crop_size=settings.get("crop_size", 256), progress=sys.stderr.isatty())
        lost = f", {len(s.undecodable_frames)} undecodable frames skipped" if s.undecodable_frames else ""
        print(f"{s.frames_swapped} of {s.frames_written} frames swapped ({len(s.frames_without_face)} without a face"
              f"{lost}) -> {s.out_path}, preview {s.preview_path}, {s.frames_per_second:.1f} frames/s")
        if s.read_report:
            _warn(args.video, s.read_report)


def main(argv=None) -> int:
    """Run the command line; returns the exit status (0; 2 after one ``error:`` line on stderr; 130 after Ctrl-C)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # FFmpeg's and OpenCV's own messages ("[mpeg4 @ 0x...] header damaged") would add lines to
    # stderr; the command reports lost frames and errors itself, in the one-line format.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    args = _parser().parse_args(argv)
    try:
        run(args)
    except KeyboardInterrupt as error:  # Ctrl-C: one line too, status 130 (128 + SIGINT)
        filename = (getattr(error, "filename", None) or getattr(args, "video", None)
                    or getattr(args, "swapped_clip", None) or getattr(args, "model_dir", None))
        message = getattr(error, "message", None) or "interrupted (Ctrl-C); nothing was written"
        print(f"error: {filename}: {message}", file=sys.stderr)
        return 130
    except Exception as error:  # the contract: one line, never a traceback
        problem = _describe(error, getattr(args, "video", None) or getattr(args, "swapped_clip", None)
                            or getattr(args, "model_dir", None) or "faceswap_lib")
        print(f"error: {problem.filename}: {problem.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
