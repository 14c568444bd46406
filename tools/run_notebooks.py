#!/usr/bin/env python
"""Execute the numbered tutorial notebooks headlessly and summarise their key figures.

This is the engine behind ``make run`` (smoke mode, outputs in ``build/``) and
``make notebooks`` (demo mode, outputs written back into ``notebooks/``)::

    python tools/run_notebooks.py [--mode smoke|demo|full] [--out build] [--in-place]
                                  [--timeout 1800] [--dry-run [--max-steps N] [--max-eval-images N]]
                                  [NOTEBOOK ...]

``--dry-run`` (meant with ``--mode full``): everything the mode decides (data source, model and batch
sizes, precision policy, strategy) stays, but the kernels get ``SRFS_MAX_STEPS`` and
``SRFS_MAX_EVAL_IMAGES`` (``sr_lib.notebook.capped_steps`` / ``capped_images`` cap the counts with them) and
``SRFS_MOCK_TFDS=1`` (DIV2K and CelebA come from ``tfds.testing.mock_data``: nothing downloaded), and
``SRFS_PRECISION=mixed_float16`` (``--precision``): the dtype policy full mode picks on a GPU, so the
float16 path (dtypes, loss scaling) runs here although a CPU alone would pick float32. The
step times ``fit_steps`` records then (unit ``s/step``, at the mode's model and batch sizes, the
first, tracing step excluded) are listed per notebook in ``summary.json`` under ``step_times``.

Without NOTEBOOK arguments it runs ``notebooks/[0-9][0-9]_*.ipynb`` of this
repository in name order, then the exercise solutions
``notebooks/solutions/[0-9][0-9]_*_solutions.ipynb`` (``--no-solutions`` skips
them); paths are located relative to this file, so any cwd works.

For every notebook it

1. starts a fresh ``python3`` kernel whose cwd is the notebook's folder, with
   ``SRFS_MODE=<mode>`` and ``SRFS_RESULTS_FILE=<temp .jsonl>`` in its
   environment (``sr_lib.notebook.get_mode`` / ``record`` read them);
2. runs all cells, stopping that notebook at the first error but carrying on
   with the next notebook;
3. collects the figures the notebook ``record()``-ed.

Outputs: ``--out DIR`` writes ``DIR/NN_name.ipynb`` (executed, also when it
failed, so the traceback can be read), ``DIR/NN_name.html`` and
``DIR/summary.json``; ``--in-place`` overwrites the source notebook, but only if
it ran cleanly (stored outputs should never be a traceback). A summary table is
always printed. Exit status: 0 if every notebook succeeded, 1 otherwise
(including "no notebooks found", so a broken glob cannot pass CI silently).

Only nbclient / nbformat / nbconvert are needed; nbconvert is imported only
when HTML is written.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# The repository root is the parent of tools/; resolving it from __file__
# (not the cwd) lets `python /anywhere/tools/run_notebooks.py` work.
REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
SOLUTIONS_DIR = NOTEBOOK_DIR / "solutions"
SOLUTIONS_GLOB = "[0-9][0-9]_*_solutions.ipynb"
MODES = ("smoke", "demo", "full")  # kept in sync with sr_lib.notebook.MODES
MAX_ERROR_CHARS = 300  # tracebacks belong in the executed notebook, not the summary


@dataclass
class NotebookResult:
    """What we remember about one notebook run (one entry of summary.json)."""

    name: str
    path: str
    status: str = "failed"  # "ok" or "failed"
    seconds: float = 0.0
    figures: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None  # {"cell_index", "ename", "evalue"}
    step_times: dict[str, float] = field(default_factory=dict)  # dry run: {"step time <model>": s/step, "CPU time ...}
    load_average: float | None = None  # 1-minute load average when the notebook finished: other jobs slow it

    def error_line(self, max_chars: int = MAX_ERROR_CHARS) -> str:
        """One-line error description: ``cell 3: ZeroDivisionError: division by zero``.

        ``cell_index`` is the 0-based position in ``nb.cells`` (markdown cells count).
        """
        if not self.error:
            return ""
        where = "" if self.error.get("cell_index") is None else f"cell {self.error['cell_index']}: "
        line = " ".join(f"{where}{self.error['ename']}: {self.error['evalue']}".split())
        return line if len(line) <= max_chars else line[: max_chars - 1] + "…"


# --------------------------------------------------------------------------- inputs
def find_notebooks(args_notebooks: list[str], solutions: bool = True) -> list[Path]:
    """Explicit paths (relative to the cwd, as usual for a CLI) or the default globs.

    The default: every numbered lesson, then (``solutions=True``) every solutions notebook.
    """
    if args_notebooks:
        return [Path(p).resolve() for p in args_notebooks]
    found = sorted(NOTEBOOK_DIR.glob(NOTEBOOK_GLOB))
    return found + (sorted(SOLUTIONS_DIR.glob(SOLUTIONS_GLOB)) if solutions else [])


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def display_name(path: Path) -> str:
    """Short name for tables: relative to notebooks/ if inside it, else the file name."""
    try:
        return str(path.relative_to(NOTEBOOK_DIR))
    except ValueError:
        return path.name


def read_figures(results_file: Path) -> list[dict[str, Any]]:
    """Parse the JSON lines written by ``sr_lib.notebook.record``; skip garbled lines."""
    figures = []
    if not results_file.exists():
        return figures
    for line in results_file.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            # A kernel killed mid-write can leave half a line; don't lose the rest.
            print(f"  warning: ignoring malformed result line: {line[:80]!r}", file=sys.stderr)
            continue
        if isinstance(entry, dict) and "name" in entry:
            figures.append(entry)
    return figures


# --------------------------------------------------------------------------- execution
def describe_error(exc: BaseException, cell_index: int | None) -> dict[str, Any]:
    """Short, JSON-friendly description of why a notebook failed."""
    # CellExecutionError carries the kernel-side exception name and message;
    # timeouts / dead kernels / bad JSON only have the Python-side exception.
    ename = getattr(exc, "ename", None) or type(exc).__name__
    evalue = getattr(exc, "evalue", None)
    if evalue is None:
        evalue = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    evalue = str(evalue)
    if len(evalue) > MAX_ERROR_CHARS:
        evalue = evalue[: MAX_ERROR_CHARS - 1] + "…"
    return {"cell_index": cell_index, "ename": ename, "evalue": evalue}


def kernel_config():
    """traitlets config for the kernel manager: CurveZMQ-encrypt the local sockets.

    ipykernel >= 7 logs "Kernel is running over TCP without encryption" for every
    kernel otherwise, which would drown the progress lines. jupyter_client >= 8.10
    provisions keys when the kernelspec declares support ("auto"); older versions
    merely warn about the unknown option. Skipped if this pyzmq lacks Curve (the policy's
    validator would raise).
    """
    import zmq
    from traitlets.config import Config

    config = Config()
    if zmq.has("curve"):
        config.KernelManager.transport_encryption = "auto"
    return config


#: Environment of a dry run's kernels (``--dry-run``); the values for the caps come from the command line.
#: :func:`run_one` passes these to a kernel only from its ``extra_env``, never from the calling shell.
DRY_RUN_ENV = ("SRFS_MAX_STEPS", "SRFS_MAX_EVAL_IMAGES", "SRFS_MOCK_TFDS", "SRFS_PRECISION")


def dry_run_env(max_steps: int, max_eval_images: int, precision: str = "mixed_float16") -> dict[str, str]:
    """The variables a dry run sets for its kernels (see the module docstring); ``precision="auto"``
    leaves the dtype policy to the machine (float32 on a CPU)."""
    env = {"SRFS_MAX_STEPS": str(max_steps), "SRFS_MAX_EVAL_IMAGES": str(max_eval_images), "SRFS_MOCK_TFDS": "1"}
    if precision != "auto":
        env["SRFS_PRECISION"] = precision
    return env


def step_times(figures: list[dict[str, Any]]) -> dict[str, float]:
    """``{name: seconds}`` of the recorded figures in ``s/step`` (wall) or ``CPU s/step`` (the process's CPU
    time, all threads, which other jobs on the cores do not inflate): ``fit_steps`` in a dry run."""
    times: dict[str, float] = {}
    for f in figures:
        if f.get("unit") in ("s/step", "CPU s/step"):
            name, n = f["name"], 1
            while name in times:  # the same model trained again (several losses, several heads)
                n += 1
                name = f"{f['name']} ({n})"
            times[name] = f["value"]
    return times


def run_one(path: Path, mode: str, timeout: int, record_timing: bool, kernel_log: Path | None = None,
            extra_env: dict[str, str] | None = None):
    """Execute one notebook; return ``(executed_nb_or_None, NotebookResult)``.

    Never raises for notebook problems, so the caller can keep going with the
    next notebook. Raises KeyboardInterrupt if the run was interrupted (Ctrl-C
    or SIGTERM) so the caller can stop instead.

    ``kernel_log``: where the kernel process's own stdout/stderr go (TensorFlow's
    C++ start-up lines, a crash's last words). Without it they are discarded; they
    never reach the terminal, which shows one line per notebook. What cells print
    is captured into the notebook either way.
    """
    import nbformat
    from nbclient import NotebookClient

    result = NotebookResult(name=display_name(path), path=str(path))
    fd, tmp = tempfile.mkstemp(prefix=f"srfs-{path.stem}-", suffix=".jsonl")
    os.close(fd)
    results_file = Path(tmp)

    # The kernel inherits os.environ when it is started (jupyter_client copies
    # it), so this is how mode and results file reach sr_lib.notebook.
    # A dry run's variables reach the kernel only from ``extra_env``: one inherited from the shell
    # (say SRFS_PRECISION from an earlier experiment) would silently change a normal run, or the
    # policy of ``--precision auto``.
    extra_env = extra_env or {}
    saved_env = {k: os.environ.get(k)
                 for k in ("SRFS_MODE", "SRFS_RESULTS_FILE", "PYTHONPATH", *DRY_RUN_ENV, *extra_env)}
    for key in DRY_RUN_ENV:
        os.environ.pop(key, None)
    os.environ.update(extra_env)
    os.environ["SRFS_MODE"] = mode
    os.environ["SRFS_RESULTS_FILE"] = str(results_file)
    # Put the working tree first on the kernel's path so notebooks exercise
    # *this* sr_lib / faceswap_lib even if a stale non-editable copy is installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), saved_env["PYTHONPATH"]) if p
    )

    nb = None
    client = None
    current_cell: list[int | None] = [None]  # updated by the hook below
    start = time.perf_counter()
    try:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb,
            timeout=timeout,  # per cell, not per notebook
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},  # kernel cwd
            record_timing=record_timing,
            config=kernel_config(),
            # nbclient's exceptions don't say which cell failed; remember it.
            on_cell_execute=lambda cell, cell_index: current_cell.__setitem__(0, cell_index),
        )
        if kernel_log is not None:
            kernel_log.parent.mkdir(parents=True, exist_ok=True)
        with open(kernel_log if kernel_log is not None else os.devnull, "wb") as log:
            # Passed through nbclient and jupyter_client to the kernel's Popen.
            client.execute(stdout=log, stderr=log)
        strip_tf_noise(nb)
        relativise_paths(nb)
        result.status = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is reported, then we move on
        # While executing, nbclient owns SIGINT/SIGTERM: its handler shuts the
        # kernel down and the cell then fails with an unrelated error (often a
        # bare AssertionError). The only trace it leaves is this future.
        if getattr(client, "_async_cleanup_kernel_future", None) is not None:
            raise KeyboardInterrupt from exc
        result.error = describe_error(exc, current_cell[0])
    finally:
        result.seconds = round(time.perf_counter() - start, 1)
        result.figures = read_figures(results_file)
        result.step_times = step_times(result.figures)
        if hasattr(os, "getloadavg"):
            result.load_average = round(os.getloadavg()[0], 1)
        results_file.unlink(missing_ok=True)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb, result


# --------------------------------------------------------------------------- outputs
# TensorFlow's C++ start-up chatter (oneDNN notice, "no CUDA drivers", CPU feature flags) goes to
# stderr before Python logging exists, so TF_CPP_MIN_LOG_LEVEL cannot hide it. It says nothing
# about the notebook, so it is dropped from stored outputs; everything else a cell prints is kept.
TF_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:. ]+\d+ \w+\.cc:\d+\].*"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.)$"
)


def strip_tf_noise(nb) -> None:
    """Remove TensorFlow's start-up lines from every stderr stream output, in place."""
    for cell in nb.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = [line for line in output["text"].splitlines(keepends=True) if not TF_NOISE.match(line.rstrip("\n"))]
                if not "".join(lines).strip():
                    continue
                output["text"] = "".join(lines)
            kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept


