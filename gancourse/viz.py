"""Pictures: image grids, loss curves and a live training view that redraws in place in Jupyter.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot), so they work headless in tests and CI;
:func:`show` displays them in a notebook and does nothing elsewhere.
"""
from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

import torch
from matplotlib.figure import Figure

GRID_PADDING = 2  # white pixels around every tile of image_grid


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbclient, nbgrader), False in plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.has_trait("kernel")


def image_grid(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """Tile a batch of images in [-1, 1], shape (N, C, H, W), into one (H', W', 3) array in [0, 1], `nrow` a row."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected images of shape (N, 1 or 3, H, W), got {shape}")
    if nrow < 1 or len(images) == 0:
        raise ValueError(f"need at least one image and nrow >= 1, got {len(images)} images and nrow={nrow}")
    pictures = (images.detach().float().cpu().clamp(-1, 1) + 1) / 2
    count, _, height, width = pictures.shape
    columns = min(nrow, count)
    rows = math.ceil(count / columns)
    step_y, step_x = height + GRID_PADDING, width + GRID_PADDING
    grid = torch.ones(rows * step_y + GRID_PADDING, columns * step_x + GRID_PADDING, 3)  # white around the tiles
    for index, picture in enumerate(pictures.permute(0, 2, 3, 1)):
        top, left = GRID_PADDING + index // columns * step_y, GRID_PADDING + index % columns * step_x
        grid[top : top + height, left : left + width] = picture  # a grey channel broadcasts to RGB
    return grid


def _draw_grid(ax, images: torch.Tensor, nrow: int, title: str | None) -> None:
    ax.imshow(image_grid(images, nrow).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)


def _moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over up to `window` values (shorter at the start)."""
    totals, averages = [0.0], []
    for i, value in enumerate(values):
        totals.append(totals[-1] + value)
        start = max(0, i + 1 - window)
        averages.append((totals[i + 1] - totals[start]) / (i + 1 - start))
    return averages


def _draw_losses(ax, losses: Mapping[str, Sequence[float]], steps: Sequence[int]) -> None:
    """Raw losses faintly, their moving average (over ~2% of the steps) on top."""
    window = max(1, len(steps) // 50)
    for name, values in losses.items():
        (line,) = ax.plot(steps, values, linewidth=0.6, alpha=0.3 if window > 1 else 1.0)
        if window > 1:
            ax.plot(steps, _moving_average(values, window), color=line.get_color(), linewidth=1.2)
        line.set_label(name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if losses:
        ax.legend(loc="upper right")
    ax.grid(alpha=0.3)


def _draw_metric(ax, name: str, values: Sequence[float], steps: Sequence[int]) -> None:
    ax.plot(steps, values, marker="o", markersize=3, linewidth=1)
    if min(values) > 0 and max(values) / min(values) > 20:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(name)
    ax.grid(alpha=0.3)


def grid_figure(images: torch.Tensor, nrow: int = 8, title: str | None = None) -> Figure:
    """A figure showing `images` (in [-1, 1]) as one grid."""
    rows = -(-len(images) // nrow)
    fig = Figure(figsize=(min(nrow, len(images)) * 0.8 + 0.4, rows * 0.8 + 0.6))
    _draw_grid(fig.subplots(), images, nrow, title)
    return fig


def history_figure(history, samples: torch.Tensor | None = None, nrow: int = 8) -> Figure:
    """Loss curves of a :class:`gancourse.train.History`, one panel per metric, and the latest `samples`."""
    panels = 1 + len(history.metrics) + (samples is not None)
    fig = Figure(figsize=(4.2 + 3.4 * (panels - 1), 3.4), layout="constrained")
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    _draw_losses(axes.pop(0), history.losses, history.steps)
    for name, values in history.metrics.items():
        _draw_metric(axes.pop(0), name, values, history.metric_steps)
    if samples is not None:
        _draw_grid(axes.pop(0), samples[: nrow * nrow], nrow, f"samples at step {history.step}")
    return fig


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def show(fig: Figure, path: str | None = None) -> None:
    """Display `fig` in a notebook (nothing happens elsewhere) and optionally save it to `path`."""
    if path is not None:
        fig.savefig(path)
    if in_notebook():
        from IPython.display import Image, display

        display(Image(figure_png(fig)))


def show_images(images: torch.Tensor, nrow: int = 8, title: str | None = None) -> None:
    """Display a batch of images in [-1, 1] as one grid."""
    show(grid_figure(images, nrow, title))


class LiveView:
    """Loss curves and the latest samples, redrawn in place while training runs (silent outside Jupyter)."""

    def __init__(self) -> None:
        self._handle = None
        self.enabled = in_notebook()

    def update(self, history, samples: torch.Tensor | None = None, nrow: int = 8) -> None:
        """Redraw the view from `history` and the latest `samples` (`nrow` per row, at most `nrow` rows)."""
        if not self.enabled:
            return
        from IPython.display import Image, display

        picture = Image(figure_png(history_figure(history, samples, nrow)))
        if self._handle is None:
            self._handle = display(picture, display_id=True)
        else:
            self._handle.update(picture)
