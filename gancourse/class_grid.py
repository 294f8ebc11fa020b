"""The style-by-class grid of a class-conditional generator: z carries the style, y carries the class.

A conditional generator draws ``G(z, y)``. One noise vector z with every label y: the class changes, the style
(slant, thickness, width) stays; one label with different z: the style changes, the class stays.
:func:`class_grid` draws that num_classes x N grid with one call of *your* ``generate(z, labels)``;
:func:`explore_classes` shows it with a digit and a style slider when a widget front end is attached, and as one
static figure everywhere else (nbgrader, nbclient, plain Python), like the explorers of :mod:`gancourse.widgets`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from gancourse.viz import GRID_PADDING as PAD, figure_png, image_grid, show
from gancourse.widgets import frontend_attached

Generate = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (z (M, latent_dim), labels (M,)) -> (M, C, H, W)


def class_grid(generate: Generate, noise: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Images (num_classes * N, C, H, W) on the CPU, row-major: row k is class k, column j uses noise[j]."""
    if not isinstance(noise, torch.Tensor):
        raise TypeError(f"noise should be a tensor (N, latent_dim), got {type(noise).__name__}")
    if noise.ndim != 2 or len(noise) == 0:
        raise ValueError(f"noise should be (N, latent_dim) with N >= 1, one row per style, got {tuple(noise.shape)}")
    if not isinstance(num_classes, int) or num_classes < 1:
        error = ValueError if isinstance(num_classes, int) else TypeError
        raise error(f"num_classes must be an int of at least 1, got {num_classes!r}")
    z = noise.detach().repeat(num_classes, 1)
    labels = torch.arange(num_classes, device=noise.device).repeat_interleave(len(noise))
    with torch.no_grad():
        images = generate(z, labels)
    call = f"generate(z, labels) for {num_classes} classes x {len(noise)} styles"
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{call} should return a tensor of images, got {type(images).__name__}")
    if images.ndim != 4 or len(images) != len(z):
        raise ValueError(f"{call} should return {len(z)} images (N, C, H, W), got shape {tuple(images.shape)}")
    if torch.isnan(images).any():
        raise ValueError(f"{call} returned NaN pixels: has the training diverged?")
    return images.detach().float().cpu()


def _styles(images: torch.Tensor, num_classes: int) -> int:
    """The number of styles (columns) of a class grid, after checking that it is one."""
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be an int of at least 1, got {num_classes!r}")
    if len(images) == 0 or len(images) % num_classes:
        raise ValueError(f"a class grid holds num_classes x N images with at least one style, got {len(images)} "
                         f"images for {num_classes} classes")
    return len(images) // num_classes


def _draw(ax, images: torch.Tensor, nrow: int, rows: Sequence[str] = (), columns: Sequence[str] = (),
          title: str = "", mark: int | None = None) -> None:
    """Tile `images` into `ax` with row labels on the left and column labels on top; outline image `mark`."""
    ax.imshow(image_grid(images, nrow).numpy(), interpolation="nearest")
    height, width = images.shape[-2:]
    ax.set_xticks([PAD + c * (width + PAD) + (width - 1) / 2 for c in range(len(columns))], columns, fontsize=8)
    ax.set_yticks([PAD + r * (height + PAD) + (height - 1) / 2 for r in range(len(rows))], rows, fontsize=9)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    ax.set_title(title, fontsize=9)
    if mark is not None:
        r, c = divmod(mark, nrow)
        ax.add_patch(Rectangle((c * (width + PAD) + 0.5, r * (height + PAD) + 0.5), width + PAD, height + PAD,
                               fill=False, edgecolor="crimson", linewidth=2))


