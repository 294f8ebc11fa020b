"""An nbgrader course folder: the directories and gradebook its nbgrader_config.py sets, and its grading ledger.

`gancourse.grade` writes the ledger, ``grading/ASSIGNMENT.json``: for each student the outcome of the last
grading (``status`` "graded" or "failed", the ``reason``, the ``seconds`` it took, when it ``finished``, whether to
``retry`` it because the grader rather than the submission failed) and the ``fingerprint`` of the submission it
graded; `gancourse.report` reads it. nbgrader's output for each student is kept beside it, in
``grading/ASSIGNMENT/STUDENT.log``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"
LEDGER_DIR = "grading"


@dataclass
class Course:
    """An nbgrader course folder, with the directory names and gradebook its nbgrader_config.py sets."""

    root: Path
    dirs: CourseDirectory = field(repr=False)

    @classmethod
    def load(cls, root: str | Path) -> Course:
        """Read the course's nbgrader_config.py (nbgrader's API does not read it by itself)."""
        root = Path(root).resolve()
        if not (root / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"no {CONFIG_FILE} in {root}: run this from the course folder or pass --course")
        config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
        return cls(root, CourseDirectory(config=config, root=str(root)))

    @property
    def gradebook(self) -> Path:
        """The gradebook's file (SQLite: the one database a worker can be sent as a copy)."""
        url = self.dirs.db_url
        if not url.startswith("sqlite:///"):
            raise ValueError(f"the gradebook must be an SQLite file to be copied to the graders, not {url}")
        return Path(url.removeprefix("sqlite:///"))

    def folder(self, kind: str, assignment: str, student: str = ".") -> Path:
        """A folder of the course: `kind` is source, release, submitted, autograded or feedback."""
        return Path(self.dirs.format_path(getattr(self.dirs, f"{kind}_directory"), student, assignment))

    def students(self, assignment: str) -> list[str]:
        """The students with a submission of `assignment` in the submitted directory."""
        pattern = self.folder("submitted", assignment, "*").relative_to(self.root)
        where = pattern.parts.index("*")
        return sorted(p.relative_to(self.root).parts[where] for p in self.root.glob(str(pattern)) if p.is_dir())

    def ledger(self, assignment: str) -> Ledger:
        """The grading ledger of `assignment` (empty until `gancourse.grade` has graded something)."""
        return Ledger(self.root / LEDGER_DIR / f"{assignment}.json")


class Ledger:
    """``grading/ASSIGNMENT.json``: the last grading of each submission, rewritten atomically after each one."""

    def __init__(self, path: Path):
        self.path = path
        self.submissions: dict[str, dict] = json.loads(path.read_text())["submissions"] if path.exists() else {}

    def is_current(self, student: str, fingerprint: str) -> bool:
        """Whether the ledger holds a final grading of exactly this submission (not one to retry)."""
        entry = self.submissions.get(student, {})
        return entry.get("fingerprint") == fingerprint and not entry.get("retry")

    def record(self, student: str, *, status: str, reason: str | None, seconds: float, fingerprint: str,
               retry: bool = False) -> None:
        """Write one submission's outcome (`retry`: the grader failed, not the submission), then replace the file."""
        self.submissions[student] = {"status": status, "reason": reason, "seconds": seconds,
                                     "fingerprint": fingerprint, "retry": retry,
                                     "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(json.dumps({"assignment": self.path.stem, "submissions": self.submissions}, indent=1,
                                      sort_keys=True))
        os.replace(partial, self.path)

    def save_log(self, student: str, log: str) -> None:
        """Keep what nbgrader printed while grading `student`, in ``grading/ASSIGNMENT/STUDENT.log``."""
        path = self.path.with_suffix("") / f"{student}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(log)
