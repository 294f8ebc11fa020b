"""The course in a real JupyterLab, driven through Chromium with Playwright: what a student sees.

Each test serves a scratch copy of a notebook from its own `jupyter lab`, runs it from the Run menu in
fast mode and checks the page: no error output, live views that redraw in place, sliders that change
their pictures. A screenshot of every test's notebook lands in tests/screenshots/ (git-ignored).
They skip, saying what to install, without Playwright or Chromium; `.ci/run` sets
GANCOURSE_REQUIRE_BROWSER=1 so that there a missing browser fails them instead.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from contextlib import ExitStack
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_helpers import REPO, SOLUTION_01
from lab_browser import JupyterLab, Notebook, find_chromium, missing_browser_parts, move_every_slider

SOLUTION_02 = REPO / "solutions" / "02_dcgan" / "dcgan.ipynb"
REQUIRE_ENV = "GANCOURSE_REQUIRE_BROWSER"
# A training cell shows tqdm's bar, the live view and a line or two of text. An output per redraw
# instead means the live view calls display() again rather than updating its display in place.
MAX_TRAINING_OUTPUTS = 4

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser():
    """Chromium, launched by Playwright (skipped, or failed under GANCOURSE_REQUIRE_BROWSER=1, when missing)."""
    missing = missing_browser_parts()
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}; {REQUIRE_ENV}=1 requires them", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def open_in_lab(browser, tmp_path, request):
    """``open_in_lab(notebook, **env)``: serve a scratch copy of the notebook's folder in fast mode and open it.

    The test's final page is saved to tests/screenshots/<test name>.png, whether it passed or not.
    """
    screenshot = re.sub(r"[^\w.-]+", "_", request.node.name)
    with ExitStack() as stack:
        def open_(notebook: Path, **env: str) -> Notebook:
            served = tmp_path / "served"
            shutil.copytree(notebook.parent, served / notebook.parent.name,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            lab = stack.enter_context(JupyterLab(served, tmp_path / "jupyter", {"GANCOURSE_FAST": "1", **env}))
            stack.callback(lambda: print(f"--- jupyter lab log ---\n{lab.log()[-3000:]}"))
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            stack.callback(page.close)
            opened = Notebook(page, lab, f"{notebook.parent.name}/{notebook.name}")
            stack.callback(opened.screenshot, screenshot)
            return opened.open()

        yield open_


def _grade_index(source: Path, grade_id: str) -> int:
    cells = nbformat.read(source, as_version=4).cells
    return next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _check_ran_cleanly(notebook: Notebook) -> None:
    """No error output, and every training progress bar full, in a cell with a bounded number of outputs."""
    errors = notebook.errors()
    assert errors == [], "the notebook shows errors in JupyterLab:\n" + "\n".join(errors)
    bars = notebook.progress_bars()
    assert bars, "no tqdm progress bar rendered: is the training cell using tqdm.auto with ipywidgets?"
    for bar in bars:
        assert bar["width"] == "100%" and bar["success"] and "100%" in bar["text"], f"unfinished progress bar {bar}"
        outputs = notebook.output_children(bar["cell"])
        assert outputs <= MAX_TRAINING_OUTPUTS, (
            f"training cell {bar['cell']} shows {outputs} outputs: the live view should redraw in place")


def test_notebook_01_runs_in_jupyterlab_with_its_live_view(open_in_lab, mnist_root):
    notebook = open_in_lab(SOLUTION_01, GANCOURSE_DATA=str(mnist_root))
    train = _grade_index(SOLUTION_01, "train")
    notebook.watch_output(train)
    seconds = notebook.run_all(timeout=240)
    print(f"Run All took {seconds:.0f} s")
    _check_ran_cleanly(notebook)
    assert [bar["cell"] for bar in notebook.progress_bars()] == [train]
    watched = notebook.watched()
    assert watched["images"] >= 1, "the training cell never showed the live view's picture"
    assert watched["max_children"] <= 3, (
        f"the training cell showed {watched['max_children']} outputs at once; expected the progress bar, "
        "the live view and the final line: does LiveView.update call display() again instead of updating?")


def _scratch_notebook(folder: Path, *sources: str) -> Path:
    path = folder / "scratch" / "scratch.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}), path)
    return path


def test_live_view_redraws_in_place_while_training(open_in_lab, tmp_path):
    notebook = open_in_lab(_scratch_notebook(tmp_path, """\
import time
import torch
from gancourse.train import fit

def slow_step(batch):
    time.sleep(0.05)
    return {"loss": float(batch)}

history = fit(slow_step, iter(torch.arange(1000.0)), steps=40, view_every=5,
              sample_fn=lambda: torch.rand(16, 1, 8, 8) * 2 - 1)
