"""Small helpers shared by every tutorial notebook.

A notebook typically starts with::

    import os
    MODE = os.environ.get("SRFS_MODE", "demo")   # cell tagged "parameters"

    from sr_lib.notebook import by_mode, get_mode, record, seed_everything
    MODE = get_mode()                  # validate it
    seed_everything(42)
    EPOCHS = by_mode(MODE, smoke=1, demo=20, full=300)
    ...
    record("Set5 x4 bicubic PSNR-Y", psnr, unit="dB")

Three run modes keep one notebook useful everywhere:

- ``smoke``  seconds per notebook, for CI (``make test`` / ``make run``);
- ``demo``   minutes on a CPU laptop, the outputs stored in the repository;
- ``full``   the real thing, meant for a GPU (e.g. Colab).

This module is imported by every notebook, so it imports nothing heavy at
module level: keras / numpy are only imported inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import time
from typing import Any, Iterator, TypeVar

__all__ = [
    "MODES",
    "MODE_ENV",
    "RESULTS_ENV",
    "get_mode",
    "by_mode",
    "seed_everything",
    "record",
    "on_colab",
    "timer",
    "MAX_STEPS_ENV",
    "MAX_EVAL_ENV",
    "max_steps",
    "capped_steps",
    "capped_images",
    "quality_checks",
    "REPOSITORY",
    "BRANCH",
    "pip_spec",
    "colab_url",
]

#: Valid run modes, from cheapest to most expensive.
MODES = ("smoke", "demo", "full")

#: Environment variable that selects the mode (set by the Makefile and the runner).
MODE_ENV = "SRFS_MODE"

#: Environment variable naming a JSON-lines file that ``record`` appends to
#: (set per notebook by ``tools/run_notebooks.py``).
RESULTS_ENV = "SRFS_RESULTS_FILE"

#: Dry run: ``SRFS_MAX_STEPS=N`` caps every optimizer-step count a notebook passes through :func:`capped_steps`
#: at N, and nothing else: data source, model sizes, batch sizes, precision policy and strategy stay
#: whatever the mode decides (``tools/run_notebooks.py --mode full --dry-run`` sets it).
MAX_STEPS_ENV = "SRFS_MAX_STEPS"

#: Dry run: ``SRFS_MAX_EVAL_IMAGES=N`` caps every evaluation image count passed through :func:`capped_images`.
MAX_EVAL_ENV = "SRFS_MAX_EVAL_IMAGES"

#: The course's GitHub repository, "owner/name": the one place it is written. The Colab badges and the
#: Colab set-up cells of the notebooks are rendered from it by ``tools/colab_cells.py`` (a set-up cell
#: cannot import this module before it has installed it), and ``tests/test_colab_cells.py`` fails when a
#: notebook still holds an old rendering.
REPOSITORY = "srfs-tutorials/srfs-tutorials"

#: The branch the Colab badges open.
BRANCH = "main"

T = TypeVar("T")


def _check_mode(mode: str) -> str:
    """Return ``mode`` normalised (stripped, lower case) or raise a helpful ValueError."""
    normalised = str(mode).strip().lower()
    if normalised not in MODES:
        raise ValueError(
            f"invalid mode {mode!r}: expected one of {', '.join(MODES)} "
            f"(set the {MODE_ENV} environment variable or pass mode=...)"
        )
    return normalised


def get_mode(default: str = "demo") -> str:
    """Return the run mode from ``$SRFS_MODE`` (or ``default`` if unset/empty).

    Raises ``ValueError`` listing the valid modes if the value is unknown, so
    a typo such as ``SRFS_MODE=smok`` fails loudly instead of silently running
    the (slow) default.
    """
    return _check_mode(os.environ.get(MODE_ENV) or default)


def by_mode(mode: str, *, smoke: T, demo: T, full: T) -> T:
    """Pick the value for ``mode``: ``by_mode(MODE, smoke=1, demo=20, full=300)``.

    All three values are keyword-only and required, so a notebook can never
    forget to say what the cheap CI run should do.
    """
    return {"smoke": smoke, "demo": demo, "full": full}[_check_mode(mode)]


def _positive_env(name: str) -> int | None:
    """``int($name)`` if the variable is set and non-empty, else None; a value below 1 raises."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{name}={value!r}: expected a positive whole number (or unset it)")
    return number


def max_steps() -> int | None:
    """The dry-run cap on optimizer steps (``$SRFS_MAX_STEPS``), or None when the run is not capped."""
    return _positive_env(MAX_STEPS_ENV)


