"""The dry-run switches of the notebooks: ``SRFS_MAX_STEPS`` / ``SRFS_MAX_EVAL_IMAGES`` cap step and
evaluation-image counts (and nothing else), and ``fit_steps`` records its step time in a dry run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sr_lib.notebook import MAX_EVAL_ENV, MAX_STEPS_ENV, RESULTS_ENV, capped_images, capped_steps, max_steps


def test_no_cap_by_default(monkeypatch):
    monkeypatch.delenv(MAX_STEPS_ENV, raising=False)
    monkeypatch.delenv(MAX_EVAL_ENV, raising=False)
    assert max_steps() is None
    assert capped_steps(200_000) == 200_000
    assert capped_images(None) is None and capped_images(100) == 100 and capped_images(0) == 0


def test_caps(monkeypatch):
    monkeypatch.setenv(MAX_STEPS_ENV, "3")
    monkeypatch.setenv(MAX_EVAL_ENV, "2")
    assert max_steps() == 3
    assert capped_steps(200_000) == 3 and capped_steps(2) == 2
    assert capped_images(None) == 2 and capped_images(100) == 2 and capped_images(1) == 1
    assert capped_images(0) == 0  # "skip" stays "skip"


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_bad_cap_raises(monkeypatch, value):
    monkeypatch.setenv(MAX_STEPS_ENV, value)
    with pytest.raises(ValueError, match=MAX_STEPS_ENV):
        capped_steps(10)


def test_fit_steps_records_step_time_in_a_dry_run(monkeypatch, tmp_path):
    keras = pytest.importorskip("keras")
    import numpy as np
    import tensorflow as tf

    from sr_lib.training import fit_steps

    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(MAX_STEPS_ENV, "3")
    monkeypatch.setenv(RESULTS_ENV, str(results))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name="tiny")
    model.compile(optimizer="sgd", loss="mse")
    data = tf.data.Dataset.from_tensors((np.ones((2, 4), np.float32), np.ones((2, 1), np.float32))).repeat()
    fit_steps(model, data, capped_steps(1000), chunk=500, batch_size=2, verbose=False)
    wall, cpu = [json.loads(line) for line in results.read_text().splitlines()]
    assert wall["name"] == "step time tiny, batch 2" and wall["unit"] == "s/step" and wall["value"] > 0
    assert cpu["name"] == "CPU time tiny, batch 2" and cpu["unit"] == "CPU s/step" and cpu["value"] > 0


# --------------------------------------------------------------------------- the runner's --dry-run
REPO_ROOT = Path(__file__).resolve().parents[1]


def test_runner_dry_run_env_and_step_times(run_notebooks):
    runner = run_notebooks
    caps = {"SRFS_MAX_STEPS": "2", "SRFS_MAX_EVAL_IMAGES": "1", "SRFS_MOCK_TFDS": "1"}
    # By default the GPU's float16 path; "auto" leaves the policy to the machine.
    assert runner.dry_run_env(2, 1) == {**caps, "SRFS_PRECISION": "mixed_float16"}
    assert runner.dry_run_env(2, 1, "auto") == caps
    figures = [{"name": "PSNR", "value": 30.0, "unit": "dB"}, {"name": "step time g", "value": 0.5, "unit": "s/step"},
               {"name": "CPU time g", "value": 0.9, "unit": "CPU s/step"}]
    assert runner.step_times(figures) == {"step time g": 0.5, "CPU time g": 0.9}
    assert runner.step_times(figures[1:2] * 3) == {"step time g": 0.5, "step time g (2)": 0.5, "step time g (3)": 0.5}
    args = runner.parse_args(["--mode", "full", "--dry-run"])
    assert args.dry_run and args.max_steps == 3 and args.max_eval_images == 2
    assert runner.main(["--mode", "full", "--dry-run", "--in-place"]) == 1  # never stored into notebooks
    assert runner.main(["--mode", "full", "--precision", "float32"]) == 1  # --precision without --dry-run


def _run_one_cell(tmp_path, cell: str, *flags: str, **inherited: str) -> None:
    """Run a one-cell notebook with tools/run_notebooks.py --mode full FLAGS (one real kernel, a few
    seconds), from an environment without SRFS_* variables except ``inherited``; the cell's asserts
    check what reached the kernel."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell)]
    path = tmp_path / "01_cell.ipynb"
    nbformat.write(nb, path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRFS_")}
    env.update(inherited)
    proc = subprocess.run(
        [sys.executable, "tools/run_notebooks.py", "--mode", "full", *flags, "--out", str(tmp_path / "out"),
         "--timeout", "120", str(path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_runner_dry_run_reaches_the_kernel(tmp_path):
    # The caps and the mock switch reach the kernel, its step time reaches summary.json.
    _run_one_cell(tmp_path,
                  "import os\n"
                  "from sr_lib.notebook import capped_images, capped_steps, record\n"
                  "assert capped_steps(200_000) == 2 and capped_images(None) == 1\n"
                  "assert os.environ['SRFS_MOCK_TFDS'] == '1' and os.environ['SRFS_MODE'] == 'full'\n"
                  "from sr_lib.training import use_mixed_precision\n"
                  "assert use_mixed_precision() == 'mixed_float16'\n"
                  "record('step time m, batch 4', 0.25, unit='s/step')",
                  "--dry-run", "--max-steps", "2", "--max-eval-images", "1")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["dry_run"]["SRFS_MAX_STEPS"] == "2" and summary["dry_run"]["SRFS_PRECISION"] == "mixed_float16"
    assert summary["notebooks"][0]["step_times"] == {"step time m, batch 4": 0.25}


def test_runner_does_not_pass_inherited_dry_run_variables(tmp_path):
    # A shell left with SRFS_PRECISION / SRFS_MAX_STEPS set (an earlier experiment) must not reach the kernel:
    # `--precision auto` means the machine's choice, and the run's own cap replaces the inherited one.
    _run_one_cell(tmp_path,
                  "import os\n"
                  "from sr_lib.training import use_mixed_precision\n"
                  "assert 'SRFS_PRECISION' not in os.environ and use_mixed_precision() == 'float32'\n"
                  "assert os.environ['SRFS_MAX_STEPS'] == '2' and 'SRFS_MAX_EVAL_IMAGES' in os.environ",
                  "--dry-run", "--precision", "auto", "--max-steps", "2",
                  SRFS_PRECISION="mixed_float16", SRFS_MAX_STEPS="7")



def test_quality_checks(monkeypatch):
    from sr_lib.notebook import quality_checks

    monkeypatch.delenv(MAX_STEPS_ENV, raising=False)
    assert quality_checks("full") and quality_checks("demo") and not quality_checks("smoke")
    monkeypatch.setenv(MAX_STEPS_ENV, "2")
    assert not quality_checks("full")  # a dry run proves the code path, not the learning
