"""What a :class:`gancourse.playground.Playground` looks like: the figure of a snapshot, and the widget.

:func:`snapshot_figure` draws one snapshot: the real points (green) and the generated ones (purple) over the
discriminator's (or critic's) output D(x) as a heat map, arrows at some generated samples along -dL_G/dx
(scaled so that the longest arrow has a fixed length), the losses so far and, when measured, the coverage so far.
:class:`PlaygroundView` is the ipywidgets front end: Play, Pause, Step and Reset buttons, the settings, the
picture (redrawn a few times a second while a background thread trains) and a replay slider over the snapshots.

``gancourse.playground`` imports this module only when it draws or builds a widget, and ipywidgets is imported
only when a :class:`PlaygroundView` is made.
"""
from __future__ import annotations

import html
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from gancourse import toy2d
from gancourse.playground import COVERAGE_NAMES, SETTINGS, Playground, Snapshot
from gancourse.train import History

REAL_COLOR, FAKE_COLOR = "#1b7837", "#762a83"  # GAN Lab's colours: green real, purple generated
LOSS_POINTS = 400  # at most this many points per loss curve: longer runs are averaged over equal runs of steps


def history_until(history: History, step: int) -> History:
    """A copy of `history` up to `step`: the losses of steps 1 to `step` and the metrics measured by then."""
    measured = [i for i, s in enumerate(history.metric_steps) if s <= step]
    return History(steps=history.steps[:step],
                   losses={name: values[:step] for name, values in history.losses.items()},
                   metric_steps=[history.metric_steps[i] for i in measured],
                   metrics={name: [values[i] for i in measured] for name, values in history.metrics.items()})


def snapshot_figure(shot: Snapshot, history: History, shape: toy2d.Mixture | toy2d.TwoMoons, real: Tensor,
                    bounds: tuple[float, float, float], title: str) -> Figure:
    """`shot` over the `real` points in the square `bounds` (centre x, centre y, half width), with the losses of
    `history` and, when it holds coverage metrics, the modes captured out of those of `shape`."""
    fig = Figure(figsize=(9.6, 4.8), dpi=72)
    fig.text(0.01, 0.975, f"step {shot.step}: {title}", fontsize=10, va="top")
    _draw_data(fig.add_axes((0.01, 0.02, 0.5, 0.85)), shot, real, bounds)
    right = (0.6, 0.55, 0.38, 0.35) if history.metrics else (0.6, 0.1, 0.38, 0.8)
    _draw_losses(fig.add_axes(right), history.losses, shot.step)
    if history.metrics:
        _draw_coverage(fig.add_axes((0.6, 0.1, 0.38, 0.32)), history, shot.step, shape.num_modes)
    return fig


def _draw_data(ax: Axes, shot: Snapshot, real: Tensor, bounds: tuple[float, float, float]) -> None:
    centre_x, centre_y, half = bounds
    extent = (centre_x - half, centre_x + half, centre_y - half, centre_y + half)
    heat = shot.heat
    low, high = heat.min().item(), heat.max().item()
    ax.imshow(heat.numpy(), extent=extent, origin="lower", cmap="PiYG", alpha=0.6, interpolation="bilinear",
              vmin=low, vmax=high if high > low else low + 1)
    ax.scatter(real[:, 0], real[:, 1], s=4, color=REAL_COLOR, linewidths=0, label="real")
    ax.scatter(shot.fake[:, 0], shot.fake[:, 1], s=4, color=FAKE_COLOR, linewidths=0, label="generated")
    arrows = shot.arrows
    longest = arrows.norm(dim=1).max().item()
    if longest > 0:
        arrows = arrows * (0.15 * half / longest)
        start = shot.fake[: len(arrows)]
        ax.quiver(start[:, 0], start[:, 1], arrows[:, 0], arrows[:, 1], angles="xy", scale_units="xy", scale=1,
                  width=0.003, color="black", alpha=0.6)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"D(x): pink {low:.3g} to green {high:.3g}; arrows: -dL_G/dx", fontsize=9)
    ax.legend(loc="lower right", fontsize=8, markerscale=3, framealpha=0.8)


