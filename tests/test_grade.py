"""gancourse.grade: parallel autograding gives what nbgrader gives; a faulty submission costs only its own grade."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from nbgrader.api import Gradebook

import toy_class as toy
from gancourse import grade as grade_module
from course_helpers import nbgrader
from gancourse.coursedir import Course
from gancourse.grade import Job, Outcome, _uses_more_than, fingerprint, grade, grade_in_scratch, main, merge

FULL = {"test_square": 2.0, "test_mean": 1.0}
UNGRADED = {"test_square": None, "test_mean": None}

# A submission for every fault the grader must contain, and what the class ledger must say about it.
FAULTS = {
    "invalid_json": (dict(raw="{not json"), "not a readable notebook (NotJSONError"),
    "kills_kernel": (dict(cells=toy.answers(square="import os\nos._exit(1)\n")), "the kernel died"),
    "endless_loop": (dict(cells=toy.answers(square="while True:\n    pass\n")), "ran past the time limit of 12 s"),
    "fills_memory": (dict(cells=toy.answers(
        square="hog = []\nfor _ in range(80):\n    hog.append(bytearray(100 * 2**20))\n")), "more than 1.0 GiB"),
}
# Odd but harmless submissions: graded as usual, and the course's own files stay intact.
HARMLESS = {
    "writes_stderr": toy.answers(square="import sys\nprint('debug', file=sys.stderr)\n"
                                        "def square(x):\n    return x * x\n"),
    "deletes_files": toy.answers(square="import os\nfor name in os.listdir('.'):\n    os.remove(name)\n"
                                        "def square(x):\n    return x * x\n"),
}


def scores(course: Path, student: str) -> dict[str, float | None]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(toy.NOTEBOOK, toy.ASSIGNMENT, student)
        return {g.name: g.auto_score for g in notebook.grades}


def gradebook_state(course: Path) -> dict:
    """Everything autograde writes, per student: timestamps, lateness, every grade and comment."""
    state = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(toy.ASSIGNMENT):
            notebook = submission.notebooks[0]
            state[submission.student_id] = {
                "timestamp": submission.timestamp, "seconds_late": submission.total_seconds_late,
                "penalty": notebook.late_submission_penalty, "score": submission.score,
                "grades": sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade) for g in notebook.grades),
                "comments": sorted((c.name, c.auto_comment) for c in notebook.comments)}
    return state


def autograded_files(course: Path) -> set[str]:
    return {p.relative_to(course).as_posix() for p in (course / "autograded").rglob("*") if p.is_file()}


def leftovers(course: Path) -> list[str]:
    """Staging folders or partial files a merge would leave behind if it were not atomic."""
    return [p.name for p in course.rglob("*") if ".merging-" in p.name or p.name.endswith(".partial")]


# --- fast checks ----------------------------------------------------------------------------------------------------

def test_fingerprint_changes_with_any_file_and_only_then():
    files = {"squares.ipynb": b"{}", "timestamp.txt": b"2026-01-01"}
    assert fingerprint(files) == fingerprint(dict(reversed(files.items()))), "file order must not matter"
    assert fingerprint(files) != fingerprint({**files, "timestamp.txt": b"2026-01-02"}), "a resubmission changes it"
    assert fingerprint(files) != fingerprint({**files, "extra.py": b""}), "an added file changes it"


@pytest.fixture(scope="module")
def toy_course(tmp_path_factory) -> Path:
    """The toy course generated once; tests grade copies of it."""
    return toy.make_course(tmp_path_factory.mktemp("toy") / "course")


def fresh_class(toy_course: Path, tmp_path: Path, **students: dict | None) -> Path:
    """A copy of the toy course with the given submissions (None: the reference answers)."""
    course = toy.copy_course(toy_course, tmp_path / "course")
    for student, submission in students.items():
        toy.submit(course, student, **(submission or {}))
    return course


@pytest.mark.slow
def test_bad_requests_get_clear_errors(toy_course, tmp_path):
    course = toy.copy_course(toy_course, tmp_path / "course")
    with pytest.raises(ValueError, match="run nbgrader collect toy first"):
        grade(course, toy.ASSIGNMENT, progress=False)
    toy.submit(course, "alice")
    with pytest.raises(ValueError, match="'week9' is not in the gradebook: run nbgrader generate_assignment week9"):
        grade(course, "week9", progress=False)
    with pytest.raises(ValueError, match=r"no submission of 'toy' from \['zoe'\]"):
        grade(course, toy.ASSIGNMENT, students=["zoe"], progress=False)
    with pytest.raises(ValueError, match="--jobs must be at least 1"):
        grade(course, toy.ASSIGNMENT, jobs=-1, progress=False)


def test_the_command_says_what_is_wrong_without_a_traceback(toy_course, tmp_path, capsys):
    course = toy.copy_course(toy_course, tmp_path / "course")
    assert main(["week9", "--course", str(course)]) == 2
    assert main([toy.ASSIGNMENT, "--course", str(tmp_path / "nowhere")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors == ["error: 'week9' is not in the gradebook: run nbgrader generate_assignment week9",
                      f"error: no nbgrader_config.py in {tmp_path / 'nowhere'}: run this from the course folder or "
                      "pass --course"], errors


@pytest.mark.slow
def test_a_broken_worker_costs_its_student_only_and_changes_nothing(toy_course, tmp_path):
    course = fresh_class(toy_course, tmp_path, alice=None)
    before = gradebook_state(course)
    merge(Course.load(course), toy.ASSIGNMENT, Outcome("alice", "failed", "the grading worker failed: OSError", 0.1))
    assert gradebook_state(course) == before and autograded_files(course) == set(), (
        "an outcome without a gradebook (the worker broke before nbgrader ran) must leave the course as it was")


# --- real nbgrader runs -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_parallel_grading_gives_exactly_what_nbgrader_autograde_gives(toy_course, tmp_path):
    late = "2026-01-03 12:00:00.000000 UTC"
    course = fresh_class(toy_course, tmp_path / "a", alice=None, bob=dict(cells=toy.answers("addition")),
                         carol=dict(cells=toy.answers("addition", "empty_mean")), dave=dict(raw="{not json"),
                         erin=dict(cells=toy.answers(), timestamp=late),
                         untouched=dict(cells={}))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.update_or_create_assignment(toy.ASSIGNMENT, duedate="2026-01-02 00:00:00 UTC")
    serial = toy.copy_course(course, tmp_path / "serial")
    result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", toy.ASSIGNMENT,
                             f"--CourseDirectory.root={serial}"], cwd=serial, capture_output=True, text=True)
    assert result.returncode == 1 and "Notebook does not appear to be JSON" in result.stderr, result.stderr[-2000:]

    outcomes = grade(course, toy.ASSIGNMENT, jobs=2, progress=False)

    assert {s: o.status for s, o in outcomes.items()} == {
        "alice": "graded", "bob": "graded", "carol": "graded", "dave": "failed", "erin": "graded",
        "untouched": "graded"}, {s: o.reason for s, o in outcomes.items()}
    ours, theirs = gradebook_state(course), gradebook_state(serial)
    assert ours == theirs, f"gradebooks differ:\n ours   {ours}\n nbgrader {theirs}"
    assert ours["erin"]["seconds_late"] > 0 and ours["alice"]["seconds_late"] == 0, "the late flag must survive"
    assert autograded_files(course) == autograded_files(serial), "autograded/ must hold the same files"
    assert leftovers(course) == [], f"a merge left {leftovers(course)}"
    nbgrader(course, "generate_feedback", toy.ASSIGNMENT)
    assert (course / "feedback" / "bob" / toy.ASSIGNMENT / f"{toy.NOTEBOOK}.html").is_file(), "feedback must work after"


@pytest.mark.slow
def test_the_formgrader_reads_the_merged_gradebook(toy_course, tmp_path):
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    course = fresh_class(toy_course, tmp_path, alice=None, bob=dict(cells=toy.answers("addition")))
    grade(course, toy.ASSIGNMENT, jobs=2, progress=False)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    api = NbGraderAPI(CourseDirectory(config=config, root=str(course)), config=config)
    rows = {row["student"]: row for row in api.get_submissions(toy.ASSIGNMENT)}
    assert {s: (r["score"], r["autograded"]) for s, r in rows.items()} == {"alice": (3.0, True), "bob": (1.0, True)}, (
        f"the formgrader's view of the class is wrong: {rows}")


@pytest.mark.slow
def test_each_fault_costs_its_own_student_only_with_a_clear_reason(toy_course, tmp_path):
    students = {name: submission for name, (submission, _) in FAULTS.items()}
    students |= {name: dict(cells=cells) for name, cells in HARMLESS.items()}
    course = fresh_class(toy_course, tmp_path, alice=None, bob=dict(cells=toy.answers("addition")), **students)
    submitted_before = {p.relative_to(course) for p in (course / "submitted").rglob("*")}

    outcomes = grade(course, toy.ASSIGNMENT, jobs=2, timeout=12, memory_gib=1.0, progress=False)

    for student, (_, reason) in FAULTS.items():
        got = outcomes[student]
        assert got.status == "failed" and reason in got.reason, (
            f"{student}: expected a failure saying {reason!r}, got {got.status}: {got.reason}")
        assert scores(course, student) == UNGRADED, f"{student} must be left for the instructor, not scored"
    expected = {"alice": FULL, "bob": {"test_square": 0.0, "test_mean": 1.0}} | {name: FULL for name in HARMLESS}
    for student, points in expected.items():
        assert outcomes[student].status == "graded", f"{student} was not graded: {outcomes[student].reason}"
        assert scores(course, student) == points, f"{student}: {scores(course, student)} instead of {points}"
    assert {p.relative_to(course) for p in (course / "submitted").rglob("*")} == submitted_before, (
        "a submission that deletes files must not touch the course's submitted/ folder")
    ledger = json.loads((course / "grading" / "toy.json").read_text())["submissions"]
    assert {s: e["status"] for s, e in ledger.items()} == {s: o.status for s, o in outcomes.items()}, ledger
    assert all(e["seconds"] > 0 for e in ledger.values()), "the ledger records grading time per submission"
    log = (course / "grading" / "toy" / "invalid_json.log").read_text()
    assert "Notebook does not appear to be JSON" in log, f"nbgrader's output must be kept for the instructor:\n{log}"
    assert not [p for p in psutil.process_iter(["cwd"]) if "gancourse-grade-" in (p.info["cwd"] or "")], (
        "a killed submission left its kernel running (its working folder is a scratch course)")
    assert leftovers(course) == []


@pytest.mark.slow
def test_a_rerun_grades_only_new_or_changed_submissions(toy_course, tmp_path, capsys):
    course = fresh_class(toy_course, tmp_path, alice=None, bob=dict(cells=toy.answers("addition")))
    assert main([toy.ASSIGNMENT, "--course", str(course), "--jobs", "2"]) == 0
    assert main([toy.ASSIGNMENT, "--course", str(course)]) == 0
    assert "0 graded, 0 failed (nothing new: use --force to regrade)" in capsys.readouterr().out
    toy.submit(course, "bob", toy.answers(), timestamp="2026-01-01 01:00:00.000000 UTC")  # bob resubmits, fixed
    outcomes = grade(course, toy.ASSIGNMENT, progress=False)
    assert set(outcomes) == {"bob"} and scores(course, "bob") == FULL, "only the changed submission is regraded"
    assert set(grade(course, toy.ASSIGNMENT, force=True, progress=False)) == {"alice", "bob"}, "--force regrades all"


@pytest.mark.slow
def test_a_worker_that_breaks_costs_one_student_and_the_others_are_graded(toy_course, tmp_path, monkeypatch):
    course = fresh_class(toy_course, tmp_path, alice=None, bob=None)
    real = grade_module.grade_in_scratch

    def breaks_for_bob(job, gradebook, cancel=None):
        if job.student == "bob":
            raise OSError("No space left on device")
        return real(job, gradebook, cancel)

    monkeypatch.setattr(grade_module, "grade_in_scratch", breaks_for_bob)
    outcomes = grade(course, toy.ASSIGNMENT, jobs=2, progress=False)
    assert outcomes["bob"].status == "failed" and "No space left on device" in outcomes["bob"].reason, outcomes["bob"]
    assert outcomes["alice"].status == "graded" and scores(course, "alice") == FULL
    assert not (course / "autograded" / "bob").exists() and leftovers(course) == [], "bob's grading left traces"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert [s.student_id for s in gradebook.assignment_submissions(toy.ASSIGNMENT)] == ["alice"]
    monkeypatch.undo()
    again = grade(course, toy.ASSIGNMENT, progress=False)
    assert {s: o.status for s, o in again.items()} == {"bob": "graded"}, "a re-run retries what the worker broke on"


@pytest.mark.slow
def test_the_command_reports_failures_and_exits_nonzero(toy_course, tmp_path, capsys):
    course = fresh_class(toy_course, tmp_path, alice=None, dave=dict(raw="{not json"))
    assert main([toy.ASSIGNMENT, "--course", str(course), "--jobs", "2"]) == 1
    out = capsys.readouterr().out
    assert "1 graded, 1 failed" in out and "dave: not a readable notebook" in out, out


@pytest.mark.slow
def test_ctrl_c_leaves_every_submission_either_merged_or_untouched(toy_course, tmp_path):
    slow = toy.answers(square="import time\ntime.sleep(3)\ndef square(x):\n    return x * x\n")
    course = fresh_class(toy_course, tmp_path, **{f"s{i}": dict(cells=slow) for i in range(6)})
    command = subprocess.Popen([sys.executable, "-m", "gancourse.grade", toy.ASSIGNMENT, "--course", str(course),
                                "--jobs", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ledger = course / "grading" / "toy.json"
    deadline = time.monotonic() + 120
    while not ledger.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ledger.exists(), "no submission was merged within two minutes"
    children = psutil.Process(command.pid).children(recursive=True)
    command.send_signal(signal.SIGINT)
    out, err = command.communicate(timeout=60)
    assert command.returncode == 130 and "Interrupted" in err, (command.returncode, err[-2000:])
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE], (
        "Ctrl-C must stop every nbgrader and kernel it started")
    merged = json.loads(ledger.read_text())["submissions"]
    assert 1 <= len(merged) < 6, f"expected an interrupted run, the ledger has {sorted(merged)}"
    for student in (f"s{i}" for i in range(6)):
        folder = course / "autograded" / student / toy.ASSIGNMENT
        if student in merged:
            assert scores(course, student) == FULL and (folder / f"{toy.NOTEBOOK}.ipynb").is_file(), student
        else:
            assert not folder.exists(), f"{student} was not merged but has an autograded folder"
    assert leftovers(course) == [], f"an interrupted merge left {leftovers(course)}"
    outcomes = grade(course, toy.ASSIGNMENT, jobs=2, progress=False)
    assert set(outcomes) == {f"s{i}" for i in range(6)} - set(merged), "the re-run grades exactly the rest"


@pytest.mark.slow
def test_the_worker_runs_from_bytes_alone(toy_course, tmp_path):
    """What a remote worker gets: no path into the course, only the job's bytes and the gradebook's."""
    course = fresh_class(toy_course, tmp_path, alice=dict(cells=toy.answers("empty_mean")))
    submitted = course / "submitted" / "alice" / toy.ASSIGNMENT
    job = Job(toy.ASSIGNMENT, "alice", (course / "nbgrader_config.py").read_bytes(), {},
              {p.name: p.read_bytes() for p in submitted.iterdir()}, timeout=60, memory_bytes=2**31)
    outcome = grade_in_scratch(job, (course / "gradebook.db").read_bytes())
    assert outcome.status == "graded" and set(outcome.autograded_files) == {"squares.ipynb", "timestamp.txt"}
    notebook = nbformat.reads(outcome.autograded_files["squares.ipynb"].decode(), as_version=4)
    errors = [o.evalue for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == [toy.HINT_EMPTY_MEAN], f"the autograded notebook should carry the hint, has {errors}"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert not gradebook.assignment_submissions(toy.ASSIGNMENT), "the course must be untouched until the merge"
    merge(Course.load(course), toy.ASSIGNMENT, outcome)
    assert scores(course, "alice") == {"test_square": 2.0, "test_mean": 0.0}


ALLOCATE_AND_FORK = """
import os, sys, time
block = b"x" * (200 * 2**20)  # 200 MiB, written, so resident
if os.fork() == 0:
    time.sleep(60)
