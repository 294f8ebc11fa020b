"""Shared fixtures: where the real MNIST files are, and an environment free of the user's course settings."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from gancourse.data import DATA_ENV, has_split, load_mnist

# CI runs in a fresh clone with the read-only `shared` folder beside the repository.
SHARED_DATA = Path(__file__).parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _clean_course_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test outside fast mode, whatever the calling shell sets (a test may set them again)."""
    monkeypatch.delenv("GANCOURSE_FAST", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """A dataset root whose ``MNIST/raw`` holds at least the real MNIST test split (never downloads)."""
    candidates = []
    if os.environ.get(DATA_ENV):
        candidates.append(Path(os.environ[DATA_ENV]).expanduser())
    candidates.append(SHARED_DATA)
    for root in candidates:
        if has_split("test", root):
            return root
    pytest.skip(
        "real MNIST test split (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) not found in "
        + " or ".join(str(c / "MNIST" / "raw") for c in candidates)
        + f"; set {DATA_ENV} to a folder holding MNIST/raw/ to run these tests"
    )


@pytest.fixture(scope="session")
def mnist_test(mnist_root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The real MNIST test split: uint8 images (10000, 1, 28, 28) and int64 labels (10000,)."""
    return load_mnist("test", root=mnist_root, download=False)


def pytest_terminal_summary(terminalreporter) -> None:
    """How long nbgrader took to autograde one submission of each notebook, when the flow tests ran."""
    from nbgrader_flow import AUTOGRADE_TIMES

    if AUTOGRADE_TIMES:
        terminalreporter.section("nbgrader autograde")
        for assignment, (seconds, count) in sorted(AUTOGRADE_TIMES.items()):
            terminalreporter.write_line(f"{assignment}: {seconds:.1f} s per submission ({count} submissions)")
