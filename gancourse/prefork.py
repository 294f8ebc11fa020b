"""A process that has nbgrader imported and forks a fresh ``nbgrader`` command for each request.

Importing nbgrader takes 3-4 s on a small CPU, a quarter of autograding one notebook-01 submission. The grader
therefore starts this server once (``python -m gancourse.prefork``) and asks it for each submission: the server
forks, and the child runs ``nbgrader ARGS`` in its own session, folder and log file, as a new process would,
without importing anything. The server also imports what kernels need, so that each nbgrader can fork its
kernel warm (:mod:`gancourse.warmkernel`). Libraries read some of the environment when imported (OpenMP and
OpenBLAS their thread counts), so a server has one environment for all its children: :func:`start` keeps one
server per environment. The server is single-threaded (forking a threaded process is unsafe) and speaks JSON
lines: a request ``{"id", "args", "cwd", "log", "warm_kernel"}`` is answered ``{"id", "pid"}``, and
``{"pid", "exit"}`` follows when that child ends.
"""
from __future__ import annotations

import atexit
import importlib
import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

from gancourse import warmkernel


def serve() -> None:
    """Read requests on stdin until it closes; fork one nbgrader per request; report pids and exit codes."""
    warmkernel.preload()
    from nbgrader.apps.nbgraderapp import NbGraderApp  # the import every child skips

    for lazy in ("IPython.paths", "ipykernel.kernelspec", "sqlalchemy.dialects.sqlite"):  # autograde imports these
        importlib.import_module(lazy)

    children: set[int] = set()
    pending = b""
    while True:
        ready, _, _ = select.select([sys.stdin.fileno()], [], [], 0.1)
        if ready:
            chunk = os.read(sys.stdin.fileno(), 1 << 16)
            if not chunk:
                return
            *lines, pending = (pending + chunk).split(b"\n")
            for request in map(json.loads, lines):
                sys.stdout.flush()
                pid = os.fork()
                if pid == 0:
                    _run_child(NbGraderApp, request)
                children.add(pid)
                _reply({"id": request["id"], "pid": pid})
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                _reply({"pid": pid, "exit": os.waitstatus_to_exitcode(status)})


def _reply(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _run_child(app, request: dict) -> None:
    """In the forked child: a session, folder and log of its own, then nbgrader; never returns."""

    def run() -> None:
        os.setsid()  # Ctrl-C in the terminal is for the grader, which stops its children itself
        os.chdir(request["cwd"])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        if request["warm_kernel"]:
            warmkernel.fork_zygote()
        app.launch_instance(argv=request["args"])

    warmkernel.run_and_exit(run, cleanup=warmkernel.discard_zygote)


class Forked:
    """A child of the server: its pid, and poll() and wait() as for a subprocess.Popen."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self.ended = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self) -> int:
        self.ended.wait()
        return self.returncode


class Prefork:
    """The client: starts the server with `env` added to this environment, sends it requests from any thread, and
    hears back pids and exit codes."""

    def __init__(self, env: dict[str, str] | None = None):
        self.server = subprocess.Popen([sys.executable, "-m", "gancourse.prefork"], env={**os.environ, **(env or {})},
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        self.lock = threading.Lock()
        self.started: dict[int, threading.Event | Forked] = {}
        self.children: dict[int, Forked] = {}
        self.ids = 0
        threading.Thread(target=self._listen, daemon=True).start()

    def start(self, args: list[str], cwd: Path, log: Path, warm_kernel: bool = True) -> Forked:
        """Run ``nbgrader ARGS`` in `cwd`, its output to `log`, its kernel forked warm or started the usual way."""
        with self.lock:
            self.ids += 1
            request_id, answered = self.ids, threading.Event()
            self.started[request_id] = answered
            message = {"id": request_id, "args": args, "cwd": str(cwd), "log": str(log), "warm_kernel": warm_kernel}
            self.server.stdin.write(json.dumps(message).encode() + b"\n")
            self.server.stdin.flush()
        if not answered.wait(timeout=60):
            raise RuntimeError("the nbgrader fork server did not answer within 60 s")
        return self.started.pop(request_id)

    def _listen(self) -> None:
        for line in self.server.stdout:
            message = json.loads(line)
            with self.lock:
                if "id" in message:
                    child = self.children[message["pid"]] = Forked(message["pid"])
                    answered, self.started[message["id"]] = self.started[message["id"]], child
                    answered.set()
                else:
                    child = self.children.pop(message["pid"])
                    child.returncode = message["exit"]
                    child.ended.set()
        self.server.stdout.close()
        with self.lock:  # the server is gone: so are its children
            for child in self.children.values():
                child.returncode = -1
                child.ended.set()

    def close(self) -> None:
        """Stop the server (children still running go on until they end) and release its pipes."""
        self.server.stdin.close()
        self.server.wait()


_SERVERS: dict[tuple[tuple[str, str], ...], Prefork] = {}
_SERVERS_LOCK = threading.Lock()


def start(args: list[str], cwd: Path, log: Path, env: dict[str, str], warm_kernel: bool = True) -> Forked:
    """Run ``nbgrader ARGS`` with `env` added to this environment, forked from the server for that environment
    (started on first use), its kernel forked warm or started the usual way."""
    key = tuple(sorted(env.items()))
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is None or server.server.poll() is not None:
            server = _SERVERS[key] = Prefork(env)
            atexit.register(server.close)
    return server.start(args, cwd, log, warm_kernel)


if __name__ == "__main__":
    serve()
