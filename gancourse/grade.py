"""Parallel autograding: nbgrader's own ``autograde``, one isolated scratch course per submission, merged back.

``python -m gancourse.grade ASSIGNMENT --jobs N`` grades every collected submission of ASSIGNMENT. Each runs in
a scratch copy of the course (its config, a copy of its gradebook, the assignment's non-notebook source files,
the one submission) with ``nbgrader autograde``, under a time and a memory limit, so that a submission that
hangs, crashes its kernel, fills memory or deletes files costs that student only; nbgrader and its kernel are
forked with their imports done (:mod:`gancourse.prefork`, :mod:`gancourse.warmkernel`). The results come back as
bytes (the autograded folder and the scratch gradebook), so the same worker runs on this machine or on a Dask
cluster (``--scheduler``), and each is merged into the course on its own: the autograded folder by a rename,
the gradebook rows through nbgrader's models in one transaction. ``grading/ASSIGNMENT.json`` (the ledger)
records every submission's outcome, reason and seconds; a re-run grades only new or changed submissions.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from nbgrader.api import Gradebook
from tqdm.auto import tqdm

from gancourse import prefork
from gancourse.coursedir import CONFIG_FILE, Course


@dataclass(frozen=True)
class Job:
    """Everything one worker needs to grade one submission, as bytes: it may run on another machine."""

    assignment: str
    student: str
    config: bytes
    source_files: dict[str, bytes]
    submission_files: dict[str, bytes]
    timeout: float
    memory_bytes: int
    threads: int | None = None


@dataclass
class Outcome:
    """What came back from grading one submission: the verdict and the files and gradebook to merge."""

    student: str
    status: str  # "graded" or "failed"
    reason: str | None
    seconds: float
    autograded_files: dict[str, bytes] | None = None
    gradebook: bytes | None = None
    log: str = ""


def read_files(folder: Path, skip_notebooks: bool = False) -> dict[str, bytes]:
    """Every file under `folder`, by path relative to it (optionally without notebooks)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not (skip_notebooks and p.suffix == ".ipynb")}


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def fingerprint(files: dict[str, bytes]) -> str:
    """A SHA-256 of a submission's file names and contents: a re-run regrades it only when this changes."""
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


# --- the worker: runs on this machine (a thread) or on a Dask worker -------------------------------------------

