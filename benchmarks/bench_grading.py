"""Benchmark parallel autograding: a class of notebook-01 submissions graded by nbgrader and by gancourse.grade.

    python benchmarks/bench_grading.py                  # 16 submissions: nbgrader autograde, then --jobs 2
    python benchmarks/bench_grading.py --jobs 1 2       # also one worker, to see the per-submission overhead

The class is built from the notebook's reference answers and the typical mistakes of its nbgrader flow test
(tests/test_nbgrader_01.py), in a scratch copy of the course for each grader, with MNIST from GANCOURSE_DATA.
It prints each grader's wall time, seconds per submission, the speed-up over nbgrader (a ratio within one run)
and whether every student got the same score in every cell.
"""
from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from course_helpers import reference_answers, submission  # noqa: E402
from test_nbgrader_01 import SPEC  # noqa: E402


def build_class(course: Path, size: int) -> list[str]:
    """A scratch course with notebook 01 generated and `size` submissions: reference, alternatives, mistakes."""
    course.mkdir(parents=True)
    shutil.copy2(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / SPEC.assignment, course / "solutions" / SPEC.assignment)
    run(course, "nbgrader", "generate_assignment", SPEC.assignment)
    release = course / "notebooks" / SPEC.assignment / f"{SPEC.notebook}.ipynb"
    reference = reference_answers(SPEC.source)
    variants = [reference, {**reference, **SPEC.alternatives}] + [
        {**reference, **{SPEC.mistakes[m].cell: SPEC.mistakes[m].code for m in names}}
        for names in SPEC.wrong_submissions.values()]
    students = [f"student{i:02d}" for i in range(size)]
    for student, answers in zip(students, itertools.cycle(variants)):
        folder = course / "submitted" / student / SPEC.assignment
        folder.mkdir(parents=True)
        nbformat.write(submission(answers, release), folder / f"{SPEC.notebook}.ipynb")
        (folder / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
    return students


def run(course: Path, *command: str) -> float:
    """Run a command in the course folder; its wall time in seconds (nbgrader's exit 1 for failures is an error)."""
    program = [sys.executable, "-m", *command]
    if command[0] == "nbgrader":
        program.append(f"--CourseDirectory.root={course}")
    started = time.perf_counter()
    result = subprocess.run(program, cwd=course, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def scores(course: Path) -> dict[str, dict[str, float]]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {s.student_id: {g.name: g.auto_score for g in s.notebooks[0].grades}
                for s in gradebook.assignment_submissions(SPEC.assignment)}


def _spin(seconds: float) -> int:
    """Pure-Python work for about `seconds` on one core: the number of loop turns it managed."""
    turns, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        turns += 1
    return turns


def cpu_ceiling(rounds: int = 3) -> float:
    """How much more CPU work 2 processes get done than 1 in the same time on this machine (2.0 on 2 real cores)."""
    ratios = []
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for _ in range(rounds):
            alone = pool.apply(_spin, (2.0,))
            together = sum(pool.map(_spin, [2.0, 2.0]))
            ratios.append(together / alone)
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=16)
    parser.add_argument("--jobs", type=int, nargs="+", default=[2], help="gancourse.grade --jobs values to time")
    args = parser.parse_args()
    if "GANCOURSE_DATA" not in os.environ:
        print("GANCOURSE_DATA is not set: MNIST must be in data/ (or set it to the dataset root)")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        template = Path(scratch) / "template"
        students = build_class(template, args.submissions)
        print(f"{len(students)} submissions of {SPEC.assignment}, {os.cpu_count()} cores; two CPU-bound processes do "
              f"{cpu_ceiling():.2f}x the work of one here (the ceiling of any speed-up with 2 jobs)")
        serial = Path(scratch) / "nbgrader"
        shutil.copytree(template, serial)
        baseline = run(serial, "nbgrader", "autograde", SPEC.assignment)
        print(f"nbgrader autograde          {baseline:7.1f} s  {baseline / len(students):5.1f} s per submission")
        for jobs in args.jobs:
            course = Path(scratch) / f"jobs{jobs}"
            shutil.copytree(template, course)
            seconds = run(course, "gancourse.grade", SPEC.assignment, "--jobs", str(jobs))
            same = scores(course) == scores(serial)
            print(f"gancourse.grade --jobs {jobs:<4} {seconds:7.1f} s  {seconds / len(students):5.1f} s per submission"
                  f"  speed-up {baseline / seconds:.2f}x  same scores in every cell: {same}")
            if not same:
                print(f"  nbgrader: {scores(serial)}\n  gancourse.grade: {scores(course)}")


if __name__ == "__main__":
    main()
