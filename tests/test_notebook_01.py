"""Notebook 01 as a whole: its points, its exercises, and a fast-mode run of the solution (see test_course.py too)."""
from __future__ import annotations

import pytest

from course_helpers import SOLUTION_01, graded_points, run_in_fast_mode, stream_text
from gancourse.nbtools import exercise_namespace
from test_course import exercise_names

EXERCISES = ["sample_noise", "Generator", "Discriminator", "discriminator_loss", "generator_loss", "train_step"]


def test_points_of_the_source_notebook():
    tests, answers = graded_points(SOLUTION_01)
    assert sum(tests.values()) == 15 and answers == [2, 2, 2]


def test_exercises_are_defined_by_the_solution():
    assert exercise_names(SOLUTION_01) == set(EXERCISES)
    namespace = exercise_namespace(SOLUTION_01)
    assert all(callable(namespace[name]) for name in EXERCISES)


@pytest.mark.slow
def test_solution_runs_top_to_bottom_in_fast_mode_with_every_test_passing(mnist_root, monkeypatch):
    cells = run_in_fast_mode(SOLUTION_01, mnist_root, monkeypatch)
    assert "40 steps" in stream_text(cells["train"]), "fast mode should train 40 steps"
    images = [o for c in cells.values() for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3, "the notebook should show real digits, the live view and the final samples"
