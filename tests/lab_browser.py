"""Drive a real JupyterLab in Chromium with Playwright, the way a student uses the course.

:class:`JupyterLab` serves a scratch folder on a free localhost port; :class:`Notebook` opens one notebook
in a browser page, runs it from the Run menu and reads what the page shows; :func:`move_every_slider`
moves each ipywidgets slider and checks that the picture in its output changes.
Playwright is imported by the tests that need it, so this module imports without it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_ENV = "GANCOURSE_CHROMIUM"  # a Chromium or Chrome executable to use instead of the system one
SCREENSHOTS = Path(__file__).parent / "screenshots"  # git-ignored

# JupyterLab settings for the test server: every cell stays in the page (no windowing), no blank space
# after the last cell (screenshots end with the notebook), no news pop-up.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none", "scrollPastEnd": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
}


def find_chromium() -> str | None:
    """The Chromium executable: $GANCOURSE_CHROMIUM, else /usr/bin/chromium, else `chromium(-browser)` on PATH."""
    if os.environ.get(CHROMIUM_ENV):
        return os.environ[CHROMIUM_ENV] if Path(os.environ[CHROMIUM_ENV]).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing_browser_parts() -> list[str]:
    """What is missing to run the browser tests, each with how to install it (empty when nothing is)."""
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("Playwright for Python (pip install playwright)")
    if find_chromium() is None:
        missing.append(f"Chromium (apt-get install chromium, or set {CHROMIUM_ENV} to a Chromium executable)")
    return missing


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLab:
    """A `jupyter lab` server on a free localhost port, serving `root`, with its own config and runtime dirs.

    Use it as a context manager. `home` holds its settings, runtime files and log; `env` is added to the
    server's (and so the kernels') environment. It runs in `root`, which nbgrader's extension takes as the
    course folder.
    """

    def __init__(self, root: Path, home: Path, env: dict[str, str] | None = None, start_timeout: float = 90) -> None:
        self.root, self.home, self.env, self.start_timeout = Path(root), Path(home), env or {}, start_timeout
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.log_path = self.home / "jupyterlab.log"
        self._process: subprocess.Popen | None = None

    def url(self, path: str = "") -> str:
        """The address of `path` under /lab/tree, with the token."""
        return f"http://127.0.0.1:{self.port}/lab/tree/{path}?token={self.token}"

    def log(self) -> str:
        """The server's log so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> JupyterLab:
        config = self.home / "config"
        for plugin, values in LAB_SETTINGS.items():
            path = config / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {**os.environ, **self.env, "JUPYTER_CONFIG_DIR": str(config),
               "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"), "JUPYTER_DATA_DIR": str(self.home / "data"),
               "IPYTHONDIR": str(self.home / "ipython")}
        command = [sys.executable, "-m", "jupyter", "lab", "--allow-root", "--ServerApp.open_browser=False",
                   "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--ServerApp.token={self.token}", f"--ServerApp.root_dir={self.root}",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                   "--LabApp.expose_app_in_browser=True"]  # window.jupyterapp, to read outputs' types
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(command, cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_until_up()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        status = f"http://127.0.0.1:{self.port}/api/status?token={self.token}"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self._process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(status, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"jupyter lab did not answer within {self.start_timeout:.0f} s:\n{self.log()}")

    def __exit__(self, *exc_info) -> None:
        """Stop the server (it shuts its kernels down); kill its process group if it does not stop in 20 s."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# Scripts run in the page. A picture's fingerprint hashes its decoded pixels, so a blob: URL that changes
# while the image stays the same does not count as a change; null means an image has not loaded yet.
_PICTURES_JS = """root => Array.from(root.querySelectorAll('img, canvas')).map(el => {
    let canvas = el;
    if (el.tagName === 'IMG') {
        if (!el.complete || !el.naturalWidth) return null;
        canvas = document.createElement('canvas');
        canvas.width = el.naturalWidth;
        canvas.height = el.naturalHeight;
        canvas.getContext('2d').drawImage(el, 0, 0);
    }
    const data = canvas.toDataURL();
    let hash = 2166136261;
    for (let i = 0; i < data.length; i++) hash = Math.imul(hash ^ data.charCodeAt(i), 16777619);
    return `${canvas.width}x${canvas.height}:${hash >>> 0}`;
})"""

# Two things the page does not show reliably are read from JupyterLab's models (window.jupyterapp):
# an error output renders like a stderr stream (data-mime-type="application/vnd.jupyter.stderr"), and
# the execution indicator reads idle before the kernel has even connected.
_PANEL_JS = "Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context?.path === path)"

_KERNEL_JS = """path => {
    const kernel = %s?.sessionContext.session?.kernel;
    return kernel ? `${kernel.connectionStatus} ${kernel.status}` : 'no kernel';
}""" % _PANEL_JS

_ERRORS_JS = """path => {
    const cells = %s.content.model.cells, errors = [];
    for (let i = 0; i < cells.length; i++) {
        const outputs = cells.get(i).outputs;
        for (let j = 0; outputs && j < outputs.length; j++) {
            const output = outputs.get(j).toJSON();
            if (output.output_type === 'error') errors.push({cell: i, ename: output.ename, evalue: output.evalue});
        }
    }
    return errors;
}""" % _PANEL_JS

_RUN_STATE_JS = """panel => {
    const cells = Array.from(panel.querySelectorAll('.jp-Notebook .jp-CodeCell'));
    const prompts = cells.filter(c => c.querySelector('.cm-content').textContent.trim())
                         .map(c => c.querySelector('.jp-InputPrompt').textContent);
    return {
        running: prompts.filter(p => p.includes('*')).length,
        lastDone: prompts.length > 0 && /\\d/.test(prompts[prompts.length - 1]),
    };
}"""

_WATCH_JS = """area => {
    const seen = {maxChildren: 0, images: new Set()};
    const record = () => {
        seen.maxChildren = Math.max(seen.maxChildren, area.querySelectorAll(':scope > .jp-OutputArea-child').length);
        area.querySelectorAll('img').forEach(img => seen.images.add(img.src));
    };
    new MutationObserver(record).observe(area, {childList: true, subtree: true, attributes: true,
                                                attributeFilter: ['src']});
    record();
    return seen;
}"""


@dataclass
class SliderMove:
    """What happened when one slider handle was moved."""

    cell: int
    label: str
    value_before: str
    value_after: str
    picture_changed: bool

    def __str__(self) -> str:
        effect = "changed the picture" if self.picture_changed else "did NOT change any picture"
        return f"slider {self.label!r} in cell {self.cell}: {self.value_before} -> {self.value_after} {effect}"


class Notebook:
    """One notebook open in JupyterLab in a Playwright page."""

    def __init__(self, page, lab: JupyterLab, path: str) -> None:
        self.page, self.lab, self.path = page, lab, path
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    def open(self, timeout: float = 90) -> Notebook:
        """Open the notebook and wait until its kernel is connected and idle."""
        self.page.goto(self.lab.url(self.path))
        self.page.wait_for_function("() => window.jupyterapp !== undefined")
        self.panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=timeout * 1000)
        self.wait_until_idle(timeout)
        return self

    def kernel(self) -> str:
        """The kernel's connection and execution status, like "connected idle", or "no kernel"."""
        return self.page.evaluate(_KERNEL_JS, self.path)

    @property
    def cells(self):
        """Locator of every cell, in notebook order (the test server keeps all of them in the page)."""
        return self.panel.locator(".jp-Notebook .jp-Cell")

    def output_area(self, index: int):
        """Locator of cell `index`'s output area."""
        return self.cells.nth(index).locator(".jp-Cell-outputArea")

    def run_all(self, timeout: float = 120) -> float:
        """Click Run > Run All Cells and wait until every cell has run (or one failed); return the seconds taken."""
        self._check_no_dialog()
        started = time.monotonic()
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        self.page.locator(".lm-Menu-item:has(.lm-Menu-itemLabel:text-is('Run All Cells'))").click()
        self.wait_until_done(timeout)
        return time.monotonic() - started

    def wait_until_done(self, timeout: float = 120, stalled: float = 15) -> None:
        """Wait until the kernel is idle, no cell is queued and the last cell has run or a cell has failed.

        The state must hold at two looks half a second apart: the kernel can read idle between cells.
        Fails early if a dialog opens or nothing runs for `stalled` seconds while the last cell has not run.
        """
        deadline, done_before, idle_since = time.monotonic() + timeout, False, None
        while time.monotonic() < deadline:
            self._check_no_dialog()
            state = {"kernel": self.kernel(), **self.panel.evaluate(_RUN_STATE_JS)}
            state["idle"] = state["kernel"] == "connected idle"
            done = state["idle"] and not state["running"] and (state["lastDone"] or bool(self.errors()))
            if done and done_before:
                return
            done_before = done
            stuck = state["idle"] and not state["running"] and not done
            idle_since = (idle_since or time.monotonic()) if stuck else None
            if idle_since and time.monotonic() - idle_since > stalled:
                raise RuntimeError(f"{self.path}: the kernel is idle and no cell is queued, but the last cell "
                                   f"has not run and no cell failed: did Run All Cells run? {state}")
            time.sleep(0.5)
        raise TimeoutError(f"{self.path} was still running after {timeout:.0f} s: {state}")

    def _check_no_dialog(self) -> None:
        """Fail if JupyterLab shows a dialog: it would swallow the clicks and key presses meant for the notebook."""
        dialogs = self.page.locator(".jp-Dialog")
        if dialogs.count():
            raise RuntimeError(f"JupyterLab shows a dialog: {' | '.join(dialogs.all_inner_texts())}")

    def wait_until_idle(self, timeout: float = 30) -> None:
        """Wait until the kernel is connected and idle at two looks a quarter second apart.

        Widget updates make the kernel busy too, not only running cells.
        """
        deadline, idle_before = time.monotonic() + timeout, False
        while time.monotonic() < deadline:
            self._check_no_dialog()
            idle = self.kernel() == "connected idle"
            if idle and idle_before:
                return
            idle_before = idle
            time.sleep(0.25)
        raise TimeoutError(f"the kernel of {self.path} was not idle after {timeout:.0f} s: {self.kernel()}")

    def errors(self) -> list[str]:
        """Every error output in the notebook, as "cell <index>: <exception>: <message>"."""
        return [f"cell {e['cell']}: {e['ename']}: {e['evalue']}" for e in self.page.evaluate(_ERRORS_JS, self.path)]

    def output_children(self, index: int) -> int:
        """How many outputs cell `index` shows (an in-place update replaces an output rather than adding one)."""
        return self.output_area(index).evaluate("a => a.querySelectorAll(':scope > .jp-OutputArea-child').length")

    def watch_output(self, index: int) -> None:
        """Start recording cell `index`'s output: most outputs at once and every image shown (see `watched`)."""
        self.output_area(index).evaluate(f"a => {{ window.__gancourseWatch = ({_WATCH_JS})(a); }}")

    def watched(self) -> dict:
        """Since `watch_output`: {"max_children": most outputs at once, "images": distinct images shown}."""
        return self.page.evaluate("() => ({max_children: window.__gancourseWatch.maxChildren, "
                                  "images: window.__gancourseWatch.images.size})")

    def progress_bars(self) -> list[dict]:
        """Every ipywidgets progress bar (tqdm's) in the notebook: {"cell", "text", "width" (CSS), "success"}."""
        return self.panel.evaluate("""panel => {
            const cells = Array.from(panel.querySelectorAll('.jp-Notebook .jp-Cell'));
            return Array.from(panel.querySelectorAll('.widget-hprogress')).map(bar => ({
                cell: cells.indexOf(bar.closest('.jp-Cell')),
                text: bar.parentElement.innerText.replace(/\\s+/g, ' ').trim(),
                width: bar.querySelector('.progress-bar').style.width,
                success: bar.querySelector('.progress-bar').classList.contains('progress-bar-success'),
            }));
        }""")

    def pictures(self, index: int) -> list[str | None]:
        """Fingerprints of the pictures (img, canvas) in cell `index`'s output; None for one still loading."""
        return self.output_area(index).evaluate(_PICTURES_JS)

    def screenshot(self, name: str, max_height: int = 32000) -> Path:
        """Save the page, stretched to show the whole notebook (up to `max_height` px), to screenshots/<name>.png."""
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        size = self.page.viewport_size
        scroller = self.panel.locator(".jp-WindowedPanel-outer")  # absent if the notebook never opened
        extra = scroller.evaluate("o => o.scrollHeight - o.clientHeight") if scroller.count() == 1 else 0
        self.page.set_viewport_size({"width": size["width"], "height": min(max_height, size["height"] + extra)})
        try:
            if extra:
                scroller.evaluate("o => { o.scrollTop = 0; }")
            self.page.wait_for_timeout(500)  # let JupyterLab lay the taller page out
            self.page.screenshot(path=str(path), full_page=True)
        finally:
            self.page.set_viewport_size(size)
        return path


def move_every_slider(notebook: Notebook, timeout: float = 30) -> list[SliderMove]:
    """Move each ipywidgets slider handle once and report whether a picture in its cell's output changed.

    A handle is moved from the keyboard, as noUiSlider (ipywidgets 8) supports: End, or Home when it is
    already at its maximum. A picture counts as changed once the cell shows as many loaded pictures as
    before, not all the same; `timeout` bounds the wait for the kernel to redraw.
    """
    moves = []
    for handle in notebook.panel.locator(".widget-slider .noUi-handle").all():
        cell = handle.evaluate("h => Array.from(h.closest('.jp-Notebook').querySelectorAll('.jp-Cell'))"
                               ".indexOf(h.closest('.jp-Cell'))")
        slider = handle.locator("xpath=ancestor::*[contains(@class, 'widget-slider')][1]")
        label = slider.locator(".widget-label").first.inner_text().strip() or f"#{len(moves)}"
        before_value = handle.get_attribute("aria-valuenow")
        before = _loaded_pictures(notebook, cell, timeout)
        at_max = float(before_value) >= float(handle.get_attribute("aria-valuemax"))
        handle.scroll_into_view_if_needed()
        handle.focus()
        notebook.page.keyboard.press("Home" if at_max else "End")
        changed, deadline = False, time.monotonic() + timeout
        while not changed and time.monotonic() < deadline:
            time.sleep(0.25)
            after = notebook.pictures(cell)
            changed = len(after) == len(before) > 0 and None not in after and after != before
        moves.append(SliderMove(cell, label, before_value, handle.get_attribute("aria-valuenow"), changed))
        notebook.wait_until_idle(timeout)  # so a late redraw is not credited to the next slider
    return moves


def _loaded_pictures(notebook: Notebook, cell: int, timeout: float) -> list[str | None]:
    """Cell `cell`'s picture fingerprints once every picture has loaded (or as they are after `timeout`)."""
    deadline = time.monotonic() + timeout
    while None in (pictures := notebook.pictures(cell)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return pictures
