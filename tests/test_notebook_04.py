"""Notebook 04 as a whole: points, exercises, its test cells against right and wrong answers, and a fast-mode run.

The test cells (visible and hidden parts) are run here in-process against every mistake and alternative of
test_nbgrader_04.py, which takes seconds; test_nbgrader_04.py then runs the same submissions through nbgrader.
"""
from __future__ import annotations

import ast
import re

import pytest
import torch

from course_helpers import (REPO, cell_runner, cells_by_id, graded_points, nbgrader_meta, run_in_fast_mode,
                            stream_text)
from gancourse.nbtools import exercise_namespace
from test_course import exercise_names
from test_nbgrader_04 import ALTERNATIVES, HINTS, MISTAKES, MORE_ALTERNATIVES


SOLUTION_04 = REPO / "solutions" / "04_mode_collapse" / "mode_collapse.ipynb"
SOLUTION_03 = REPO / "solutions" / "03_losses" / "losses.ipynb"
RELEASE_04 = REPO / "notebooks" / "04_mode_collapse" / "mode_collapse.ipynb"
CAUGHT_ONLY_BY_HIDDEN_TESTS = {"coverage_counts_on_default_device", "stddev_on_default_device"}  # crash on GPUs only
EXERCISES = ["mode_coverage", "reverse_kl", "pack", "minibatch_stddev"]
POINTS = {"test_mode_coverage": 3, "test_reverse_kl": 2, "test_pack": 2, "test_minibatch_stddev": 3}
GIVEN = {"discriminator_loss", "generator_loss", "wgan_critic_loss", "wgan_generator_loss", "gradient_penalty"}
SECTIONS = ["md_experiment", "md_stacked_mnist", "md_playground"]
DEMOS = {"md_stacked_mnist": "stacked_demo", "md_playground": "playground"}  # section -> its unlocked demo cell
EXPERIMENT = ["md_experiment", "given_networks", "given_steps", "md_setups", "setups", "ring_runs", "grid_runs",
              "md_results", "experiment_results", "md_reading"]  # the experiment section's cells, in order
EXPERIMENT_GIVEN = {"given_networks", "given_steps"}
SETUPS = ["GAN", "WGAN-GP", "PacGAN2", "PacGAN3", "PacGAN4", "minibatch stddev"]


# --- structure ----------------------------------------------------------------------------------------------

def test_points_of_the_source_notebook():
    tests, answers = graded_points(SOLUTION_04)
    assert tests == POINTS and sum(tests.values()) == 10 and answers == [2, 2, 2, 2]


def test_exercises_are_defined_by_the_solution():
    assert exercise_names(SOLUTION_04) == set(EXERCISES)
    namespace = exercise_namespace(SOLUTION_04)
    assert all(callable(namespace[name]) for name in EXERCISES)


def test_the_experiment_sections_come_after_the_exercises_in_order():
    order = list(cells_by_id(SOLUTION_04))
    positions = [order.index(grade_id) for grade_id in SECTIONS]
    assert positions == sorted(positions) and positions[0] > order.index("test_minibatch_stddev")


@pytest.mark.parametrize("section", sorted(DEMOS))
def test_the_stacked_mnist_and_playground_sections_are_written_with_an_ungraded_demo_right_below(section):
    cells, order = cells_by_id(SOLUTION_04), list(cells_by_id(SOLUTION_04))
    assert nbgrader_meta(cells[section])["locked"]
    demo = cells[DEMOS[section]]
    assert order.index(DEMOS[section]) == order.index(section) + 1 and demo.cell_type == "code"
    assert not (nbgrader_meta(demo)["locked"] or nbgrader_meta(demo)["grade"] or nbgrader_meta(demo)["solution"])


def test_the_experiment_section_gives_its_networks_and_steps_locked_and_leaves_its_runs_editable():
    cells, order = cells_by_id(SOLUTION_04), list(cells_by_id(SOLUTION_04))
    start = order.index("md_experiment")
    assert order[start:start + len(EXPERIMENT)] == EXPERIMENT
    for grade_id in EXPERIMENT:
        meta = nbgrader_meta(cells[grade_id])
        assert not (meta["grade"] or meta["solution"]), grade_id
        assert meta["locked"] == (cells[grade_id].cell_type == "markdown" or grade_id in EXPERIMENT_GIVEN), grade_id


