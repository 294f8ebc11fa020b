"""gancourse.runtime: device choice, seeding, fast mode and the training budget."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import gancourse
from gancourse import runtime
from gancourse.runtime import budget, device, is_fast_mode, seed_everything


# --- device -------------------------------------------------------------------------------------------------

def test_device_is_a_torch_device_and_cuda_exactly_when_available():
    chosen = device()
    assert isinstance(chosen, torch.device)
    assert (chosen.type == "cuda") == torch.cuda.is_available()


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
    ids=["prefers-cuda", "falls-back-to-mps", "falls-back-to-cpu"],
)
def test_device_picks_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert device() == torch.device(expected)


def test_device_works_on_torch_builds_without_an_mps_backend(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delattr(torch.backends, "mps")
    assert device() == torch.device("cpu")


def test_package_reexports_the_runtime_helpers():
    assert gancourse.device is runtime.device
    assert gancourse.budget is runtime.budget
    assert gancourse.is_fast_mode is runtime.is_fast_mode
    assert gancourse.seed_everything is runtime.seed_everything


# --- seed_everything ----------------------------------------------------------------------------------------

def _draw() -> tuple[float, np.ndarray, torch.Tensor]:
    return random.random(), np.random.rand(3), torch.rand(3)


@pytest.mark.parametrize("seed", [0, 123, 2**40])
def test_seed_everything_makes_python_numpy_and_torch_repeat(seed):
    seed_everything(seed)
    first = _draw()
    seed_everything(seed)
    second = _draw()
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])
    assert torch.equal(first[2], second[2])


def test_different_seeds_give_different_draws():
    seed_everything(1)
    first = _draw()
    seed_everything(2)
    second = _draw()
    assert first[0] != second[0]
    assert not np.array_equal(first[1], second[1])
    assert not torch.equal(first[2], second[2])


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3", None])
def test_seed_everything_rejects_negative_and_non_int_seeds(seed):
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(seed)


# --- is_fast_mode -------------------------------------------------------------------------------------------

def test_fast_mode_is_off_in_a_clean_environment():
    assert is_fast_mode() is False


@pytest.mark.parametrize("mode", ["autograde", "validate"])
def test_fast_mode_is_on_under_nbgrader_execution(monkeypatch, mode):
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    assert is_fast_mode() is True


@pytest.mark.parametrize("mode", ["", "feedback", "AUTOGRADE-ish"])
def test_fast_mode_is_off_for_other_nbgrader_values(monkeypatch, mode):
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    assert is_fast_mode() is False


@pytest.mark.parametrize("value", ["1", "true", "True", " TRUE ", "yes", "on"])
def test_fast_mode_is_on_when_gancourse_fast_is_truthy(monkeypatch, value):
    monkeypatch.setenv("GANCOURSE_FAST", value)
    assert is_fast_mode() is True


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off", "2"])
def test_fast_mode_is_off_when_gancourse_fast_is_not_truthy(monkeypatch, value):
    monkeypatch.setenv("GANCOURSE_FAST", value)
    assert is_fast_mode() is False


# --- budget -------------------------------------------------------------------------------------------------

def test_budget_returns_full_count_for_a_students_run():
    assert budget(5000, 20) == 5000
    assert budget(5000) == 5000


def test_budget_returns_fast_count_in_fast_mode(monkeypatch):
    monkeypatch.setenv("GANCOURSE_FAST", "1")
    assert budget(5000, 20) == 20


@pytest.mark.parametrize(("full", "fast"), [(5000, 50), (1000, 10), (150, 1), (99, 1), (1, 1)])
def test_budget_fast_defaults_to_one_percent_and_at_least_one(monkeypatch, full, fast):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert budget(full) == fast


@pytest.mark.parametrize("full", [0, -5, 2.5, True, "100", None])
def test_budget_rejects_a_full_count_that_is_not_a_positive_int(full):
    with pytest.raises(ValueError, match=r"budget\(full\)"):
        budget(full)


@pytest.mark.parametrize("fast", [0, -1, 101, 2.0, True])
def test_budget_rejects_a_fast_count_outside_1_to_full(fast):
    with pytest.raises(ValueError, match=r"budget\(fast\).*full=100"):
        budget(100, fast)


def test_budget_validates_fast_even_outside_fast_mode():
    """A wrong `fast` must fail on the student's machine too, not only under the autograder."""
    assert not is_fast_mode()
    with pytest.raises(ValueError):
        budget(10, 20)
