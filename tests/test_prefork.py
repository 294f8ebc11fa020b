"""gancourse.prefork: nbgrader commands forked from a server that has nbgrader imported.

nbgrader runs the ``nbgrader_config.py`` of its working folder as Python, so the configs below let each child
show where it ran, with which environment, and let it hang or exit with a chosen code.
"""
from __future__ import annotations

import os
import signal
import time

import pytest

from gancourse import prefork

pytestmark = pytest.mark.slow  # each server imports nbgrader (seconds)

SHOW = 'import os\nopen("seen.txt", "w").write(os.getcwd() + " " + os.environ.get("MARK", "-"))\nprint("config read")\n'


@pytest.fixture(scope="module")
def server():
    client = prefork.Prefork({"MARK": "hello"})
    yield client
    client.close()


def test_a_child_runs_nbgrader_in_its_folder_with_its_environment_and_log(server, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(SHOW)
    child = server.start(["db", "student", "list"], tmp_path, tmp_path / "out.log")
    assert child.wait() == 0, (tmp_path / "out.log").read_text()
    assert (tmp_path / "seen.txt").read_text() == f"{tmp_path} hello", "the child must run in its cwd, with its env"
    assert "config read" in (tmp_path / "out.log").read_text(), "the child's output must go to its log"
    assert "MARK" not in os.environ, "the environment is the child's, not the grader's"


def test_each_environment_gets_a_server_of_its_own(tmp_path):
    """Libraries read thread counts from the environment when imported: a server serves one environment."""
    children = {}
    for mark in ("one", "two", "one"):
        folder = tmp_path / str(len(children)) / mark
        folder.mkdir(parents=True)
        (folder / "nbgrader_config.py").write_text(SHOW.replace("print(", "import sys\nprint(os.getppid(), "))
        child = prefork.start(["db", "student", "list"], folder, folder / "out.log", {"MARK": mark})
        assert child.wait() == 0, (folder / "out.log").read_text()
        assert (folder / "seen.txt").read_text() == f"{folder} {mark}"
        children[len(children)] = (folder / "out.log").read_text().split()[0]  # the server's pid
    assert children[0] == children[2] != children[1], "the same environment reuses its server, another starts one"


def test_exit_codes_come_back(server, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("import os\nos._exit(7)\n")
    assert server.start(["db", "student", "list"], tmp_path, tmp_path / "out.log").wait() == 7


def test_a_killed_child_reports_its_signal_and_had_a_session_of_its_own(server, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("import time\ntime.sleep(60)\n")
    child = server.start(["db", "student", "list"], tmp_path, tmp_path / "out.log")
    assert child.poll() is None, "the child should still be running"
    deadline = time.monotonic() + 10
    while os.getsid(child.pid) != child.pid and time.monotonic() < deadline:  # setsid() is its first step
        time.sleep(0.05)
    assert os.getsid(child.pid) == child.pid, "the child must lead its own session, away from the terminal's Ctrl-C"
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL


def test_children_of_a_dead_server_end_instead_of_hanging(tmp_path):
    client = prefork.Prefork()
    (tmp_path / "nbgrader_config.py").write_text("import time\ntime.sleep(60)\n")
    child = client.start(["db", "student", "list"], tmp_path, tmp_path / "out.log")
    client.server.kill()
    started = time.monotonic()
    assert child.wait() == -1 and time.monotonic() - started < 10, "wait() must return once the server is gone"
    os.kill(child.pid, signal.SIGKILL)
    client.close()
