"""Run the definitions of a course notebook outside Jupyter (for benchmarks and tests).

Convention: a notebook's first code cell holds its imports; its exercises are the nbgrader solution cells.
"""
from __future__ import annotations

from pathlib import Path

import nbformat


def definition_cells(path: str | Path) -> list[str]:
    """Sources of the first code cell (imports) and of every code solution cell, in notebook order."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    if not cells:
        raise ValueError(f"{path} has no code cells")
    chosen = [cells[0]] + [c for c in cells[1:] if c.metadata.get("nbgrader", {}).get("solution")]
    return [c.source for c in chosen]


def exercise_namespace(path: str | Path) -> dict:
    """Execute the imports and exercise cells of the notebook at `path`; return the resulting namespace."""
    namespace: dict = {"__name__": f"notebook:{Path(path).stem}"}
    for index, source in enumerate(definition_cells(path)):
        exec(compile(source, f"{path}#definition{index}", "exec"), namespace)
    return namespace