def grade_in_scratch(job: Job, gradebook: bytes, cancel: threading.Event | None = None) -> Outcome:
    """Grade one submission with ``nbgrader autograde`` in a scratch course; a faulty submission never raises."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"gancourse-grade-{job.student}-") as scratch_dir:
        scratch = Path(scratch_dir)
        (scratch / CONFIG_FILE).write_bytes(job.config)
        (scratch / "gradebook.db").write_bytes(gradebook)
        course = Course.load(scratch)
        write_files(course.folder("source", job.assignment), job.source_files)
        write_files(course.folder("submitted", job.assignment, job.student), job.submission_files)
        args = ["autograde", job.assignment, "--student", job.student, "--force", f"--CourseDirectory.root={scratch}",
                f"--CourseDirectory.db_url=sqlite:///{scratch}/gradebook.db"]
        threads = {"OMP_NUM_THREADS": str(job.threads), "MKL_NUM_THREADS": str(job.threads)} if job.threads else {}
        log = scratch / "autograde.log"
        process = prefork.start(args, scratch, log, threads)
        killed = _watch(process, job.timeout, job.memory_bytes, cancel)
        returncode = process.wait()
        text = log.read_text(errors="replace")
        autograded = course.folder("autograded", job.assignment, job.student)
        finished = killed is None and autograded.is_dir() and any(autograded.iterdir())
        files = read_files(autograded) if finished else None
        reason = killed or _failure_reason(returncode, text, files is not None)
        return Outcome(job.student, "failed" if reason else "graded", reason, round(time.perf_counter() - started, 2),
                       files, (scratch / "gradebook.db").read_bytes(), text[-20000:])


def _watch(process, timeout: float, memory_bytes: int, cancel: threading.Event | None) -> str | None:
    """Wait for nbgrader; kill it and its kernel past the time or memory limit (or when cancelled): why, or None."""
    deadline = time.monotonic() + timeout
    try:
        watched = psutil.Process(process.pid)
    except psutil.NoSuchProcess:  # it has ended already
        return None
    while process.poll() is None:
        tree = _process_tree(watched)
        reason = None
        if time.monotonic() > deadline:
            reason = f"ran past the time limit of {timeout:g} s (--timeout): an endless loop or far too much work"
        elif _uses_more_than(tree, memory_bytes):
            reason = f"used more than {memory_bytes / 2**30:.1f} GiB of memory (--memory) and was stopped"
        elif cancel is not None and cancel.is_set():
            reason = "interrupted before it finished"
        if reason:
            _kill(set(tree + _process_tree(watched)))
            return reason
        time.sleep(0.2)
    return None


def _process_tree(process: psutil.Process) -> list[psutil.Process]:
    """nbgrader and everything it started (its kernel), or [] once it is gone."""
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def _kill(processes: set[psutil.Process]) -> None:
    """Kill nbgrader and its kernel: the kernel runs in a session of its own, so it is killed by its pid."""
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(list(processes), timeout=10)


def _uses_more_than(processes: list[psutil.Process], limit: int) -> bool:
    """Whether `processes` together use more than `limit` bytes of memory.

    Forked processes share the pages of what was imported before the fork, so the sum of their resident sizes
    counts those pages more than once. It is cheap and never too small: only above the limit is the exact figure,
    each process's proportional share of its pages (PSS), read, which takes milliseconds per process.
    """
    return (sum(_measured(p, _resident) for p in processes) > limit
            and sum(_measured(p, _proportional) for p in processes) > limit)


def _resident(process: psutil.Process) -> int:
    return process.memory_info().rss


def _proportional(process: psutil.Process) -> int:
    return process.memory_full_info().pss


def _measured(process: psutil.Process, size: Callable[[psutil.Process], int]) -> int:
    """size(process) in bytes, or 0 for a process that has ended meanwhile."""
    try:
        return size(process)
    except psutil.Error:
        return 0


_EXCEPTION = re.compile(r"^\s*(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$", re.MULTILINE)


def _failure_reason(returncode: int, log: str, has_output: bool) -> str | None:
    """Why nbgrader could not grade a submission, read from its log, or None when it graded normally."""
    if "DeadKernelError" in log or "Kernel died" in log:
        return "the kernel died while running the notebook (os._exit, a crash, out of memory): no cell could be scored"
    if returncode == 0 and has_output:
        return None
    found = _EXCEPTION.findall(log)
    detail = f"{found[-1][0]}: {found[-1][1].strip()}" if found else f"nbgrader exited with status {returncode}"
    if "NotJSONError" in detail or "JSONDecodeError" in detail:
        return f"not a readable notebook ({detail})"
    return f"nbgrader could not grade it ({detail})"


# --- merging one outcome into the course --------------------------------------------------------------------------

def _rows(gradebook: Gradebook, assignment: str, student: str) -> list:
    """The gradebook rows autograde writes for one submission: student, submission, notebooks, grades, comments."""
    submission = gradebook.find_submission(assignment, student)
    rows = [submission.student, submission]
    for notebook in submission.notebooks:
        rows += [notebook, *notebook.grades, *notebook.comments]
    return rows


def _detached_copy(row):
    """The same row (same id, same values) outside its database session, ready to be merged into another."""
    model = type(row)
    return model(**{column.key: getattr(row, column.key) for column in model.__table__.columns})


def merge(course: Course, assignment: str, outcome: Outcome) -> None:
    """Put one outcome into the course: its autograded folder by rename, its gradebook rows in one transaction.

    An outcome without a gradebook (the worker itself failed before nbgrader ran) changes nothing.
    """
    if outcome.gradebook is None:
        return
    with tempfile.TemporaryDirectory(prefix="gancourse-merge-") as scratch:
        scratch_db = Path(scratch) / "gradebook.db"
        scratch_db.write_bytes(outcome.gradebook)
        with Gradebook(f"sqlite:///{scratch_db}") as source:
            rows = [_detached_copy(row) for row in _rows(source, assignment, outcome.student)]
    _replace_folder(course.folder("autograded", assignment, outcome.student), outcome.autograded_files)
    with Gradebook(course.dirs.db_url) as target:
        try:
            for row in rows:
                target.db.merge(row)
            target.db.commit()
        except Exception:
            target.db.rollback()
            raise


def _replace_folder(destination: Path, files: dict[str, bytes] | None) -> None:
    """Swap in a new autograded folder (or remove the old one, as nbgrader does for a failed submission)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=f".{destination.name}.merging-") as staging:
        staging = Path(staging)
        if files is not None:
            write_files(staging / "new", files)
        if destination.exists():
            destination.rename(staging / "old")
        if files is not None:
            (staging / "new").rename(destination)


