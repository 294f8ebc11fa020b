"""gancourse.coursedir: a course folder read through its nbgrader_config.py, and the grading ledger."""
from __future__ import annotations

import json

import pytest

from gancourse.coursedir import Course

CONFIG = 'c = get_config()  # noqa: F821\nc.CourseDirectory.submitted_directory = "handed_in"\n'


def test_a_folder_without_nbgrader_config_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="no nbgrader_config.py in .*: run this from the course folder"):
        Course.load(tmp_path)


def test_folders_follow_the_course_config(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(CONFIG)
    course = Course.load(tmp_path)
    assert course.folder("submitted", "week1", "ada") == tmp_path / "handed_in" / "ada" / "week1"
    assert course.folder("autograded", "week1", "ada") == tmp_path / "autograded" / "ada" / "week1"
    assert course.gradebook == tmp_path / "gradebook.db"


def test_students_are_those_with_a_submission_of_the_assignment(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(CONFIG)
    for student, assignment in [("ada", "week1"), ("bo", "week1"), ("cy", "week2")]:
        (tmp_path / "handed_in" / student / assignment).mkdir(parents=True)
    (tmp_path / "handed_in" / "dee").mkdir()
    course = Course.load(tmp_path)
    assert course.students("week1") == ["ada", "bo"], "only students with a week1 folder have submitted week1"
    assert course.students("week3") == []


def test_a_non_sqlite_gradebook_is_refused_clearly(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(CONFIG + 'c.CourseDirectory.db_url = "postgresql://db/course"\n')
    with pytest.raises(ValueError, match="must be an SQLite file"):
        Course.load(tmp_path).gradebook


def test_the_ledger_records_each_submission_and_reads_back(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(CONFIG)
    ledger = Course.load(tmp_path).ledger("week1")
    assert ledger.submissions == {} and not ledger.path.exists(), "an ungraded assignment has an empty ledger"
    ledger.record("ada", status="failed", reason="not a readable notebook", seconds=1.5, fingerprint="f1")
    ledger.record("bo", status="graded", reason=None, seconds=3.0, fingerprint="f2")
    ledger.record("cy", status="failed", reason="the grading worker failed", seconds=0.1, fingerprint="f3", retry=True)
    again = Course.load(tmp_path).ledger("week1")
    assert again.is_current("ada", "f1") and not again.is_current("ada", "f0") and not again.is_current("dee", "f1")
    assert not again.is_current("cy", "f3"), "a grading the grader itself failed must be retried"
    saved = json.loads(ledger.path.read_text())
    assert saved["assignment"] == "week1" and saved["submissions"]["ada"]["reason"] == "not a readable notebook"
    assert [p.name for p in ledger.path.parent.iterdir()] == ["week1.json"], "no partial file may be left behind"
    ledger.save_log("ada", "[AutogradeApp | ERROR] ...")
    assert (ledger.path.parent / "week1" / "ada.log").read_text() == "[AutogradeApp | ERROR] ..."
