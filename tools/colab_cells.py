"""Write the standard Colab badge and Colab set-up cell into the notebooks, from one repository URL.

Which notebooks get them is decided by ``notebooks/course_map.toml``: every row with ``colab = true``
(its notebook and its solutions notebook) gets

- a badge cell (markdown, right after the title) linking to
  ``sr_lib.notebook.colab_url("notebooks/<file>")``;
- a set-up cell (code, tagged ``colab-setup``, before every other code cell) that, *only on Colab*,
  pip-installs ``sr_lib.notebook.pip_spec()`` and checks for a GPU runtime, telling the reader how to
  enable one; anywhere else it does nothing.

Rows with ``colab = false`` (the face-swapping notebooks: Colab does not allow deepfake work) must have
neither, nor any other Colab code. The set-up cell cannot import ``sr_lib`` before it has installed it,
so the URL is *rendered into* its text from ``sr_lib.notebook.REPOSITORY``; ``--check`` (and
``tests/test_colab_cells.py``) fails when a notebook holds anything else than what this tool renders
now, e.g. after the constant changed and the notebooks were not re-rendered.

Only the badge cell, the set-up cell and the old hand-written install snippet are touched; every other
cell keeps its source and stored outputs.

Usage: python tools/colab_cells.py [--check]
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
COURSE_MAP = NOTEBOOKS / "course_map.toml"
sys.path.insert(0, str(ROOT))  # sr_lib from this checkout, also when it is not installed
from sr_lib.notebook import colab_url, pip_spec  # noqa: E402

SETUP_TAG = "colab-setup"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"

# The install snippet the notebooks carried before this tool (URL hard-coded in each); removed on sight.
_LEGACY_SNIPPET = re.compile(
    r'^if "google\.colab" in sys\.modules:[^\n]*\n(?:[ \t]+[^\n]*\n|[ \t]*\n)*?[ \t]+subprocess\.run\([^\n]*check=True\)\n\n?',
    re.MULTILINE,
)
_LEGACY_PROSE = (
    "On Colab, the first lines install the course's libraries (`sr_lib`, `faceswap_lib`) from GitHub;\n"
    "anywhere else they do nothing, because `make install` (or `pip install -e .`) already installed\n"
    "them. Then come all the imports of this notebook."
)
SETUP_PROSE = (
    "The first cell matters only on Colab: it installs the course's libraries (`sr_lib`, `faceswap_lib`)\n"
    "from GitHub and checks that the runtime has a GPU. Anywhere else it does nothing, because\n"
    "`make install` (or `pip install -e .`) already installed them. The second cell holds all the imports\n"
    "of this notebook."
)


def render_badge(path_in_repo: str) -> str:
    """The badge cell's markdown for the notebook at ``path_in_repo`` (e.g. ``notebooks/01_x.ipynb``)."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(path_in_repo)})"


def render_setup() -> str:
    """The Colab set-up cell's code: install the repository and check the GPU on Colab, nothing elsewhere."""
    return f'''\
# Colab only: install the course's libraries and check for a GPU. Anywhere else this cell does nothing.
# Rendered by tools/colab_cells.py from sr_lib.notebook.REPOSITORY: change it there, not here.
import os
import sys

if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{pip_spec()}"], check=True)

    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        print("GPU runtime:", [gpu.name for gpu in tf.config.list_physical_devices("GPU")])
    else:
        print("No GPU in this runtime. To enable one: Runtime > Change runtime type > GPU (e.g. T4), "
              "then run the notebook again. Smoke and demo modes also work on the CPU, only more slowly.")'''


def targets(course_map: Path = COURSE_MAP) -> list[tuple[Path, bool]]:
    """(notebook path, wants Colab) for every notebook of the course map and its solutions notebook."""
    rows = tomllib.loads(course_map.read_text(encoding="utf-8"))["notebook"]
    found = []
    for row in rows:
        colab = bool(row.get("colab", False))
        found.append((course_map.parent / row["file"], colab))
        if row.get("solutions"):
            found.append((course_map.parent / row["solutions"], colab))
    return found


def _repo_path(path: Path) -> str:
    return path.resolve().relative_to(ROOT).as_posix()


def _is_badge(cell) -> bool:
    return cell.cell_type == "markdown" and BADGE_IMAGE in cell.source


def _is_setup(cell) -> bool:
    return SETUP_TAG in cell.metadata.get("tags", [])


