"""The class report (`gancourse.report`) on a scratch class of the toy course, graded once by plain nbgrader.

The class: a right answer, each of the two mistakes and both together (so that each hint fires for two students),
an untouched release (not attempted), a notebook that is not JSON (nbgrader leaves no autograded notebook) and an
answer that raises an exception whose message holds HTML. The grading ledger of `gancourse.grade` is written by
hand; it also holds a submission that failed before nbgrader saw it. The browser test saves
tests/screenshots/report_toy.png (git-ignored).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from gancourse import report
from lab_browser import SCREENSHOTS, find_chromium, missing_browser_parts
from toy_class import ASSIGNMENT, HINT_ADDITION, HINT_EMPTY_MEAN, REPO, answers, copy_course, make_course, submit

SCRIPT = "<script>alert('hi')</script>"
CLASS = {"alice": answers(), "bob": answers("addition"), "carol": answers("addition", "empty_mean"),
         "dan": {}, "fay": answers("empty_mean"),
         "gus": answers(square=f'def square(x):\n    raise ValueError("{SCRIPT}")\n')}
NOT_JSON = "not a notebook: Notebook does not appear to be JSON: '{not json'"
LEDGER = {"assignment": ASSIGNMENT, "submissions": {
    student: {"status": "failed" if student == "eve" else "graded", "reason": NOT_JSON if student == "eve" else None,
              "seconds": seconds, "fingerprint": "0" * 64, "finished": "2026-12-03T09:30:00+00:00"}
    for student, seconds in [("alice", 3.1), ("bob", 3.4), ("carol", 2.9), ("dan", 3.0), ("eve", 1.2),
                             ("fay", 3.3), ("gus", 4.2)]}}
LEDGER["submissions"]["hal"] = {**LEDGER["submissions"]["eve"], "reason": "timed out after 600 s", "seconds": 600.0}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """The toy class, autograded by plain nbgrader (which exits non-zero for eve's submission), without a ledger."""
    root = make_course(tmp_path_factory.mktemp("report") / "course")
    for student, cells in CLASS.items():
        submit(root, student, cells)
    submit(root, "eve", raw="{not json")
    result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT,
                             f"--CourseDirectory.root={root}"], cwd=root, capture_output=True, text=True)
    assert result.returncode != 0 and "'eve'" in result.stdout + result.stderr, result.stdout + result.stderr
    assert sorted(p.name for p in (root / "autograded").glob(f"*/{ASSIGNMENT}/*.ipynb")) == ["squares.ipynb"] * 6
    return root


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory) -> Path:
    """A copy of the class with the grading ledger, its report written to the default folder."""
    root = copy_course(course, tmp_path_factory.mktemp("ledger") / "course")
    (root / "grading").mkdir()
    (root / "grading" / f"{ASSIGNMENT}.json").write_text(json.dumps(LEDGER))
    assert report.write_report(root, ASSIGNMENT) == root / "reports" / ASSIGNMENT
    return root / "reports" / ASSIGNMENT


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as file:
        return {row[next(iter(row))]: row for row in csv.DictReader(file)}


@pytest.mark.slow
def test_scores_match_the_gradebook(graded):
    rows = _rows(graded / "scores.csv")
    assert list(rows) == ["alice", "bob", "carol", "dan", "eve", "fay", "gus", "hal"]
    with Gradebook(f"sqlite:///{graded.parents[1] / 'gradebook.db'}", "toycourse") as gradebook:
        for sub in gradebook.find_assignment(ASSIGNMENT).submissions:
            row = rows[sub.student_id]
            assert float(row["total"]) == sub.score and float(row["max"]) == 3
            for grade in sub.notebooks[0].grades:
                assert row[grade.name] == ("" if grade.auto_score is None else str(grade.auto_score))
    assert [rows[s]["total"] for s in rows] == ["3.0", "1.0", "0.0", "0.0", "0.0", "2.0", "1.0", "0.0"]
    assert rows["gus"]["seconds"] == "4.2" and rows["alice"]["late"] == "no"
    assert {s: r["status"] for s, r in rows.items() if r["status"] != "graded"} == {"eve": "failed", "hal": "failed"}
    assert rows["eve"]["reason"] == NOT_JSON and rows["hal"]["reason"] == "timed out after 600 s"