def test_the_experiment_states_its_fair_budget_and_the_papers_setup():
    cells = cells_by_id(SOLUTION_04)
    lecture = cells["md_experiment"].source
    for fact in ("400,000 steps", "1,500 generator steps", "120 points a step", "three seeds per setup"):
        assert fact in lecture, fact
    setups = cells["setups"].source
    assert "STEPS = budget(1500, fast=10)" in setups and "SEEDS = list(range(budget(3, fast=1)))" in setups
    assert "BATCH_SIZE = 2, 64, 120" in setups


def test_the_experiment_trains_every_setup_with_the_students_pack_and_stddev_and_scores_with_their_metrics(
        monkeypatch):
    monkeypatch.setenv("GANCOURSE_FAST", "1")
    cells, namespace = cells_by_id(SOLUTION_04), exercise_namespace(SOLUTION_04)
    for grade_id in ("given_losses", "given_networks", "given_steps", "setups"):
        exec(compile(cells[grade_id].source, grade_id, "exec"), namespace)
    calls = {"pack": set(), "minibatch_stddev": 0}
    pack, minibatch_stddev = namespace["pack"], namespace["minibatch_stddev"]

    def counted_pack(x, m):
        calls["pack"].add(m)
        return pack(x, m)

    def counted_stddev(x):
        calls["minibatch_stddev"] += 1
        return minibatch_stddev(x)

    namespace.update(pack=counted_pack, minibatch_stddev=counted_stddev,  # the given cells look these up by name
                     mode_coverage=lambda samples, centers, std: (7, 0.25),
                     reverse_kl=lambda samples, centers, std: 0.125)
    assert list(namespace["SETUPS"]) == SETUPS
    exec(compile(cells["ring_runs"].source, "ring_runs", "exec"), namespace)
    runs = namespace["ring_runs"]
    assert [run.setup for run in runs] == SETUPS and {run.steps for run in runs} == {10}
    assert all(run.scores == {"modes": 7, "high quality": 0.25, "reverse KL": 0.125} for run in runs)
    assert calls["pack"] == {2, 3, 4} and calls["minibatch_stddev"] > 0


def test_the_stacked_mnist_section_cites_the_papers_numbers_and_computes_the_kl_itself():
    cells = cells_by_id(SOLUTION_04)
    for number in ("30.6", "5.99", "78.5", "5.21", "484.5", "2.61", "99.0", "3.40"):
        assert number in cells["md_stacked_mnist"].source, number
    demo = cells["stacked_demo"].source
    assert "budget(1500, fast=20)" in demo and "budget(EVAL_SAMPLES, fast=500)" in demo
    assert "xlogy" in demo and "reverse_kl(" not in demo and "pack(" not in demo  # the student's pack may be unwritten


def test_the_playground_is_built_from_the_given_losses_and_the_students_functions():
    source = cells_by_id(SOLUTION_04)["playground"].source
    for name in ("discriminator_loss", "generator_loss", "wgan_critic_loss", "wgan_generator_loss",
                 "gradient_penalty", "pack=pack", "coverage=mode_coverage"):
        assert name in source, name


def test_the_losses_of_notebooks_01_and_03_come_back_as_locked_code_that_matches_notebook_03():
    given = cells_by_id(SOLUTION_04)["given_losses"]
    assert nbgrader_meta(given)["locked"] and not nbgrader_meta(given)["solution"]
    assert {node.name for node in ast.parse(given.source).body if isinstance(node, ast.FunctionDef)} == GIVEN
    ours = dict(exercise_namespace(SOLUTION_04))
    exec(compile(given.source, "given_losses", "exec"), ours)
    theirs = exercise_namespace(SOLUTION_03)
    exec(compile(cells_by_id(SOLUTION_03)["given_gan"].source, "given_gan", "exec"), theirs)
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(7, generator=g), torch.randn(5, generator=g)
    for name in ("discriminator_loss", "wgan_critic_loss"):
        assert torch.equal(ours[name](real, fake), theirs[name](real, fake)), name
    for name in ("generator_loss", "wgan_generator_loss"):
        assert torch.equal(ours[name](fake), theirs[name](fake)), name
    critic = torch.nn.Sequential(torch.nn.Linear(3, 1, bias=False), torch.nn.Flatten(0))
    torch.nn.init.constant_(critic[0].weight, 0.2)  # gradient norm 0.2 * sqrt(3) everywhere
    points = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    for gradient_penalty in (ours["gradient_penalty"], theirs["gradient_penalty"]):
        assert gradient_penalty(critic, *points).item() == pytest.approx((0.2 * 3**0.5 - 1) ** 2, rel=1e-5)


