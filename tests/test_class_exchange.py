"""A class through nbgrader's real exchange, for notebook 01: release, fetch, submit, collect, grade, feedback.

One instructor course folder and one exchange directory in a scratch folder; three students, each with a HOME, a
``~/.jupyter/nbgrader_config.py`` and a working folder of their own, run the student commands there:

- alice submits twice, first with a mistake, then the reference answers: the second one must be the one graded;
- bob submits the reference answers with one typical mistake, after the due date: he is late, alice is not;
- carol fetches the assignment and never submits: no submission, no grade, no feedback.

All students are the same Unix account here, so each student's config names its ``CourseDirectory.student_id``
(on a shared machine nbgrader takes the login name) and ``collect`` runs with
``--ExchangeCollect.check_owner=False`` (it would otherwise warn that a submission is "owned by root; cheating
attempt?"; the warning's own advice, ``CollectApp.check_owner``, is an outdated name that only adds a warning).
One ``autograde`` call grades the class. The commands are the ones ``running_a_class.md`` documents.
"""
from __future__ import annotations

import datetime
import html
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook, MissingEntry

from course_helpers import REPO, graded_points, reference_answers, submission
from gancourse.release import secret_lines
from nbgrader_flow import notebook_lines_quoted_in_tracebacks
from test_nbgrader_01 import MISTAKES

pytestmark = pytest.mark.slow

COURSE_ID = "gancourse"  # the repository's nbgrader_config.py sets it
ASSIGNMENT = "01_vanilla_gan"
NOTEBOOK = "vanilla_gan"
SOURCE = REPO / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
STUDENTS = ("alice", "bob", "carol")
FIRST_TRY = MISTAKES["uniform_noise"]  # alice's first submission; her second is the reference
BOBS_MISTAKE = MISTAKES["saturating"]  # bob's late submission: the saturating generator loss
# Variables that would point nbgrader at another user's Jupyter config or data (the submit cache) instead of HOME's.
_USER_DIRS = ("JUPYTER_CONFIG_DIR", "JUPYTER_CONFIG_PATH", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
              "JUPYTER_PLATFORM_DIRS", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR")


@dataclass
class Person:
    """Someone who runs nbgrader commands: their HOME and the folder they work in."""

    name: str
    home: Path
    folder: Path
    data: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`nbgrader ARGS` in this person's folder, as them (their HOME, hence their config and submit cache)."""
        env = {k: v for k, v in os.environ.items()
               if k not in _USER_DIRS and k not in ("GANCOURSE_FAST", "NBGRADER_EXECUTION")}
        env.update(HOME=str(self.home), GANCOURSE_DATA=str(self.data))
        result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=self.folder, env=env,
                                capture_output=True, text=True)
        if check:
            assert result.returncode == 0, (
                f"{self.name}: nbgrader {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result


@dataclass
class Class:
    course: Path
    exchange: Path
    students: dict[str, Person]
    submitted_at: dict[str, list[str]]  # each student's submission timestamps, as `submit` logged them
    duedate: str
    logs: dict[str, object]  # the output (stderr, or the whole result) of a few commands, by name

    def gradebook(self) -> Gradebook:
        return Gradebook(f"sqlite:///{self.course / 'gradebook.db'}")

    def scores(self, student: str) -> dict[str, float]:
        """The gradebook's score of every autograded test cell of a student's notebook."""
        with self.gradebook() as gb:
            nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
            return {g.name: g.score for g in nb.grades if g.name in TEST_POINTS}

    def notebook_score(self, student: str) -> tuple[float, float]:
        with self.gradebook() as gb:
            nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
            return nb.score, nb.max_score

    def fetched_feedback(self, student: str) -> list[Path]:
        """The feedback pages `fetch_feedback` put into a student's working folder."""
        return sorted((self.students[student].folder / ASSIGNMENT / "feedback").glob(f"*/{NOTEBOOK}.html"))


TEST_POINTS, _ = graded_points(SOURCE)


def _timestamp(output: str) -> str:
    """The submission time that `nbgrader submit` logs ("Submitted as: COURSE ASSIGNMENT TIMESTAMP")."""
    match = re.search(rf"Submitted as: {COURSE_ID} {ASSIGNMENT} (.+ UTC)", output)
    assert match, f"nbgrader submit did not log its timestamp:\n{output}"
    return match.group(1)


def _fill(person: Person, answers: dict[str, str]) -> None:
    """The student edits the notebook they fetched: their answers in its solution cells, saved in place."""
    path = person.folder / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    nbformat.write(submission(answers, path), path)


@pytest.fixture(scope="module")
def klass(tmp_path_factory, mnist_root) -> Class:
    root = tmp_path_factory.mktemp("class")
    exchange = root / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)  # like `chmod ugo+rw` in nbgrader's docs: every user creates folders in it

    course = root / "instructor" / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    config = (REPO / "nbgrader_config.py").read_text()
    (course / "nbgrader_config.py").write_text(config + f"\nc.Exchange.root = {str(exchange)!r}\n")
    instructor = Person("instructor", root / "instructor" / "home", course, mnist_root)
    instructor.home.mkdir()

    students = {}
    for name in STUDENTS:
        home = root / name
        (home / ".jupyter").mkdir(parents=True)
        (home / ".jupyter" / "nbgrader_config.py").write_text(
            "c = get_config()\n"
            f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
            f"c.Exchange.root = {str(exchange)!r}\n"
            f"c.CourseDirectory.student_id = {name!r}  # the login name on a real machine\n")
        (home / "work").mkdir()
        students[name] = Person(name, home, home / "work", mnist_root)
    logs: dict[str, object] = {}

    instructor.run("generate_assignment", ASSIGNMENT)
    instructor.run("release_assignment", ASSIGNMENT)
    for person in students.values():
        logs[f"list {person.name}"] = person.run("list").stderr
        person.run("fetch_assignment", ASSIGNMENT)

    reference = reference_answers(SOURCE)
    alice, bob = students["alice"], students["bob"]
    submitted_at: dict[str, list[str]] = {}
    _fill(alice, {**reference, FIRST_TRY.cell: FIRST_TRY.code})
    submitted_at["alice"] = [_timestamp(alice.run("submit", ASSIGNMENT).stderr)]
    _fill(alice, reference)
    submitted_at["alice"].append(_timestamp(alice.run("submit", ASSIGNMENT).stderr))
    logs["wrong course"] = alice.run("submit", ASSIGNMENT, "--course=another_course", check=False)

    # The due date passes now: after alice's submissions, before bob's.
    duedate = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    instructor.run("db", "assignment", "add", ASSIGNMENT, f"--duedate={duedate}")
    _fill(bob, {**reference, BOBS_MISTAKE.cell: BOBS_MISTAKE.code})
    submitted_at["bob"] = [_timestamp(bob.run("submit", ASSIGNMENT).stderr)]

    logs["list --inbound"] = instructor.run("list", "--inbound").stderr
    logs["collect"] = instructor.run("collect", ASSIGNMENT, "--ExchangeCollect.check_owner=False").stderr
    instructor.run("autograde", ASSIGNMENT)
    instructor.run("generate_feedback", ASSIGNMENT)
    instructor.run("release_feedback", ASSIGNMENT)
    for person in students.values():
        logs[f"fetch_feedback {person.name}"] = person.run("fetch_feedback", ASSIGNMENT).stderr
    return Class(course, exchange, students, submitted_at, duedate, logs)


