"""Instructor tool: regenerate the student notebooks in ``notebooks/`` from the sources in ``solutions/``.

``python -m gancourse.release`` runs nbgrader's own ``generate_assignment`` for every assignment in a
scratch copy of the course, checks that no solution and no hidden test leaked, and only then swaps the
result into ``notebooks/`` (so a failing nbgrader never leaves it deleted or half written). The
assignments are recorded in the course's ``gradebook.db``, ready for ``nbgrader autograde``.
``python -m gancourse.release --check`` changes nothing and fails if ``notebooks/`` is out of date.
"""
from __future__ import annotations

import argparse
import filecmp
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

SOURCE, RELEASE, CONFIG = "solutions", "notebooks", "nbgrader_config.py"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_BLOCK = re.compile(r"BEGIN (SOLUTION|HIDDEN TESTS)(.*?)END \1", re.DOTALL)


class ReleaseError(RuntimeError):
    """The release could not be generated, leaked answers, or is out of date."""


def course_root(start: str | Path = ".") -> Path:
    """The nearest folder at or above `start` that holds ``nbgrader_config.py`` and ``solutions/``."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG).is_file() and (folder / SOURCE).is_dir():
            return folder
    raise ReleaseError(f"no course found at or above {start} (looked for {CONFIG} beside {SOURCE}/)")


def assignments(root: Path) -> list[str]:
    """Names of the assignments: the folders of ``solutions/`` that hold a notebook."""
    return sorted(p.name for p in (root / SOURCE).iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _region_lines(cell, kinds: tuple[str, ...]) -> set[str]:
    """Stripped lines inside the `kinds` regions ("SOLUTION", "HIDDEN TESTS") of one source cell."""
    text = cell.source
    if "SOLUTION" in kinds and cell.metadata.get("nbgrader", {}).get("solution") and "BEGIN SOLUTION" not in text:
        return {line.strip() for line in text.splitlines()}  # a whole-cell answer (written answers)
    return {line.strip() for block in _BLOCK.finditer(text) if block.group(1) in kinds
            for line in block.group(2).splitlines()}


def secret_lines(source: Path, kinds: tuple[str, ...] = ("SOLUTION", "HIDDEN TESTS")) -> set[str]:
    """Stripped lines of a source notebook found only inside its solution and/or hidden-test regions."""
    cells = nbformat.read(source, as_version=4).cells
    visible = {line.strip() for cell in cells for line in _BLOCK.sub("", cell.source).splitlines()}
    secret = set().union(*(_region_lines(cell, kinds) for cell in cells)) - visible
    return {line for line in secret if line and not line.startswith("###")}


def find_leaks(source: Path, release: Path) -> list[str]:
    """Solution or hidden-test lines of `source` that appear in `release`, and leftover nbgrader markers."""
    secret, rel = secret_lines(source), nbformat.read(release, as_version=4)
    leaks = []
    for index, cell in enumerate(rel.cells):
        for line in cell.source.splitlines():
            if line.strip() in secret or any(m in line for m in MARKERS):
                leaks.append(f"{release.name} cell {index}: {line.strip()[:80]}")
        if cell.cell_type == "code" and cell.get("outputs"):
            leaks.append(f"{release.name} cell {index}: has outputs")
    return leaks


def _generate(root: Path, workdir: Path, db_url: str) -> Path:
    """Run nbgrader generate_assignment for every assignment in a scratch copy; return its release folder."""
    shutil.copy2(root / CONFIG, workdir / CONFIG)
    shutil.copytree(root / SOURCE, workdir / SOURCE, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for name in assignments(root):
        command = [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
                   f"--CourseDirectory.root={workdir}", f"--CourseDirectory.db_url={db_url}"]
        result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
        if result.returncode != 0:
            raise ReleaseError(f"nbgrader generate_assignment {name} failed; {RELEASE}/ was left untouched.\n"
                               f"{result.stdout}{result.stderr}")
    release = workdir / RELEASE
    leaks = [leak for name in assignments(root) for nb in sorted((workdir / SOURCE / name).glob("*.ipynb"))
             for leak in find_leaks(nb, release / name / nb.name)]
    if leaks:
        raise ReleaseError("the generated release leaks solutions or hidden tests:\n  " + "\n  ".join(leaks))
    return release


def _files(folder: Path) -> set[Path]:
    """Relative paths of the files below `folder` (none if it does not exist), Jupyter checkpoints aside."""
    if not folder.is_dir():
        return set()
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts}


def _differences(expected: Path, actual: Path) -> list[str]:
    """Files that differ between two release folders (notebooks compared as JSON)."""
    wanted, present = _files(expected), _files(actual)
    differ = sorted(f"{p} (missing)" for p in wanted - present)
    differ += sorted(f"{p} (not in solutions/)" for p in present - wanted)
    for rel in sorted(wanted & present):
        a, b = expected / rel, actual / rel
        same = (json.loads(a.read_text()) == json.loads(b.read_text())) if rel.suffix == ".ipynb" \
            else filecmp.cmp(a, b, shallow=False)
        if not same:
            differ.append(f"{rel} (out of date)")
    return differ


def check(root: Path) -> list[str]:
    """Regenerate in a scratch folder and list how ``notebooks/`` differs from it (empty: in sync)."""
    with tempfile.TemporaryDirectory(prefix="gancourse-release-") as tmp:
        fresh = _generate(root, Path(tmp), f"sqlite:///{Path(tmp) / 'gradebook.db'}")
        return _differences(fresh, root / RELEASE)


def release(root: Path) -> list[str]:
    """Regenerate ``notebooks/`` from ``solutions/`` and record the assignments in ``gradebook.db``."""
    target = root / RELEASE
    with tempfile.TemporaryDirectory(prefix="gancourse-release-", dir=root) as tmp:
        fresh = _generate(root, Path(tmp), f"sqlite:///{root / 'gradebook.db'}")
        if target.exists():
            target.rename(Path(tmp) / "previous")  # deleted with the scratch folder
        fresh.rename(target)
    return assignments(root)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m gancourse.release", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; fail if notebooks/ is out of date")
    parser.add_argument("--root", default=".", help="course folder (default: the one holding the current folder)")
    args = parser.parse_args(argv)
    try:
        root = course_root(args.root)
        if args.check:
            differences = check(root)
            if differences:
                print(f"{RELEASE}/ is out of date with {SOURCE}/; run `python -m gancourse.release`:")
                print("\n".join(f"  {d}" for d in differences))
                return 1
            print(f"{RELEASE}/ is in sync with {SOURCE}/ and holds no solution or hidden test.")
            return 0
        names = release(root)
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Regenerated {RELEASE}/ from {SOURCE}/: {', '.join(names)} (no solutions or hidden tests leaked).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