def _binned(values: list[float], bins: int = LOSS_POINTS) -> tuple[list[float], list[float]]:
    """(x, y) of `values` (one per step, from step 1) averaged over equal runs of steps, at most `bins` points."""
    width = max(1, -(-len(values) // bins))
    means = [sum(values[i : i + width]) / len(values[i : i + width]) for i in range(0, len(values), width)]
    return [min(i + width, len(values)) for i in range(0, len(values), width)], means


def _draw_losses(ax: Axes, losses: Mapping[str, list[float]], upto: int) -> None:
    for name, values in losses.items():
        if values:
            ax.plot(*_binned(values), linewidth=1, label=name)
    ax.set_xlim(0, max(upto, 1))
    ax.set_title("losses", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    if any(losses.values()):
        ax.legend(fontsize=8, loc="upper right")


def _draw_coverage(ax: Axes, history: History, upto: int, modes: int) -> None:
    captured, quality = (history.metrics[name] for name in COVERAGE_NAMES)
    ax.plot(history.metric_steps, [c / modes for c in captured], linewidth=1, label=f"modes captured / {modes}")
    ax.plot(history.metric_steps, quality, linewidth=1, label="high-quality fraction")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, max(upto, 1))
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.set_title(f"coverage: {captured[-1]:.0f} of {modes} modes, {quality[-1]:.0%} high quality", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)


class PlaygroundView:
    """The controls and the live picture of a :class:`Playground` (ipywidgets), with the css class
    ``gancourse-playground``: Play/Pause/Step/Reset buttons, a step counter, the picture and a replay slider."""

    def __init__(self, playground: Playground) -> None:
        import ipywidgets as w

        self.playground = pg = playground
        self._draw_lock = threading.RLock()
        self._quiet = threading.local()  # .on: this thread is moving controls itself, not the student
        wide = {"style": {"description_width": "130px"}, "layout": w.Layout(width="330px")}
        self.distribution = w.Dropdown(options=list(pg.distributions), value=pg.distribution,
                                       description="distribution", **wide)
        self.loss = w.Dropdown(options=list(pg.losses), value=pg.loss, description="loss", **wide)
        self.lr_g = w.FloatLogSlider(value=pg.lr_g, base=10, min=-5, max=-1, step=0.1, description="G learning rate",
                                     readout_format=".0e", continuous_update=False, **wide)
        self.lr_d = w.FloatLogSlider(value=pg.lr_d, base=10, min=-5, max=-1, step=0.1, description="D learning rate",
                                     readout_format=".0e", continuous_update=False, **wide)
        self.d_steps = w.IntSlider(value=pg.d_steps, min=1, max=10, description="D steps per G step",
                                   continuous_update=False, **wide)
        self.packing = w.Dropdown(options=pg.packing_options(), value=pg.packing, description="packing m", **wide)
        self.play = w.Button(description="Play", icon="play", button_style="success")
        self.pause = w.Button(description="Pause", icon="pause", disabled=True)
        self.step = w.Button(description="Step", icon="step-forward")
        self.reset = w.Button(description="Reset", icon="refresh")
        for button in (self.play, self.pause, self.step, self.reset):
            button.layout = w.Layout(width="78px")
            button.add_class(f"gancourse-playground-{button.description.lower()}")
        self.counter = w.Label()
        self.counter.add_class("gancourse-playground-counter")
        self.status = w.HTML(layout=w.Layout(width="330px"))
        self.picture = w.Image(format="png", width=691)
        self.picture.add_class("gancourse-playground-picture")
        self.replay = w.IntSlider(value=0, min=0, max=0, description="replay", readout=False,
                                  layout=w.Layout(width="560px"))
        self.replay_label = w.Label()
        controls = w.VBox([self.distribution, self.loss, self.lr_g, self.lr_d, self.d_steps, self.packing,
                           w.HBox([self.play, self.pause]), w.HBox([self.step, self.reset]), self.counter,
                           self.status], layout=w.Layout(min_width="340px"))
        self.widget = w.HBox([controls, w.VBox([self.picture, w.HBox([self.replay, self.replay_label])])])
        self.widget.add_class("gancourse-playground")

        for name in SETTINGS:
            getattr(self, name).observe(lambda change, name=name: self._set(name, change["new"]), names="value")
        self.play.on_click(lambda _: self._play())
        self.pause.on_click(lambda _: self._pause())
        self.step.on_click(lambda _: self._step())
        self.reset.on_click(lambda _: self._reset())
        self.replay.observe(self._replayed, names="value")
        self.widget.observe(self._closed, names="comm")
        self.redraw()

    # --- what the controls do ---------------------------------------------------------------------------------

    def _set(self, name: str, value) -> None:
        if getattr(self._quiet, "on", False):
            return
        try:
            self.playground.configure(**{name: value})
        except Exception as error:  # a bad setting, or a loss that fails: say so next to the controls
            with self._quietly():
                getattr(self, name).value = getattr(self.playground, name)
            self._show_error(error)
            return
        if not self.playground.playing:
            self.redraw()

    def _play(self) -> None:
        self.playground.play(on_update=self.redraw)
        self._buttons()

    def _pause(self) -> None:
        self.playground.pause()
        self.redraw()

    def _step(self) -> None:
        self.playground.pause()
        try:
            self.playground.step(1)
        except Exception as error:  # a loss that raises: say so next to the controls
            self._show_error(error)
            return
        self.redraw()

    def _reset(self) -> None:
        playing = self.playground.playing
        self.playground.pause()
        self.playground.reset()
        if playing:
            self._play()
        self.redraw()

    def _replayed(self, change) -> None:
        if getattr(self._quiet, "on", False) or self.playground.playing:
            return
        index = change["new"]
        with self._draw_lock:
            self.picture.value = self.playground.picture(index)
            self.replay_label.value = f"step {self.playground.snapshots[index].step}"

    def _closed(self, change) -> None:
        if change["new"] is None:
            self.playground.pause()

    # --- what the view shows ----------------------------------------------------------------------------------

    def _buttons(self) -> None:
        playing = self.playground.playing
        self.play.disabled, self.pause.disabled, self.replay.disabled = playing, not playing, playing

    def _show_error(self, error: BaseException) -> None:
        self.status.value = f"<span style='color:#b00'>{html.escape(f'{type(error).__name__}: {error}')}</span>"

    def redraw(self) -> None:
        """Draw the current state (live while playing) and update the counter, the numbers and the replay slider."""
        pg = self.playground
        with self._draw_lock:
            live = pg.capture() if pg.playing else None
            self.picture.value = pg.picture(snapshot=live)
            self.counter.value = f"step {(live or pg.snapshots[-1]).step}"
            speed = pg.speed()
            lines = [html.escape(pg.summary())]
            if speed["steps/s"]:
                lines.append(f"{speed['steps/s']:.0f} steps/s, {speed['redraws/s']:.1f} redraws/s")
            self.status.value = "<br>".join(lines)
            if pg.error is not None:
                self._show_error(pg.error)
            with self._quietly():  # lowering max after a reset moves the value too
                self.replay.max = len(pg.snapshots) - 1
                self.replay.value = self.replay.max
            self.replay_label.value = "live" if live else f"step {pg.snapshots[-1].step}"
            self._buttons()

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Change controls without acting on the changes as if the student had made them."""
        self._quiet.on = True
        try:
            yield
        finally:
            self._quiet.on = False