def problems(nb, path_in_repo: str, colab: bool) -> list[str]:
    """What is wrong with the Colab cells of one notebook (empty list: it is as this tool renders it)."""
    found = []
    badges = [c for c in nb.cells if _is_badge(c)]
    setups = [c for c in nb.cells if _is_setup(c)]
    other_colab_code = [i for i, c in enumerate(nb.cells)
                        if c.cell_type == "code" and not _is_setup(c) and "google.colab" in c.source]
    if not colab:
        if badges or setups or other_colab_code:
            found.append(f"{path_in_repo}: colab = false in the course map, but it has a Colab badge or Colab code")
        return found
    if len(badges) != 1 or badges[0].source != render_badge(path_in_repo):
        found.append(f"{path_in_repo}: the Colab badge is missing, duplicated or not the one rendered from "
                     "sr_lib.notebook.REPOSITORY")
    if len(setups) != 1 or setups[0].source != render_setup():
        found.append(f"{path_in_repo}: the Colab set-up cell (tag {SETUP_TAG!r}) is missing, duplicated or not "
                     "the one rendered from sr_lib.notebook.REPOSITORY")
    first_code = next((c for c in nb.cells if c.cell_type == "code"), None)
    if setups and first_code is not setups[0]:
        found.append(f"{path_in_repo}: the Colab set-up cell must be the first code cell")
    if other_colab_code:
        found.append(f"{path_in_repo}: cells {other_colab_code} hold Colab code outside the set-up cell "
                     "(an old install snippet?)")
    return found


def _drop_unused_sys_import(cell, nb) -> None:
    """After the legacy snippet is gone, ``import sys`` may be left unused in the imports cell."""
    rest = "\n".join(c.source for c in nb.cells if c.cell_type == "code" and not _is_setup(c))
    if "sys." not in rest and re.search(r"^import sys\n", cell.source, re.MULTILINE):
        cell.source = re.sub(r"^import sys\n", "", cell.source, count=1, flags=re.MULTILINE)
    # Keep the standard-library imports one block: no blank line between "import os" and "import json".
    cell.source = re.sub(r"^(import os\n)\n(?=(?:import|from) (\w+))",
                         lambda m: m.group(1) + ("" if m.group(2) in sys.stdlib_module_names else "\n"),
                         cell.source, count=1, flags=re.MULTILINE)


def render(nb, path_in_repo: str, colab: bool) -> bool:
    """Bring one notebook's Colab cells to the standard form, in place. Returns True if anything changed."""
    before = nbformat.writes(nb)
    if not colab:
        if any(_is_badge(c) or _is_setup(c) for c in nb.cells):
            nb.cells = [c for c in nb.cells if not (_is_badge(c) or _is_setup(c))]
        return nbformat.writes(nb) != before

    # 1. The badge: right after the title (the first cell).
    badge = render_badge(path_in_repo)
    badges = [c for c in nb.cells if _is_badge(c)]
    if badges:
        badges[0].source = badge
        nb.cells = [c for c in nb.cells if not _is_badge(c) or c is badges[0]]
    else:
        nb.cells.insert(1, nbformat.v4.new_markdown_cell(badge))

    # 2. The old per-notebook install snippet and the prose that announced it.
    for cell in nb.cells:
        if cell.cell_type == "code" and not _is_setup(cell) and _LEGACY_SNIPPET.search(cell.source):
            cell.source = _LEGACY_SNIPPET.sub("", cell.source, count=1)
            _drop_unused_sys_import(cell, nb)
        if cell.cell_type == "markdown" and _LEGACY_PROSE in cell.source:
            cell.source = cell.source.replace(_LEGACY_PROSE, SETUP_PROSE)

    # 3. The set-up cell: the first code cell, right after the "## Set up" heading when there is one.
    setups = [c for c in nb.cells if _is_setup(c)]
    setup = setups[0] if setups else nbformat.v4.new_code_cell(render_setup())
    nb.cells = [c for c in nb.cells if not _is_setup(c)]
    setup.source = render_setup()
    setup.metadata["tags"] = [SETUP_TAG]
    setup.id = SETUP_TAG  # a fixed id keeps re-rendering idempotent
    setup.outputs, setup.execution_count = [], None
    heading = next((i for i, c in enumerate(nb.cells)
                    if c.cell_type == "markdown" and c.source.lstrip().lower().startswith("## set up")), None)
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    position = heading + 1 if heading is not None and heading < first_code else first_code
    nb.cells.insert(position, setup)
    return nbformat.writes(nb) != before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks that differ; exit 1 if any")
    args = parser.parse_args(argv)
    failures = []
    for path, colab in targets():
        if not path.is_file():
            failures.append(f"{_repo_path(path)}: missing (named in notebooks/course_map.toml)")
            continue
        nb = nbformat.read(path, as_version=4)
        if args.check:
            failures += problems(nb, _repo_path(path), colab)
        elif render(nb, _repo_path(path), colab):
            nbformat.write(nb, path)
            print(f"updated {_repo_path(path)}")
            failures += problems(nb, _repo_path(path), colab)  # what rendering cannot fix (e.g. old code)
    for line in failures:
        print(line, file=sys.stderr)
    if args.check and not failures:
        print("every notebook's Colab cells are as rendered from sr_lib.notebook.REPOSITORY")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
