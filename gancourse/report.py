"""A class report for instructors: the scores, failing checks, failed submissions and grading times of an assignment.

``python -m gancourse.report ASSIGNMENT [--course DIR] [--out DIR]`` reads the scores from the gradebook (nbgrader's
API, with the paths from the course's ``nbgrader_config.py``), the failing checks from the error outputs of the
autograded notebooks, and the failures and grading times from the ledger ``grading/<ASSIGNMENT>.json`` that
`gancourse.grade` writes (optional). It writes ``report.html`` (one self-contained page, figures embedded),
``scores.csv`` (one row per student) and ``hints.csv`` (each failing check and who hit it) to
``<course>/reports/<ASSIGNMENT>/``.
"""
from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import json
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from matplotlib.figure import Figure
from nbgrader.api import Gradebook, MissingEntry

from gancourse.coursedir import Course

BLUE, GREEN, RED = "#5c7cfa", "#2e7d32", "#e03131"
MISSING_NOTEBOOK = "no autograded notebook: nbgrader autograde could not run this submission (see its log)"


class ReportError(Exception):
    """The report cannot be made: no course, no gradebook, unknown assignment or no submissions."""


@dataclass
class Exercise:
    """A grade cell: an autograded test or a manually graded answer."""

    notebook: str
    cell: str
    max_score: float
    manual: bool


@dataclass
class Submission:
    """One student's result: status, score per exercise (None when ungraded), ledger data when recorded."""

    student: str
    status: str
    scores: dict[tuple[str, str], float | None]
    total: float
    late: bool
    seconds: float | None = None
    reason: str | None = None


@dataclass
class ClassResults:
    """Everything the report shows about one assignment."""

    assignment: str
    course_id: str
    max_score: float
    exercises: list[Exercise]
    submissions: list[Submission]
    checks: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)  # (notebook, cell, message)


def check_message(ename: str, evalue: str) -> str:
    """What a failing check says: the first line of its message, "not attempted" for NotImplementedError."""
    if ename == "NotImplementedError":
        return "not attempted"
    first = evalue.strip().splitlines()[0] if evalue.strip() else ""
    return first if ename == "AssertionError" and first else f"{ename}: {first}".rstrip(": ")


def _failed_checks(path: Path) -> dict[str, list[str]]:
    """{grade_id: messages} of every grade cell with an error output in an autograded notebook."""
    failed = {}
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        if meta.get("grade") and errors:
            failed[meta["grade_id"]] = [check_message(o["ename"], o["evalue"]) for o in errors]
    return failed


def load_results(course: Path, assignment: str) -> ClassResults:
    """Read the gradebook, the autograded notebooks and the ledger (when there is one) of `assignment`."""
    try:
        course_folder = Course.load(course)
    except FileNotFoundError as error:
        raise ReportError(error) from None
    coursedir = course_folder.dirs
    if coursedir.db_url.startswith("sqlite:///") and not course_folder.gradebook.is_file():
        raise ReportError(f"no gradebook at {course_folder.gradebook}: run nbgrader generate_assignment")
    ledger = course_folder.ledger(assignment).submissions or None
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        try:
            record = gradebook.find_assignment(assignment)
        except MissingEntry:
            known = ", ".join(a.name for a in gradebook.assignments) or "none"
            raise ReportError(f"unknown assignment {assignment!r} (the gradebook has: {known})") from None
        if not record.submissions and not ledger:
            raise ReportError(f"no submissions of {assignment!r} in the gradebook yet: run nbgrader autograde")
        exercises = []
        for notebook in record.notebooks:
            order = {c.name: i for i, c in enumerate(notebook.source_cells)}
            for cell in sorted(notebook.grade_cells, key=lambda c: order.get(c.name, len(order))):
                exercises.append(Exercise(notebook.name, cell.name, cell.max_score, cell.cell_type == "markdown"))
        results = ClassResults(assignment, coursedir.course_id, record.max_score, exercises, [])
        for sub in sorted(record.submissions, key=lambda s: s.student_id):
            folder = course_folder.folder("autograded", assignment, sub.student_id)
            scores = {(nb.name, g.name): g.manual_score if g.manual_score is not None else g.auto_score
                      for nb in sub.notebooks for g in nb.grades}
            entry = (ledger or {}).get(sub.student_id, {})
            status = entry.get("status", "graded")
            status = "needs manual grading" if status == "graded" and sub.needs_manual_grade else status
            reason = entry.get("reason")
            for notebook in record.notebooks:
                path = folder / f"{notebook.name}.ipynb"
                if not path.is_file():
                    status, reason = "failed", reason or MISSING_NOTEBOOK
                    continue
                for cell, messages in _failed_checks(path).items():
                    for message in dict.fromkeys(messages):
                        results.checks.setdefault((notebook.name, cell, message), []).append(sub.student_id)
            results.submissions.append(Submission(sub.student_id, status, scores, sub.score,
                                                  sub.total_seconds_late > 0, entry.get("seconds"), reason))
    for student in sorted(set(ledger or {}) - {s.student for s in results.submissions}):  # failed before nbgrader
        entry = ledger[student]
        results.submissions.append(Submission(student, entry["status"], {}, 0.0, False, entry.get("seconds"),
                                              entry.get("reason")))
    return results