@contextmanager
def _no_interrupt():
    """Hold Ctrl-C until the block is done, so that a merge is never left half-written."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    pending = []
    previous = signal.signal(signal.SIGINT, lambda *_: pending.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


# --- the command ---------------------------------------------------------------------------------------------------

def grade(course_root: str | Path, assignment: str, *, students: list[str] | None = None, jobs: int | None = None,
          timeout: float = 900.0, memory_gib: float | None = None, force: bool = False,
          scheduler: str | None = None, progress: bool = True) -> dict[str, Outcome]:
    """Autograde the submissions of `assignment` in parallel and merge them into the course; returns each outcome."""
    course = Course.load(course_root)
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1 or timeout <= 0:
        raise ValueError(f"--jobs must be at least 1 and --timeout positive, got {jobs} and {timeout}")
    with Gradebook(course.dirs.db_url) as gradebook:
        if assignment not in {a.name for a in gradebook.assignments}:
            raise ValueError(f"{assignment!r} is not in the gradebook: run nbgrader generate_assignment {assignment}")
    available = course.students(assignment)
    if not available:
        raise ValueError(f"no submissions of {assignment!r} in {course.folder('submitted', '.')}: "
                         f"run nbgrader collect {assignment} first")
    unknown = sorted(set(students or []) - set(available))
    if unknown:
        raise ValueError(f"no submission of {assignment!r} from {unknown} in {course.folder('submitted', '.')}")
    memory = int((memory_gib or psutil.virtual_memory().total / 2**30 * 0.8 / jobs) * 2**30)
    ledger = course.ledger(assignment)
    config = (course.root / CONFIG_FILE).read_bytes()
    source = read_files(course.folder("source", assignment), skip_notebooks=True)
    todo: dict[str, tuple[Job, str]] = {}
    threads = None if scheduler else max(1, (os.cpu_count() or 1) // jobs)  # a Dask worker keeps its own
    for student in students or available:
        files = read_files(course.folder("submitted", assignment, student))
        digest = fingerprint(files)
        if force or not ledger.is_current(student, digest):
            todo[student] = (Job(assignment, student, config, source, files, timeout, memory, threads), digest)
    outcomes: dict[str, Outcome] = {}
    bar = tqdm(total=len(todo), unit="submission", desc=f"grading {assignment}", disable=not progress)
    gradebook_bytes = course.gradebook.read_bytes()
    run = _run_on_cluster if scheduler else _run_here
    with closing(run(todo, gradebook_bytes, scheduler or jobs)) as results, bar:  # closing: Ctrl-C stops the workers
        for outcome in results:
            with _no_interrupt():
                retry = outcome.gradebook is None  # the worker failed before nbgrader ran: not the student's fault
                try:
                    merge(course, assignment, outcome)
                except Exception as error:  # e.g. nbgrader stopped before it recorded the submission
                    outcome.status, outcome.reason = "failed", f"could not be merged: {type(error).__name__}: {error}"
                    retry = True
                ledger.record(outcome.student, status=outcome.status, reason=outcome.reason, seconds=outcome.seconds,
                              fingerprint=todo[outcome.student][1], retry=retry)
                ledger.save_log(outcome.student, outcome.log)
            outcomes[outcome.student] = outcome
            failed = sum(o.status == "failed" for o in outcomes.values())
            bar.set_postfix(done=len(outcomes) - failed, failed=failed, remaining=len(todo) - len(outcomes))
            bar.update()
    return outcomes


def _run_here(todo: dict[str, tuple[Job, str]], gradebook: bytes, jobs: int):
    """Grade on this machine, `jobs` submissions at a time; on Ctrl-C, stop every nbgrader and its kernel."""
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running: set[Future] = {pool.submit(_guarded, job, gradebook, cancel) for job, _ in todo.values()}
        try:
            while running:
                done, running = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        finally:
            cancel.set()
            for future in running:
                future.cancel()


def _guarded(job: Job, gradebook: bytes, cancel: threading.Event | None = None) -> Outcome:
    """grade_in_scratch, with a failure of the worker itself turned into that student's failed outcome."""
    started = time.perf_counter()
    try:
        return grade_in_scratch(job, gradebook, cancel)
    except Exception as error:  # the worker broke, not the submission: still one student's failure only
        return Outcome(job.student, "failed", f"the grading worker failed: {type(error).__name__}: {error}",
                       round(time.perf_counter() - started, 2))


