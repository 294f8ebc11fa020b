"""gancourse.playground_view: the figure of a snapshot, and the widget in-process (its clicks, its settings)."""
from __future__ import annotations

import IPython.display
import ipywidgets
import pytest
import torch
from matplotlib.figure import Figure
from test_playground import LOSSES, coverage, make, pack, wait_for

from gancourse import toy2d, widgets
from gancourse.playground import Playground, Snapshot
from gancourse.playground_view import LOSS_POINTS, history_until, snapshot_figure
from gancourse.train import History

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --- the figure -----------------------------------------------------------------------------------------------

def test_figure_shows_points_heat_map_arrows_losses_and_coverage():
    pg = make(coverage=coverage)
    pg.run(12)
    fig = pg.figure()
    assert isinstance(fig, Figure)
    data, losses, covered = fig.axes
    assert len(data.images) == 1, "D's heat map"
    assert len(data.collections) == 3, "real points, generated points and the arrows of the gradient field"
    assert data.get_title().startswith("D(x)") and losses.get_title() == "losses"
    assert {line.get_label() for line in losses.lines} == {"d_loss", "g_loss"}
    assert covered.get_title().startswith("coverage:")
    assert "step 12: ring of 8, non-saturating" in fig.texts[0].get_text()
    assert len(make().figure().axes) == 2, "no coverage panel without a coverage function"
    assert pg.picture(0).startswith(PNG_MAGIC)


def test_a_snapshot_figure_shows_the_history_up_to_its_step():
    pg = make(coverage=coverage)
    pg.run(20)
    fig = pg.figure(1)
    assert fig.texts[0].get_text().startswith("step 10:")
    assert max(max(line.get_xdata()) for line in fig.axes[1].lines) == 10, "losses up to step 10"
    assert [list(line.get_xdata()) for line in fig.axes[2].lines] == [[0, 10]] * 2, "coverage up to step 10"


def test_history_until_keeps_the_losses_and_metrics_of_the_first_steps():
    history = History()
    for step in range(1, 6):
        history.record_losses({"d_loss": float(step), "g_loss": -float(step)})
        if step % 2 == 0:
            history.record_metrics({"modes captured": step})
    early = history_until(history, 3)
    assert early.step == 3 and early.losses == {"d_loss": [1.0, 2.0, 3.0], "g_loss": [-1.0, -2.0, -3.0]}
    assert early.metric_steps == [2] and early.metrics == {"modes captured": [2.0]}
    assert history.step == 5, "the history itself is left as it was"


def test_a_long_history_is_drawn_averaged_over_runs_of_steps():
    history = History()
    for step in range(1, 2 * LOSS_POINTS + 1):
        history.record_losses({"d_loss": float(step % 2)})  # 0, 1, 0, 1, ...: averages to 0.5 over pairs
    shot = Snapshot(2 * LOSS_POINTS, torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(3, 3))
    fig = snapshot_figure(shot, history, toy2d.TwoMoons(), torch.zeros(4, 2), (0.0, 0.0, 1.0), "settings")
    (curve,) = fig.axes[1].lines
    assert len(curve.get_xdata()) == LOSS_POINTS and curve.get_xdata()[-1] == 2 * LOSS_POINTS
    assert set(curve.get_ydata()) == {0.5}
    assert fig.texts[0].get_text() == f"step {2 * LOSS_POINTS}: settings"


# --- the widget -----------------------------------------------------------------------------------------------

@pytest.fixture
def view(monkeypatch):
    monkeypatch.setenv(widgets.WIDGETS_ENV, "interactive")
    pg = Playground(LOSSES, pack, coverage=coverage, snapshot_every=10)
    yield pg.view
    pg.pause()


def test_the_widget_has_every_control(view):
    assert view is not None and not view.playground.static
    assert "gancourse-playground" in view.widget._dom_classes
    assert view.distribution.options == ("ring of 8", "grid of 25", "two moons")
    assert view.loss.options == ("non-saturating", "WGAN-GP") and view.packing.options == (1, 2, 3, 4, 5, 6, 8)
    assert isinstance(view.lr_g, ipywidgets.FloatLogSlider) and isinstance(view.lr_d, ipywidgets.FloatLogSlider)
    assert isinstance(view.d_steps, ipywidgets.IntSlider) and isinstance(view.replay, ipywidgets.IntSlider)
    assert [b.description for b in (view.play, view.pause, view.step, view.reset)] == ["Play", "Pause", "Step", "Reset"]
    assert view.counter.value == "step 0" and bytes(view.picture.value).startswith(PNG_MAGIC)
    assert view.pause.disabled and not view.play.disabled


def test_step_advances_the_counter_by_one_and_redraws(view):
    first = bytes(view.picture.value)
    view.step.click()
    assert view.counter.value == "step 1" and view.playground.history.step == 1
    assert bytes(view.picture.value) != first
    view.step.click()
    assert view.counter.value == "step 2" and view.replay.max == 2 and view.replay.value == 2


def test_play_and_pause_start_and_stop_the_background_training(view):
    first = bytes(view.picture.value)
    view.play.click()
    assert view.playground.playing and view.play.disabled and not view.pause.disabled and view.replay.disabled
    wait_for(lambda: view.counter.value != "step 0", what="the step counter moving")
    wait_for(lambda: bytes(view.picture.value) != first, what="the picture changing")
    view.pause.click()
    assert not view.playground.playing and view.playground._thread is None
    assert view.pause.disabled and not view.play.disabled and not view.replay.disabled
    step = view.playground.history.step
    assert view.counter.value == f"step {step}" and "steps/s" in view.status.value
    view.step.click()
    assert view.counter.value == f"step {step + 1}"


def test_the_replay_slider_shows_stored_snapshots(view):
    view.playground.run(25)
    view.redraw()
    assert view.replay.max == 3 and view.replay_label.value == "step 25"
    view.replay.value = 1
    assert bytes(view.picture.value) == view.playground.picture(1) and view.replay_label.value == "step 10"


def test_controls_change_the_settings(view):
    view.step.click()
    view.lr_d.value = 1e-4
    view.d_steps.value = 2
    assert view.playground.lr_d == pytest.approx(1e-4) and view.playground.d_steps == 2
    assert view.counter.value == "step 1"
    view.distribution.value = "two moons"
    assert view.playground.distribution == "two moons" and view.counter.value == "step 0"
    view.packing.value = 4
    assert view.playground.discriminator[0].in_features == 8


def test_a_setting_the_playground_refuses_is_shown_not_raised(view):
    view.playground.pack = lambda x, m: x  # a pack of the wrong shape
    view.packing.value = 2
    assert "ValueError: pack(x, 2)" in view.status.value and view.playground.packing == 1
    assert view.packing.value == 1, "the control goes back to the setting in use"


def test_reset_while_playing_keeps_playing_with_fresh_networks(view):
    view.play.click()
    wait_for(lambda: view.playground.history.step > 5, what="training")
    before = view.playground.generator
    view.reset.click()
    assert view.playground.playing and view.playground.generator is not before
    assert view.playground.snapshots[0].step == 0


def test_closing_the_widget_stops_the_training(view):
    view.play.click()
    assert view.playground.playing
    view.widget.close()
    assert not view.playground.playing and view.playground._thread is None


def test_an_interactive_playground_displays_its_widget(view, monkeypatch):
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kwargs: shown.append(obj))
    view.playground._ipython_display_()
    assert shown == [view.widget] and view.playground.history.step == 0
