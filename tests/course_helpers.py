"""Shared helpers for the end-to-end tests: paths, submissions built from the release, nbgrader runs, and a
runner for a solution notebook's test cells in-process."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from gancourse.nbtools import definition_cells

REPO = Path(__file__).resolve().parents[1]
SOLUTION_01 = REPO / "solutions" / "01_vanilla_gan" / "vanilla_gan.ipynb"
RELEASE_01 = REPO / "notebooks" / "01_vanilla_gan" / "vanilla_gan.ipynb"
_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*\n", re.MULTILINE)


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    """A cell's nbgrader metadata ({} when it has none)."""
    return cell.metadata.get("nbgrader", {})


def cells_by_id(path: Path) -> dict[str, nbformat.NotebookNode]:
    """The cells of a source notebook by grade_id, in notebook order."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nbformat.read(path, as_version=4).cells}


def exercise_tests(path: Path) -> dict[str, str]:
    """Each exercise's solution cell (grade_id) mapped to the test cell right below it, in notebook order."""
    cells = nbformat.read(path, as_version=4).cells
    return {nbgrader_meta(c)["grade_id"]: nbgrader_meta(after)["grade_id"] for c, after in zip(cells, cells[1:])
            if c.cell_type == "code" and nbgrader_meta(c).get("solution")}


def stream_text(cell: nbformat.NotebookNode) -> str:
    """Everything an executed code cell printed (stdout and stderr)."""
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def graded_points(path: Path) -> tuple[dict[str, int], list[int]]:
    """A source notebook's points: {test cell grade_id: points} and the points of each written answer, in order."""
    cells = nbformat.read(path, as_version=4).cells
    graded = [c for c in cells if nbgrader_meta(c).get("grade")]
    return ({nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"] for c in graded if c.cell_type == "code"},
            [nbgrader_meta(c)["points"] for c in graded if c.cell_type == "markdown"])


def run_in_fast_mode(solution: Path, mnist_root: Path, monkeypatch) -> dict[str, nbformat.NotebookNode]:
    """Execute a source notebook top to bottom in fast mode; check that no cell raised and that every test cell
    printed only "Visible tests passed."; return its executed cells by grade_id."""
    monkeypatch.setenv("GANCOURSE_FAST", "1")
    monkeypatch.setenv("GANCOURSE_DATA", str(mnist_root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(solution, as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(solution.parent)}}).execute()
    cells = {nbgrader_meta(c)["grade_id"]: c for c in nb.cells}
    errors = [(name, o.get("evalue")) for name, c in cells.items() if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert errors == []
    for name, cell in cells.items():
        if nbgrader_meta(cell).get("grade") and cell.cell_type == "code":
            streams = [o for o in cell.outputs if o.output_type == "stream"]  # one print may arrive in pieces
            assert {o.name for o in streams} == {"stdout"}, f"{name} printed {streams}"
            printed = "".join(o.text for o in streams)
            assert printed.strip() == "Visible tests passed.", f"{name}: {printed}"
    return cells


def reference_answers(source: Path = SOLUTION_01) -> dict[str, str]:
    """The instructor's answer for every solution cell, by grade_id, with the nbgrader markers removed."""
    cells = nbformat.read(source, as_version=4).cells
    return {c.metadata.nbgrader["grade_id"]: _MARKER.sub("", c.source)
            for c in cells if c.metadata.get("nbgrader", {}).get("solution")}


def submission(answers: dict[str, str], release: Path = RELEASE_01) -> nbformat.NotebookNode:
    """The student release with its solution cells filled in from `answers` (by grade_id)."""
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def nbgrader(course: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run an nbgrader command in `course`; fail with its output if it exits non-zero."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"],
                            cwd=course, capture_output=True, text=True, env={**os.environ, **(env or {})})
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def cell_runner(solution: Path, given: Iterable[str] = ()) -> Callable[[str, str | None], None]:
    """Run a solution notebook's test cells in-process: ``run(test_id, answer=None)``.

    Each call runs in a fresh namespace, as the notebook would: its imports, its exercises and the given code cells
    named in `given` (grade_ids) are defined anew in it (so that a test cell's ``stand_ins(globals(), ...)`` reach
    the functions the exercises call); `answer`, when given, replaces an exercise's definition, then the test cell
    `test_id` runs, visible and hidden parts alike.
    """
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nbformat.read(solution, as_version=4).cells}
    imports, *exercises = definition_cells(solution)
    base = {"__name__": f"notebook:{solution.stem}"}
    exec(compile(imports, "imports", "exec"), base)

    def run(test_id: str, answer: str | None = None) -> None:
        namespace = dict(base)  # the exercises are defined anew in it, so that stand_ins(globals(), ...) reach them
        for index, source in enumerate(exercises):
            exec(compile(source, f"exercise{index}", "exec"), namespace)
        for grade_id in given:
            exec(compile(cells[grade_id].source, grade_id, "exec"), namespace)
        if answer is not None:
            exec(compile(answer, "answer", "exec"), namespace)
        exec(compile(cells[test_id].source, test_id, "exec"), namespace)

    return run
