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


def _copy_of_results(tmp_path, name: str):
    """``(results copy, shipped weights folder, path of NAME in the copy, its parsed JSON)``."""
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results", results)
    return results, ROOT / "assets" / "weights", results / name, json.loads((results / name).read_text())


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


# --- the LPIPS columns (results/perception_distortion.json) ---------------------------------------------

def _quality_table(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """The quality table of a generated text as ``{(method, "×scale"): {column: cell}}``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| method | scale | Set5 PSNR-Y / SSIM | Set5 LPIPS"))
    head = [c.strip() for c in lines[start].strip("|").split("|")]
    table = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = dict(zip(head, (c.strip() for c in line.strip("|").split("|"))))
        table[(cells["method"], cells["scale"])] = cells
    return table


def _label(method: str) -> str:
    return "bicubic (ours)" if method == "bicubic" else f"`{method}`"


def _registry() -> dict:
    return json.loads((ROOT / "assets" / "weights" / "registry.json").read_text())


def test_lpips_cells_are_the_measured_ones_in_readme_and_results_md():
    gen = _generator()
    measured = gen.lpips_scores(ROOT / "results", _registry())
    assert measured, "results/perception_distortion.json has no current rows: run benchmarks/perception_distortion.py"
    readme = (ROOT / "README.md").read_text()
    for text in (gen.results_markdown(), readme):
        table = _quality_table(text)
        for (method, dataset, scale), value in measured.items():
            assert table[(_label(method), f"×{scale}")][f"{dataset} LPIPS ↓"] == f"{value:.4f}", (method, dataset, scale)
        filled = sum(1 for row in table.values() for d in ("Set5", "Set14") if row[f"{d} LPIPS ↓"])
        assert filled == len(measured), "an LPIPS cell is filled without a measurement behind it"


def test_lpips_rows_measured_the_shipped_weights():
    """The LPIPS run's PSNR-Y equals the PSNR-Y the table shows next to it: same images, same weights."""
    data = json.loads((ROOT / "results" / "perception_distortion.json").read_text())
    registry = _registry()
    bicubic = json.loads((ROOT / "results" / "bicubic_baseline.json").read_text())["tables"]["dataset_lr"]
    for r in data["rows"]:
        if r["method"] == "bicubic":
            shown = next(b["psnr"] for b in bicubic if (b["method"], b["dataset"], b["scale"]) == ("bicubic", r["dataset"], r["scale"]))
        elif r["weights_sha256"] == registry.get(r["method"], {}).get("sha256"):
            shown = registry[r["method"]]["scores"][r["dataset"]]["psnr"]
        else:
            continue  # stale row: make_results leaves its cells empty (next test)
        assert abs(r["psnr"] - shown) < 0.01, (r["method"], r["dataset"], r["scale"], r["psnr"], shown)
        assert 0 < r["lpips"] < 1 and len(r["per_image"]) == {"Set5": 5, "Set14": 14}[r["dataset"]]


def test_lpips_without_a_measurement_stays_empty(tmp_path):
    """A model with no row, or whose weights changed since it was measured, gets empty LPIPS cells; a
    changed LPIPS value shows up; without the JSON every LPIPS cell is empty."""
    gen = _generator()
    results, weights, path, data = _copy_of_results(tmp_path, "perception_distortion.json")
    models = sorted({r["method"] for r in data["rows"] if r["method"] != "bicubic"})
    assert len(models) >= 2
    dropped, retrained = models[0], models[1]
    data["rows"] = [r for r in data["rows"] if r["method"] != dropped]
    for r in data["rows"]:
        if r["method"] == retrained:
            r["weights_sha256"] = "0" * 64
        if (r["method"], r["dataset"], r["scale"]) == ("bicubic", "Set5", 4):
            r["lpips"] = changed = r["lpips"] + 0.1
    path.write_text(json.dumps(data))
    table = _quality_table(gen.results_markdown(results, weights))
    registry = _registry()
    for model in (dropped, retrained):
        scale = registry[model].get("kwargs", {}).get("scale", registry[model].get("scale"))
        row = table[(f"`{model}`", f"×{scale}")]
        assert row["Set5 LPIPS ↓"] == row["Set14 LPIPS ↓"] == "", model
        assert row["Set5 PSNR-Y / SSIM"], "PSNR/SSIM come from the registry and stay"
    assert table[("bicubic (ours)", "×4")]["Set5 LPIPS ↓"] == f"{changed:.4f}"

    path.unlink()
    text = gen.results_markdown(results, weights)
    assert all(row[f"{d} LPIPS ↓"] == "" for row in _quality_table(text).values() for d in ("Set5", "Set14"))
    assert "perception_distortion.json` yet" in text


def test_sr_rows_of_weights_no_longer_shipped_are_dropped(tmp_path):
    """A self-ensemble row measured on weights the registry no longer ships (retrained) leaves the table;
    the rows of the shipped weights stay."""
    gen = _generator()
    results, weights, path, data = _copy_of_results(tmp_path, "self_ensemble.json")
    stale, kept = data["sr_rows"][0], data["sr_rows"][1]
    before = gen.results_markdown(results, weights)
    assert stale["method"] in before and kept["method"] in before
    stale["weights_sha256"] = "0" * 64
    path.write_text(json.dumps(data))
    after = gen.results_markdown(results, weights)
    assert stale["method"] not in after and kept["method"] in after


def test_the_lpips_note_and_the_figure_are_linked():
    gen = _generator()
    data = json.loads((ROOT / "results" / "perception_distortion.json").read_text())
    results_md, readme = gen.results_markdown(), (ROOT / "README.md").read_text()
    for text in (results_md, readme):
        assert data["lpips_weights"] in text and "lower is better" in text and "RGB" in text and "border = scale" in text
    assert (ROOT / "results" / "perception_distortion.png").is_file()
    assert "](perception_distortion.png)" in results_md
