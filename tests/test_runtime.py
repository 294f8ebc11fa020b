"""gancourse.runtime: device choice, seeding, fast mode and the training budget."""
from __future__ import annotations

import ctypes
import platform
import random
import subprocess
import sys

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


# --- tune_allocator -----------------------------------------------------------------------------------------

class FakeMallopt:
    """Records mallopt calls and answers like glibc (1 = accepted)."""

    def __init__(self, answer: int = 1) -> None:
        self.calls, self.answer = [], answer

    def __call__(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return self.answer


@pytest.fixture
def fresh_allocator_state(monkeypatch):
    """Forget whether this process tuned its allocator; drop the user's own malloc settings."""
    monkeypatch.setattr(runtime, "_allocator_tuned", None)
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)


def test_tune_allocator_sets_the_three_glibc_parameters_once(monkeypatch, fresh_allocator_state):
    mallopt = FakeMallopt()
    monkeypatch.setattr(runtime, "_glibc_mallopt", lambda: mallopt)
    assert runtime.tune_allocator() is True
    assert mallopt.calls == [(-3, 32 * 2**20), (-1, 2**30), (-2, 512 * 2**20)]  # M_MMAP/TRIM_THRESHOLD, M_TOP_PAD
    assert runtime.tune_allocator() is True
    assert len(mallopt.calls) == 3, "a second call must not touch the allocator again"


def test_tune_allocator_values_fit_in_a_c_int():
    assert all(-(2**31) <= value < 2**31 for _, value in runtime.MALLOPT_SETTINGS.values())


@pytest.mark.parametrize(("platform", "libc"), [("darwin", ("", "")), ("win32", ("", "")), ("linux", ("", ""))],
                         ids=["macos", "windows", "linux-musl"])
def test_tune_allocator_is_harmless_without_glibc(monkeypatch, fresh_allocator_state, platform, libc):
    monkeypatch.setattr(runtime.sys, "platform", platform)
    monkeypatch.setattr(runtime.platform, "libc_ver", lambda *args: libc)
    monkeypatch.setattr(runtime.ctypes, "CDLL", lambda *args: pytest.fail("no C library may be loaded here"))
    assert runtime.tune_allocator() is False
    assert runtime.tune_allocator() is False


def test_tune_allocator_reports_a_refused_setting(monkeypatch, fresh_allocator_state):
    monkeypatch.setattr(runtime, "_glibc_mallopt", lambda: FakeMallopt(answer=0))
    assert runtime.tune_allocator() is False


@pytest.mark.parametrize(("name", "value"), [("MALLOC_TRIM_THRESHOLD_", "1000000"),
                                             ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")])
def test_tune_allocator_leaves_the_users_own_settings_alone(monkeypatch, fresh_allocator_state, name, value):
    monkeypatch.setenv(name, value)
    monkeypatch.setattr(runtime, "_glibc_mallopt", lambda: pytest.fail("the user's settings must win"))
    assert runtime.tune_allocator() is False


def test_the_real_mallopt_is_found_exactly_on_linux_with_glibc():
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert (runtime._glibc_mallopt() is not None) == on_glibc


_CHURN = """
import ctypes, sys, torch
from gancourse.runtime import tune_allocator


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "tuned":
    assert tune_allocator()
for _ in range(3):  # three training steps' worth of large buffers, written to, then freed
    buffers = [torch.ones(3 * 2**20) for _ in range(4)]  # 4 x 12 MiB
    del buffers
print(libc.mallinfo2().fordblks)  # bytes of free memory that glibc keeps for reuse
"""


def _has_mallinfo2() -> bool:
    try:
        return runtime._glibc_mallopt() is not None and hasattr(ctypes.CDLL(None), "mallinfo2")  # glibc 2.33+
    except OSError:
        return False


@pytest.mark.skipif(not _has_mallinfo2(), reason="glibc 2.33 or newer only")
def test_tuned_glibc_keeps_freed_memory_for_reuse(monkeypatch):
    """The effect itself, in fresh processes: default glibc hands freed blocks back to the system (so the next
    step page-faults them in again); tuned, it keeps them, with the 512 MiB top pad on top."""
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    kept = {mode: int(subprocess.run([sys.executable, "-c", _CHURN, mode], capture_output=True, text=True,
                                     check=True).stdout) for mode in ("default", "tuned")}
    assert kept["tuned"] >= 400 * 2**20, kept
    assert kept["default"] < 200 * 2**20, kept
