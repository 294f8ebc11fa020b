"""The instructor's release tool: regenerate notebooks/ safely, detect leaks, and check it is in sync."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell
from nbgrader.api import Gradebook

from course_helpers import REPO, SOLUTION_01
from gancourse import release as rel

pytestmark = pytest.mark.slow
ASSIGNMENT = "01_vanilla_gan"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A scratch course: the repository's config and the sources of notebook 01, no release yet."""
    shutil.copy2(REPO / rel.CONFIG, tmp_path)
    shutil.copytree(REPO / rel.SOURCE / ASSIGNMENT, tmp_path / rel.SOURCE / ASSIGNMENT)
    return tmp_path


def _add_graded_cell(course: Path) -> None:
    path = course / rel.SOURCE / ASSIGNMENT / "vanilla_gan.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_code_cell("assert True", metadata={"nbgrader": {
        "grade": True, "grade_id": "test_extra", "locked": True, "points": 1, "schema_version": 3, "solution": False}}))
    nbformat.write(nb, path)


def test_repository_release_is_in_sync_with_solutions():
    assert rel.check(REPO) == [], "run `python -m gancourse.release` and commit notebooks/"


def test_release_generates_student_notebooks_and_records_them_in_the_gradebook(course):
    assert rel.release(course) == [ASSIGNMENT]
    student = course / rel.RELEASE / ASSIGNMENT / "vanilla_gan.ipynb"
    assert rel.find_leaks(SOLUTION_01, student) == []
    assert "raise NotImplementedError()" in student.read_text()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert [a.name for a in gradebook.assignments] == [ASSIGNMENT]
    assert rel.check(course) == []
    assert not any(p.name.startswith("gancourse-release-") for p in course.iterdir()), "scratch folder left behind"


def test_check_reports_a_release_that_is_out_of_date(course):
    rel.release(course)
    _add_graded_cell(course)
    assert rel.check(course) == ["01_vanilla_gan/vanilla_gan.ipynb (out of date)"]
    assert rel.main(["--check", "--root", str(course)]) == 1


def test_check_reports_missing_and_stray_files(course):
    rel.release(course)
    (course / rel.RELEASE / ASSIGNMENT / "vanilla_gan.ipynb").unlink()
    (course / rel.RELEASE / "stray.txt").write_text("not generated")
    assert rel.check(course) == ["01_vanilla_gan/vanilla_gan.ipynb (missing)", "stray.txt (not in solutions/)"]


def test_failing_nbgrader_leaves_the_release_untouched(course):
    """Regenerating with a new graded cell after submissions exist makes nbgrader fail (and delete its release)."""
    rel.release(course)
    before = (course / rel.RELEASE / ASSIGNMENT / "vanilla_gan.ipynb").read_bytes()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.add_student("alice")
        gradebook.add_submission(ASSIGNMENT, "alice")
    _add_graded_cell(course)
    with pytest.raises(rel.ReleaseError, match="generate_assignment 01_vanilla_gan failed; notebooks/ was left untouched"):
        rel.release(course)
    assert (course / rel.RELEASE / ASSIGNMENT / "vanilla_gan.ipynb").read_bytes() == before
    assert rel.main(["--root", str(course)]) == 1


def test_find_leaks_reports_solution_lines_markers_and_outputs(tmp_path):
    student = nbformat.read(REPO / rel.RELEASE / ASSIGNMENT / "vanilla_gan.ipynb", as_version=4)
    student.cells[1].source += "\n    return F.softplus(-fake_logits).mean()"
    student.cells[1].outputs = [nbformat.v4.new_output("stream", text="hi")]
    student.cells[2].source += "\n### BEGIN HIDDEN TESTS"
    path = tmp_path / "vanilla_gan.ipynb"
    nbformat.write(student, path)
    leaks = rel.find_leaks(SOLUTION_01, path)
    assert any("return F.softplus(-fake_logits).mean()" in leak for leak in leaks)
    assert any("has outputs" in leak for leak in leaks)
    assert any("BEGIN HIDDEN TESTS" in leak for leak in leaks)


def test_secret_lines_separate_hidden_tests_from_solutions():
    hidden = rel.secret_lines(SOLUTION_01, kinds=("HIDDEN TESTS",))
    solutions = rel.secret_lines(SOLUTION_01, kinds=("SOLUTION",))
    assert "return F.softplus(-fake_logits).mean()" in solutions and not hidden & {"return F.softplus(-fake_logits).mean()"}
    assert 'expect(not is_close(loss, 64 * expected), "the loss is 64x too large for a batch of 64: use .mean(), not .sum()")' in hidden
    visible = 'assert_scalar(loss, "discriminator_loss")'
    assert visible not in hidden | solutions, "lines of the visible tests are not secret"


def test_course_root_is_found_from_a_subfolder_and_explained_when_missing(tmp_path):
    assert rel.course_root(REPO / "solutions" / ASSIGNMENT) == REPO
    with pytest.raises(rel.ReleaseError, match="no course found"):
        rel.course_root(tmp_path)