def class_grid_figure(images: torch.Tensor, num_classes: int = 10, title: str | None = None,
                      class_names: Sequence[str] | None = None) -> Figure:
    """The grid of :func:`class_grid` with one labelled row per class and one column per noise vector."""
    styles = _styles(images, num_classes)
    names = [str(k) for k in range(num_classes)] if class_names is None else [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ValueError(f"class_names has {len(names)} names for {num_classes} classes")
    fig = Figure(figsize=(0.55 * styles + 1.2, 0.55 * num_classes + 1.0), layout="constrained")
    ax = fig.subplots()
    _draw(ax, images, styles, rows=names, columns=[f"z {j}" for j in range(styles)])
    ax.set_ylabel("label y (one class per row)")
    ax.set_xlabel("noise z (one per column, shared by every row)")
    if title:
        fig.suptitle(title)
    return fig


class ClassExplorer:
    """A class grid shown with a digit slider and a style slider (``widget``), or as a static ``figure``."""

    def __init__(self, images: torch.Tensor, num_classes: int = 10, *, static: bool | None = None,
                 title: str = "") -> None:
        self.styles = _styles(images, num_classes)
        self.images, self.num_classes, self.title = images.detach().float().cpu(), num_classes, title
        self.static = (not frontend_attached()) if static is None else bool(static)
        self.widget = self.digit_slider = self.style_slider = self.view = self.caption = None
        self._pictures: dict[tuple[int, int], bytes] = {}
        self.figure = class_grid_figure(self.images, num_classes, title or None) if self.static else None
        if not self.static:
            self._build_widget()

    def selection_figure(self, digit: int, style: int) -> Figure:
        """The digit in the style, enlarged; every digit in that style; that digit in every style."""
        grid, n = self.images, self.styles
        fig = Figure(figsize=(2.6 + 0.5 * max(self.num_classes, n), 3.0), layout="constrained")
        spec = fig.add_gridspec(2, 2, width_ratios=[1, max(self.num_classes, n) / 3])
        index = digit * n + style
        _draw(fig.add_subplot(spec[:, 0]), grid[index : index + 1], 1, title=f"digit {digit}, style {style}")
        _draw(fig.add_subplot(spec[0, 1]), grid[style::n], self.num_classes, mark=digit,
              columns=[str(k) for k in range(self.num_classes)], title=f"style {style} for every digit (same z)")
        _draw(fig.add_subplot(spec[1, 1]), grid[digit * n : (digit + 1) * n], n, mark=style,
              columns=[f"z {j}" for j in range(n)], title=f"digit {digit} in every style")
        if self.title:
            fig.suptitle(self.title, fontsize=10)
        return fig

    def picture(self, digit: int, style: int) -> bytes:
        """PNG of :meth:`selection_figure` (drawn once per digit and style, then reused)."""
        if (digit, style) not in self._pictures:
            self._pictures[digit, style] = figure_png(self.selection_figure(digit, style), dpi=72)
        return self._pictures[digit, style]

    def select(self, digit: int, style: int) -> bytes:
        """Show `digit` in `style` (moving the sliders when there are any) and return its picture."""
        if not (0 <= digit < self.num_classes and 0 <= style < self.styles):
            raise ValueError(f"digit must be in 0..{self.num_classes - 1} and style in 0..{self.styles - 1}, "
                             f"got digit {digit}, style {style}")
        if self.widget is not None:
            with self.digit_slider.hold_trait_notifications(), self.style_slider.hold_trait_notifications():
                self.digit_slider.value, self.style_slider.value = digit, style
        return self.picture(digit, style)

    def _build_widget(self) -> None:
        import ipywidgets

        self.digit_slider, self.style_slider = (
            ipywidgets.IntSlider(value=0, min=0, max=top, description=name, layout=ipywidgets.Layout(width="420px"))
            for name, top in (("digit", self.num_classes - 1), ("style", self.styles - 1)))
        self.view, self.caption = ipywidgets.Image(format="png"), ipywidgets.HTML()
        for slider in (self.digit_slider, self.style_slider):
            slider.observe(lambda change: self._show(), names="value")
        self.widget = ipywidgets.VBox([self.digit_slider, self.style_slider, self.view, self.caption])
        self.widget.add_class("gancourse-class-explorer")
        self._show()

    def _show(self) -> None:
        digit, style = self.digit_slider.value, self.style_slider.value
        self.view.value = self.picture(digit, style)
        self.caption.value = (f"<code>digit {digit}, style {style} of {self.styles}: the same z in every column, "
                              "the label picks the row</code>")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.widget is not None:
            display(self.widget)
        else:
            show(self.figure)

    def __repr__(self) -> str:
        mode = "static figure" if self.static else "sliders"
        return f"<ClassExplorer: {self.num_classes} classes x {self.styles} styles, {mode}>"


def explore_classes(generate: Generate, noise: torch.Tensor, num_classes: int = 10, *, static: bool | None = None,
                    title: str = "Asked for a class: one z per column, one label per row") -> ClassExplorer:
    """Draw :func:`class_grid` once and explore it: pick a digit and a style (a row of `noise`)."""
    return ClassExplorer(class_grid(generate, noise, num_classes), num_classes, static=static, title=title)
