"""Notebook 01 as a whole: its points, its exercises, and a fast-mode run of the solution (see test_course.py too)."""
from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from course_helpers import SOLUTION_01
from gancourse.nbtools import exercise_namespace
from test_course import exercise_names

EXERCISES = ["sample_noise", "Generator", "Discriminator", "discriminator_loss", "generator_loss", "train_step"]


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def test_points_of_the_source_notebook():
    cells = nbformat.read(SOLUTION_01, as_version=4).cells
    tests = [c for c in cells if _nbgrader(c).get("grade") and c.cell_type == "code"]
    assert sum(_nbgrader(c)["points"] for c in tests) == 15
    answers = [c for c in cells if c.cell_type == "markdown" and _nbgrader(c).get("grade")]
    assert len(answers) == 3 and all(_nbgrader(c)["points"] == 2 for c in answers)


def test_exercises_are_defined_by_the_solution():
    assert exercise_names(SOLUTION_01) == set(EXERCISES)
    namespace = exercise_namespace(SOLUTION_01)
    assert all(callable(namespace[name]) for name in EXERCISES)


@pytest.mark.slow
def test_solution_runs_top_to_bottom_in_fast_mode_with_every_test_passing(mnist_root, monkeypatch):
    monkeypatch.setenv("GANCOURSE_FAST", "1")
    monkeypatch.setenv("GANCOURSE_DATA", str(mnist_root))
    nb = nbformat.read(SOLUTION_01, as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(SOLUTION_01.parent)}}).execute()
    errors = [(c.metadata.nbgrader["grade_id"], o.get("evalue")) for c in nb.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert errors == []
    for cell in nb.cells:
        if _nbgrader(cell).get("grade") and cell.cell_type == "code":
            streams = [o for o in cell.outputs if o.output_type == "stream"]
            assert [o.name for o in streams] == ["stdout"] and "Visible tests passed." in streams[0].text
    train = next(c for c in nb.cells if _nbgrader(c).get("grade_id") == "train")
    assert any("40 steps" in o.get("text", "") for o in train.outputs), "fast mode should train 40 steps"
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3, "the notebook should show real digits, the live view and the final samples"