def _run_on_cluster(todo: dict[str, tuple[Job, str]], gradebook: bytes, address: str):
    """Grade on a Dask distributed cluster: the gradebook is sent to each worker once, each job as one task."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError as error:
        raise ImportError("--scheduler needs Dask: pip install 'gancourse[cluster]'") from error
    with Client(address) as client:
        shared = client.scatter(gradebook, broadcast=True)
        futures = {client.submit(_guarded, job, shared, key=f"grade-{job.assignment}-{student}", pure=False): student
                   for student, (job, _) in todo.items()}
        try:
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as error:  # the worker process died (KilledWorker) or the task could not run
                    reason = f"the Dask worker failed: {type(error).__name__}: {error}"
                    yield Outcome(futures[future], "failed", reason, 0.0)
        finally:
            client.cancel(list(futures))


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m gancourse.grade ASSIGNMENT [--jobs N] [--timeout S] ...``."""
    parser = argparse.ArgumentParser(prog="python -m gancourse.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment")
    parser.add_argument("--course", default=".", help="the course folder, with nbgrader_config.py (default: here)")
    parser.add_argument("--student", nargs="+", help="grade only these students")
    parser.add_argument("--jobs", type=int, help="submissions graded at once on this machine (default: cores)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per submission (default: 900)")
    parser.add_argument("--memory", type=float, help="GiB per submission (default: 80%% of memory / jobs)")
    parser.add_argument("--force", action="store_true", help="regrade submissions that have not changed")
    parser.add_argument("--scheduler", help="a Dask scheduler address (tcp://host:8786): grade on its workers")
    args = parser.parse_args(argv)
    try:
        outcomes = grade(args.course, args.assignment, students=args.student, jobs=args.jobs, timeout=args.timeout,
                         memory_gib=args.memory, force=args.force, scheduler=args.scheduler)
    except (ValueError, OSError, ImportError) as error:  # no course, assignment or submissions; Dask missing
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted: every submission merged so far is complete; re-run to grade the rest.", file=sys.stderr)
        return 130
    failed = {s: o.reason for s, o in outcomes.items() if o.status == "failed"}
    print(f"{len(outcomes) - len(failed)} graded, {len(failed)} failed"
          + ("" if outcomes else " (nothing new: use --force to regrade)"))
    for student, reason in sorted(failed.items()):
        print(f"  {student}: {reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