print(history.step, "steps")"""))
    notebook.watch_output(0)
    notebook.run_all(timeout=120)
    _check_ran_cleanly(notebook)
    watched = notebook.watched()
    assert watched["images"] >= 3, f"the live view should have redrawn about 9 times, the page showed {watched}"
    assert watched["max_children"] <= 3 and notebook.output_children(0) == 3, (
        f"redraws should replace the picture, not add outputs: {watched}")


def test_slider_routine_tells_live_sliders_from_dead_ones(open_in_lab, tmp_path):
    notebook = open_in_lab(_scratch_notebook(tmp_path, """\
import ipywidgets as widgets
from IPython.display import Image, display
from matplotlib.figure import Figure
from gancourse.viz import figure_png

def bars(n, height=1.0):
    fig = Figure(figsize=(2, 2))
    fig.subplots().bar(range(n), [height] * n)
    return figure_png(fig)

widgets.interactive(lambda n, height: display(Image(bars(n, height))),
                    n=widgets.IntSlider(value=3, min=1, max=10),
                    height=widgets.FloatSlider(value=2.0, min=0.1, max=2.0, continuous_update=False))""", """\
k = widgets.IntSlider(value=2, min=1, max=8, description="k")
picture = widgets.Image(value=bars(2), width=160)
k.observe(lambda change: setattr(picture, "value", bars(change["new"])), "value")
widgets.VBox([k, picture])""", """\
dead = widgets.IntSlider(value=5, min=1, max=8, description="dead")
widgets.VBox([dead, widgets.Image(value=bars(5), width=160)])"""))
    notebook.run_all(timeout=120)
    assert notebook.errors() == []
    moves = move_every_slider(notebook, timeout=8)
    assert [(m.cell, m.label) for m in moves] == [(0, "n"), (0, "height"), (1, "k"), (2, "dead")]
    assert all(m.value_after != m.value_before for m in moves), "\n".join(map(str, moves))
    assert [m.picture_changed for m in moves] == [True, True, True, False], "\n".join(map(str, moves))


def test_notebook_02_sliders_change_their_pictures_in_jupyterlab(open_in_lab, mnist_root):
    if not SOLUTION_02.exists():
        pytest.skip("notebook 02 not written yet")
    notebook = open_in_lab(SOLUTION_02, GANCOURSE_DATA=str(mnist_root))
    seconds = notebook.run_all(timeout=300)
    print(f"Run All took {seconds:.0f} s")
    _check_ran_cleanly(notebook)
    moves = move_every_slider(notebook)
    assert moves, "notebook 02 shows no ipywidgets slider in JupyterLab"
    assert all(m.picture_changed for m in moves), "\n".join(map(str, moves))


def test_notebook_03_runs_in_jupyterlab(open_in_lab, mnist_root):
    source = REPO / "solutions" / "03_losses" / "losses.ipynb"
    notebook = open_in_lab(source, GANCOURSE_DATA=str(mnist_root))
    seconds = notebook.run_all(timeout=400)
    print(f"Run All took {seconds:.0f} s")
    errors = notebook.errors()
    assert errors == [], "the notebook shows errors in JupyterLab:\n" + "\n".join(errors)
    bars = notebook.progress_bars()
    assert {bar["cell"] for bar in bars} == {_grade_index(source, "comparison"), _grade_index(source, "little_data")}
    assert all(bar["width"] == "100%" and bar["success"] for bar in bars), f"an unfinished progress bar: {bars}"


def test_playground_plays_pauses_and_steps_in_jupyterlab(open_in_lab, tmp_path):
    notebook = open_in_lab(_scratch_notebook(tmp_path, """\
import torch
import torch.nn.functional as F
from gancourse.playground import Loss, Playground

def pack(x, m):
    return x.reshape(len(x) // m, m * x.shape[1])

def gradient_penalty(critic, real, fake):
    eps = torch.rand(len(real), 1)
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.norm(dim=1) - 1).pow(2).mean()

