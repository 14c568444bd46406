"""Tests for ``sr_lib.notebook`` (notebook helpers) and ``tools/run_notebooks.py`` (runner)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sr_lib import notebook as snb

REPO_ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- get_mode / by_mode
def test_get_mode_default_and_env(monkeypatch):
    monkeypatch.delenv("SRFS_MODE", raising=False)
    assert snb.get_mode() == "demo"
    assert snb.get_mode(default="full") == "full"
    monkeypatch.setenv("SRFS_MODE", "smoke")
    assert snb.get_mode() == "smoke"
    monkeypatch.setenv("SRFS_MODE", " Full ")  # forgiving about case / whitespace
    assert snb.get_mode() == "full"


def test_get_mode_invalid_lists_valid_modes(monkeypatch):
    monkeypatch.setenv("SRFS_MODE", "smok")
    with pytest.raises(ValueError, match="smoke, demo, full"):
        snb.get_mode()


def test_by_mode():
    assert [snb.by_mode(m, smoke=1, demo=2, full=3) for m in snb.MODES] == [1, 2, 3]
    with pytest.raises(ValueError, match="invalid mode 'gpu'"):
        snb.by_mode("gpu", smoke=1, demo=2, full=3)
    with pytest.raises(TypeError):  # all three values are required, keyword-only
        snb.by_mode("demo", smoke=1, demo=2)


# --------------------------------------------------------------------------- record
def test_record_without_results_file_is_passthrough(monkeypatch):
    monkeypatch.delenv("SRFS_RESULTS_FILE", raising=False)
    value = np.float32(1.5)
    assert snb.record("x", value) is value


def test_record_appends_json_lines(monkeypatch, tmp_path):
    path = tmp_path / "results.jsonl"
    monkeypatch.setenv("SRFS_RESULTS_FILE", str(path))
    psnr = np.float32(28.42)
    assert snb.record("Set5 x4 bicubic PSNR-Y", psnr, unit="dB") is psnr
    assert snb.record("params", np.int64(1234), notebook="02_espcn") == 1234
    assert snb.record("shape", np.array([2, 3])).tolist() == [2, 3]

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"name": "Set5 x4 bicubic PSNR-Y", "value": pytest.approx(28.42, abs=1e-5), "unit": "dB"}
    assert lines[1] == {"name": "params", "value": 1234, "unit": "", "notebook": "02_espcn"}
    assert type(lines[1]["value"]) is int
    assert lines[2]["value"] == [2, 3]


def test_record_rejects_unserialisable(monkeypatch, tmp_path):
    monkeypatch.setenv("SRFS_RESULTS_FILE", str(tmp_path / "r.jsonl"))
    with pytest.raises(TypeError, match="JSON-serialisable"):
        snb.record("bad", object())


def test_seed_everything_is_repeatable():
    import random

    draws = []
    for _ in range(2):
        assert snb.seed_everything(123) == 123
        draws.append((random.random(), float(np.random.rand())))
    assert draws[0] == draws[1]


def test_on_colab_false_here(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert snb.on_colab() is False


def test_timer(capsys):
    with snb.timer("block") as t:
        pass
    assert t["seconds"] >= 0
    assert "block:" in capsys.readouterr().out


# --------------------------------------------------------------------------- runner, end to end
def _make_notebook(path: Path, *sources: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('import os\nMODE = os.environ.get("SRFS_MODE", "demo")')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


# Slow-ish (a few seconds, most of this file's runtime): it starts two real Jupyter
# kernels, one per notebook, the minimum to cover a good and a failing notebook.
def test_runner_end_to_end(tmp_path):
    good = _make_notebook(
        tmp_path / "01_good.ipynb",
        "from sr_lib.notebook import get_mode, record\n"
        "import numpy as np\n"
        "import tensorflow  # its C++ start-up lines must not reach the terminal\n"
        "assert get_mode() == MODE == 'smoke'\n"
        "record('answer', np.float64(42.5), unit='dB')",
    )
    bad = _make_notebook(
        tmp_path / "02_bad.ipynb",
        "x = 1",
        "1 / 0",
        "never = 'reached'",
    )
    out = tmp_path / "out"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("SRFS_RESULTS_FILE", None)
    proc = subprocess.run(
        [sys.executable, "tools/run_notebooks.py", "--mode", "smoke", "--out", str(out),
         "--timeout", "120", str(good), str(bad)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[1/2] 01_good.ipynb ... ok" in proc.stdout
    assert "answer = 42.5 dB" in proc.stdout  # the summary table
    assert "ZeroDivisionError" in proc.stdout
    # One line per notebook and the summary: TensorFlow's C++ start-up chatter goes to a log.
    for noise in ("absl::InitializeLog", "cuInit", "cuda_platform", "port.cc", "cudart_stub"):
        assert noise not in proc.stdout + proc.stderr
    assert (out / "logs" / "01_good.kernel.log").is_file()  # where that chatter went

    assert (out / "01_good.html").stat().st_size > 0
    assert (out / "01_good.ipynb").is_file()
    assert (out / "02_bad.ipynb").is_file()  # failed runs are kept for debugging

    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "smoke"
    by_name = {r["name"]: r for r in summary["notebooks"]}
    assert by_name["01_good.ipynb"]["status"] == "ok"
    assert by_name["01_good.ipynb"]["error"] is None
    assert by_name["01_good.ipynb"]["figures"] == [{"name": "answer", "value": 42.5, "unit": "dB"}]
    assert by_name["02_bad.ipynb"]["status"] == "failed"
    assert by_name["02_bad.ipynb"]["error"]["cell_index"] == 2
    assert by_name["02_bad.ipynb"]["error"]["ename"] == "ZeroDivisionError"
    assert "division by zero" in by_name["02_bad.ipynb"]["error"]["evalue"]

    # The executed copy holds the outputs, the source is untouched (no --in-place).
    import nbformat

    executed = nbformat.read(out / "01_good.ipynb", as_version=4)
    assert executed.cells[1].execution_count is not None
    assert nbformat.read(good, as_version=4).cells[1].execution_count is None


def test_runner_no_notebooks_is_an_error(tmp_path):
    # Cheap (no kernel): a missing notebook fails before anything runs.
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools/run_notebooks.py"), str(tmp_path / "nope.ipynb")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1
    assert "not found" in proc.stderr


def test_tf_startup_noise_is_stripped_from_stored_outputs(run_notebooks):
    import nbformat

    runner = run_notebooks
    noise = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795788089.772310    3261 port.cc:153] oneDNN custom operations are on.\n"
    )
    cell = nbformat.v4.new_code_cell("import tensorflow")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=noise),
        nbformat.v4.new_output("stream", name="stderr", text=noise + "UserWarning: a real warning\n"),
        nbformat.v4.new_output("stream", name="stdout", text=noise),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    runner.strip_tf_noise(nb)
    texts = [(o["name"], o["text"]) for o in nb.cells[0].outputs]
    assert texts == [("stderr", "UserWarning: a real warning\n"), ("stdout", noise)]


# --------------------------------------------------------------------------- machine paths
# An absolute POSIX path (at least one folder) or a Windows drive path, where a path can start.
ABSOLUTE_PATH = re.compile(r"""(?:^|[\s'"(=:,\[])(/(?:[\w.@+-]+/)+[\w.@+-]*|[A-Za-z]:\\\\?[\w.-]+)""", re.M)
PLACEHOLDERS = ("/path/to/",)  # illustrative paths in error messages, not this machine's


def _output_texts(nb_json: dict):
    for index, cell in enumerate(nb_json["cells"]):
        for output in cell.get("outputs", []):
            texts = ["".join(output.get("text", ""))]
            texts += ["".join(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
            texts += ["\n".join(output.get("traceback", [])), output.get("evalue", "")]
            for text in texts:
                yield index, text


def _absolute_paths(text: str) -> list[str]:
    return [m for m in ABSOLUTE_PATH.findall(text) if not m.startswith(PLACEHOLDERS)]


def test_absolute_path_detector_catches_machine_paths():
    # The detector itself must be able to fail, or the test below proves nothing.
    assert _absolute_paths("see /work/main/.venv/lib/python3.11/site-packages/IPython/core/x.py:3")
    assert _absolute_paths("cache = /root/.cache/srfs")
    assert _absolute_paths("in C:\\Users\\me")
    assert not _absolute_paths("x4: 28.43 dB, ratio 3/4, https://github.com/a/b, <repo>/notebooks, ~/.cache")
    assert not _absolute_paths("put it in /path/to/vgg16.h5")


def test_relativise_paths_names_places_by_role(monkeypatch, tmp_path, run_notebooks):
    import tempfile

    import nbformat

    runner = run_notebooks
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("SRFS_DATA_DIR", str(mirror))
    text = (
        f"{REPO_ROOT}/.venv/lib/python3.11/site-packages/IPython/core/interactiveshell.py:3577: Warning\n"
        f"reading {mirror}/faces/videos/d6.mp4 from {REPO_ROOT}/notebooks, backups in "
        f"{tempfile.gettempdir()}/srfs_backups, cache {Path.home()}/.cache/srfs\n"
    )
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=text),
                    nbformat.v4.new_output("display_data", data={"text/plain": text, "image/png": "iVBOR/w+/x/y"})]
    nb = nbformat.v4.new_notebook(cells=[cell])
    runner.relativise_paths(nb)
    expected = (
        "<site-packages>/IPython/core/interactiveshell.py:3577: Warning\n"
        "reading $SRFS_DATA_DIR/faces/videos/d6.mp4 from <repo>/notebooks, backups in "
        "<tmp>/srfs_backups, cache ~/.cache/srfs\n"
    )
    assert nb.cells[0].outputs[0]["text"] == expected
    assert nb.cells[0].outputs[1]["data"]["text/plain"] == expected
    assert nb.cells[0].outputs[1]["data"]["image/png"] == "iVBOR/w+/x/y"  # base64 is not text


@pytest.mark.parametrize(
    "path", sorted((REPO_ROOT / "notebooks").glob("*.ipynb")) + sorted((REPO_ROOT / "notebooks/solutions").glob("*.ipynb")),
    ids=lambda p: p.name,
)
def test_stored_outputs_hold_no_machine_paths(path):
    nb_json = json.loads(path.read_text(encoding="utf-8"))
    found = [(index, p) for index, text in _output_texts(nb_json) for p in _absolute_paths(text)]
    assert not found, f"{path.name}: absolute paths in stored outputs (cell, path): {found[:5]}"


# --------------------------------------------------------------------------- SRFS_DATA_DIR
def test_runner_makes_data_dirs_absolute(monkeypatch, tmp_path, run_notebooks):
    runner = run_notebooks
    (tmp_path / "mirror").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SRFS_DATA_DIR", "mirror")
    monkeypatch.setenv("SRFS_CACHE_DIR", "./cache")
    runner.absolutise_data_dirs()
    assert os.environ["SRFS_DATA_DIR"] == str((tmp_path / "mirror").resolve())
    assert os.environ["SRFS_CACHE_DIR"] == str((tmp_path / "cache").resolve())


# --------------------------------------------------------------------------- make lab
@pytest.mark.skipif(not (REPO_ROOT / ".venv" / ".installed").is_file(), reason="needs the Makefile's .venv")
def test_make_lab_starts_a_server_even_as_root():
    # As root (containers, cloud notebook machines, this CI) Jupyter alone stops at once with
    # "Running as root is not recommended"; `make lab` must start the server anyway.
    import select
    import signal
    import time

    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab",
         "LAB_ARGS=--no-browser --ServerApp.port=0 --ServerApp.token=test --ServerApp.open_browser=False"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    seen, deadline = [], time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                seen.append(line)
                if "http://127.0.0.1:" in line or "http://localhost:" in line:
                    break
        output = "".join(seen)
        assert proc.poll() is None, f"make lab exited with {proc.returncode}:\n{output}"
        assert "Running as root is not recommended" not in output
        if os.geteuid() == 0:
            assert "--allow-root" in output  # and it says why
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