# Absolute paths of the machine that ran a notebook say nothing to a reader and leak where it ran
# (a warning's "/home/me/.venv/lib/python3.11/site-packages/IPython/..."). Stored outputs name
# places by role instead. Order matters: the most specific prefix first.
_SITE_PACKAGES = re.compile(r"(?:[A-Za-z]:)?[/\\](?:[^\s'\"/\\<>]+[/\\])*?(?:site|dist)-packages(?=[/\\])")


def path_replacements() -> list[tuple[str, str]]:
    """``(absolute prefix, placeholder)`` pairs for :func:`relativise_text`, most specific first."""
    pairs = []
    for variable in ("SRFS_DATA_DIR", "SRFS_CACHE_DIR"):
        value = os.environ.get(variable)
        if value and Path(value).is_absolute():
            pairs.append((str(Path(value).resolve()), f"${variable}"))
            pairs.append((value.rstrip("/\\"), f"${variable}"))
    pairs.append((str(REPO_ROOT), "<repo>"))
    pairs.append((tempfile.gettempdir(), "<tmp>"))
    pairs.append((str(Path.home()), "~"))
    # Longest first, so /work/main/x is replaced as <repo>/x and not as a shorter prefix.
    return sorted({p for p in pairs if p[0] not in ("", "/")}, key=lambda p: -len(p[0]))