print("ready", flush=True)
time.sleep(60)
"""


def test_memory_shared_by_forked_processes_is_counted_once():
    with subprocess.Popen([sys.executable, "-c", ALLOCATE_AND_FORK], stdout=subprocess.PIPE, text=True) as parent:
        processes = [psutil.Process(parent.pid)]
        try:
            assert parent.stdout.readline().strip() == "ready"
            processes += processes[0].children()
            assert len(processes) == 2
            assert sum(p.memory_info().rss for p in processes) > 400 * 2**20, "both show the 200 MiB as resident"
            assert not _uses_more_than(processes, 300 * 2**20), "the shared block must count once, not twice"
            assert _uses_more_than(processes, 150 * 2**20), "but it must count"
        finally:
            for process in reversed(processes):
                process.kill()


@pytest.fixture
def environment_restored():
    """A LocalCluster's nanny sets OMP_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_ and more in *this* process's
    environment, which every later test's kernels would inherit: put the environment back afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.slow
def test_grading_on_a_dask_cluster_gives_the_same_result(toy_course, tmp_path, environment_restored):
    distributed = pytest.importorskip("distributed", reason="pip install 'gancourse[cluster]' for --scheduler")
    here = fresh_class(toy_course, tmp_path / "here", alice=None, bob=dict(cells=toy.answers("addition")),
                       dave=dict(raw="{not json"))
    there = toy.copy_course(here, tmp_path / "there")
    grade(here, toy.ASSIGNMENT, jobs=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        outcomes = grade(there, toy.ASSIGNMENT, scheduler=cluster.scheduler_address, progress=False)
    assert {s: o.status for s, o in outcomes.items()} == {"alice": "graded", "bob": "graded", "dave": "failed"}
    assert gradebook_state(there) == gradebook_state(here), "the cluster must grade exactly as the local workers do"
    assert autograded_files(there) == autograded_files(here)
