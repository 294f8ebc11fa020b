"""Notebook 05 as a whole: points, exercises, its test cells against right and wrong answers, the numbers its
text quotes, and a fast-mode run.

The test cells (visible and hidden parts) are run here in-process against every mistake and alternative of
test_nbgrader_05.py, which takes seconds; test_nbgrader_05.py then runs the same submissions through nbgrader.
"""
from __future__ import annotations

import ast

import pytest
import torch

from course_helpers import (REPO, cell_runner, cells_by_id, exercise_tests, graded_points, nbgrader_meta,
                            run_in_fast_mode, stream_text)
from gancourse.data import to_model_range
from gancourse.metrics import class_accuracy, mnist_fd
from gancourse.nbtools import exercise_namespace
from test_course import exercise_names
from test_nbgrader_05 import ALTERNATIVES, HINTS, MISTAKES, MORE_ALTERNATIVES

SOLUTION_05 = REPO / "solutions" / "05_cgan" / "cgan.ipynb"
EXERCISES = ["one_hot", "ConditionalGenerator", "ConditionalDiscriminator", "conditional_train_step"]
POINTS = {"test_one_hot": 2, "test_conditional_generator": 3, "test_conditional_discriminator": 3,
          "test_conditional_train_step": 4}
TEST_OF = exercise_tests(SOLUTION_05)  # solution cell -> the test cell below it


# --- structure ----------------------------------------------------------------------------------------------

def test_points_of_the_source_notebook():
    tests, answers = graded_points(SOLUTION_05)
    assert tests == POINTS and sum(tests.values()) == 12 and answers == [2, 2, 2]


def test_exercises_are_defined_by_the_solution():
    assert exercise_names(SOLUTION_05) == set(EXERCISES)
    namespace = exercise_namespace(SOLUTION_05)
    assert all(callable(namespace[name]) for name in EXERCISES)


def test_earlier_exercises_come_back_as_locked_code():
    given = cells_by_id(SOLUTION_05)["given_gan"]
    assert nbgrader_meta(given)["locked"] and not nbgrader_meta(given)["solution"]
    defined = {node.name for node in ast.parse(given.source).body if isinstance(node, ast.FunctionDef)}
    assert defined == {"sample_noise", "discriminator_loss", "generator_loss", "weights_init"}


def test_the_reference_models_follow_the_tables_of_the_text():
    namespace = exercise_namespace(SOLUTION_05)
    G, D = namespace["ConditionalGenerator"](), namespace["ConditionalDiscriminator"]()
    assert G.net[0].in_channels == 64 + 10 and D.psi.in_features == 128 and D.embed.in_features == 10
    images = G(torch.randn(5, 64), torch.arange(5))
    assert images.shape == (5, 1, 28, 28) and D(images, torch.arange(5)).shape == (5,)


# --- the numbers the text quotes --------------------------------------------------------------------------------

def test_real_digits_score_what_the_text_says(mnist_test):
    """"Real MNIST digits ... score 97.3% on average, and 95.9% for the hardest digits (2 and 5)"."""
    images, labels = mnist_test
    accuracy = class_accuracy(to_model_range(images), labels)
    assert accuracy.mean == pytest.approx(0.973, abs=0.0005)
    assert accuracy.per_class.min().item() == pytest.approx(0.959, abs=0.0005)
    assert set(torch.nonzero(accuracy.per_class < 0.96).flatten().tolist()) == {2, 5}


def test_two_halves_of_the_real_data_are_about_three_apart(mnist_test):
    """"Two halves of the real data score about 3 against each other at this sample size"."""
    real = to_model_range(mnist_test[0])
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(0))
    assert 2.5 < mnist_fd(real[order[:5000]], real[order[5000:]]) < 4.0


# --- the test cells, in-process -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def notebook():
    """A runner for the solution's test cells, with other answers swapped in."""
    return cell_runner(SOLUTION_05, given=["given_gan"])


@pytest.mark.parametrize("test_id", sorted(POINTS))
def test_the_reference_passes_every_test_cell(notebook, test_id, capsys):
    notebook(test_id)
    assert capsys.readouterr().out.strip() == "Visible tests passed."


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar")  # float(loss): fine
@pytest.mark.parametrize("cell, index", [(cell, i) for cell, answers in sorted(MORE_ALTERNATIVES.items())
                                         for i in range(len(answers) + 1)])
def test_other_correct_answers_pass(notebook, cell, index, capsys):
    answer = [ALTERNATIVES[cell], *MORE_ALTERNATIVES[cell]][index]
    notebook(TEST_OF[cell], answer)
    assert capsys.readouterr().out.strip() == "Visible tests passed."


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_mistake_fails_its_test_cell_with_a_message_that_names_it(notebook, name):
    mistake = MISTAKES[name]
    with pytest.raises(AssertionError) as failure:
        notebook(TEST_OF[mistake.cell], mistake.code)
    assert HINTS[name] in str(failure.value), f"{name}: {failure.value}"


def test_every_mistake_has_a_hint_and_loses_only_its_own_test_cell():
    assert set(HINTS) == set(MISTAKES)
    assert all(mistake.loses == (TEST_OF[mistake.cell],) for mistake in MISTAKES.values())
    assert set(ALTERNATIVES) == set(MORE_ALTERNATIVES) == set(TEST_OF)


# --- the whole notebook ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_solution_runs_top_to_bottom_in_fast_mode_with_every_test_passing(mnist_root, monkeypatch):
    cells = run_in_fast_mode(SOLUTION_05, mnist_root, monkeypatch)
    assert "40 steps" in stream_text(cells["train"]), "fast mode should train 40 steps"
    table = stream_text(cells["evaluate"]).splitlines()
    digits = next(line for line in table if line.strip().startswith("digit"))
    accuracy = next(line for line in table if line.strip().startswith("accuracy"))
    assert digits.split()[1:11] == [str(k) for k in range(10)] and len(accuracy.split()) == 12
    assert "Fréchet distance of 1,000 samples" in stream_text(cells["evaluate"])
    # Without a widget front end (nbclient, like nbgrader) the class explorer is a static figure, never a widget.
    data = [o.get("data", {}) for o in cells["class_grid"].outputs]
    assert any("image/png" in d for d in data), "the class grid shows no figure"
    assert not any("application/vnd.jupyter.widget-view+json" in d for d in data), "the class grid shows a widget"
    assert all("Note:" not in stream_text(cells[name]) for name in POINTS)
