"""Notebook 02 as a whole: points, exercises, its test cells against right and wrong answers, and a fast-mode run.

The test cells (visible and hidden parts) are run here in-process against every mistake and alternative of
test_nbgrader_02.py, which takes seconds; test_nbgrader_02.py then runs the same submissions through nbgrader.
"""
from __future__ import annotations

import ast
import re

import pytest
import torch

from course_helpers import (REPO, cell_runner, cells_by_id, exercise_tests, graded_points, nbgrader_meta,
                            run_in_fast_mode, stream_text)
from gancourse.nbtools import exercise_namespace
from test_course import exercise_names
from test_nbgrader_02 import ALTERNATIVES, DISCRIMINATOR, HINTS, MISTAKES


SOLUTION_02 = REPO / "solutions" / "02_dcgan" / "dcgan.ipynb"
EXERCISES = ["DCGANGenerator", "DCGANDiscriminator", "weights_init", "slerp", "truncated_noise"]
POINTS = {"test_dcgan_generator": 3, "test_dcgan_discriminator": 3, "test_weights_init": 2, "test_slerp": 4,
          "test_truncated_noise": 3}
TEST_OF = exercise_tests(SOLUTION_02)  # solution cell -> the test cell below it


# --- structure ----------------------------------------------------------------------------------------------

def test_points_of_the_source_notebook():
    tests, answers = graded_points(SOLUTION_02)
    assert tests == POINTS and sum(tests.values()) == 15 and answers == [2, 2, 2]


def test_exercises_are_defined_by_the_solution():
    assert exercise_names(SOLUTION_02) == set(EXERCISES)
    namespace = exercise_namespace(SOLUTION_02)
    assert all(callable(namespace[name]) for name in EXERCISES)


def test_the_training_step_of_notebook_01_comes_back_as_locked_code():
    given = cells_by_id(SOLUTION_02)["given_gan"]
    assert nbgrader_meta(given)["locked"] and not nbgrader_meta(given)["solution"]
    defined = {node.name for node in ast.parse(given.source).body if isinstance(node, ast.FunctionDef)}
    assert defined == {"sample_noise", "discriminator_loss", "generator_loss", "train_step"}


def test_the_reference_models_have_the_documented_sizes():
    namespace = exercise_namespace(SOLUTION_02)
    count = lambda model: sum(p.numel() for p in model.parameters())
    assert count(namespace["DCGANGenerator"]()) == 759_681  # "about 0.76 million"
    assert count(namespace["DCGANDiscriminator"]()) == 431_937  # "0.43 million"


def test_the_benchmark_trains_what_the_training_cell_trains():
    line = cells_by_id(SOLUTION_02)["train"].source.splitlines()[0]
    names, values = (part.strip() for part in line.split("="))
    bench = (REPO / "benchmarks" / "bench_02_dcgan.py").read_text()
    assert f"{names} = {values}" in bench, f"benchmarks/bench_02_dcgan.py should set {line!r}"
    steps = re.search(r"steps=budget\((\d+), fast=(\d+)\)", cells_by_id(SOLUTION_02)["train"].source)
    assert steps and f"FULL_STEPS = {steps.group(1)}" in bench


# --- the given stroke-thickness measure -----------------------------------------------------------------------

def _stroke_thickness():
    tree = ast.parse(cells_by_id(SOLUTION_02)["arithmetic"].source)
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "stroke_thickness")
    namespace = {"torch": torch}
    exec(compile(ast.Module([function], []), "stroke_thickness", "exec"), namespace)
    return namespace["stroke_thickness"]


@pytest.mark.parametrize("width", [1, 2, 3, 5])
def test_stroke_thickness_measures_the_width_of_a_bar(width):
    image = -torch.ones(1, 1, 28, 28)
    image[0, 0, 4 : 4 + width, 4:24] = 1.0  # a bar 20 pixels long
    assert _stroke_thickness()(image).item() == pytest.approx(width, rel=0.2)


