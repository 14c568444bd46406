"""The README's Results section and results/RESULTS.md are generated from results/*.json: they must agree."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("make_results", ROOT / "tools" / "make_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_results_section_matches_results_json():
    gen = _generator()
    readme = (ROOT / "README.md").read_text()
    assert gen.replace_block(readme, gen.readme_block()) == readme, \
        "README.md's results section is stale: run `python tools/make_results.py` (or `make bench`)"


def test_results_md_matches_results_json():
    gen = _generator()
    path = ROOT / "results" / "RESULTS.md"
    assert path.is_file() and path.read_text() == gen.results_markdown(), \
        "results/RESULTS.md is stale: run `python tools/make_results.py` (or `make bench`)"


def test_a_changed_number_shows_up(tmp_path):
    """The comparison can fail: change one score in a copy of results/ and the generated text changes."""
    gen = _generator()
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results", results)
    weights = ROOT / "assets" / "weights"
    before = gen.results_markdown(results, weights)
    data = json.loads((results / "bicubic_baseline.json").read_text())
    row = next(r for r in data["tables"]["dataset_lr"] if (r["method"], r["dataset"], r["scale"]) == ("bicubic", "Set5", 4))
    assert f"{row['psnr']:.2f}" in before
    row["psnr"] += 1.0
    (results / "bicubic_baseline.json").write_text(json.dumps(data))
    after = gen.results_markdown(results, weights)
    assert after != before and f"{row['psnr']:.2f}" in after


def test_every_registered_model_and_published_method_has_a_row():
    gen = _generator()
    text = gen.results_markdown()
    for name in json.loads((ROOT / "assets" / "weights" / "registry.json").read_text()):
        assert f"`{name}`" in text
    for method in gen.PUBLISHED:
        assert f"{method} (published)" in text and gen.CITATIONS[method] in text


def test_missing_markers_are_a_clear_error():
    gen = _generator()
    with pytest.raises(ValueError, match="markers"):
        gen.replace_block("# no markers here\n", gen.readme_block())
