"""Notebook 07 as a whole: points, exercises, its test cells against right and wrong answers, and a fast-mode run.

The test cells (visible and hidden parts) are run here in-process against every mistake and alternative of
test_nbgrader_07.py, which takes seconds; test_nbgrader_07.py then runs a part of the same submissions through
nbgrader.
"""
from __future__ import annotations

import ast

import pytest

from course_helpers import (REPO, cell_runner, cells_by_id, exercise_tests, graded_points, nbgrader_meta,
                            run_in_fast_mode, stream_text)
from gancourse.nbtools import exercise_namespace
from test_course import exercise_names
from test_nbgrader_07 import ALTERNATIVES, HINTS, MISTAKES, MORE_ALTERNATIVES, MORE_HINTS, MORE_MISTAKES

SOLUTION_07 = REPO / "solutions" / "07_cyclegan" / "cyclegan.ipynb"
EXERCISES = ["cycle_consistency_loss", "identity_loss", "cyclegan_generator_loss", "ImagePool"]
POINTS = {"test_cycle_loss": 1, "test_identity_loss": 1, "test_generator_loss": 3, "test_image_pool": 3}
TEST_OF = exercise_tests(SOLUTION_07)  # solution cell -> the test cell below it
ALL_MISTAKES = {**MISTAKES, **MORE_MISTAKES}
ALL_HINTS = {**HINTS, **MORE_HINTS}
# Mistakes that the visible tests let through and only the hidden tests catch: gradients cut by a detach, a pool
# that keeps the graph, and a pool that picks the image to return by its age rather than at random.
HIDDEN_ONLY = {"g_outputs_detached", "pool_swaps_with_the_oldest", "pool_swaps_with_the_newest"}


# --- structure ----------------------------------------------------------------------------------------------

def test_points_of_the_source_notebook():
    tests, answers = graded_points(SOLUTION_07)
    assert tests == POINTS and sum(tests.values()) == 8 and answers == [2, 2, 2]


def test_exercises_are_defined_by_the_solution():
    assert exercise_names(SOLUTION_07) == set(EXERCISES)
    namespace = exercise_namespace(SOLUTION_07)
    assert all(callable(namespace[name]) for name in EXERCISES)