def capped_steps(count: int) -> int:
    """An optimizer-step count, capped at ``$SRFS_MAX_STEPS`` in a dry run: ``capped_steps(by_mode(MODE, ...))``.

    Without the variable it returns ``count`` unchanged, so a notebook reads the same in every mode.
    """
    cap = max_steps()
    return count if cap is None else min(count, cap)


def capped_images(count: int | None) -> int | None:
    """An evaluation image count (None: all of them), capped at ``$SRFS_MAX_EVAL_IMAGES`` in a dry run.

    ``capped_images(None)`` is the cap itself when one is set; 0 (skip) stays 0.
    """
    cap = _positive_env(MAX_EVAL_ENV)
    if cap is None or count == 0:
        return count
    return cap if count is None else min(count, cap)


def quality_checks(mode: str) -> bool:
    """True when a notebook's run trains long enough for its assertions about learning to hold.

    False in smoke mode and in a dry run (``$SRFS_MAX_STEPS`` set): a handful of steps proves that the
    code runs at the mode's sizes, not that the model learned. ``if quality_checks(MODE): assert ...``
    """
    return _check_mode(mode) != "smoke" and max_steps() is None


def seed_everything(seed: int = 42) -> int:
    """Seed Python ``random``, NumPy and the Keras backend (TensorFlow) for repeatability.

    ``keras.utils.set_random_seed`` already seeds all three; ``random`` is
    seeded here too so the helper still does something useful before keras is
    importable (e.g. in a docs build). Returns ``seed`` for convenient printing.
    Note: bit-exact results on GPU additionally need deterministic ops, which
    we do not force because they slow training down.
    """
    random.seed(seed)
    import keras  # lazy: importing keras/TensorFlow takes seconds

    keras.utils.set_random_seed(seed)
    return seed


def _to_jsonable(value: Any) -> Any:
    """Convert numpy / tensor scalars and small arrays to plain Python for ``json``."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "numpy") and callable(value.numpy):  # eager tf / keras tensors
        value = value.numpy()
    if hasattr(value, "tolist"):  # numpy scalars (.tolist() == .item()) and arrays
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    raise TypeError(
        f"record() needs a JSON-serialisable value, got {type(value).__name__}: {value!r}"
    )


def record(name: str, value: T, *, unit: str = "", notebook: str | None = None) -> T:
    """Record a key figure of the notebook and return ``value`` unchanged.

    ``record("Set5 x4 bicubic PSNR-Y", 28.42, unit="dB")``

    When ``$SRFS_RESULTS_FILE`` is set (the notebook runner does this), a JSON
    line ``{"name", "value", "unit"[, "notebook"]}`` is appended to that file so
    the runner can show it in its summary table. Outside the runner it is a
    no-op, so notebooks can call it unconditionally. The value is converted
    (and validated) even then, so a non-serialisable value fails in
    interactive use too, not only in CI.
    """
    entry: dict[str, Any] = {"name": str(name), "value": _to_jsonable(value), "unit": str(unit)}
    if notebook is not None:
        entry["notebook"] = str(notebook)
    line = json.dumps(entry, allow_nan=True)
    path = os.environ.get(RESULTS_ENV)
    if path:
        # Append + one write per line: several records (even from several
        # processes) never clobber each other.
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    return value


def on_colab() -> bool:
    """True when running inside Google Colab (used to pick data paths / install hints)."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


@contextlib.contextmanager
def timer(label: str = "elapsed", *, verbose: bool = True) -> Iterator[dict[str, float]]:
    """Time a block: ``with timer("training") as t: ...``; then ``t["seconds"]``.

    Prints ``training: 12.3 s`` on exit unless ``verbose=False``.
    """
    result = {"seconds": 0.0}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - start
        if verbose:
            print(f"{label}: {result['seconds']:.1f} s")


def pip_spec(repository: str | None = None) -> str:
    """What ``pip install`` needs to install the course's libraries from GitHub: ``git+https://...git``.

    ``repository`` defaults to :data:`REPOSITORY`, read at call time.
    """
    return f"git+https://github.com/{repository or REPOSITORY}.git"


def colab_url(notebook: str, repository: str | None = None, branch: str | None = None) -> str:
    """The Colab link that opens ``notebook`` (a path inside the repository, e.g. ``notebooks/01_x.ipynb``).

    ``repository`` and ``branch`` default to :data:`REPOSITORY` and :data:`BRANCH`, read at call time.
    """
    if notebook.startswith("/") or "\\" in notebook:
        raise ValueError(f"colab_url: expected a path inside the repository like 'notebooks/01_x.ipynb', got {notebook!r}")
    return f"https://colab.research.google.com/github/{repository or REPOSITORY}/blob/{branch or BRANCH}/{notebook}"
