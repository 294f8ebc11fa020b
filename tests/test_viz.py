"""gancourse.viz: image grids, headless figures, and the notebook-only display helpers."""
from __future__ import annotations

import subprocess
import sys

import IPython.display
import pytest
import torch
from matplotlib.figure import Figure

from gancourse import viz
from gancourse.train import History
from gancourse.viz import LiveView, figure_png, grid_figure, history_figure, image_grid, in_notebook, show, show_images

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_history(steps: int = 10, metrics: bool = True) -> History:
    history = History()
    for step in range(steps):
        history.record_losses({"d_loss": 1.0 / (step + 1), "g_loss": 0.5 + step / 10})
        if metrics and (step + 1) % 5 == 0:
            history.record_metrics({"fd": 100.0 - step})
    return history


@pytest.fixture
def displayed(monkeypatch):
    """Pretend to run in Jupyter: record what IPython's display() is given, with working display handles."""
    calls = []

    class Handle:
        def __init__(self):
            self.updates = []

        def update(self, obj):
            self.updates.append(obj)

    def fake_display(obj, display_id=None):
        calls.append((obj, display_id))
        return Handle() if display_id else None

    monkeypatch.setattr(viz, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", fake_display)
    return calls


@pytest.fixture
def display_forbidden(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("display() must not be called outside Jupyter")

    monkeypatch.setattr(IPython.display, "display", fail)


# --- image_grid ---------------------------------------------------------------------------------------------

def test_image_grid_of_grayscale_images_is_an_rgb_array_in_0_1():
    images = torch.linspace(-1, 1, 16 * 28 * 28).view(16, 1, 28, 28)
    grid = image_grid(images, nrow=8)
    # 8 columns and 2 rows of 28-pixel tiles, with 2-pixel padding around every tile
    assert grid.shape == (2 * 30 + 2, 8 * 30 + 2, 3)
    assert grid.min().item() == 0.0 and grid.max().item() == 1.0


def test_image_grid_of_color_images():
    grid = image_grid(torch.zeros(6, 3, 8, 8), nrow=3)
    assert grid.shape == (2 * 10 + 2, 3 * 10 + 2, 3)
    assert grid[2, 2].tolist() == [0.5, 0.5, 0.5], "0 in [-1, 1] is mid grey"
    assert grid[0, 0].tolist() == [1.0, 1.0, 1.0], "padding is white"


def test_image_grid_clamps_out_of_range_values_and_detaches():
    images = (torch.randn(4, 1, 5, 5) * 10).requires_grad_(True)
    grid = image_grid(images, nrow=2)
    assert 0.0 <= grid.min().item() and grid.max().item() <= 1.0
    assert not grid.requires_grad


def test_image_grid_leaves_its_input_untouched():
    images = torch.full((2, 1, 4, 4), 3.0)
    image_grid(images)
    assert (images == 3.0).all()


@pytest.mark.parametrize(
    "images",
    [torch.zeros(4, 28, 28), torch.zeros(4, 2, 28, 28), torch.zeros(1, 4, 1, 28, 28), [[0.0]]],
    ids=["3d", "2-channels", "5d", "list"],
)
def test_image_grid_rejects_non_image_batches(images):
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 1 or 3, H, W\)"):
        image_grid(images)


@pytest.mark.parametrize("count, nrow", [(0, 8), (4, 0)])
def test_image_grid_rejects_an_empty_batch_or_no_columns(count, nrow):
    with pytest.raises(ValueError, match="need at least one image and nrow >= 1"):
        image_grid(torch.zeros(count, 1, 4, 4), nrow=nrow)


def test_image_grid_places_image_i_at_row_i_div_nrow_and_column_i_mod_nrow():
    images = torch.arange(5.0).view(5, 1, 1, 1) / 2 - 1  # one pixel each: -1, -0.5, 0, 0.5, 1
    grid = image_grid(images, nrow=3)  # 2 rows of 3 tiles, the last tile empty (white)
    assert grid.shape == (2 * 3 + 2, 3 * 3 + 2, 3)
    pixels = [grid[2 + 3 * row, 2 + 3 * column, 0].item() for row in range(2) for column in range(3)]
    assert pixels == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]


def test_image_grid_frames_a_single_image_like_a_batch():
    grid = image_grid(torch.zeros(1, 1, 4, 4), nrow=8)
    assert grid.shape == (8, 8, 3) and grid[0].eq(1).all() and grid[2:6, 2:6].eq(0.5).all()


