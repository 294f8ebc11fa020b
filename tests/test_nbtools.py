"""gancourse.nbtools: running a notebook's imports and exercise (solution) cells outside Jupyter."""
from __future__ import annotations

import math
import traceback

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from gancourse.nbtools import definition_cells, exercise_namespace

IMPORTS = "import math\nimport collections"
SOLUTION = "def circle_area(r):\n    return math.pi * r**2"
SECOND_SOLUTION = "def double_area(r):\n    return 2 * circle_area(r)"


def solution_meta(grade_id: str) -> dict:
    return {"nbgrader": {"grade": False, "solution": True, "locked": False, "grade_id": grade_id, "schema_version": 3}}


def graded_meta(grade_id: str) -> dict:
    return {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1, "grade_id": grade_id,
                         "schema_version": 3}}


@pytest.fixture
def notebook_path(tmp_path):
    nb = new_notebook(cells=[
        new_markdown_cell("# Lesson"),
        new_code_cell(IMPORTS),
        new_code_cell("raise RuntimeError('a demo cell must not run')"),
        new_code_cell(SOLUTION, metadata=solution_meta("area")),
        new_markdown_cell("Explain your answer.", metadata=solution_meta("written")),
        new_code_cell("assert circle_area(1) == 0  # a test cell must not run", metadata=graded_meta("test_area")),
        new_code_cell("train_for_an_hour()"),
        new_code_cell(SECOND_SOLUTION, metadata=solution_meta("double")),
    ])
    path = tmp_path / "01_lesson.ipynb"
    nbformat.write(nb, path)
    return path


def test_definition_cells_are_the_imports_and_the_code_solution_cells_in_order(notebook_path):
    assert definition_cells(notebook_path) == [IMPORTS, SOLUTION, SECOND_SOLUTION]


def test_definition_cells_accepts_a_string_path(notebook_path):
    assert definition_cells(str(notebook_path)) == [IMPORTS, SOLUTION, SECOND_SOLUTION]


def test_exercise_namespace_runs_only_imports_and_solution_cells(notebook_path):
    namespace = exercise_namespace(notebook_path)  # the demo and test cells would raise
    assert namespace["math"] is math
    assert "collections" in namespace
    assert namespace["circle_area"](1.0) == pytest.approx(math.pi)
    assert namespace["double_area"](1.0) == pytest.approx(2 * math.pi)
    assert "train_for_an_hour" not in namespace


def test_exercise_namespace_names_the_module_after_the_notebook(notebook_path):
    assert exercise_namespace(notebook_path)["__name__"] == "notebook:01_lesson"


def test_exercise_namespace_errors_point_at_the_notebook(tmp_path):
    path = tmp_path / "broken.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("1 / 0", metadata=solution_meta("s"))]), path)
    with pytest.raises(ZeroDivisionError) as error:
        exercise_namespace(path)
    filenames = [frame.f_code.co_filename for frame, _ in traceback.walk_tb(error.value.__traceback__)]
    assert f"{path}#definition1" in filenames


def test_a_first_code_cell_that_is_a_solution_is_used_once(tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(SOLUTION, metadata=solution_meta("s"))]), path)
    assert definition_cells(path) == [SOLUTION]


def test_definition_cells_rejects_a_notebook_without_code_cells(tmp_path):
    path = tmp_path / "empty.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("only text")]), path)
    with pytest.raises(ValueError, match="has no code cells") as error:
        definition_cells(path)
    assert str(path) in str(error.value)
