"""Every notebook of the course: committed clean, well-formed for nbgrader, and its answers never in `gancourse`."""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import nbformat
import pytest

import gancourse
from course_helpers import REPO, cells_by_id, exercise_tests

SOURCES = sorted((REPO / "solutions").glob("*/*.ipynb"))
IDS = [p.parent.name for p in SOURCES]


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def exercise_names(path: Path) -> set[str]:
    """Names of the functions and classes that the solution cells of a notebook define (the graded answers)."""
    cells = nbformat.read(path, as_version=4).cells
    names = set()
    for cell in cells:
        if cell.cell_type == "code" and _nbgrader(cell).get("solution"):
            tree = ast.parse(cell.source)
            names |= {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    return names


def test_the_course_has_notebooks():
    assert SOURCES, "solutions/ holds no notebook"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_source_and_release_are_committed_without_outputs(source):
    release = REPO / "notebooks" / source.parent.name / source.name
    assert release.is_file(), f"{release} is missing: run `python -m gancourse.release`"
    for path in (source, release):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in nb.cells if c.cell_type == "code"), f"{path} has outputs"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_every_cell_is_an_nbgrader_cell_with_a_unique_id(source):
    cells = nbformat.read(source, as_version=4).cells
    ids = [_nbgrader(c).get("grade_id") for c in cells]
    assert None not in ids and len(ids) == len(set(ids)), "every cell needs a unique grade_id"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_graded_cells_are_locked_tests_with_visible_and_hidden_parts(source):
    cells = nbformat.read(source, as_version=4).cells
    tests = [c for c in cells if _nbgrader(c).get("grade") and c.cell_type == "code"]
    assert tests, "a notebook without autograded tests"
    for cell in tests:
        meta = _nbgrader(cell)
        assert meta["locked"] and not meta["solution"] and meta["points"] > 0, meta["grade_id"]
        assert cell.source.find("### BEGIN HIDDEN TESTS") > 0, f"{meta['grade_id']}: visible tests, then hidden ones"
        assert cell.source.rstrip().endswith('print("Visible tests passed.")'), meta["grade_id"]
    answers = [c for c in cells if c.cell_type == "markdown" and _nbgrader(c).get("grade")]
    assert all(_nbgrader(c)["solution"] and _nbgrader(c)["points"] > 0 for c in answers)


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_every_exercise_is_followed_by_its_test_cell(source):
    cells, test_of = cells_by_id(source), exercise_tests(source)
    solutions = [i for i, c in cells.items() if c.cell_type == "code" and _nbgrader(c).get("solution")]
    for solution in solutions:
        below = cells.get(test_of.get(solution))
        follows = below is not None and below.cell_type == "code" and _nbgrader(below).get("grade")
        assert follows, f"{solution}: its test cell should come right below it"
    tests = [i for i, c in cells.items() if c.cell_type == "code" and _nbgrader(c).get("grade")]
    assert len(tests) == len(solutions), "one test cell per exercise"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_lecture_cells_are_locked(source):
    cells = nbformat.read(source, as_version=4).cells
    lecture = [c for c in cells if c.cell_type == "markdown" and not _nbgrader(c).get("solution")]
    assert all(_nbgrader(c)["locked"] for c in lecture)


def test_no_gancourse_module_defines_an_exercise_of_any_notebook():
    exercises = {name: source.parent.name for source in SOURCES for name in exercise_names(source)}
    assert len(exercises) >= 6
    for module in pkgutil.walk_packages(gancourse.__path__, "gancourse."):
        defined = set(vars(importlib.import_module(module.name))) & set(exercises)
        assert not defined, f"{module.name} defines answers of {[exercises[n] for n in defined]}: {sorted(defined)}"
