"""Notebook 03 as a whole: points, exercises, its test cells against right and wrong answers, and a fast-mode run.

The test cells (visible and hidden parts) are run here in-process against every mistake and alternative of
test_nbgrader_03.py, which takes seconds; test_nbgrader_03.py then runs the same submissions through nbgrader.
"""
from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from course_helpers import REPO, cell_runner
from gancourse.nbtools import exercise_namespace
from test_course import exercise_names
from test_nbgrader_03 import ALTERNATIVES, HINTS, IN_PROCESS_MISTAKES, MISTAKES

SOLUTION_03 = REPO / "solutions" / "03_losses" / "losses.ipynb"
EXERCISES = ["minimax_generator_loss", "lsgan_discriminator_loss", "lsgan_generator_loss", "wgan_critic_loss",
             "wgan_generator_loss", "clip_weights", "gradient_penalty", "critic_train_step",
             "hinge_discriminator_loss", "hinge_generator_loss", "diff_augment"]
ALL_MISTAKES = {**MISTAKES, **IN_PROCESS_MISTAKES}
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


# --- the test cells, in-process -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def notebook():
    """A runner for the solution's test cells, with other answers swapped in (the test cells use the DCGAN and
    notebook 01's pieces, given code)."""
    return cell_runner(SOLUTION_03, given=("given_models", "given_gan"))


@pytest.mark.parametrize("test_id", [f"test_{name}" for name in EXERCISES])
def test_the_reference_passes_every_test_cell(notebook, test_id, capsys):
    notebook(test_id)
    assert capsys.readouterr().out.strip() == "Visible tests passed."


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar:UserWarning")  # float(loss)
@pytest.mark.parametrize("cell", sorted(ALTERNATIVES))
def test_other_correct_answers_pass(notebook, cell, capsys):
    notebook(f"test_{cell}", ALTERNATIVES[cell])
    assert capsys.readouterr().out.strip() == "Visible tests passed."


@pytest.mark.parametrize("name", sorted(ALL_MISTAKES))
def test_each_mistake_fails_its_test_cell_with_a_message_that_names_it(notebook, name):
    mistake = ALL_MISTAKES[name]
    with pytest.raises(AssertionError) as failure:
        notebook(f"test_{mistake.cell}", mistake.code)
    assert HINTS[name] in str(failure.value), f"{name}: {failure.value}"


def test_every_mistake_has_a_hint():
    assert set(HINTS) == set(ALL_MISTAKES) and not set(MISTAKES) & set(IN_PROCESS_MISTAKES)


def test_every_mistake_loses_only_its_own_test_cell():
    assert all(mistake.loses == (f"test_{mistake.cell}",) for mistake in ALL_MISTAKES.values())


# --- the whole notebook ---------------------------------------------------------------------------------------

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
