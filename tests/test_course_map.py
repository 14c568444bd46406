"""The README's course map is generated from notebooks/course_map.toml, and the map covers every notebook."""

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name):
    sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return _tool("make_course_map")


def test_course_map_matches_the_notebooks(gen):
    assert gen.problems(gen.load()) == []


def test_readme_course_map_is_current(gen):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert gen.replace_block(readme, gen.readme_block(gen.load())) == readme, \
        "README.md's course map is stale: run `python tools/make_course_map.py`"


def test_every_row_is_in_the_readme_with_its_times(gen):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for row in gen.load()["notebook"]:
        assert f"(notebooks/{row['file']})" in readme
        for key in ("smoke_cpu", "demo_cpu", "full_gpu"):
            assert gen._cell(row[key]) in readme


@pytest.fixture
def course_copy(gen, tmp_path):
    """A copy of the map with empty stand-ins for the notebooks and solutions it names."""
    course = gen.load()
    (tmp_path / "solutions").mkdir()
    for row in course["notebook"]:
        (tmp_path / row["file"]).write_text("{}")
        (tmp_path / row["solutions"]).write_text("{}")
    assert gen.problems(course, tmp_path) == []
    return course, tmp_path


def test_a_notebook_missing_from_the_map_fails(gen, course_copy):
    course, folder = course_copy
    (folder / "98_new_topic.ipynb").write_text("{}")
    assert any("98_new_topic.ipynb is not in" in p for p in gen.problems(course, folder))


def test_a_renamed_notebook_fails(gen, course_copy):
    course, folder = course_copy
    first = course["notebook"][0]["file"]
    shutil.move(folder / first, folder / ("00_renamed.ipynb"))
    found = gen.problems(course, folder)
    assert any(f"{first}: named in the course map but" in p for p in found)
    assert any("00_renamed.ipynb is not in" in p for p in found)


def test_a_later_prerequisite_fails(gen, course_copy):
    course, folder = course_copy
    course["notebook"][1]["prerequisites"] = [gen.number(course["notebook"][2])]
    assert any("is not an earlier notebook" in p for p in gen.problems(course, folder))


def test_a_missing_solutions_notebook_fails(gen, course_copy):
    course, folder = course_copy
    (folder / course["notebook"][0]["solutions"]).unlink()
    assert any("solutions notebook" in p for p in gen.problems(course, folder))


def test_a_gpu_time_not_labelled_as_estimate_fails(gen, course_copy):
    course, folder = course_copy
    course["notebook"][0]["full_gpu"] = "10 min"
    assert any("estimate" in p for p in gen.problems(course, folder))


def test_a_changed_row_changes_the_readme(gen):
    course = gen.load()
    before = gen.readme_block(course)
    course["notebook"][0]["demo_cpu"] = "123 s, changed"
    assert "123 s, changed" in gen.readme_block(course) and gen.readme_block(course) != before


def test_missing_markers_are_a_clear_error(gen):
    with pytest.raises(ValueError, match="course-map"):
        gen.replace_block("# no markers\n", gen.readme_block(gen.load()))


def test_solutions_run_with_the_lessons(gen):
    """`make run` (tools/run_notebooks.py) executes every solutions notebook of the map; `make test`
    collects them because they live under notebooks/ (nbval recurses)."""
    runner = _tool("run_notebooks")
    default = {p.resolve() for p in runner.find_notebooks([])}
    for row in gen.load()["notebook"]:
        path = (ROOT / "notebooks" / row["solutions"]).resolve()
        assert path in default, f"{row['solutions']} is not run by tools/run_notebooks.py"
        assert ROOT / "notebooks" in path.parents
    assert not any("solutions" in str(p) for p in runner.find_notebooks([], solutions=False))


def _markdown(path):
    import nbformat

    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def _learning_objectives(overview: str) -> list[str]:
    """The top-level bullets under **What you will learn**, up to the next bold line or heading."""
    import re

    after = overview.split("**What you will learn**", 1)[1]
    bullets = []
    for line in after.splitlines():
        if re.match(r"^(\*\*|#)", line):
            break
        if line.startswith("- "):
            bullets.append(line)
    return bullets


def test_every_notebook_states_3_to_5_objectives_and_2_to_4_exercises(gen):
    import re

    for row in gen.load()["notebook"]:
        cells = _markdown(ROOT / "notebooks" / row["file"])
        overview = next((c for c in cells if c.startswith("## Overview")), "")
        assert "**What you will learn**" in overview, f"{row['file']}: no Overview with **What you will learn**"
        assert 3 <= len(_learning_objectives(overview)) <= 5, f"{row['file']}: {len(_learning_objectives(overview))} objectives"
        exercises = next((c for c in cells if c.startswith("## Exercises")), "")
        count = len(re.findall(r"^\d+\. ", exercises, re.MULTILINE))
        assert 2 <= count <= 4, f"{row['file']}: {count} exercises under ## Exercises"


def test_every_notebook_and_solution_has_one_parameters_cell_with_the_mode(gen):
    # The README's convention ("every notebook with a `parameters` cell"): papermill-style tools inject
    # settings after that cell, and a notebook rebuilt from cells can silently lose the tag.
    import json

    for row in gen.load()["notebook"]:
        for path in (ROOT / "notebooks" / row["file"], ROOT / "notebooks" / row["solutions"]):
            cells = json.loads(path.read_text())["cells"]
            tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
            assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
            assert 'MODE = os.environ.get("SRFS_MODE", "demo")' in "".join(tagged[0]["source"]), path.name
