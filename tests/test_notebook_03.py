"""Notebook 03 as a whole: its points, its exercises, and a fast-mode run of the solution (see test_course.py too)."""
from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from course_helpers import REPO
from gancourse.nbtools import exercise_namespace
from test_course import exercise_names

SOLUTION_03 = REPO / "solutions" / "03_losses" / "losses.ipynb"
EXERCISES = ["minimax_generator_loss", "lsgan_discriminator_loss", "lsgan_generator_loss", "wgan_critic_loss",
             "wgan_generator_loss", "clip_weights", "gradient_penalty", "critic_train_step",
             "hinge_discriminator_loss", "hinge_generator_loss", "diff_augment"]
SETUPS = ["non-saturating", "minimax (saturating)", "LSGAN", "WGAN (clipping)", "WGAN-GP", "hinge",
          "hinge + spectral norm"]


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if _nbgrader(c).get("grade_id") == grade_id)


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_points_of_the_source_notebook():
    cells = nbformat.read(SOLUTION_03, as_version=4).cells
    tests = {_nbgrader(c)["grade_id"]: _nbgrader(c)["points"] for c in cells
             if _nbgrader(c).get("grade") and c.cell_type == "code"}
    assert tests == {f"test_{name}": points for name, points in zip(EXERCISES, [1, 2, 1, 1, 1, 2, 4, 5, 2, 1, 3])}
    answers = [c for c in cells if c.cell_type == "markdown" and _nbgrader(c).get("grade")]
    assert len(answers) == 3 and all(_nbgrader(c)["points"] == 2 for c in answers)


def test_exercises_are_defined_by_the_solution():
    assert exercise_names(SOLUTION_03) == set(EXERCISES)
    namespace = exercise_namespace(SOLUTION_03)
    assert all(callable(namespace[name]) for name in EXERCISES)


def test_the_dcgan_of_notebook_02_comes_back_as_locked_code():
    cells = nbformat.read(SOLUTION_03, as_version=4).cells
    given = [c for c in cells if _nbgrader(c).get("grade_id") in ("given_models", "given_gan")]
    assert len(given) == 2 and all(_nbgrader(c)["locked"] and not _nbgrader(c)["solution"] for c in given)
    assert "class Generator" in given[0].source and "class Discriminator" in given[0].source
    assert "def train_step" in given[1].source


@pytest.mark.slow
def test_solution_runs_top_to_bottom_in_fast_mode_with_every_test_passing(mnist_root, monkeypatch):
    monkeypatch.setenv("GANCOURSE_FAST", "1")
    monkeypatch.setenv("GANCOURSE_DATA", str(mnist_root))
    nb = nbformat.read(SOLUTION_03, as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(SOLUTION_03.parent)}}).execute()
    errors = [(_nbgrader(c)["grade_id"], o.get("evalue")) for c in nb.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert errors == []
    for cell in nb.cells:
        if _nbgrader(cell).get("grade") and cell.cell_type == "code":
            streams = [o for o in cell.outputs if o.output_type == "stream"]
            assert [o.name for o in streams] == ["stdout"] and "Visible tests passed." in streams[0].text
            assert "Note:" not in streams[0].text, "the reference solution should pass every earlier exercise's check"
    table = _text(_cell(nb, "comparison_results"))
    assert all(f"\n{name} " in f"\n{table}" for name in SETUPS), table
    little = _text(_cell(nb, "little_data_results"))
    assert all(name in little for name in ["500 images, real ones augmented", "500 images, DiffAugment"]), little
    assert "Memorisation" in little, little
    assert "step 1" in _text(_cell(nb, "early_steps"))
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 9, "the notebook should show its demonstrations, its plots and its samples"