# --- the test cells, in-process -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def notebook():
    """A runner for the solution's test cells, with other answers swapped in."""
    return cell_runner(SOLUTION_04)


@pytest.mark.parametrize("test_id", sorted(POINTS))
def test_the_reference_passes_every_test_cell(notebook, test_id, capsys):
    notebook(test_id)
    assert capsys.readouterr().out.strip() == "Visible tests passed."


@pytest.mark.parametrize("cell, index", [(cell, i) for cell, answers in sorted(MORE_ALTERNATIVES.items())
                                         for i in range(len(answers) + 1)])
def test_other_correct_answers_pass(notebook, cell, index, capsys):
    answer = [ALTERNATIVES[cell], *MORE_ALTERNATIVES[cell]][index]
    notebook(f"test_{cell}", answer)
    assert capsys.readouterr().out.strip() == "Visible tests passed."


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_mistake_fails_its_test_cell_with_a_message_that_names_it(notebook, name):
    mistake = MISTAKES[name]
    with pytest.raises(AssertionError) as failure:
        notebook(f"test_{mistake.cell}", mistake.code)
    assert HINTS[name] in str(failure.value), f"{name}: {failure.value}"


@pytest.fixture(scope="module")
def student_notebook():
    """A runner for the released notebook's test cells: what the student sees, without the hidden tests."""
    return cell_runner(RELEASE_04)


@pytest.mark.parametrize("name", sorted(set(MISTAKES) - CAUGHT_ONLY_BY_HIDDEN_TESTS))
def test_the_visible_tests_already_catch_each_common_mistake_and_name_it(student_notebook, name):
    mistake = MISTAKES[name]
    with pytest.raises(AssertionError) as failure:
        student_notebook(f"test_{mistake.cell}", mistake.code)
    assert HINTS[name] in str(failure.value), f"{name}: {failure.value}"


def test_every_mistake_has_a_hint_and_loses_only_its_own_test_cell():
    assert set(HINTS) == set(MISTAKES)
    assert all(mistake.loses == (f"test_{mistake.cell}",) for mistake in MISTAKES.values())
    assert set(ALTERNATIVES) == set(MORE_ALTERNATIVES) == set(EXERCISES)


# --- the whole notebook ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_solution_runs_top_to_bottom_in_fast_mode_with_every_test_passing(mnist_root, monkeypatch):
    cells = run_in_fast_mode(SOLUTION_04, mnist_root, monkeypatch)
    assert "linspace(0, 2*pi, 8): 7 distinct centres" in stream_text(cells["mixtures_demo"])
    metrics = stream_text(cells["metrics_demo"])
    assert "real ring                      8 / 8 " in metrics and "a single mode                  1 / 8" in metrics
    assert "Fast mode: 20 steps" in stream_text(cells["chase_demo"])
    assert "packs of 2 whose samples share a mode" in stream_text(cells["pack_demo"])
    assert "a single mode      the extra feature D sees: 0.0100" in stream_text(cells["mbstd_demo"])
    stacked = stream_text(cells["stacked_demo"])
    assert "20 steps in" in stacked and "modes counted on 500 samples each" in stacked
    assert re.search(r"DCGAN, small D +\d+ / 1000 modes, reverse KL \d+\.\d\d", stacked), stacked
    assert re.search(r"real stacked MNIST +\d+ / 1000 modes, reverse KL \d+\.\d\d", stacked), stacked
    assert [o for o in cells["stacked_demo"].outputs if "image/png" in o.get("data", {})], "no grid of samples"
    results = stream_text(cells["experiment_results"])
    for distribution in ("ring of 8", "grid of 25"):
        assert f"{distribution}: mean ± std over seeds [0], 10 generator steps per run" in results, results
    for name in SETUPS:
        assert re.search(rf"^  {name} +\S", results, re.M), f"{name} missing from the table:\n{results}"
    assert len([o for o in cells["experiment_results"].outputs if "image/png" in o.get("data", {})]) == 2
    playground = cells["playground"]
    assert re.match(r"step 100, .* modes?, \d+% high quality", stream_text(playground)), stream_text(playground)
    assert [o for o in playground.outputs if "image/png" in o.get("data", {})], "the playground shows no figure"
    images = [o for c in cells.values() for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "the notebook should show its mixtures, metrics, chase and x*y figures"
