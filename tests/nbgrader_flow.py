"""The real nbgrader workflow, reusable for every notebook: generate, autograde right and wrong submissions, feedback.

A notebook's flow test (``tests/test_nbgrader_NN.py``) describes its grading contract in a :class:`FlowSpec`,
creates the module's ``graded`` fixture with :func:`graded_course_fixture` and star-imports the standard tests
below. They check that the reference gets full marks (twice, identically), other correct implementations get
full marks, the untouched release gets zero without crashing, every typical mistake loses the points of its own
exercise's test cell and *nowhere else*, and feedback names the mistake without showing hidden tests.
"""
from __future__ import annotations

import html
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course_helpers import REPO, nbgrader, reference_answers, submission
from gancourse.release import secret_lines

__all__ = [
    "FlowSpec", "Mistake", "graded_course_fixture", "pytest_generate_tests",
    "test_submissions_are_built_to_show_that_mistakes_stay_in_their_cell",
    "test_reference_solution_gets_full_marks", "test_other_correct_implementations_get_full_marks",
    "test_untouched_release_scores_zero_without_crashing", "test_grading_is_repeatable",
    "test_common_mistake_loses_its_points", "test_each_mistake_costs_points_only_in_its_own_cell",
    "test_feedback_never_shows_hidden_test_code", "test_feedback_tracebacks_quote_only_code_the_student_sees",
    "test_feedback_names_the_mistakes",
]


# Seconds per submission of each flow's real `nbgrader autograde` run, reported at the end of the test session.
AUTOGRADE_TIMES: dict[str, tuple[float, int]] = {}


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: the solution cell it replaces, its code, and the test cells that must fail."""

    cell: str
    code: str
    loses: tuple[str, ...]


@dataclass
class FlowSpec:
    """The grading contract of one notebook, as the flow test checks it.

    ``calls`` maps a solution cell to the solution cells whose functions it uses (``train_step`` calls
    ``sample_noise``...): a submission with a mistake in a called cell keeps the caller correct, so that
    its scores show the mistake does not spread to the caller's test.
    """

    assignment: str
    notebook: str
    mistakes: dict[str, Mistake]
    wrong_submissions: dict[str, list[str]]
    alternatives: dict[str, str]
    feedback_phrases: dict[str, list[str]]
    calls: dict[str, list[str]] = field(default_factory=dict)

    @property
    def source(self) -> Path:
        return REPO / "solutions" / self.assignment / f"{self.notebook}.ipynb"

    @property
    def autograded(self) -> list[str]:
        """grade_ids of the autograded test cells."""
        cells = nbformat.read(self.source, as_version=4).cells
        return [c.metadata.nbgrader["grade_id"] for c in cells
                if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]

    def failing_cells(self, student: str) -> set[str]:
        """The test cells that must lose their points in a wrong submission."""
        return {cell for name in self.wrong_submissions[student] for cell in self.mistakes[name].loses}


@dataclass
class GradedCourse:
    spec: FlowSpec
    path: Path
    seconds_per_submission: float

    def scores(self, student: str) -> dict[str, float]:
        """Autograded score of every test cell of one student's submission."""
        with Gradebook(f"sqlite:///{self.path / 'gradebook.db'}") as gradebook:
            nb = gradebook.find_submission_notebook(self.spec.notebook, self.spec.assignment, student)
            return {g.name: g.score for g in nb.grades if g.name in self.spec.autograded}

    def max_scores(self) -> dict[str, float]:
        with Gradebook(f"sqlite:///{self.path / 'gradebook.db'}") as gradebook:
            nb = gradebook.find_notebook(self.spec.notebook, self.spec.assignment)
            return {c.name: c.max_score for c in nb.grade_cells if c.name in self.spec.autograded}

    def feedback(self, student: str) -> str:
        """The text a student reads in their feedback page (tags, styles and scripts removed)."""
        page = (self.path / "feedback" / student / self.spec.assignment / f"{self.spec.notebook}.html").read_text()
        page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.DOTALL)
        return html.unescape(re.sub(r"<[^>]+>", "", page))

    def submitted_source(self, student: str) -> str:
        """All the code and text of the notebook the student submitted (the release plus their answers)."""
        path = self.path / "submitted" / student / self.spec.assignment / f"{self.spec.notebook}.ipynb"
        return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)