def test_importing_the_course_modules_leaves_torchvision_unloaded():
    """torchvision's import takes 2 s of every kernel start; the course needs it only to download MNIST."""
    code = ("import sys, gancourse.data, gancourse.viz, gancourse.train, gancourse.metrics, gancourse.grading, "
            "gancourse.widgets; print('torchvision' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "False", "a gancourse module imports torchvision at import time: import it where used"


# --- figures ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 5, 64])
def test_grid_figure_is_a_figure_that_saves_to_png(tmp_path, n):
    fig = grid_figure(torch.rand(n, 1, 28, 28) * 2 - 1, title="samples")
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_title() == "samples"
    path = tmp_path / "grid.png"
    fig.savefig(path)
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_history_figure_has_a_panel_for_losses_metrics_and_samples(tmp_path):
    history = make_history()
    fig = history_figure(history, samples=torch.zeros(100, 1, 28, 28), nrow=4)
    assert isinstance(fig, Figure)
    losses, metrics, samples = fig.axes
    assert [line.get_label() for line in losses.get_lines()] == ["d_loss", "g_loss"]
    assert list(losses.get_lines()[0].get_xdata()) == list(range(1, 11))
    assert list(metrics.get_lines()[0].get_xdata()) == [5, 10]
    assert samples.get_title() == "samples at step 10"
    assert samples.get_images()[0].get_array().shape[:2] == (4 * 30 + 2, 4 * 30 + 2), "at most nrow x nrow samples"
    fig.savefig(tmp_path / "history.png")
    assert (tmp_path / "history.png").read_bytes().startswith(PNG_MAGIC)


def test_history_figure_without_metrics_or_samples_has_one_panel():
    assert len(history_figure(make_history(metrics=False)).axes) == 1


def test_history_figure_of_an_empty_history_renders():
    assert figure_png(history_figure(History())).startswith(PNG_MAGIC)


def test_figure_png_renders_png_bytes():
    png = figure_png(grid_figure(torch.zeros(4, 1, 28, 28)))
    assert isinstance(png, bytes)
    assert png.startswith(PNG_MAGIC)


# --- show, LiveView (notebook only) -------------------------------------------------------------------------

def test_in_notebook_is_false_under_pytest():
    assert in_notebook() is False


def test_show_saves_to_a_path_and_displays_nothing_outside_jupyter(tmp_path, display_forbidden):
    path = tmp_path / "figure.png"
    show(grid_figure(torch.zeros(4, 1, 28, 28)), path=str(path))
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_show_and_show_images_do_nothing_outside_jupyter(tmp_path, display_forbidden, monkeypatch):
    monkeypatch.chdir(tmp_path)
    show(grid_figure(torch.zeros(4, 1, 28, 28)))
    show_images(torch.zeros(4, 1, 28, 28))
    assert list(tmp_path.iterdir()) == [], "nothing written without a path"


def test_show_displays_a_png_in_jupyter(displayed):
    show(grid_figure(torch.zeros(4, 1, 28, 28)))
    assert len(displayed) == 1
    image, _ = displayed[0]
    assert isinstance(image, IPython.display.Image)
    assert image.data.startswith(PNG_MAGIC)


def test_show_images_displays_one_grid_in_jupyter(displayed):
    show_images(torch.zeros(9, 1, 28, 28), nrow=3, title="digits")
    assert len(displayed) == 1


def test_live_view_is_disabled_and_silent_outside_jupyter(display_forbidden):
    view = LiveView()
    assert view.enabled is False
    view.update(make_history(), torch.zeros(4, 1, 28, 28))


def test_live_view_in_jupyter_displays_once_then_updates_in_place(displayed):
    view = LiveView()
    assert view.enabled is True
    view.update(make_history(3))
    view.update(make_history(6), torch.zeros(4, 1, 28, 28))
    view.update(make_history(9))
    assert len(displayed) == 1, "one display, redrawn in place"
    first, display_id = displayed[0]
    assert display_id is True
    assert isinstance(first, IPython.display.Image)
    updates = view._handle.updates
    assert len(updates) == 2
    assert all(isinstance(u, IPython.display.Image) and u.data.startswith(PNG_MAGIC) for u in updates)


def test_long_loss_curves_get_a_moving_average_over_the_raw_values():
    history = History()
    for i in range(500):
        history.record_losses({"d_loss": float(i % 2)})
    losses = history_figure(history).axes[0]
    raw, smooth = losses.get_lines()
    assert raw.get_label() == "d_loss" and list(raw.get_ydata()[:4]) == [0.0, 1.0, 0.0, 1.0]
    assert smooth.get_ydata()[-1] == pytest.approx(0.5), "a 10-step average of alternating 0s and 1s"
