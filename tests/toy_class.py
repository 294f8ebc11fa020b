"""A tiny nbgrader course for the class-workflow tests: one assignment, two exercises, seconds to autograde.

The course notebooks take 12-26 s per submission under nbgrader; the parallel grader, its faults and the class
report are about the workflow, not about GANs, so their tests use this course: the same nbgrader, the same
kinds of cells (solutions, visible and hidden tests with hints), a kernel that starts without torch.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_helpers import REPO, nbgrader, submission

ASSIGNMENT = "toy"
NOTEBOOK = "squares"

HINT_ADDITION = "square(3) should be 9, got 6: did you add x + x instead of multiplying?"
HINT_EMPTY_MEAN = "mean([]) should raise ValueError with a clear message, not ZeroDivisionError"

REFERENCE = {
    "square": "def square(x):\n    return x * x\n",
    "mean": ('def mean(xs):\n    if not xs:\n        raise ValueError("mean of an empty list")\n'
             "    return sum(xs) / len(xs)\n"),
}

MISTAKES = {
    "addition": ("square", "def square(x):\n    return x + x\n"),
    "empty_mean": ("mean", "def mean(xs):\n    return sum(xs) / len(xs)\n"),
}

CONFIG = '''c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "toycourse"
c.Execute.timeout = 20
c.Execute.interrupt_on_timeout = True
c.Exchange.root = ".nbgrader_exchange"
'''


def _cell(source: str, grade_id: str, cell_type: str = "code", **flags) -> nbformat.NotebookNode:
    cell = new_code_cell(source) if cell_type == "code" else new_markdown_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade_id": grade_id, "grade": False, "solution": False,
                                 "locked": False, **flags}
    return cell


def source_notebook() -> nbformat.NotebookNode:
    """The instructor's notebook: two exercises with visible and hidden tests, three points in all."""
    return new_notebook(cells=[
        _cell("# Squares\nTwo small exercises.", "intro", "markdown", locked=True),
        _cell("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION", "square",
              solution=True),
        _cell(f'assert square(3) == 9, "{HINT_ADDITION}" if square(3) == 6 else "square(3) should be 9"\n'
              '### BEGIN HIDDEN TESTS\nassert square(-2) == 4, "square(-2) should be 4"\n### END HIDDEN TESTS\n'
              'print("Visible tests passed.")', "test_square", grade=True, locked=True, points=2),
        _cell('def mean(xs):\n    ### BEGIN SOLUTION\n    if not xs:\n        raise ValueError("mean of an empty '
              'list")\n    return sum(xs) / len(xs)\n    ### END SOLUTION', "mean", solution=True),
        _cell("assert mean([1, 2, 3]) == 2, \"mean([1, 2, 3]) should be 2\"\ntry:\n    mean([])\n"
              "except ValueError:\n    pass\nexcept ZeroDivisionError:\n"
              f"    raise AssertionError(\"{HINT_EMPTY_MEAN}\")\n"
              'print("Visible tests passed.")', "test_mean", grade=True, locked=True, points=1),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def make_course(root: Path) -> Path:
    """A course folder with the toy assignment generated (its gradebook and release), ready for submissions."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG)
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(source_notebook(), root / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    nbgrader(root, "generate_assignment", ASSIGNMENT)
    return root


def release(root: Path) -> Path:
    return root / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"


def answers(*mistakes: str, **code: str) -> dict[str, str]:
    """The reference answers with the named mistakes (and any cell given as code) swapped in."""
    return {**REFERENCE, **{MISTAKES[m][0]: MISTAKES[m][1] for m in mistakes}, **code}


def submit(root: Path, student: str, cells: dict[str, str] | None = None, *, raw: str | None = None,
           timestamp: str = "2026-01-01 00:00:00.000000 UTC") -> Path:
    """Put a student's notebook (the release with `cells` filled in, or `raw` text) in submitted/."""
    folder = root / "submitted" / student / ASSIGNMENT
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    path = folder / f"{NOTEBOOK}.ipynb"
    if raw is not None:
        path.write_text(raw)
    else:
        nbformat.write(submission(answers() if cells is None else cells, release(root)), path)
    (folder / "timestamp.txt").write_text(timestamp)
    return path


def copy_course(root: Path, to: Path) -> Path:
    """An identical copy of a course folder (gradebook included), for grading the same class two ways."""
    shutil.copytree(root, to)
    return to


__all__ = ["ASSIGNMENT", "NOTEBOOK", "REFERENCE", "MISTAKES", "HINT_ADDITION", "HINT_EMPTY_MEAN", "REPO",
           "make_course", "release", "answers", "submit", "copy_course", "source_notebook"]