def _submit(course: Path, spec: FlowSpec, student: str, nb: nbformat.NotebookNode) -> None:
    folder = course / "submitted" / student / spec.assignment
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{spec.notebook}.ipynb")
    (folder / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")


def graded_course_fixture(spec: FlowSpec):
    """A module-scoped fixture: a scratch course with every submission of `spec` autograded, feedback generated."""

    @pytest.fixture(scope="module")
    def graded(tmp_path_factory, mnist_root) -> GradedCourse:
        course = tmp_path_factory.mktemp(spec.assignment)
        shutil.copy2(REPO / "nbgrader_config.py", course)
        shutil.copytree(REPO / "solutions" / spec.assignment, course / "solutions" / spec.assignment)
        env = {"GANCOURSE_DATA": str(mnist_root)}
        nbgrader(course, "generate_assignment", spec.assignment, env=env)
        release = course / "notebooks" / spec.assignment / f"{spec.notebook}.ipynb"
        reference = reference_answers(spec.source)
        students = {
            "reference": submission(reference, release),
            "reference_again": submission(reference, release),
            "untouched": nbformat.read(release, as_version=4),
            "alternatives": submission({**reference, **spec.alternatives}, release),
        }
        for student, names in spec.wrong_submissions.items():
            students[student] = submission({**reference, **{spec.mistakes[m].cell: spec.mistakes[m].code
                                                            for m in names}}, release)
        for student, nb in students.items():
            _submit(course, spec, student, nb)
        started = time.perf_counter()
        nbgrader(course, "autograde", spec.assignment, env=env)
        seconds = (time.perf_counter() - started) / len(students)
        AUTOGRADE_TIMES[spec.assignment] = (seconds, len(students))
        nbgrader(course, "generate_feedback", spec.assignment, env=env)
        return GradedCourse(spec, course, seconds)

    return graded


def pytest_generate_tests(metafunc) -> None:
    """Parametrize the standard tests over the module's SPEC: one test per mistake, one per wrong submission."""
    spec = getattr(metafunc.module, "SPEC", None)
    if spec is None:
        return
    if "mistake" in metafunc.fixturenames:
        metafunc.parametrize("mistake", sorted(spec.mistakes))
    if "student" in metafunc.fixturenames:
        metafunc.parametrize("student", sorted(spec.wrong_submissions))


# --- the standard tests ----------------------------------------------------------------------------------------

def test_submissions_are_built_to_show_that_mistakes_stay_in_their_cell(request):
    spec: FlowSpec = request.module.SPEC
    used = [m for names in spec.wrong_submissions.values() for m in names]
    assert sorted(used) == sorted(spec.mistakes), "every mistake is in exactly one wrong submission"
    for student, names in spec.wrong_submissions.items():
        cells = [spec.mistakes[m].cell for m in names]
        assert len(cells) == len(set(cells)), f"{student} has two mistakes in one cell"
        for name in names:
            callers = [caller for caller, callees in spec.calls.items() if spec.mistakes[name].cell in callees]
            assert not set(callers) & set(cells), (
                f"{student}: {name} is in a cell that {callers} call, so those must be correct in this submission "
                "for its scores to show that the mistake stays in its own cell")


def test_reference_solution_gets_full_marks(graded):
    assert graded.scores("reference") == graded.max_scores()


def test_other_correct_implementations_get_full_marks(graded):
    assert graded.scores("alternatives") == graded.max_scores()


def test_untouched_release_scores_zero_without_crashing(graded):
    assert graded.scores("untouched") == {name: 0.0 for name in graded.spec.autograded}


def test_grading_is_repeatable(graded):
    assert graded.scores("reference_again") == graded.scores("reference")


def test_common_mistake_loses_its_points(graded, mistake):
    spec = graded.spec
    student = next(s for s, names in spec.wrong_submissions.items() if mistake in names)
    earned = graded.scores(student)
    assert all(earned[cell] == 0.0 for cell in spec.mistakes[mistake].loses), (mistake, earned)


def test_each_mistake_costs_points_only_in_its_own_cell(graded, student):
    failing = graded.spec.failing_cells(student)
    expected = {name: 0.0 if name in failing else points for name, points in graded.max_scores().items()}
    assert graded.scores(student) == expected


def _students(spec: FlowSpec) -> list[str]:
    return ["reference", "untouched", "alternatives", *spec.wrong_submissions]


def test_feedback_never_shows_hidden_test_code(graded):
    hidden = secret_lines(graded.spec.source, kinds=("HIDDEN TESTS",))
    for student in _students(graded.spec):
        text, visible = graded.feedback(student), graded.submitted_source(student)
        shown = hidden & {line.strip() for line in text.splitlines()}
        shown |= {line for line in hidden if len(line) >= 12 and line in text and line not in visible}
        assert not shown, f"{student}'s feedback shows hidden test code: {sorted(shown)[:3]}"


_QUOTED_LINE = re.compile(r"^(?:-+>|\s+)\s*\d+\s(.*\S)\s*$")


def notebook_lines_quoted_in_tracebacks(text: str) -> list[str]:
    """The code lines that tracebacks in `text` quote from notebook cells ("Cell In[...]" frames, not library files)."""
    quoted, in_cell = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Cell In["):
            in_cell = True
        elif stripped.startswith("File ") or stripped.startswith("Traceback"):
            in_cell = False
        elif in_cell and (match := _QUOTED_LINE.match(line)):
            quoted.append(match.group(1).strip())
    return quoted


def test_feedback_tracebacks_quote_only_code_the_student_sees(graded):
    """A traceback through the student's own visible code is legitimate feedback; a hidden test line is not.

    (A wrong submission's training cell may crash, on a GPU for example, with a traceback of its own code.)
    Test cells show only the failing check's message: ShortenTestTracebacks cuts their tracebacks.
    """
    for student in _students(graded.spec):
        text, visible = graded.feedback(student), graded.submitted_source(student)
        unseen = [line for line in notebook_lines_quoted_in_tracebacks(text) if line not in visible]
        assert not unseen, f"{student}'s feedback quotes code the student never saw: {unseen[:3]}"


def test_feedback_names_the_mistakes(graded):
    for student, phrases in graded.spec.feedback_phrases.items():
        text = graded.feedback(student)
        missing = [phrase for phrase in phrases if phrase not in text]
        assert not missing, f"{student}'s feedback does not say {missing}"