def relativise_text(text: str, replacements: list[tuple[str, str]] | None = None) -> str:
    """``text`` with this machine's absolute paths replaced by placeholders (``<repo>``, ``~``, ...)."""
    text = _SITE_PACKAGES.sub("<site-packages>", text)
    for prefix, placeholder in replacements if replacements is not None else path_replacements():
        text = text.replace(prefix, placeholder)
    return text


def relativise_paths(nb) -> None:
    """Apply :func:`relativise_text` to every text output of ``nb`` (streams, text/*, tracebacks), in place."""
    replacements = path_replacements()

    def fix(value):
        if isinstance(value, list):
            return [fix(v) for v in value]
        return relativise_text(value, replacements) if isinstance(value, str) else value

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = fix(output["text"])
            for key in ("evalue", "traceback"):
                if key in output:
                    output[key] = fix(output[key])
            for mime, value in output.get("data", {}).items():
                # Only text: base64 images are full of slashes that are not paths.
                if mime.startswith("text/"):
                    output["data"][mime] = fix(value)


def write_outputs(nb, path: Path, out_dir: Path) -> None:
    """Write the executed notebook and its HTML rendering into ``out_dir``."""
    import nbformat
    from nbconvert import HTMLExporter  # slow import; only needed here

    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / path.name)
    body, _ = HTMLExporter().from_notebook_node(nb)
    (out_dir / path.with_suffix(".html").name).write_text(body, encoding="utf-8")


