"""gancourse.class_grid: the style-by-class grid of a conditional generator, its figure, and its two-slider explorer."""
from __future__ import annotations

import subprocess
import sys

import IPython.display
import ipywidgets
import pytest
import torch
from matplotlib.figure import Figure

from gancourse import class_grid as module
from gancourse import widgets
from gancourse.class_grid import ClassExplorer, class_grid, class_grid_figure, explore_classes
from gancourse.viz import image_grid

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LATENT_DIM, SIZE = 5, 8


def generate(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """A stand-in conditional generator: the top row of pixels encodes the label, the rest encodes z[:, 0]."""
    images = torch.tanh(z[:, 0, None, None, None]).expand(len(z), 1, SIZE, SIZE).clone()
    images[:, :, 0, :] = labels[:, None, None].float() / 5 - 1
    return images


class Recorder:
    """`generate`, recording what it was called with, on which device, and whether gradients were on."""

    def __init__(self) -> None:
        self.calls = []

    def __call__(self, z, labels):
        self.calls.append({"z": z, "labels": labels, "grad": torch.is_grad_enabled()})
        return torch.zeros(len(z), 1, SIZE, SIZE) if z.is_meta else generate(z, labels)


@pytest.fixture
def noise():
    return torch.randn(4, LATENT_DIM, generator=torch.Generator().manual_seed(0))


@pytest.fixture(autouse=True)
def _no_forced_mode(monkeypatch):
    monkeypatch.delenv(widgets.WIDGETS_ENV, raising=False)
    for name in ("NBGRADER_EXECUTION", "JPY_SESSION_NAME", "VSCODE_PID"):
        monkeypatch.delenv(name, raising=False)


# --- class_grid ---------------------------------------------------------------------------------------------

def test_row_k_is_class_k_and_column_j_is_noise_j(noise):
    grid = class_grid(generate, noise, num_classes=3)
    assert grid.shape == (3 * 4, 1, SIZE, SIZE) and grid.device.type == "cpu"
    for k in range(3):
        for j in range(4):
            image = grid[k * 4 + j, 0]
            assert image[0, 0].item() == pytest.approx(k / 5 - 1), f"row {k} should use label {k}"
            assert image[1, 0].item() == pytest.approx(torch.tanh(noise[j, 0]).item()), f"column {j}: noise[{j}]"


def test_generate_is_called_once_without_gradients_with_shared_noise_per_column(noise):
    recorder = Recorder()
    class_grid(recorder, noise.requires_grad_(), num_classes=10)
    assert len(recorder.calls) == 1, "one call of generate for the whole grid"
    call = recorder.calls[0]
    assert call["grad"] is False and not call["z"].requires_grad
    assert torch.equal(call["z"], noise.detach().repeat(10, 1))
    assert call["labels"].dtype == torch.int64 and call["labels"].tolist() == [k for k in range(10) for _ in range(4)]


def test_labels_are_made_on_the_noises_device():
    recorder = Recorder()
    class_grid(recorder, torch.empty(3, LATENT_DIM, device="meta"), num_classes=2)
    assert recorder.calls[0]["labels"].device.type == "meta" and recorder.calls[0]["z"].device.type == "meta"


@pytest.mark.parametrize(("bad_noise", "error", "message"), [
    (torch.zeros(LATENT_DIM), ValueError, r"noise should be \(N, latent_dim\).*got \(5,\)"),
    (torch.zeros(2, 1, LATENT_DIM), ValueError, r"noise should be \(N, latent_dim\).*got \(2, 1, 5\)"),
    (torch.zeros(0, LATENT_DIM), ValueError, r"N >= 1"),
    ([[0.0] * LATENT_DIM], TypeError, "noise should be a tensor"),
])
def test_bad_noise_is_named(bad_noise, error, message):
    with pytest.raises(error, match=message):
        class_grid(generate, bad_noise)


@pytest.mark.parametrize(("num_classes", "error", "message"), [
    (0, ValueError, "num_classes must be an int of at least 1, got 0"),
    (-3, ValueError, "at least 1"),
    (2.5, TypeError, "num_classes must be an int of at least 1, got 2.5"),
])
def test_bad_num_classes_is_named(noise, num_classes, error, message):
    with pytest.raises(error, match=message):
        class_grid(generate, noise, num_classes)


@pytest.mark.parametrize(("bad_generate", "error", "message"), [
    (lambda z, y: generate(z, y).tolist(), TypeError, "should return a tensor of images, got list"),
    (lambda z, y: generate(z, y)[:-1], ValueError, r"should return 12 images \(N, C, H, W\), got shape \(11, 1, 8,"),
    (lambda z, y: generate(z, y)[:, 0], ValueError, r"got shape \(12, 8, 8\)"),
    (lambda z, y: generate(z, y) * torch.nan, ValueError, "NaN"),
])
def test_a_generate_that_returns_the_wrong_thing_is_named(noise, bad_generate, error, message):
    with pytest.raises(error, match=r"generate\(z, labels\) for 3 classes x 4 styles"):
        class_grid(bad_generate, noise, num_classes=3)
    with pytest.raises(error, match=message):
        class_grid(bad_generate, noise, num_classes=3)


# --- class_grid_figure --------------------------------------------------------------------------------------

def test_the_figure_labels_one_row_per_class_and_one_column_per_style(noise):
    fig = class_grid_figure(class_grid(generate, noise), title="cGAN")
    assert isinstance(fig, Figure) and fig.get_suptitle() == "cGAN"
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(k) for k in range(10)]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["z 0", "z 1", "z 2", "z 3"]
    assert torch.allclose(torch.as_tensor(ax.images[0].get_array()), image_grid(class_grid(generate, noise), 4))


