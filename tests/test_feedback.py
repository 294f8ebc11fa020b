"""gancourse.feedback: feedback keeps a failed test's message but not its (hidden-test-quoting) traceback."""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config
from traitlets.utils.importstring import import_item

from gancourse.feedback import ShortenTestTracebacks

REPO = Path(__file__).resolve().parents[1]

TRACEBACK = [
    "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
    "\x1b[0;31mAssertionError\x1b[0m                            Traceback (most recent call last)",
    "Cell \x1b[0;32mIn[7], line 4\x1b[0m\n      2 ### BEGIN HIDDEN TESTS\n----> 4 expect(abs(d_loss - 1.386) < 1e-3, hint)",
    "\x1b[0;31mAssertionError\x1b[0m: d_loss should be log(4) for D(x)=0.5: did you swap the labels?",
]


def nbgrader(**fields) -> dict:
    return {"nbgrader": {"schema_version": 3, **fields}}


def error(ename: str, evalue: str, traceback: list[str]):
    return new_output("error", ename=ename, evalue=evalue, traceback=list(traceback))


@pytest.fixture
def notebook():
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell("# Exercise 1", metadata=nbgrader(grade=False, solution=False, locked=True, grade_id="intro")),
        new_code_cell(
            "def d_loss(p):\n    raise NotImplementedError()",
            metadata=nbgrader(grade=False, solution=True, locked=False, grade_id="d_loss"),
            outputs=[error("NotImplementedError", "", ["Traceback line 1", "Traceback line 2", "NotImplementedError: "])],
        ),
        new_code_cell(
            "expect(...)",
            metadata=nbgrader(grade=True, solution=False, locked=True, points=1, grade_id="test_d_loss"),
            outputs=[
                new_output("stream", name="stdout", text="checking d_loss\n"),
                error("AssertionError", "d_loss should be log(4) for D(x)=0.5: did you swap the labels?", TRACEBACK),
            ],
        ),
        new_code_cell(
            "x = 1 / 0",  # an ordinary, ungraded cell
            outputs=[error("ZeroDivisionError", "division by zero", ["line a", "line b", "ZeroDivisionError: division by zero"])],
        ),
        new_code_cell(
            "answer = compute()",  # an autograded answer: solution and grade at once
            metadata=nbgrader(grade=True, solution=True, locked=False, points=1, grade_id="answer"),
            outputs=[error("NameError", "name 'compute' is not defined", ["a", "b", "NameError: ..."])],
        ),
    ]
    return nb


def test_only_the_autograded_test_cells_traceback_becomes_one_line(notebook):
    original = copy.deepcopy(notebook)
    nb, resources = ShortenTestTracebacks().preprocess(notebook, {})

    test_outputs = nb.cells[2].outputs
    assert test_outputs[1].traceback == [
        "AssertionError: d_loss should be log(4) for D(x)=0.5: did you swap the labels?"
    ]
    assert test_outputs[1].ename == "AssertionError"
    assert test_outputs[1].evalue == original.cells[2].outputs[1].evalue
    assert test_outputs[0] == original.cells[2].outputs[0], "non-error outputs stay"
    assert "HIDDEN TESTS" not in str(nb.cells[2].outputs)

    for index in (0, 1, 3, 4):  # markdown, solution, ordinary and autograded-answer cells stay as they were
        assert nb.cells[index] == original.cells[index]
    assert resources == {}


def test_shortened_notebook_is_still_valid(notebook):
    nb, _ = ShortenTestTracebacks().preprocess(notebook, {})
    nbformat.validate(nb)


def test_a_passing_test_cell_is_left_alone():
    nb = new_notebook(cells=[
        new_code_cell(
            "expect(True, '')",
            metadata=nbgrader(grade=True, solution=False, locked=True, points=2, grade_id="ok"),
            outputs=[new_output("stream", name="stdout", text="all good\n")],
        )
    ])
    original = copy.deepcopy(nb)
    nb, _ = ShortenTestTracebacks().preprocess(nb, {})
    assert nb == original


def test_a_test_cell_with_two_errors_shortens_both():
    cell = new_code_cell(
        "...",
        metadata=nbgrader(grade=True, solution=False, locked=True, points=1, grade_id="t"),
        outputs=[error("ValueError", "first", ["x", "y"]), error("TypeError", "second", ["z"])],
    )
    nb, _ = ShortenTestTracebacks().preprocess(new_notebook(cells=[cell]), {})
    assert [o.traceback for o in nb.cells[0].outputs] == [["ValueError: first"], ["TypeError: second"]]


def test_the_nbgrader_configuration_uses_the_preprocessor_after_clearing_hidden_tests():
    config = Config()
    exec(compile((REPO / "nbgrader_config.py").read_text(), "nbgrader_config.py", "exec"), {"get_config": lambda: config})
    preprocessors = list(config.GenerateFeedback.preprocessors)
    assert "gancourse.feedback.ShortenTestTracebacks" in preprocessors
    assert import_item("gancourse.feedback.ShortenTestTracebacks") is ShortenTestTracebacks
    assert preprocessors.index("nbgrader.preprocessors.ClearHiddenTests") < preprocessors.index(
        "gancourse.feedback.ShortenTestTracebacks"
    )
