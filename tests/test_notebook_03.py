"""Notebook 03 as a whole: points, exercises, its test cells against right and wrong answers, and a fast-mode run.

The test cells (visible and hidden parts) are run here in-process against every mistake and alternative of
test_nbgrader_03.py, which takes seconds; test_nbgrader_03.py then runs the same submissions through nbgrader.
"""
from __future__ import annotations

import pytest

from course_helpers import (REPO, cell_runner, cells_by_id, graded_points, nbgrader_meta, run_in_fast_mode,
                            stream_text)
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


def test_points_of_the_source_notebook():
    tests, answers = graded_points(SOLUTION_03)
    assert tests == {f"test_{name}": points for name, points in zip(EXERCISES, [1, 2, 1, 1, 1, 2, 4, 5, 2, 1, 3])}
    assert answers == [2, 2, 2]


def test_exercises_are_defined_by_the_solution():
    assert exercise_names(SOLUTION_03) == set(EXERCISES)
    namespace = exercise_namespace(SOLUTION_03)
    assert all(callable(namespace[name]) for name in EXERCISES)


def test_the_dcgan_of_notebook_02_comes_back_as_locked_code():
    cells = cells_by_id(SOLUTION_03)
    given = [cells["given_models"], cells["given_gan"]]
    assert len(given) == 2 and all(nbgrader_meta(c)["locked"] and not nbgrader_meta(c)["solution"] for c in given)
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
    cells = run_in_fast_mode(SOLUTION_03, mnist_root, monkeypatch)
    table = stream_text(cells["comparison_results"])
    assert all(f"\n{name} " in f"\n{table}" for name in SETUPS), table
    little = stream_text(cells["little_data_results"])
    assert all(name in little for name in ["500 images, real ones augmented", "500 images, DiffAugment"]), little
    assert "Memorisation" in little, little
    assert "step 1" in stream_text(cells["early_steps"])
    images = [o for c in cells.values() for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 9, "the notebook should show its demonstrations, its plots and its samples"