def test_the_figure_uses_class_names(noise):
    names = ["cat", "dog", "fox"]
    fig = class_grid_figure(class_grid(generate, noise, 3), 3, class_names=names)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == names


def test_the_figure_checks_the_grid():
    with pytest.raises(ValueError, match="got 7 images for 10 classes"):
        class_grid_figure(torch.zeros(7, 1, SIZE, SIZE))
    with pytest.raises(ValueError, match="at least one style"):
        class_grid_figure(torch.zeros(0, 1, SIZE, SIZE))
    with pytest.raises(ValueError, match="class_names has 2 names for 3 classes"):
        class_grid_figure(torch.zeros(6, 1, SIZE, SIZE), 3, class_names=["a", "b"])


# --- explore_classes: interactive ---------------------------------------------------------------------------

def test_the_widget_has_a_digit_and_a_style_slider_with_the_right_ranges(noise):
    explorer = explore_classes(generate, noise, static=False)
    assert explorer.figure is None and isinstance(explorer.widget, ipywidgets.VBox)
    assert "gancourse-class-explorer" in explorer.widget._dom_classes
    for slider, description, top in [(explorer.digit_slider, "digit", 9), (explorer.style_slider, "style", 3)]:
        assert isinstance(slider, ipywidgets.IntSlider) and slider.description == description
        assert (slider.min, slider.max, slider.value) == (0, top, 0)
    assert isinstance(explorer.view, ipywidgets.Image) and bytes(explorer.view.value).startswith(PNG_MAGIC)
    assert "digit 0, style 0 of 4" in explorer.caption.value


def test_moving_either_slider_changes_the_picture_and_the_caption(noise):
    explorer = explore_classes(generate, noise, static=False)
    seen = {bytes(explorer.view.value)}
    explorer.digit_slider.value = 3  # what dragging the slider does
    assert bytes(explorer.view.value) not in seen and "digit 3, style 0" in explorer.caption.value
    seen.add(bytes(explorer.view.value))
    explorer.style_slider.value = 2
    assert bytes(explorer.view.value) not in seen and "digit 3, style 2" in explorer.caption.value
    assert "the same z in every column, the label picks the row" in explorer.caption.value