losses = {
    "non-saturating": Loss(lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean(),
                           lambda fake: F.softplus(-fake).mean()),
    "WGAN-GP": Loss(lambda real, fake: fake.mean() - real.mean(), lambda fake: -fake.mean(), gradient_penalty),
}
playground = Playground(losses, pack, packing=2)
playground"""))
    notebook.run_all(timeout=120)
    assert notebook.errors() == []
    _play_pause_and_step(notebook, cell=0, screenshot="test_playground_playing")


def _play_pause_and_step(notebook: Notebook, cell: int, screenshot: str) -> None:
    """Press the playground's Play (counter and picture change), Pause (counter stops), Step (exactly +1)."""
    playground = notebook.panel.locator(".gancourse-playground")
    counter = playground.locator(".gancourse-playground-counter")

    def step() -> int:
        text = counter.inner_text().strip()
        assert re.fullmatch(r"step \d+", text), f"the step counter reads {text!r}"
        return int(text.split()[1])

    def wait_until(condition, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
            time.sleep(0.1)

    counter.wait_for(timeout=30_000)
    wait_until(lambda: None not in notebook.pictures(cell) and len(notebook.pictures(cell)) == 1, "the picture loaded")
    first_picture = notebook.pictures(cell)
    assert step() == 0

    playground.locator(".gancourse-playground-play").click()
    wait_until(lambda: step() > 0, "the step counter moved after Play")
    wait_until(lambda: notebook.pictures(cell) != first_picture and None not in notebook.pictures(cell),
               "the picture changed after Play")
    started = step()
    wait_until(lambda: step() > started, "the step counter kept moving")
    notebook.screenshot(screenshot)

    pause = playground.locator(".gancourse-playground-pause")
    pause.click()
    wait_until(pause.is_disabled, "the Pause button disabled itself once training stopped", timeout=30)
    notebook.wait_until_idle()
    paused = step()
    time.sleep(1.0)  # a second of training would be tens of steps
    assert step() == paused, "the step counter moved after Pause"
    status = playground.locator(".widget-html").inner_text()
    print(f"paused at step {paused}: {status}")
    assert playground.locator(".gancourse-playground-play").is_enabled()

    playground.locator(".gancourse-playground-step").click()
    wait_until(lambda: step() != paused, "the step counter moved after Step", timeout=30)
    notebook.wait_until_idle()
    assert step() == paused + 1, "Step trains exactly one generator step"
    assert notebook.errors() == []


def test_notebook_04_runs_in_jupyterlab_and_its_playground_plays(open_in_lab, mnist_root):
    source = REPO / "solutions" / "04_mode_collapse" / "mode_collapse.ipynb"
    notebook = open_in_lab(source, GANCOURSE_DATA=str(mnist_root))
    seconds = notebook.run_all(timeout=300)
    print(f"Run All took {seconds:.0f} s")
    errors = notebook.errors()
    assert errors == [], "the notebook shows errors in JupyterLab:\n" + "\n".join(errors)
    _play_pause_and_step(notebook, cell=_grade_index(source, "playground"),
                         screenshot="test_notebook_04_playground_playing")


def test_notebook_05_runs_in_jupyterlab_and_its_class_explorer_answers_both_sliders(open_in_lab, mnist_root):
    source = REPO / "solutions" / "05_cgan" / "cgan.ipynb"
    notebook = open_in_lab(source, GANCOURSE_DATA=str(mnist_root))
    train = _grade_index(source, "train")
    notebook.watch_output(train)
    seconds = notebook.run_all(timeout=300)
    print(f"Run All took {seconds:.0f} s")
    _check_ran_cleanly(notebook)
    assert [bar["cell"] for bar in notebook.progress_bars()] == [train]
    assert notebook.watched()["images"] >= 1, "the training cell never showed the live view's picture"
    explorer = _grade_index(source, "class_grid")
    assert notebook.output_area(explorer).locator(".gancourse-class-explorer").count() == 1, (
        "the class explorer is not a widget in JupyterLab")
    moves = move_every_slider(notebook)
    assert [(m.cell, m.label) for m in moves] == [(explorer, "digit"), (explorer, "style")], "\n".join(map(str, moves))
    assert all(m.picture_changed and m.value_after != m.value_before for m in moves), "\n".join(map(str, moves))


def test_notebook_06_runs_in_jupyterlab_with_both_live_views(open_in_lab, mnist_root):
    source = REPO / "solutions" / "06_pix2pix" / "pix2pix.ipynb"
    notebook = open_in_lab(source, GANCOURSE_DATA=str(mnist_root))
    train, baseline = _grade_index(source, "train"), _grade_index(source, "train_baseline")
    notebook.watch_output(train)
    seconds = notebook.run_all(timeout=300)
    print(f"Run All took {seconds:.0f} s")
    _check_ran_cleanly(notebook)
    assert [bar["cell"] for bar in notebook.progress_bars()] == [train, baseline]
    assert notebook.watched()["images"] >= 1, "the pix2pix training cell never showed the live view's picture"
    table = notebook.output_area(_grade_index(source, "evaluate")).inner_text()
    assert all(row in table for row in ("pix2pix", "L1 only", "the truth")), f"the evaluation table is missing: {table}"


def test_notebook_07_runs_in_jupyterlab_with_its_live_views(open_in_lab, mnist_root):
    source = REPO / "solutions" / "07_cyclegan" / "cyclegan.ipynb"
    notebook = open_in_lab(source, GANCOURSE_DATA=str(mnist_root))
    trainings = [_grade_index(source, cell) for cell in ("train", "train_no_cycle", "train_no_pool")]
    notebook.watch_output(trainings[0])
    seconds = notebook.run_all(timeout=300)
    print(f"Run All took {seconds:.0f} s")
    _check_ran_cleanly(notebook)
    assert [bar["cell"] for bar in notebook.progress_bars()] == trainings
    assert notebook.watched()["images"] >= 1, "the CycleGAN training cell never showed the live view's picture"
    table = notebook.output_area(_grade_index(source, "evaluate")).inner_text()
    assert all(row in table for row in ("CycleGAN", "no cycle loss", "no image pool", "the truth")), (
        f"the evaluation table is missing: {table}")