def format_value(value: Any) -> str:
    """Compact number formatting for the table (5 significant digits)."""
    if isinstance(value, float):
        return format(value, ".5g")
    return str(value)


def format_figures(figures: list[dict[str, Any]]) -> str:
    """``name = value unit; name = value unit`` for one notebook."""
    parts = []
    for fig in figures:
        unit = f" {fig['unit']}" if fig.get("unit") else ""
        parts.append(f"{fig['name']} = {format_value(fig.get('value'))}{unit}")
    return "; ".join(parts)


def print_summary(results: list[NotebookResult], max_lines_per_notebook: int = 3) -> None:
    """One-screen table: notebook, status, seconds, key figures (wrapped, truncated)."""
    width = shutil.get_terminal_size((110, 40)).columns
    name_w = min(36, max([len("notebook")] + [len(r.name) for r in results]))
    head = f"{'notebook':<{name_w}}  {'status':<6}  {'seconds':>7}  "
    fig_w = max(30, width - len(head) - 1)
    indent = " " * len(head)

    print()
    print(head + "key figures")
    print("-" * min(width - 1, len(head) + fig_w))
    for r in results:
        name = r.name if len(r.name) <= name_w else r.name[: name_w - 1] + "…"
        text = format_figures(r.figures)
        if r.error:
            # The failure matters more than the figures recorded before it.
            text = f"FAILED {r.error_line()}" + (f"; {text}" if text else "")
        lines = textwrap.wrap(text, fig_w) or ["-"]
        if len(lines) > max_lines_per_notebook:
            lines = lines[:max_lines_per_notebook]
            lines[-1] = lines[-1][: fig_w - 2] + " …"
        print(f"{name:<{name_w}}  {r.status:<6}  {r.seconds:>7.1f}  {lines[0]}")
        for line in lines[1:]:
            print(indent + line)
    n_failed = sum(r.status != "ok" for r in results)
    total = sum(r.seconds for r in results)
    print("-" * min(width - 1, len(head) + fig_w))
    print(
        f"{len(results)} notebook(s): {len(results) - n_failed} ok, {n_failed} failed, "
        f"{total:.1f} s total"
    )


