"""Colab badges and set-up cells are rendered from sr_lib.notebook.REPOSITORY (tools/colab_cells.py)."""

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

import sr_lib.notebook

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tool():
    sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location("colab_cells", ROOT / "tools" / "colab_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_has_the_rendered_colab_cells_or_none(tool):
    found = []
    for path, colab in tool.targets():
        if path.is_file():
            found += tool.problems(nbformat.read(path, as_version=4), tool._repo_path(path), colab)
        else:
            found.append(f"{path} is missing")
    assert found == [], "run `python tools/colab_cells.py`:\n" + "\n".join(found)


def test_face_swapping_notebooks_have_no_badge(tool):
    rows = [p for p, colab in tool.targets() if not colab]
    assert rows, "the course map should mark the face-swapping notebooks colab = false"
    for path in rows:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "colab-badge" not in text and "colab.research.google.com" not in text


def test_the_url_lives_in_one_place(tool, monkeypatch):
    """A changed REPOSITORY shows up in both renderings, so a notebook left un-re-rendered fails the check."""
    path = next(p for p, colab in tool.targets() if colab)
    nb = nbformat.read(path, as_version=4)
    assert tool.problems(nb, tool._repo_path(path), True) == []
    monkeypatch.setattr(sr_lib.notebook, "REPOSITORY", "someone-else/fork")
    assert "someone-else/fork" in tool.render_setup() and "someone-else/fork" in tool.render_badge("notebooks/x.ipynb")
    assert len(tool.problems(nb, tool._repo_path(path), True)) == 2  # badge and set-up cell both stale


def test_render_migrates_an_old_notebook(tool):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"),
                nbformat.v4.new_markdown_cell("## Set up"),
                nbformat.v4.new_code_cell(
                    'import os\nimport sys\n\nif "google.colab" in sys.modules:  # Colab only\n    import subprocess\n\n'
                    '    repository = "git+https://github.com/old/old.git"\n'
                    '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", repository], check=True)\n\n'
                    "import numpy as np"),
                nbformat.v4.new_code_cell("x = 1")]
    assert tool.problems(nb, "notebooks/99_x.ipynb", True)
    assert tool.render(nb, "notebooks/99_x.ipynb", True)
    assert tool.problems(nb, "notebooks/99_x.ipynb", True) == []
    assert [c.cell_type for c in nb.cells] == ["markdown", "markdown", "markdown", "code", "code", "code"]
    assert nb.cells[4].source == "import os\n\nimport numpy as np"  # snippet and unused `import sys` gone
    assert not tool.render(nb, "notebooks/99_x.ipynb", True)  # idempotent


def test_setup_cell_does_nothing_off_colab(tool):
    namespace = {}
    exec(tool.render_setup(), namespace)  # noqa: S102 -- our own rendered cell; not on Colab here
    assert "subprocess" not in namespace and "tf" not in namespace


def test_colab_url_and_pip_spec():
    assert sr_lib.notebook.pip_spec("a/b") == "git+https://github.com/a/b.git"
    assert sr_lib.notebook.colab_url("notebooks/01_x.ipynb", "a/b", "dev") == \
        "https://colab.research.google.com/github/a/b/blob/dev/notebooks/01_x.ipynb"
    with pytest.raises(ValueError, match="inside the repository"):
        sr_lib.notebook.colab_url("/abs/01_x.ipynb")
