"""gancourse.warmkernel: kernels forked warm from gancourse.prefork behave as freshly started ones.

The toy course is autograded twice through the fork server, with a kernel started the usual way and with a warm
one, and its first cell reports what a notebook can see of its process: folder, arguments, import path, session,
parent, environment, threads, plotting backend, progress bars.
"""
from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import psutil
import pytest

from gancourse import prefork
from gancourse.warmkernel import _is_ipykernel_here
from course_helpers import nbgrader, submission
from toy_class import ASSIGNMENT, CONFIG, NOTEBOOK, answers, make_course, source_notebook, submit

PROBE = r'''
import ipywidgets, json, os, sys, threading
preloaded = "torch" in sys.modules
import matplotlib, numpy, torch, tqdm.auto
from ipykernel.kernelapp import IPKernelApp
facts = dict(parent_handle=IPKernelApp.instance().parent_handle == os.getppid(),
             threads_running=sorted(type(t).__name__ for t in threading.enumerate()),
             cwd=os.getcwd(), argv=[os.path.basename(sys.argv[0]), sys.argv[1]], path=sys.path,
             own_session=os.getsid(0) == os.getpid(), parent=os.getppid() == int(os.environ["JPY_PARENT_PID"]),
             env=sorted((k, v) for k, v in os.environ.items() if k != "JPY_PARENT_PID"),
             threads=torch.get_num_threads(), backend=matplotlib.get_backend(), main=sys.modules["__main__"].__name__,
             progress_bar=tqdm.auto.tqdm.__mro__[1].__module__, name=__name__, stdin=sys.stdin.__class__.__name__)
print("PRELOADED", preloaded)
print("FACTS", json.dumps(facts))
def square(x):
    return x * x
'''


@pytest.fixture(scope="module")
def server():
    client = prefork.Prefork({"OMP_NUM_THREADS": "1", "GANCOURSE_MARK": "kept"})
    yield client
    client.close()


def _autograde(server, course, warm: bool, notebook: str = NOTEBOOK) -> dict[str, str]:
    child = server.start(["autograde", ASSIGNMENT, "--force"], course, course / "autograde.log", warm_kernel=warm)
    assert child.wait() == 0, (course / "autograde.log").read_text()
    return _printed(course, notebook)


def _printed(course, notebook: str) -> dict[str, str]:
    """What the probe printed in `notebook`, autograded: {"PRELOADED": ..., "FACTS": ...}."""
    nb = nbformat.read(course / "autograded" / "ann" / ASSIGNMENT / f"{notebook}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    return dict(line.split(" ", 1) for line in printed.splitlines())


@pytest.mark.slow
def test_a_warm_kernel_sees_what_a_freshly_started_kernel_sees(server, tmp_path):
    course = make_course(tmp_path / "course")
    submit(course, "ann", answers(square=PROBE))
    cold, warm = _autograde(server, course, warm=False), _autograde(server, course, warm=True)
    assert (cold["PRELOADED"], warm["PRELOADED"]) == ("False", "True"), "the warm kernel must have torch imported"
    cold, warm = json.loads(cold["FACTS"]), json.loads(warm["FACTS"])
    assert warm == cold
    assert ["GANCOURSE_MARK", "kept"] in warm["env"] and warm["threads"] == 1, "the grader's environment reaches it"
    assert warm["own_session"] and warm["parent"] and warm["parent_handle"], "it watches nbgrader, its parent"
    assert warm["progress_bar"] == "tqdm.notebook", "tqdm.auto must find the kernel, as in a fresh one"


@pytest.mark.slow
def test_the_second_notebook_of_an_assignment_gets_a_kernel_started_the_usual_way(server, tmp_path):
    course = tmp_path / "course"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(CONFIG)
    for name in ("first", "second"):
        nbformat.write(source_notebook(), course / "source" / ASSIGNMENT / f"{name}.ipynb")
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    for name in ("first", "second"):
        path = course / "submitted" / "ann" / ASSIGNMENT / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(submission(answers(square=PROBE), course / "release" / ASSIGNMENT / f"{name}.ipynb"), path)
    first = _autograde(server, course, warm=True, notebook="first")
    second = _printed(course, "second")
    assert (first["PRELOADED"], second["PRELOADED"]) == ("True", "False"), "one zygote, for the first kernel"
    assert json.loads(first["FACTS"]) == json.loads(second["FACTS"])


@pytest.mark.slow
def test_an_unused_zygote_leaves_no_process_behind(server, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("")
    child = server.start(["db", "student", "list"], tmp_path, tmp_path / "out.log", warm_kernel=True)
    assert child.wait() == 0, (tmp_path / "out.log").read_text()
    left = psutil.Process(server.server.pid).children(recursive=True)
    assert left == [], f"the zygote should have ended with nbgrader, found {left}"


@pytest.mark.parametrize("cmd, options, warm", [
    ([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"], {"env": {}, "cwd": "."}, True),
    (["/usr/bin/python3.9", "-m", "ipykernel_launcher", "-f", "k.json"], {}, False),
    ([sys.executable, "-m", "other_kernel", "-f", "k.json"], {}, False),
    (["R", "--slave", "-e", "IRkernel::main()", "--args", "k.json"], {}, False),
    ([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"], {"stdout": subprocess.PIPE}, False),
    ([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"], {"independent": True}, False),
], ids=["this-ipykernel", "another-python", "another-module", "another-language", "captured-output", "independent"])
def test_only_this_pythons_ipykernel_is_started_warm(cmd, options, warm):
    assert _is_ipykernel_here(cmd, options) is warm