# --------------------------------------------------------------------------- main
def absolutise_data_dirs() -> None:
    """Make ``$SRFS_DATA_DIR`` / ``$SRFS_CACHE_DIR`` absolute, against the directory this command
    was started in, before any kernel inherits them: a kernel runs in its notebook's folder, where
    the README's ``SRFS_DATA_DIR=../shared/data`` would name another place (or none)."""
    for variable in ("SRFS_DATA_DIR", "SRFS_CACHE_DIR"):
        value = os.environ.get(variable, "").strip()
        if value:
            os.environ[variable] = str(Path(value).expanduser().resolve())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Execute the numbered tutorial notebooks and summarise their key figures.",
    )
    parser.add_argument(
        "--mode", choices=MODES, default=os.environ.get("SRFS_MODE") or "smoke",
        help="SRFS_MODE passed to the notebooks (default: $SRFS_MODE or smoke)",
    )
    parser.add_argument("--out", type=Path, help="write executed .ipynb, .html and summary.json here")
    parser.add_argument(
        "--in-place", action="store_true",
        help="overwrite each source notebook with its executed version (only if it succeeded)",
    )
    parser.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    parser.add_argument(
        "--dry-run", action="store_true",
        help="keep the mode's data source, sizes and policies, but cap optimizer steps and evaluation images "
             "and mock the tensorflow-datasets sets (DIV2K, CelebA); record the step times",
    )
    parser.add_argument("--max-steps", type=int, default=3,
                        help="--dry-run: optimizer steps per training (default 3: one traces, two are timed)")
    parser.add_argument("--max-eval-images", type=int, default=2,
                        help="--dry-run: evaluation images per evaluation (default 2)")
    parser.add_argument("--precision", choices=("mixed_float16", "mixed_bfloat16", "float32", "auto"),
                        default=None,
                        help="--dry-run: the dtype policy sr_lib.training.use_mixed_precision() picks (default "
                             "mixed_float16, full mode's choice on a GPU, so the float16 path runs on the CPU; "
                             "auto: the machine's own choice, float32 on a CPU)")
    parser.add_argument("--no-solutions", action="store_true",
                        help="without NOTEBOOK arguments: run the lessons only, not notebooks/solutions/")
    parser.add_argument(
        "notebooks", nargs="*", metavar="NOTEBOOK",
        help=f"notebooks to run (default: notebooks/{NOTEBOOK_GLOB} of the repository)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.mode not in MODES:  # argparse does not check choices for defaults from $SRFS_MODE
        print(f"error: invalid SRFS_MODE {args.mode!r}; expected one of {', '.join(MODES)}",
              file=sys.stderr)
        return 1
    notebooks = find_notebooks(args.notebooks, solutions=not args.no_solutions)
    missing = [p for p in notebooks if not p.is_file()]
    if missing:
        print("error: notebook(s) not found: " + ", ".join(map(str, missing)), file=sys.stderr)
        return 1
    if not notebooks:
        print(f"error: no notebooks match {NOTEBOOK_DIR / NOTEBOOK_GLOB}", file=sys.stderr)
        return 1

    if args.dry_run and (args.max_steps < 1 or args.max_eval_images < 1):
        print("error: --max-steps and --max-eval-images must be at least 1", file=sys.stderr)
        return 1
    if args.dry_run and args.in_place:
        print("error: a dry run's outputs (mocked data, capped training) must not be stored in the notebooks",
              file=sys.stderr)
        return 1
    if args.precision and not args.dry_run:  # a normal run keeps the notebooks' own policy
        print("error: --precision applies to --dry-run only", file=sys.stderr)
        return 1
    args.precision = args.precision or "mixed_float16"
    extra_env = dry_run_env(args.max_steps, args.max_eval_images, args.precision) if args.dry_run else {}

    absolutise_data_dirs()
    out_dir = args.out.resolve() if args.out else None
    # Per-cell timestamps make useful build artefacts but pure churn in git diffs
    # of the stored (in-place) notebooks.
    record_timing = not args.in_place
    print(f"Running {len(notebooks)} notebook(s) in {args.mode} mode"
          + (f" (dry run: {args.max_steps} steps, {args.max_eval_images} evaluation images, mocked tfds data, "
             f"precision {args.precision})"
             if args.dry_run else "")
          + (f", outputs in {out_dir}" if out_dir else ""), flush=True)

    results: list[NotebookResult] = []
    interrupted = False
    for i, path in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {display_name(path)} ...", end=" ", flush=True)
        try:
            log = (out_dir / "logs" / f"{path.stem}.kernel.log") if out_dir is not None else None
            nb, result = run_one(path, args.mode, args.timeout, record_timing, kernel_log=log, extra_env=extra_env)
        except KeyboardInterrupt:
            # Stop here, but still summarise what finished (nbclient has shut
            # the kernel down; the partial notebook is not written).
            print("interrupted", flush=True)
            interrupted = True
            break
        results.append(result)

        notes = []
        if nb is not None and out_dir is not None:
            try:
                write_outputs(nb, path, out_dir)
            except Exception as exc:  # noqa: BLE001 - a bad export should not hide the run
                notes.append(f"(could not write outputs: {type(exc).__name__}: {exc})")
        if args.in_place:
            if result.status == "ok":
                import nbformat

                nbformat.write(nb, path)
            else:
                notes.append("(source left unchanged)")
        status = "ok" if result.status == "ok" else f"FAILED ({result.error_line(100)})"
        if result.status != "ok" and log is not None and log.is_file() and log.stat().st_size:
            notes.append(f"(kernel log: {display_path(log)})")
        print(" ".join([status, f"{result.seconds:.1f} s", *notes]), flush=True)

    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        summary = {
            "mode": args.mode,
            "dry_run": extra_env or None,
            "interrupted": interrupted,
            "notebooks": [asdict(r) for r in results],
        }
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    print_summary(results)
    if interrupted:
        return 130
    return 1 if any(r.status != "ok" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