def test_given_training_code_is_locked():
    given = cells_by_id(SOLUTION_07)["given_training"]
    assert nbgrader_meta(given)["locked"] and not nbgrader_meta(given)["solution"]
    defined = {node.name for node in ast.parse(given.source).body
               if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert defined == {"cyclegan_discriminator_loss", "CycleGAN", "train_cyclegan"}


def test_helpers_shared_by_test_cells_are_visible_and_defined_in_an_earlier_test_cell():
    """test_identity_loss and test_generator_loss call check_mean_l1, which test_cycle_loss defines: it must be in
    the visible part (the student's release has it) and come before them."""
    cells = cells_by_id(SOLUTION_07)
    order = list(cells)
    defined_in = {}
    for test in TEST_OF.values():
        visible = cells[test].source.split("### BEGIN HIDDEN TESTS")[0]
        hidden = cells[test].source[len(visible):]
        assert not {n.name for n in ast.walk(ast.parse(hidden.replace("### BEGIN HIDDEN TESTS", "")
                                                      .replace("### END HIDDEN TESTS", "")))
                    if isinstance(n, ast.FunctionDef)}, f"{test} defines a function in its hidden part"
        for node in ast.parse(visible).body:
            if isinstance(node, ast.FunctionDef):
                defined_in.setdefault(node.name, test)
    for test in TEST_OF.values():
        used = {n.id for n in ast.walk(ast.parse(cells[test].source)) if isinstance(n, ast.Name)}
        for name in used & defined_in.keys():
            assert order.index(defined_in[name]) <= order.index(test), f"{test} uses {name} before it is defined"
    assert defined_in["check_mean_l1"] == "test_cycle_loss"


# --- the test cells, in-process -------------------------------------------------------------------------------

def _shared_helpers() -> str:
    """The functions that test_cycle_loss defines for the later test cells (check_mean_l1 and its helper), as the
    notebook has them once that cell has run, whether its checks passed or not."""
    source = cells_by_id(SOLUTION_07)["test_cycle_loss"].source
    return "\n\n".join(ast.get_source_segment(source, node) for node in ast.parse(source).body
                       if isinstance(node, ast.FunctionDef))


@pytest.fixture(scope="module")
def notebook():
    """A runner for the solution's test cells, with other answers swapped in."""
    run, helpers = cell_runner(SOLUTION_07), _shared_helpers()

    def run_with_helpers(test_id: str, answer: str | None = None) -> None:
        run(test_id, helpers + "\n\n" + (answer or ""))

    return run_with_helpers


@pytest.fixture(scope="module")
def visible_part():
    """A runner for the visible part of a test cell only (what a student sees before submitting)."""
    cells = cells_by_id(SOLUTION_07)
    base = exercise_namespace(SOLUTION_07)
    exec(compile(_shared_helpers(), "test_cycle_loss", "exec"), base)

    def run(test_id: str, answer: str) -> None:
        source = cells[test_id].source
        assert "### BEGIN HIDDEN TESTS" in source
        namespace = dict(base)
        exec(compile(answer, "answer", "exec"), namespace)
        exec(compile(source.split("### BEGIN HIDDEN TESTS")[0], test_id, "exec"), namespace)

    return run


@pytest.mark.parametrize("cell", sorted(TEST_OF))
def test_the_reference_passes_every_test_cell(notebook, cell, capsys):
    notebook(TEST_OF[cell])
    assert capsys.readouterr().out.strip() == "Visible tests passed."


def _answers(cell: str) -> list[str]:
    return [ALTERNATIVES[cell], *MORE_ALTERNATIVES[cell]]


@pytest.mark.parametrize("cell, index", [(cell, i) for cell, answers in sorted(MORE_ALTERNATIVES.items())
                                         for i in range(len(answers) + 1)])
def test_other_correct_answers_pass(notebook, visible_part, cell, index, capsys):
    answer = _answers(cell)[index]
    visible_part(TEST_OF[cell], answer)
    capsys.readouterr()
    notebook(TEST_OF[cell], answer)
    assert capsys.readouterr().out.strip() == "Visible tests passed."


@pytest.mark.parametrize("cell, index", [(cell, i) for cell in ("cycle_loss", "identity_loss")
                                         for i in range(len(MORE_ALTERNATIVES[cell]) + 1)])
def test_other_correct_l1_losses_raise_no_note_in_the_generator_test(notebook, cell, index, capsys):
    notebook("test_generator_loss", _answers(cell)[index])
    assert capsys.readouterr().out.strip() == "Visible tests passed."


@pytest.mark.parametrize("name", sorted(ALL_MISTAKES))
def test_each_mistake_fails_its_test_cell_with_a_message_that_names_it(notebook, name):
    mistake = ALL_MISTAKES[name]
    with pytest.raises(AssertionError) as failure:
        notebook(TEST_OF[mistake.cell], mistake.code)
    assert ALL_HINTS[name] in str(failure.value), f"{name}: {failure.value}"


@pytest.mark.parametrize("name", sorted(ALL_MISTAKES))
def test_the_visible_tests_catch_every_mistake_but_the_hidden_only_ones(visible_part, name, capsys):
    mistake = ALL_MISTAKES[name]
    if name in HIDDEN_ONLY:
        visible_part(TEST_OF[mistake.cell], mistake.code)
    else:
        with pytest.raises(Exception):  # noqa: B017 (any failure will do here)
            visible_part(TEST_OF[mistake.cell], mistake.code)


@pytest.mark.parametrize("name", sorted(ALL_MISTAKES))
def test_each_mistake_passes_the_other_test_cells(notebook, name, capsys):
    """A wrong L1 loss costs nothing in test_generator_loss (stand-ins), and the pool is tested on its own."""
    mistake = ALL_MISTAKES[name]
    for test in TEST_OF.values():
        if test != TEST_OF[mistake.cell]:
            capsys.readouterr()
            notebook(test, mistake.code)
            out = capsys.readouterr().out.strip()
            assert out.endswith("Visible tests passed."), f"{name} in {test}: {out}"
            if test == "test_generator_loss" and mistake.cell in ("cycle_loss", "identity_loss") \
                    and name not in HIDDEN_ONLY:
                assert out.startswith("Note: exercise"), f"{name}: test_generator_loss should note it: {out}"


def test_every_mistake_has_a_hint_and_loses_only_its_own_test_cell():
    assert set(HINTS) == set(MISTAKES) and set(MORE_HINTS) == set(MORE_MISTAKES)
    assert not set(MISTAKES) & set(MORE_MISTAKES)
    assert HIDDEN_ONLY <= ALL_MISTAKES.keys()
    assert all(mistake.loses == (TEST_OF[mistake.cell],) for mistake in ALL_MISTAKES.values())
    assert set(ALTERNATIVES) == set(MORE_ALTERNATIVES) == set(TEST_OF)
    assert {MISTAKES[name].cell for name in MISTAKES} == set(TEST_OF)
    issue = {"cycle_l2", "g_identity_weighted_by_lambda_identity_alone", "g_bce", "pool_returns_stored_but_keeps_it",
             "pool_stores_the_graph", "pool_swaps_the_whole_batch"}
    assert issue <= MISTAKES.keys(), "the issue's six mistakes go through nbgrader"


# --- the whole notebook ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_solution_runs_top_to_bottom_in_fast_mode_with_every_test_passing(mnist_root, monkeypatch):
    cells = run_in_fast_mode(SOLUTION_07, mnist_root, monkeypatch)
    assert "10 steps" in stream_text(cells["train"]), "fast mode should train 10 steps"
