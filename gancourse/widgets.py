"""Latent-space explorers: a slider over precomputed settings in JupyterLab, a static figure everywhere else.

Each explorer takes *your* code as arguments (the generator, your interpolations, your noise sampler, a score)
and does only the plumbing: it evaluates them once for every setting of one parameter, then shows images and
numbers for the selected setting. With a widget front end attached (JupyterLab, Notebook 7, VS Code) that is an
``ipywidgets`` slider with a picture and a caption; without one (nbgrader, nbclient, plain Python) the same
results are drawn as one static figure, so nothing is lost in feedback or in a test run.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence

import torch
from matplotlib.figure import Figure

from gancourse.runtime import NBGRADER_ENV
from gancourse.viz import figure_png, image_grid, in_notebook, show

WIDGETS_ENV = "GANCOURSE_WIDGETS"  # "static" or "interactive" forces a mode; unset: detect the front end
Curves = Mapping[str, Mapping[str, Sequence[float]]]  # panel title -> curve label -> one value per setting


def frontend_attached() -> bool:
    """True when a front end that draws widgets is (as far as the kernel can tell) attached to this kernel.

    A kernel cannot ask who is listening, so this reads its surroundings: ``GANCOURSE_WIDGETS=static`` or
    ``interactive`` decides outright; outside a Jupyter kernel, or under nbgrader, there is no front end; a
    kernel that a Jupyter server started for a notebook (JupyterLab, Notebook 7: it sets ``JPY_SESSION_NAME``),
    VS Code or Colab has one. Anything else (nbclient, nbconvert, papermill) gets the static figure.
    """
    forced = os.environ.get(WIDGETS_ENV, "").strip().lower()
    if forced in ("static", "interactive"):
        return forced == "interactive"
    if not in_notebook() or os.environ.get(NBGRADER_ENV):
        return False
    return "JPY_SESSION_NAME" in os.environ or "VSCODE_PID" in os.environ or "google.colab" in sys.modules


class Explorer:
    """Images and numbers for each setting of one parameter, shown as a slider or as a static figure.

    ``frames[i]`` maps a panel title to the images (N, C, H, W) in [-1, 1] of setting ``settings[i]``;
    ``curves`` holds the numbers, one value per setting. With ``static`` the figure is built at once
    (``figure``); otherwise ``widget`` holds a ``SelectionSlider`` (``slider``), the picture of the selected
    setting (``view``, PNG) and a one-line ``caption``. Display it by making it a cell's last expression.
    """

    def __init__(
        self,
        parameter: str,
        settings: Sequence[float],
        frames: Sequence[Mapping[str, torch.Tensor]],
        curves: Curves,
        *,
        title: str = "",
        references: Mapping[str, float] | None = None,
        static: bool | None = None,
        css_class: str = "gancourse-explorer",
    ) -> None:
        if not settings or len(frames) != len(settings):
            raise ValueError(f"need one frame per setting, got {len(frames)} frames for {len(settings)} settings")
        for panel, series in curves.items():
            for label, values in series.items():
                if len(values) != len(settings):
                    raise ValueError(f"curve {panel!r} {label!r} has {len(values)} values for {len(settings)} settings")
        self.parameter, self.title = parameter, title
        self.settings = [float(s) for s in settings]
        self.frames = [{name: images.detach().float().cpu() for name, images in frame.items()} for frame in frames]
        self.curves = {panel: {label: [float(v) for v in values] for label, values in series.items()}
                       for panel, series in curves.items()}
        self.references = dict(references or {})
        self.static = (not frontend_attached()) if static is None else bool(static)
        self.figure: Figure | None = None
        self.widget = self.slider = self.view = self.caption = None
        self._pictures: dict[int, bytes] = {}
        if self.static:
            self.figure = self.overview_figure()
        else:
            self._build_widget(css_class)

    # --- what the numbers say ------------------------------------------------------------------------------

    def label(self, index: int) -> str:
        """The setting's value as the slider shows it."""
        return f"{self.settings[index]:.2f}"

    def describe(self, index: int) -> str:
        """One line: the setting and every number measured there."""
        numbers = [f"{panel}{f' ({label})' if label else ''} {values[index]:.4g}"
                   for panel, series in self.curves.items() for label, values in series.items()]
        return ", ".join([f"{self.parameter} = {self.label(index)}", *numbers])

    def table(self) -> str:
        """All settings and their numbers, one row per setting."""
        columns = [(f"{panel}{f' ({label})' if label else ''}", values)
                   for panel, series in self.curves.items() for label, values in series.items()]
        width = [max(len(name), 8) for name, _ in columns]
        lines = ["  ".join([f"{self.parameter:>8s}", *(f"{name:>{w}s}" for (name, _), w in zip(columns, width))])]
        for i in range(len(self.settings)):
            cells = [f"{values[i]:>{w}.4g}" for (_, values), w in zip(columns, width)]
            lines.append("  ".join([f"{self.label(i):>8s}", *cells]))
        return "\n".join(lines)

    def values(self, panel: str, label: str = "") -> list[float]:
        """The numbers of one curve, one per setting."""
        return self.curves[panel][label]

    # --- pictures -------------------------------------------------------------------------------------------

    def _draw_curves(self, axes, marker: int | None) -> None:
        for ax, (panel, series) in zip(axes, self.curves.items()):
            for label, values in series.items():
                ax.plot(self.settings, values, marker="o", markersize=3, label=label or None)
                if marker is not None:
                    ax.plot([self.settings[marker]], [values[marker]], "o", color="crimson", markersize=7)
            if panel in self.references:
                ax.axhline(self.references[panel], color="grey", linestyle="--", linewidth=1)
            ax.set_title(panel, fontsize=9)
            ax.set_xlabel(self.parameter)
            ax.grid(alpha=0.3)
            if any(series):
                ax.legend(fontsize=8)

    def _draw_images(self, ax, images: torch.Tensor, title: str, nrow: int = 8) -> None:
        ax.imshow(image_grid(images, min(len(images), nrow)).numpy(), interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(title, fontsize=9)

    def frame_figure(self, index: int) -> Figure:
        """The picture of one setting: its image panels side by side, and the curves with that setting marked."""
        frame, n_curves = self.frames[index], len(self.curves)
        sizes = [len(images) for images in frame.values()]
        width = sum(3.0 if n == 1 else 0.75 * min(n, 8) for n in sizes)
        height = max(3.0 if n == 1 else 0.75 * -(-n // 8) + 0.5 for n in sizes)
        fig = Figure(figsize=(max(width, 3.2 * n_curves), height + 2.4 * bool(n_curves)), layout="constrained")
        rows = fig.subfigures(2, 1, height_ratios=[height, 2.4]) if n_curves else [fig]
        for ax, (name, images) in zip(rows[0].subplots(1, len(frame), squeeze=False)[0], frame.items()):
            self._draw_images(ax, images, f"{name}, {self.parameter} = {self.label(index)}")
        if n_curves:
            self._draw_curves(rows[1].subplots(1, n_curves, squeeze=False)[0], index)
        if self.title:
            fig.suptitle(self.title)
        return fig

    def _overview_layout(self) -> tuple[str, list[int]]:
        """How the overview shows the settings: a strip per panel (one image per setting), a row per setting
        (one panel of at most 10 images), or else a column for each of at most four settings, ends included."""
        count = len(self.settings)
        sizes = [len(images) for frame in self.frames for images in frame.values()]
        if max(sizes) == 1:
            return "strips", list(range(count))
        if len(self.frames[0]) == 1 and max(sizes) <= 10:
            return "rows", list(range(count))
        return "columns", list(range(count)) if count <= 4 else sorted({round(k * (count - 1) / 3) for k in range(4)})

    def overview_figure(self) -> Figure:
        """Every setting at once (images above, curves below); see :meth:`_overview_layout`."""
        layout, chosen = self._overview_layout()
        panels, n_curves = list(self.frames[0]), len(self.curves)
        if layout == "rows":
            n_images = max(len(frame[panels[0]]) for frame in self.frames)
            grid_shape, width, height = (len(chosen), 1), 0.9 * n_images + 0.6, 1.2 * len(chosen) + 0.5
        else:
            cell = 1.1 if layout == "strips" else 2.6
            grid_shape, width, height = (len(panels), len(chosen)), cell * len(chosen) + 1.0, cell * len(panels) + 0.5
        fig = Figure(figsize=(max(width, 3.2 * n_curves), height + 2.6 * bool(n_curves)), layout="constrained")
        parts = fig.subfigures(2, 1, height_ratios=[height, 2.6]) if n_curves else [fig]
        grid = parts[0].subplots(*grid_shape, squeeze=False)
        if layout == "rows":
            for r, index in enumerate(chosen):
                self._draw_images(grid[r][0], self.frames[index][panels[0]], "", nrow=n_images)
                grid[r][0].set_title(f"{self.parameter} = {self.label(index)}", loc="left", fontsize=9)
        else:
            for r, name in enumerate(panels):
                for c, index in enumerate(chosen):
                    title = f"{self.parameter} = {self.label(index)}" if r == 0 else ""
                    self._draw_images(grid[r][c], self.frames[index][name], title)
                grid[r][0].text(-0.08, 0.5, name, transform=grid[r][0].transAxes, rotation=90, ha="right", va="center")
        if n_curves:
            self._draw_curves(parts[1].subplots(1, n_curves, squeeze=False)[0], None)
        if self.title:
            fig.suptitle(self.title)
        return fig

    # --- the widget -----------------------------------------------------------------------------------------

    def picture(self, index: int) -> bytes:
        """PNG of :meth:`frame_figure` (drawn once per setting, then reused)."""
        if index not in self._pictures:
            self._pictures[index] = figure_png(self.frame_figure(index), dpi=72)
        return self._pictures[index]

    def _build_widget(self, css_class: str) -> None:
        import ipywidgets

        options = [(self.label(i), i) for i in range(len(self.settings))]
        self.slider = ipywidgets.SelectionSlider(options=options, value=0, description=self.parameter,
                                                 continuous_update=True, layout=ipywidgets.Layout(width="420px"))
        self.view = ipywidgets.Image(format="png")
        self.caption = ipywidgets.HTML()
        self.slider.observe(lambda change: self._select(change["new"]), names="value")
        self.widget = ipywidgets.VBox([self.slider, self.view, self.caption])
        self.widget.add_class("gancourse-explorer")
        self.widget.add_class(css_class)
        self._select(0)

    def _select(self, index: int) -> None:
        self.view.value = self.picture(index)
        self.caption.value = f"<code>{self.describe(index)}</code>"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.widget is not None:
            display(self.widget)
        else:
            show(self.figure)

    def __repr__(self) -> str:
        mode = "static figure" if self.static else "slider"
        return f"<Explorer of {self.parameter!r}: {len(self.settings)} settings, {mode}>"


def _images(generate: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, what: str) -> torch.Tensor:
    with torch.no_grad():
        images = generate(z)
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or len(images) != len(z):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"generate({what}) should return {len(z)} images (N, C, H, W), got {shape}")
    return images


def explore_interpolation(
    generate: Callable[[torch.Tensor], torch.Tensor],
    z0: torch.Tensor,
    z1: torch.Tensor,
    interpolations: Mapping[str, Callable],
    steps: int = 9,
    *,
    static: bool | None = None,
) -> Explorer:
    """Walk from `z0` to `z1` with each of your `interpolations`, side by side, and track the norm of z.

    Each interpolation is called as ``fn(z0, z1, t)`` with ``t = torch.linspace(0, 1, steps)`` and must return
    the path, shape ``(steps, latent_dim)``; ``generate(path)`` turns it into images.
    """
    if z0.ndim != 1 or z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 should be two latent vectors of the same shape (latent_dim,), got "
                         f"{tuple(z0.shape)} and {tuple(z1.shape)}")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int of at least 2, got {steps!r}")
    t = torch.linspace(0, 1, steps, device=z0.device)
    paths = {}
    for name, interpolate in interpolations.items():
        path = interpolate(z0, z1, t)
        if not isinstance(path, torch.Tensor) or tuple(path.shape) != (steps, len(z0)):
            shape = tuple(path.shape) if isinstance(path, torch.Tensor) else type(path).__name__
            raise ValueError(f"{name}(z0, z1, t) with {steps} values of t should return shape {(steps, len(z0))}, "
                             f"got {shape}")
        paths[name] = path.detach()
    images = {name: _images(generate, path, name) for name, path in paths.items()}
    frames = [{name: images[name][i : i + 1] for name in paths} for i in range(steps)]
    norms = {name: path.norm(dim=1).tolist() for name, path in paths.items()}
    return Explorer("t", t.tolist(), frames, {"norm of z": norms}, static=static,
                    references={"norm of z": len(z0) ** 0.5}, css_class="gancourse-interpolation",
                    title="Interpolating in the latent space (dashed: sqrt(latent_dim))")


def explore_truncation(
    sample: Callable[[float], torch.Tensor],
    thresholds: Sequence[float],
    score: Callable[[torch.Tensor], Mapping[str, float]],
    *,
    shown: int = 32,
    static: bool | None = None,
) -> Explorer:
    """For each threshold: ``sample(threshold)`` images, scored by ``score(images)``; show some and plot the scores.

    ``score`` returns numbers by name, for example ``{"FD": ..., "digits drawn": ...}``; each gets its own panel.
    """
    if not thresholds:
        raise ValueError("give at least one threshold")
    frames, scores = [], []
    for threshold in thresholds:
        with torch.no_grad():
            images = sample(threshold)
        scores.append({name: float(value) for name, value in score(images).items()})
        frames.append({"samples": images[:shown]})
    curves = {name: {"": [s[name] for s in scores]} for name in scores[0]}
    return Explorer("threshold", thresholds, frames, curves, static=static, css_class="gancourse-truncation",
                    title="The truncation trick: fidelity against variety")


def explore_arithmetic(
    generate: Callable[[torch.Tensor], torch.Tensor],
    start: torch.Tensor,
    direction: torch.Tensor,
    scales: Sequence[float],
    measure: Callable[[torch.Tensor], Mapping[str, float]],
    *,
    static: bool | None = None,
) -> Explorer:
    """Move the latent vectors `start` (N, latent_dim) along `direction` by each scale; measure what comes out.

    ``measure(images)`` returns numbers by name (for example the share classified as a 1 and the stroke
    thickness); each gets its own panel, so you see what the arithmetic changed and what it kept.
    """
    if start.ndim != 2 or direction.shape != start.shape[1:]:
        raise ValueError(f"start should be (N, latent_dim) and direction (latent_dim,), got {tuple(start.shape)} "
                         f"and {tuple(direction.shape)}")
    if not scales:
        raise ValueError("give at least one scale")
    frames, measured = [], []
    for scale in scales:
        images = _images(generate, start + scale * direction, f"start + {scale} * direction")
        frames.append({"start + scale * direction": images})
        measured.append({name: float(value) for name, value in measure(images).items()})
    curves = {name: {"": [m[name] for m in measured]} for name in measured[0]}
    return Explorer("scale", scales, frames, curves, static=static, css_class="gancourse-arithmetic",
                    title="Latent arithmetic")
