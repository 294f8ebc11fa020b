"""An nbgrader feedback preprocessor that keeps a failed test's message but not its traceback.

A traceback quotes the failing line, which may be hidden test code; the exception message (written to
name the likely mistake) is what a student needs.
"""
from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution


class ShortenTestTracebacks(NbGraderPreprocessor):
    """Replace the traceback of every failed autograded test cell with its last line."""

    def preprocess_cell(self, cell, resources, index):
        """Shorten error outputs of autograded test cells; leave every other cell as it is."""
        if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output['ename']}: {output['evalue']}"]
        return cell, resources