def test_pictures_are_drawn_once_per_selection_and_the_grid_once(noise, monkeypatch):
    recorder, rendered = Recorder(), []
    monkeypatch.setattr(module, "figure_png", lambda fig, dpi: rendered.append(fig) or PNG_MAGIC + bytes(len(rendered)))
    explorer = explore_classes(recorder, noise, static=False)
    first = bytes(explorer.view.value)
    assert explorer.select(7, 1) == bytes(explorer.view.value) != first
    assert (explorer.digit_slider.value, explorer.style_slider.value) == (7, 1)
    assert len(rendered) == 2, "select moves both sliders but draws only the final selection"
    explorer.select(0, 0)
    assert bytes(explorer.view.value) == first and len(rendered) == 2, "a selection seen before comes from the cache"
    assert len(recorder.calls) == 1, "the grid is generated once, not per slider move"


def test_the_selection_shows_the_image_its_style_for_every_class_and_its_class_in_every_style(noise):
    explorer = explore_classes(generate, noise, static=True)
    big, every_class, every_style = explorer.selection_figure(3, 2).axes
    grid = explorer.images
    pictures = [torch.as_tensor(ax.images[0].get_array()) for ax in (big, every_class, every_style)]
    assert torch.allclose(pictures[0], image_grid(grid[3 * 4 + 2 : 3 * 4 + 3], 1))
    assert torch.allclose(pictures[1], image_grid(grid[2::4], 10)), "style 2 (the same z) for every class"
    assert torch.allclose(pictures[2], image_grid(grid[12:16], 4)), "class 3 in every style"
    assert [t.get_text() for t in every_class.get_xticklabels()] == [str(k) for k in range(10)]
    assert len(every_class.patches) == len(every_style.patches) == 1, "the selection is outlined in both strips"


def test_select_checks_its_range(noise):
    explorer = explore_classes(generate, noise, static=False)
    with pytest.raises(ValueError, match=r"digit must be in 0..9 and style in 0..3, got digit 10, style 0"):
        explorer.select(10, 0)
    with pytest.raises(ValueError, match="got digit 0, style -1"):
        explorer.select(0, -1)


# --- explore_classes: static, display, detection ------------------------------------------------------------

def test_static_mode_builds_the_whole_grid_figure_and_no_widget(noise):
    explorer = explore_classes(generate, noise, static=True, title="styles")
    assert isinstance(explorer.figure, Figure) and explorer.figure.get_suptitle() == "styles"
    assert explorer.widget is explorer.digit_slider is explorer.style_slider is explorer.view is None
    assert torch.equal(explorer.images, class_grid(generate, noise))
    assert len(explorer.figure.axes[0].get_yticklabels()) == 10
    assert explorer.select(2, 3).startswith(PNG_MAGIC), "a static explorer still draws a selection on request"


@pytest.fixture
def displayed(monkeypatch):
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kwargs: shown.append(obj))
    monkeypatch.setattr(module, "show", lambda fig: shown.append(fig))
    return shown


def test_displaying_shows_the_figure_or_the_widget(displayed, noise):
    static, interactive = explore_classes(generate, noise, static=True), explore_classes(generate, noise, static=False)
    static._ipython_display_()
    interactive._ipython_display_()
    assert displayed == [static.figure, interactive.widget]


def test_the_mode_follows_the_detected_front_end(monkeypatch, noise):
    assert explore_classes(generate, noise).static is True, "plain Python has no widget front end"
    monkeypatch.setenv(widgets.WIDGETS_ENV, "interactive")
    assert explore_classes(generate, noise).static is False


def test_static_mode_never_uses_ipywidgets(monkeypatch, noise):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # any import of it now fails
    assert explore_classes(generate, noise, static=True).figure is not None
    with pytest.raises(ImportError):
        explore_classes(generate, noise, static=False)


def test_the_module_imports_without_loading_ipywidgets():
    code = ("import sys; import gancourse.class_grid; import gancourse.widgets; "
            "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_explorer_checks_its_grid_and_says_what_it_is(noise):
    with pytest.raises(ValueError, match="at least one style"):
        ClassExplorer(torch.zeros(0, 1, SIZE, SIZE), static=True)
    static = explore_classes(generate, noise, 3, static=True)
    assert repr(static) == "<ClassExplorer: 3 classes x 4 styles, static figure>"
    assert repr(explore_classes(generate, noise, static=False)) == "<ClassExplorer: 10 classes x 4 styles, sliders>"