def test_fetch_puts_the_release_in_the_students_folder(klass):
    release = nbformat.read(klass.course / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    for name, person in klass.students.items():
        assert f"{COURSE_ID} {ASSIGNMENT}" in klass.logs[f"list {name}"], (
            f"`nbgrader list` does not show the released assignment to {name}:\n{klass.logs[f'list {name}']}")
        fetched = person.folder / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        assert fetched.is_file(), f"fetch_assignment did not put {ASSIGNMENT}/{NOTEBOOK}.ipynb in {name}'s folder: " \
                                  f"{sorted(p.relative_to(person.folder) for p in person.folder.rglob('*'))}"
    untouched = klass.students["carol"].folder / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert nbformat.read(untouched, as_version=4).cells == release.cells, \
        "carol's fetched notebook differs from the instructor's release"


def test_exchange_lets_students_drop_submissions_but_not_list_them(klass):
    inbound, outbound = klass.exchange / COURSE_ID / "inbound", klass.exchange / COURSE_ID / "outbound"
    assert stat.S_IMODE(inbound.stat().st_mode) & 0o777 == 0o733, (
        f"inbound should be rwx-wx-wx (students write, only the instructor lists), is {oct(inbound.stat().st_mode)}")
    assert stat.S_IMODE(outbound.stat().st_mode) & 0o777 == 0o755, (
        f"outbound should be rwxr-xr-x (everyone reads), is {oct(outbound.stat().st_mode)}")
    names = sorted(p.name.split("+")[0] for p in inbound.iterdir())
    assert names == ["alice", "alice", "bob"], f"the exchange's inbound holds {names}, not alice twice and bob once"


def test_submit_needs_the_course_id_of_the_release(klass):
    result = klass.logs["wrong course"]
    assert result.returncode != 0, f"submit to an unknown course id succeeded:\n{result.stderr}"
    assert "another_course/inbound" in result.stderr, f"submit to an unknown course id says:\n{result.stderr}"


def test_the_instructor_sees_every_submission_and_collects_the_latest(klass):
    listed = klass.logs["list --inbound"]
    for student, stamps in klass.submitted_at.items():
        for stamp in stamps:
            assert f"{COURSE_ID} {student} {ASSIGNMENT} {stamp}" in listed, (
                f"`nbgrader list --inbound` does not show {student}'s submission of {stamp}:\n{listed}")
    collected = klass.logs["collect"]
    assert "cheating attempt" not in collected and "Outdated config" not in collected, (
        f"collect warns although its owner check is off:\n{collected}")
    assert "Processing 2 submissions" in collected, f"collect should process one submission per student:\n{collected}"
    submitted = klass.course / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == ["alice", "bob"], (
        f"collect should fetch alice's and bob's submissions only, got {sorted(p.name for p in submitted.iterdir())}")
    for student, stamps in klass.submitted_at.items():
        kept = (submitted / student / ASSIGNMENT / "timestamp.txt").read_text()
        assert kept == stamps[-1], f"collect kept {student}'s submission of {kept}, not the latest ({stamps[-1]})"


def test_the_second_submission_is_the_one_graded(klass):
    for folder in ("submitted", "autograded"):
        source = "\n".join(c.source for c in nbformat.read(
            klass.course / folder / "alice" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4).cells)
        assert FIRST_TRY.code.strip() not in source, f"{folder}/alice holds her first, wrong submission"
        assert reference_answers(SOURCE)[FIRST_TRY.cell].strip() in source, (
            f"{folder}/alice does not hold her second submission's {FIRST_TRY.cell}")
    assert klass.scores("alice") == {k: float(v) for k, v in TEST_POINTS.items()}, (
        f"alice's second submission (the reference) should get full marks, got {klass.scores('alice')}")


def test_a_mistake_costs_the_points_of_its_test_cell_only(klass):
    expected = {k: 0.0 if k in BOBS_MISTAKE.loses else float(v) for k, v in TEST_POINTS.items()}
    assert klass.scores("bob") == expected, f"bob's saturating loss should lose {BOBS_MISTAKE.loses} only: " \
                                            f"got {klass.scores('bob')}, expected {expected}"


def test_only_the_submission_after_the_due_date_is_late(klass):
    with klass.gradebook() as gb:
        late = {s: gb.find_submission(ASSIGNMENT, s).total_seconds_late for s in ("alice", "bob")}
        duedate = gb.find_assignment(ASSIGNMENT).duedate
    assert duedate is not None and duedate.strftime("%Y-%m-%d %H:%M:%S.%f UTC") == klass.duedate, (
        f"the gradebook's due date is {duedate}, not the one set ({klass.duedate})")
    assert late["alice"] == 0, f"alice submitted before the due date but is {late['alice']} s late"
    assert late["bob"] > 0, f"bob submitted after the due date ({klass.duedate}) but is not late: {late['bob']}"


def test_a_student_who_never_submits_has_no_submission_and_no_feedback(klass):
    with klass.gradebook() as gb:
        try:
            gb.find_submission(ASSIGNMENT, "carol")
        except MissingEntry:
            pass
        else:
            pytest.fail("the gradebook has a submission of carol's, who never submitted")
    for folder in ("submitted", "autograded", "feedback"):
        assert not (klass.course / folder / "carol").exists(), f"the instructor's {folder}/ has a folder for carol"
    assert not (klass.students["carol"].folder / ASSIGNMENT / "feedback").exists(), (
        f"fetch_feedback gave carol feedback:\n{klass.logs['fetch_feedback carol']}")


def _page_text(path: Path) -> str:
    """What a student reads in a feedback page (tags, styles and scripts removed)."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", path.read_text(), flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_students_fetch_their_own_feedback(klass):
    for student, stamps in klass.submitted_at.items():
        pages = klass.fetched_feedback(student)
        assert [p.parent.name for p in pages] == [stamps[-1]], (
            f"{student} should fetch one feedback page, for the submission of {stamps[-1]}, got {pages}:\n"
            + klass.logs[f"fetch_feedback {student}"])
        instructor_copy = klass.course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html"
        assert pages[0].read_bytes() == instructor_copy.read_bytes(), (
            f"{student}'s fetched feedback is not the page generated for {student}")
        score, max_score = klass.notebook_score(student)
        header = f"{NOTEBOOK} (Score: {round(float(score), 2)} / {round(float(max_score), 2)})"
        assert header in _page_text(pages[0]), f"{student}'s feedback does not show their score {header!r}"
    lost = BOBS_MISTAKE.loses[0]
    line = f'href="#{lost}">Test cell</a> (Score: 0.0 / {float(TEST_POINTS[lost])})'
    assert line in klass.fetched_feedback("bob")[0].read_text(), f"bob's feedback does not show {line!r}"


def test_fetched_feedback_shows_no_hidden_test_code(klass):
    hidden = secret_lines(SOURCE, kinds=("HIDDEN TESTS",))
    assert hidden, f"{SOURCE.name} has no hidden tests to look for"
    for student in klass.submitted_at:
        text = _page_text(klass.fetched_feedback(student)[0])
        visible = "\n".join(c.source for c in nbformat.read(
            klass.course / "submitted" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4).cells)
        shown = hidden & {line.strip() for line in text.splitlines()}
        shown |= {line for line in hidden if len(line) >= 12 and line in text and line not in visible}
        assert not shown, f"{student}'s fetched feedback shows hidden test code: {sorted(shown)[:3]}"
        unseen = [line for line in notebook_lines_quoted_in_tracebacks(text) if line not in visible]
        assert not unseen, f"{student}'s feedback quotes code the student never saw: {unseen[:3]}"
