"""Warm kernels: the grader's notebook kernels forked with torch already imported, not started from scratch.

A fresh kernel starts Python and imports ipykernel and torch before it runs the first cell: about 3 s of one core,
a fifth of grading a notebook-01 submission. :mod:`gancourse.prefork` imports them once (:func:`preload`). Each
nbgrader it forks then forks a *zygote* at once (:func:`fork_zygote`): a copy of itself from before nbgrader
started (one thread, no event loop, no sockets), waiting on a pipe. When nbgrader starts its kernel,
jupyter_client asks :class:`WarmProvisioner`, which sends the zygote the kernel's command, folder and environment,
and the zygote becomes that kernel just as ``python -m ipykernel_launcher -f CONNECTION_FILE`` would (same
folder, ``sys.argv``, ``sys.path`` and environment, a session of its own). The zygote is nbgrader's child, as a
launched kernel is, so the grader's watchdog sees and stops it.

The kernel has the server's modules imported (nbgrader's too), and only modules whose import depends on nothing
that differs between the server and a kernel are preloaded: not those that look for a running IPython
(``tqdm.auto``, ``ipywidgets``, ``matplotlib_inline``), nor ``ipykernel.kernelapp``, which reads
``JPY_PARENT_PID`` when imported. Thread counts are read from the server's environment, which is the kernel's
(:mod:`gancourse.prefork`). Nothing touches CUDA before the fork, so a warm kernel can use a GPU. A second kernel
in one nbgrader (a restart after a crash) and kernels of other languages start the usual way.
"""
from __future__ import annotations

import atexit
import importlib
import json
import os
import runpy
import signal
import sys
import traceback
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, NoReturn

from jupyter_client.provisioning import KernelProvisionerFactory, LocalProvisioner

PRELOAD = ("IPython", "ipykernel.ipkernel", "torch", "torch.nn", "torch.nn.functional", "numpy", "matplotlib",
           "matplotlib.figure")
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # what ipykernel sets before matplotlib is imported
PROVISIONER = "gancourse-warm"
_startup_path: list[str] = []  # sys.path before nbgrader's import added to it


def preload() -> None:
    """Import what every kernel needs, with the environment a kernel has; call it before importing nbgrader."""
    _startup_path[:] = sys.path
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    for module in PRELOAD:
        importlib.import_module(module)


class Zygote:
    """The forked process waiting to become a kernel, seen from nbgrader as a ``subprocess.Popen`` of it."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pipe: int):
        self.pid, self.pipe = pid, pipe
        self.returncode: int | None = None

    def start(self, argv: list[str], cwd: str, env: dict[str, str]) -> None:
        """Tell the zygote to run the kernel command `argv` in `cwd` with `env`."""
        with os.fdopen(self.pipe, "w") as pipe:
            json.dump({"argv": argv, "cwd": cwd, "env": env}, pipe)

    def discard(self) -> None:
        """An unused zygote: close its pipe (it exits on end of file) and collect it."""
        os.close(self.pipe)
        self.wait()

    def poll(self) -> int | None:
        return self._collect(os.WNOHANG)

    def wait(self) -> int:
        return self._collect(0)

    def _collect(self, flags: int) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, flags)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


_zygote: Zygote | None = None


def fork_zygote() -> None:
    """In a process about to run nbgrader: fork a zygote, and make :class:`WarmProvisioner` start its kernel."""
    global _zygote
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write)
        _become_kernel(read)
    os.close(read)
    _zygote = Zygote(pid, write)
    factory = KernelProvisionerFactory.instance()
    factory.provisioners[PROVISIONER] = EntryPoint(PROVISIONER, f"{__name__}:WarmProvisioner",
                                                   KernelProvisionerFactory.GROUP_NAME)
    factory.default_provisioner_name = PROVISIONER


def discard_zygote() -> None:
    """Before nbgrader's process ends: collect the zygote if no kernel was started from it."""
    global _zygote
    zygote, _zygote = _zygote, None
    if zygote is not None:
        zygote.discard()


def _become_kernel(pipe: int) -> None:
    """In the zygote: wait for a kernel command and run it as ``python -m ipykernel_launcher`` would; never returns."""
    os.setsid()  # its own session from the start, as jupyter_client gives a kernel: its pgid is its pid
    with os.fdopen(pipe) as requests:
        request = requests.read()
    if not request:  # nbgrader ended without a kernel
        os._exit(0)
    request = json.loads(request)

    def launch() -> None:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = request["argv"][:1] + request["argv"][3:]  # run_module puts the launcher's path first
        sys.path[:] = [os.getcwd(), *_startup_path[1:]]  # as `python -m` sets it
        runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)

    # A crash prints its traceback into nbgrader's log, as a kernel's own would; the exit functions are those a
    # process ending normally runs.
    run_and_exit(launch, cleanup=atexit._run_exitfuncs)


def run_and_exit(body: Callable[[], object], cleanup: Callable[[], object]) -> NoReturn:
    """In a forked child: run body, then cleanup, and end the process with body's exit code (0, or 1 on a crash)."""
    code = 1
    try:
        body()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        cleanup()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class WarmProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, except that this process's zygote becomes the first kernel."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        global _zygote
        zygote, _zygote = _zygote, None
        if zygote is None or not _is_ipykernel_here(cmd, kwargs):
            if zygote is not None:
                zygote.discard()
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ, JPY_PARENT_PID=str(os.getpid()))  # as jupyter_client's launcher
        zygote.start(cmd, str(kwargs.get("cwd") or Path.cwd()), env)
        self.process, self.pid, self.pgid = zygote, zygote.pid, zygote.pid
        self.cwd = kwargs.get("cwd", Path.cwd())
        return self.connection_info


def _is_ipykernel_here(cmd: list[str], kwargs: dict[str, Any]) -> bool:
    """Whether `cmd` starts this Python's ipykernel, with no streams or options a zygote could not take."""
    return (len(cmd) >= 3 and cmd[1:3] == ["-m", "ipykernel_launcher"]
            and os.path.realpath(os.path.expanduser(cmd[0])) == os.path.realpath(sys.executable)
            and not any(kwargs.get(key) for key in ("stdin", "stdout", "stderr", "independent")))