@pytest.mark.slow
def test_hints_are_counted_per_cell_and_message(graded):
    with open(graded / "hints.csv", newline="") as file:
        hints = [(r["cell"], r["message"], r["students"], r["who"]) for r in csv.DictReader(file)]
    assert hints[:2] == [("test_mean", HINT_EMPTY_MEAN, "2", "carol fay"),
                         ("test_square", HINT_ADDITION, "2", "bob carol")]
    assert sorted(hints[2:]) == [("test_mean", "not attempted", "1", "dan"),
                                 ("test_square", "ValueError: " + SCRIPT, "1", "gus"),
                                 ("test_square", "not attempted", "1", "dan")]
    page = (graded / "report.html").read_text()
    assert f"<b>2 students:</b> {HINT_ADDITION}" in page and "<b>1 student:</b> not attempted" in page


@pytest.mark.slow
def test_page_is_self_contained_and_escaped(graded):
    page = (graded / "report.html").read_text()
    assert SCRIPT not in page and "ValueError: &lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt;" in page
    assert "src=\"http" not in page and "<link" not in page and "@import" not in page
    assert page.count('<img alt="" src="data:image/png;base64,') == 4  # totals, two exercises, grading time
    assert "eve" in page and "Notebook does not appear to be JSON: &#x27;{not json&#x27;" in page
    assert "621.1 s in all, 77.6 s per submission, the longest 600.0 s (hal)" in page


@pytest.mark.slow
def test_without_a_ledger_a_missing_notebook_is_a_failure(course, tmp_path):
    out = report.write_report(course, ASSIGNMENT, tmp_path / "out")
    rows = _rows(out / "scores.csv")
    assert rows["eve"]["status"] == "failed" and rows["eve"]["reason"] == report.MISSING_NOTEBOOK
    assert rows["alice"]["seconds"] == ""
    page = (out / "report.html").read_text()
    assert "No timing or failure data was recorded" in page and report.MISSING_NOTEBOOK in page


@pytest.mark.slow
def test_command_line(course, tmp_path):
    result = subprocess.run([sys.executable, "-m", "gancourse.report", ASSIGNMENT, "--course", str(course),
                             "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hints.csv", "report.html", "scores.csv"]
    assert not (course / "reports").exists()


@pytest.mark.slow
def test_clear_errors(course, tmp_path, capsys):
    assert report.main(["nope", "--course", str(course)]) == 1
    assert "unknown assignment 'nope' (the gradebook has: toy)" in capsys.readouterr().err
    assert report.main([ASSIGNMENT, "--course", str(tmp_path)]) == 1
    assert f"no nbgrader_config.py in {tmp_path}" in capsys.readouterr().err
    shutil.copy(course / "nbgrader_config.py", tmp_path)
    assert report.main([ASSIGNMENT, "--course", str(tmp_path)]) == 1
    assert "no gradebook at" in capsys.readouterr().err
    fresh = make_course(tmp_path / "fresh")
    assert report.main([ASSIGNMENT, "--course", str(fresh)]) == 1
    assert "no submissions of 'toy' in the gradebook yet" in capsys.readouterr().err
    assert not (fresh / "reports").exists()


def test_check_messages():
    assert report.check_message("NotImplementedError", "") == "not attempted"
    assert report.check_message("AssertionError", "first line\nsecond") == "first line"
    assert report.check_message("AssertionError", "") == "AssertionError"
    assert report.check_message("NameError", "name 'x' is not defined") == "NameError: name 'x' is not defined"


def test_html_escapes_every_student_text():
    exercise = report.Exercise("nb", "test_<b>", 1.0, manual=False)
    student = report.Submission("<i>mallory</i>", "failed", {("nb", "test_<b>"): None}, 0.0, late=True,
                                seconds=1.0, reason=f"broken {SCRIPT}")
    results = report.ClassResults("a<1", "c&d", 1.0, [exercise], [student], {("nb", "test_<b>", SCRIPT): ["<u>"]})
    page = report.render_html(results)
    for text in [SCRIPT, "<i>mallory", "test_<b>", "a<1", "c&d", "<u>"]:
        assert text not in page


@pytest.mark.slow
@pytest.mark.browser
def test_report_in_chromium(graded):
    missing = missing_browser_parts()
    if missing:
        reason = "the browser test needs " + " and ".join(missing)
        if os.environ.get("GANCOURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}; GANCOURSE_REQUIRE_BROWSER=1 requires them", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((graded / "report.html").as_uri())
            widths = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
            page.screenshot(path=str(SCREENSHOTS / f"report_{ASSIGNMENT}.png"), full_page=True)
        finally:
            browser.close()
    assert len(widths) == 4 and all(w > 0 for w in widths), widths