def test_stroke_thickness_of_real_digits_is_about_two_pixels(mnist_test):
    from gancourse.data import to_model_range

    thickness = _stroke_thickness()(to_model_range(mnist_test[0][:500]))
    assert 1.8 < thickness.mean().item() < 2.8
    assert thickness.shape == (500,) and torch.isfinite(thickness).all()
    assert _stroke_thickness()(-torch.ones(2, 1, 28, 28)).eq(0).all(), "a blank image has no stroke"


# --- the test cells, in-process -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def notebook():
    """A runner for the solution's test cells, with other answers swapped in."""
    return cell_runner(SOLUTION_02)


@pytest.mark.parametrize("test_id", sorted(POINTS))
def test_the_reference_passes_every_test_cell(notebook, test_id, capsys):
    notebook(test_id)
    assert capsys.readouterr().out.strip() == "Visible tests passed."


@pytest.mark.slow  # seconds each: a mistake in a loop is stopped by the test's time limit
@pytest.mark.parametrize("cell", sorted(ALTERNATIVES))
def test_other_correct_answers_pass(notebook, cell):
    notebook(TEST_OF[cell], ALTERNATIVES[cell])


def test_the_discriminator_that_reads_the_7x7_map_directly_passes(notebook):
    """The lecture names it as a valid discriminator that trains to worse samples per second."""
    notebook(TEST_OF["dcgan_discriminator"], DISCRIMINATOR.format(layers='''
            nn.Conv2d(channels, f, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * f, 1, 7, 1, 0),'''))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_mistake_fails_its_test_cell_with_a_message_that_names_it(notebook, name):
    mistake = MISTAKES[name]
    with pytest.raises(AssertionError) as failure:
        notebook(TEST_OF[mistake.cell], mistake.code)
    assert HINTS[name] in str(failure.value), f"{name}: {failure.value}"


@pytest.mark.slow
def test_redrawing_whole_rows_is_stopped_by_the_visible_test_with_a_hint(notebook):
    """Not in the nbgrader flow: the notebook's truncation explorer would hang on it until the cell time limit."""
    whole_rows = '''
def truncated_noise(n, latent_dim, threshold, device=None):
    if threshold <= 0:
        raise ValueError("threshold must be positive")
    z = torch.randn(n, latent_dim, device=device)
    bad = (z.abs() > threshold).any(dim=1)
    while bad.any():
        z[bad] = torch.randn(int(bad.sum()), latent_dim, device=device)
        bad = (z.abs() > threshold).any(dim=1)
    return z
'''
    with pytest.raises(TimeoutError, match="never whole rows"):
        notebook("test_truncated_noise", whole_rows)


def test_every_mistake_has_a_hint():
    assert set(HINTS) == set(MISTAKES)


# --- the whole notebook ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_solution_runs_top_to_bottom_in_fast_mode_with_every_test_passing(mnist_root, monkeypatch):
    cells = run_in_fast_mode(SOLUTION_02, mnist_root, monkeypatch)
    assert "40 steps" in stream_text(cells["train"]), "fast mode should train 40 steps"
    table = stream_text(cells["truncation"]).splitlines()
    assert table[0].split()[:2] == ["threshold", "FD"] and len(table) == 8
    assert "thick 7 - thin 7 + thin 1: classified as" in stream_text(cells["arithmetic"])
    # Without a widget front end (nbclient, like nbgrader) every explorer is a static figure, never a widget.
    for name in ("latent_walk", "truncation", "arithmetic"):
        data = [o.get("data", {}) for o in cells[name].outputs]
        assert any("image/png" in d for d in data), f"{name} shows no figure"
        assert not any("application/vnd.jupyter.widget-view+json" in d for d in data), f"{name} shows a widget"
    assert all("Note:" not in stream_text(cells[name]) for name in POINTS)