def write_csvs(results: ClassResults, out: Path) -> None:
    """scores.csv (one row per student) and hints.csv (each failing check, how many students and who)."""
    keys = [(e.notebook, e.cell) for e in results.exercises]
    with open(out / "scores.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["student", "status", *(c for _, c in keys), "total", "max", "late", "seconds", "reason"])
        for s in results.submissions:
            writer.writerow([s.student, s.status, *("" if s.scores.get(k) is None else s.scores[k] for k in keys),
                             s.total, results.max_score, "yes" if s.late else "no",
                             "" if s.seconds is None else s.seconds, s.reason or ""])
    with open(out / "hints.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["notebook", "cell", "message", "students", "who"])
        for (notebook, cell, message), who in _sorted_checks(results):
            writer.writerow([notebook, cell, message, len(who), " ".join(who)])


def _sorted_checks(results: ClassResults) -> list[tuple[tuple[str, str, str], list[str]]]:
    return sorted(results.checks.items(), key=lambda item: (-len(item[1]), item[0]))


def _chart(size: tuple[float, float], xlabel: str, ylabel: str, draw) -> str:
    """An <img> tag holding a base64 PNG of one plot: `draw(ax)` draws it, with integer counts on the y axis."""
    fig = Figure(figsize=size)
    ax = fig.add_subplot(xlabel=xlabel, ylabel=ylabel)
    draw(ax)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def score_chart(values: list[float], max_score: float, size: tuple[float, float] = (2.6, 1.3)) -> str:
    """A bar chart of how many students got each score, from 0 to `max_score` (full marks in green), as <img>."""
    counts = Counter(values)
    xs = sorted(set(counts) | {0.0, float(max_score)})
    width = 0.8 * min((b - a for a, b in zip(xs, xs[1:])), default=1.0)

    def draw(ax) -> None:
        ax.bar(xs, [counts[x] for x in xs], width=width, color=[GREEN if x == max_score else BLUE for x in xs])
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
    return _chart(size, "points", "students", draw)


def time_chart(submissions: list[Submission]) -> str:
    """A histogram of the grading seconds per submission, graded and failed stacked, as an <img> tag."""
    groups = {label: [s.seconds for s in submissions if s.seconds is not None and (s.status == "failed") == failed]
              for label, failed in (("graded", False), ("failed", True))}
    groups = {label: values for label, values in groups.items() if values}

    def draw(ax) -> None:
        ax.hist(list(groups.values()), bins=min(12, sum(map(len, groups.values()))), stacked=True,
                label=list(groups), color=[{"graded": BLUE, "failed": RED}[label] for label in groups])
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    return _chart((5.5, 2), "seconds to grade", "submissions", draw)


CSS = """body{font:15px/1.5 system-ui,sans-serif;color:#222;max-width:1150px;margin:2em auto;padding:0 1em}
h1{margin-bottom:0}.note{color:#666}h2{margin-top:1.6em;border-bottom:2px solid #eee}table{border-collapse:collapse}
.cards{display:flex;gap:1em}.card{background:#f4f6fb;border-radius:8px;padding:.5em 1.2em}.card b{font-size:1.7em}
td,th{padding:.3em .7em;text-align:left;border-bottom:1px solid #e5e5e5}th{background:#f8f9fa}.n{text-align:right}
.bar{background:#e9ecef;width:7em;height:.6em;border-radius:3px}.bar i{display:block;height:100%;background:#2e7d32}
ul{margin:0;padding-left:1.1em}.failed{color:#c92a2a;font-weight:600}img{display:block}"""


def _row(*cells: str, numeric: int = 0) -> str:
    """A table row of HTML cells; the last `numeric` of them right-aligned."""
    return "<tr>" + "".join(f"<td{' class=n' * (i >= len(cells) - numeric)}>{c}</td>" for i, c in enumerate(cells))


def _head(*names: str, numeric: int = 0) -> str:
    return "<table><tr>" + "".join(f"<th{' class=n' * (i >= len(names) - numeric)}>{html.escape(n)}</th>"
                                   for i, n in enumerate(names))


def _exercise_rows(results: ClassResults, graded: list[Submission]) -> list[str]:
    """One row per exercise: points, mean, full-marks share, score chart, its failing checks with who hit them."""
    rows, e = [], html.escape
    for ex in results.exercises:
        key = (ex.notebook, ex.cell)
        values = [s.scores[key] for s in graded if s.scores.get(key) is not None]
        full = 100 * sum(v == ex.max_score for v in values) / len(values) if values else 0.0
        checks = "".join(f"<li><b>{len(who)} student{'s' * (len(who) > 1)}:</b> {e(message)} <span class=note>"
                         f"({e(', '.join(who))})</span>" for (nb, cell, message), who in _sorted_checks(results)
                         if (nb, cell) == key)
        rows.append(_row(f"<b>{e(ex.cell)}</b><br><span class=note>{e(ex.notebook)}{' (manual)' * ex.manual}</span>",
                         f"{ex.max_score:g}", f"{statistics.mean(values):.2f}" if values else "–",
                         f"<div class=bar><i style='width:{full:.0f}%'></i></div>{full:.0f}%",
                         score_chart(values, ex.max_score) if values else "", f"<ul>{checks}</ul>" if checks else ""))
    return rows


def render_html(results: ClassResults) -> str:
    """The report as one self-contained HTML page (every student-derived text escaped)."""
    e, subs = html.escape, results.submissions
    graded = [s for s in subs if s.status != "failed"]
    failed = [s for s in subs if s.status == "failed"]
    totals = [s.total for s in graded]
    cards = {"submitted": len(subs), "graded": len(graded), "failed": len(failed),
             f"mean / {results.max_score:g}": f"{statistics.mean(totals):.1f}" if totals else "–",
             "median": f"{statistics.median(totals):g}" if totals else "–"}
    parts = [f"<h1>{e(results.assignment)}: class report</h1><p class=note>course {e(results.course_id)}, "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; scores and charts count the {len(graded)} "
             "submissions that ran</p><div class=cards>"
             + "".join(f"<div class=card><b>{v}</b><br>{k}</div>" for k, v in cards.items()) + "</div>"]
    if totals:
        parts.append("<h2>Total scores</h2>" + score_chart(totals, results.max_score, (5.5, 2)))
    parts.append("<h2>Exercises</h2>" + _head("exercise", "points", "mean", "full marks", "students per score",
                                              "failing checks") + "".join(_exercise_rows(results, graded)) + "</table>")
    parts.append("<h2>Submissions that failed to run</h2>" + (_head("student", "reason") + "".join(
        _row(e(s.student), f"<span class=failed>{e(s.reason or 'no reason recorded')}</span>") for s in failed)
        + "</table>" if failed else "<p>None.</p>"))
    timed = sorted((s.seconds, s.student) for s in subs if s.seconds is not None)
    seconds = [t for t, _ in timed]
    parts.append("<h2>Grading time</h2>" + (
        f"<p>{sum(seconds):.1f} s in all, {statistics.mean(seconds):.1f} s per submission, the longest "
        f"{timed[-1][0]:.1f} s ({e(timed[-1][1])}).</p>{time_chart(subs)}" if timed else "<p class=note>No timing "
        f"or failure data was recorded in grading/{e(results.assignment)}.json (written by <code>python -m "
        "gancourse.grade</code>).</p>"))
    parts.append("<h2>Students</h2>" + _head("student", "status", *(x.cell for x in results.exercises), "total",
                                             "late", "seconds", numeric=len(results.exercises) + 3))
    for s in subs:
        scores = [s.scores.get((x.notebook, x.cell)) for x in results.exercises]
        parts.append(_row(e(s.student), f"<span class='{e(s.status)}'>{e(s.status)}</span>",
                          *("–" if v is None else f"{v:g}" for v in scores), f"{s.total:g} / {results.max_score:g}",
                          "late" * s.late, "–" if s.seconds is None else f"{s.seconds:.1f}",
                          numeric=len(scores) + 3))
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{e(results.assignment)} report</title>"
            f"<style>{CSS}</style></head><body>" + "\n".join(parts) + "</table></body></html>")


def write_report(course: Path, assignment: str, out: Path | None = None) -> Path:
    """Write report.html, scores.csv and hints.csv for `assignment`; return the folder they are in."""
    results = load_results(course, assignment)
    out = out or course / "reports" / assignment
    out.mkdir(parents=True, exist_ok=True)
    write_csvs(results, out)
    (out / "report.html").write_text(render_html(results), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m gancourse.report ASSIGNMENT [--course DIR] [--out DIR]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m gancourse.report", description=__doc__.splitlines()[0])
    parser.add_argument("assignment")
    parser.add_argument("--course", type=Path, default=Path("."), help="course folder (default: here)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: COURSE/reports/ASSIGNMENT)")
    args = parser.parse_args(argv)
    try:
        out = write_report(args.course, args.assignment, args.out)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out / 'report.html'}, {out / 'scores.csv'} and {out / 'hints.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
