"""Autograde one submission per typical mistake (exactly one mistake each) and print what each one costs, per cell.

    GANCOURSE_DATA=../shared/data python tests/confinement_table.py test_nbgrader_01 [mistake ...]

The flow tests check the same rule with submissions that combine mistakes; this table is the one-at-a-time
view an instructor reads: every mistake should lose points in its own exercise's test cell and nowhere else.
"""
from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from course_helpers import REPO, nbgrader, reference_answers, submission


def main(module_name: str, names: list[str]) -> None:
    """Print a markdown table: each mistake, the points it loses, and the test cells that lose them."""
    spec = importlib.import_module(module_name).SPEC
    names = names or sorted(spec.mistakes)
    with tempfile.TemporaryDirectory(prefix="confinement-") as tmp:
        course = Path(tmp)
        shutil.copy2(REPO / "nbgrader_config.py", course)
        shutil.copytree(REPO / "solutions" / spec.assignment, course / "solutions" / spec.assignment)
        nbgrader(course, "generate_assignment", spec.assignment)
        release = course / "notebooks" / spec.assignment / f"{spec.notebook}.ipynb"
        reference = reference_answers(spec.source)
        for name in names:
            mistake = spec.mistakes[name]
            folder = course / "submitted" / name / spec.assignment
            folder.mkdir(parents=True)
            nbformat.write(submission({**reference, mistake.cell: mistake.code}, release), folder / release.name)
            (folder / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
        started = time.perf_counter()
        nbgrader(course, "autograde", spec.assignment)
        print(f"autograde: {(time.perf_counter() - started) / len(names):.1f} s per submission\n")
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            cells = gradebook.find_notebook(spec.notebook, spec.assignment).grade_cells
            full = {c.name: c.max_score for c in cells if c.name in spec.autograded}
            print("| mistake (only this one) | points lost | cells that lost them |\n|---|---|---|")
            for name in names:
                graded = gradebook.find_submission_notebook(spec.notebook, spec.assignment, name)
                lost = {g.name: full[g.name] - g.score for g in graded.grades if g.name in full and g.score < full[g.name]}
                print(f"| {name} (in {spec.mistakes[name].cell}) | {sum(lost.values()):g} of {sum(full.values()):g} "
                      f"| {', '.join(lost) or 'none'} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
