"""gancourse.widgets: front-end detection, and every explorer both ways (slider with a live picture, static figure)."""
from __future__ import annotations

import sys

import IPython.display
import ipywidgets
import pytest
import torch
from matplotlib.figure import Figure

from gancourse import widgets
from gancourse.widgets import Explorer, explore_arithmetic, explore_interpolation, explore_truncation, frontend_attached

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LATENT_DIM = 6


def generate(z: torch.Tensor) -> torch.Tensor:
    """A stand-in generator: each image's brightness follows the first latent coordinate."""
    return torch.tanh(z[:, :1, None, None]).expand(len(z), 1, 28, 28).clone()


def straight(z0, z1, t):
    return z0 + t[:, None] * (z1 - z0)


def bent(z0, z1, t):
    """Not a real interpolation: a path whose norm differs from the straight one, to tell the curves apart."""
    return straight(z0, z1, t) * (1 + t * (1 - t))[:, None]


@pytest.fixture
def z_pair():
    g = torch.Generator().manual_seed(0)
    return torch.randn(LATENT_DIM, generator=g), torch.randn(LATENT_DIM, generator=g)


@pytest.fixture(autouse=True)
def _no_forced_mode(monkeypatch):
    monkeypatch.delenv(widgets.WIDGETS_ENV, raising=False)
    for name in ("NBGRADER_EXECUTION", "JPY_SESSION_NAME", "VSCODE_PID"):
        monkeypatch.delenv(name, raising=False)


# --- frontend_attached --------------------------------------------------------------------------------------

def test_no_front_end_in_plain_python():
    assert frontend_attached() is False


def test_a_kernel_started_by_a_jupyter_server_for_a_notebook_has_a_front_end(monkeypatch):
    monkeypatch.setattr(widgets, "in_notebook", lambda: True)
    assert frontend_attached() is False, "nbclient / nbconvert start kernels without a widget front end"
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/student/notebooks/02_dcgan/dcgan.ipynb")
    assert frontend_attached() is True


def test_vscode_and_colab_have_a_front_end(monkeypatch):
    monkeypatch.setattr(widgets, "in_notebook", lambda: True)
    monkeypatch.setenv("VSCODE_PID", "1234")
    assert frontend_attached() is True
    monkeypatch.delenv("VSCODE_PID")
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert frontend_attached() is True


@pytest.mark.parametrize("mode", ["autograde", "validate"])
def test_nbgrader_never_gets_widgets_even_in_a_server_kernel(monkeypatch, mode):
    monkeypatch.setattr(widgets, "in_notebook", lambda: True)
    monkeypatch.setenv("JPY_SESSION_NAME", "dcgan.ipynb")
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    assert frontend_attached() is False


@pytest.mark.parametrize(("value", "expected"), [("static", False), ("interactive", True), (" Interactive ", True)])
def test_the_environment_variable_forces_a_mode(monkeypatch, value, expected):
    monkeypatch.setenv("JPY_SESSION_NAME", "dcgan.ipynb")
    monkeypatch.setattr(widgets, "in_notebook", lambda: True)
    monkeypatch.setenv(widgets.WIDGETS_ENV, value)
    assert frontend_attached() is expected


def test_explorers_follow_the_detected_front_end(monkeypatch, z_pair):
    monkeypatch.setenv(widgets.WIDGETS_ENV, "interactive")
    assert explore_interpolation(generate, *z_pair, {"lerp": straight}, steps=3).static is False
    monkeypatch.setenv(widgets.WIDGETS_ENV, "static")
    assert explore_interpolation(generate, *z_pair, {"lerp": straight}, steps=3).static is True


# --- explore_interpolation ----------------------------------------------------------------------------------

def test_interpolation_calls_each_path_function_once_with_the_grid_of_t(z_pair):
    calls = []

    def recorded(z0, z1, t):
        calls.append(t.clone())
        return straight(z0, z1, t)

    explorer = explore_interpolation(generate, *z_pair, {"recorded": recorded}, steps=5, static=True)
    assert len(calls) == 1 and torch.allclose(calls[0], torch.linspace(0, 1, 5))
    assert explorer.settings == pytest.approx([0, 0.25, 0.5, 0.75, 1])


def test_interpolation_static_figure_shows_every_step_of_every_path(z_pair):
    explorer = explore_interpolation(generate, *z_pair, {"lerp": straight, "bent": bent}, steps=7, static=True)
    assert isinstance(explorer.figure, Figure) and explorer.widget is None
    assert len(explorer.frames) == 7 and all(set(f) == {"lerp", "bent"} for f in explorer.frames)
    assert all(images.shape == (1, 1, 28, 28) for f in explorer.frames for images in f.values())
    image_axes = [ax for ax in explorer.figure.axes if ax.images]
    assert len(image_axes) == 2 * 7, "a strip of 7 frames for each of the two paths"
    z0, z1 = z_pair
    assert explorer.values("norm of z", "lerp") == pytest.approx(straight(z0, z1, torch.linspace(0, 1, 7)).norm(dim=1).tolist())
    assert explorer.values("norm of z", "bent")[3] > explorer.values("norm of z", "lerp")[3]
    assert explorer.references["norm of z"] == pytest.approx(LATENT_DIM**0.5)


def test_interpolation_frames_come_from_the_generator(z_pair):
    explorer = explore_interpolation(generate, *z_pair, {"lerp": straight}, steps=3, static=True)
    expected = generate(torch.stack(list(z_pair)))
    assert torch.allclose(explorer.frames[0]["lerp"], expected[:1])
    assert torch.allclose(explorer.frames[-1]["lerp"], expected[1:])


def test_interpolation_slider_redraws_the_picture(z_pair):
    explorer = explore_interpolation(generate, *z_pair, {"lerp": straight, "bent": bent}, steps=5, static=False)
    assert explorer.figure is None
    assert isinstance(explorer.widget, ipywidgets.VBox)
    assert isinstance(explorer.slider, ipywidgets.SelectionSlider) and explorer.slider.description == "t"
    assert explorer.slider.options == (("0.00", 0), ("0.25", 1), ("0.50", 2), ("0.75", 3), ("1.00", 4))
    assert "gancourse-interpolation" in explorer.widget._dom_classes
    first_picture, first_caption = bytes(explorer.view.value), explorer.caption.value
    assert first_picture.startswith(PNG_MAGIC) and "t = 0.00" in first_caption
    explorer.slider.value = 3  # what dragging the slider does
    assert bytes(explorer.view.value).startswith(PNG_MAGIC) and bytes(explorer.view.value) != first_picture
    assert "t = 0.75" in explorer.caption.value and "norm of z (bent)" in explorer.caption.value
    explorer.slider.value = 0
    assert bytes(explorer.view.value) == first_picture, "a setting seen before is shown again from the cache"


@pytest.mark.parametrize("bad_path", [lambda z0, z1, t: z0, lambda z0, z1, t: straight(z0, z1, t).T,
                                      lambda z0, z1, t: [z0, z1]])
def test_interpolation_names_a_path_of_the_wrong_shape(z_pair, bad_path):
    with pytest.raises(ValueError, match=r"slerp\(z0, z1, t\) with 4 values of t should return shape \(4, 6\)"):
        explore_interpolation(generate, *z_pair, {"slerp": bad_path}, steps=4, static=True)


def test_interpolation_rejects_mismatched_latent_vectors_and_too_few_steps(z_pair):
    with pytest.raises(ValueError, match="same shape"):
        explore_interpolation(generate, z_pair[0], torch.zeros(3), {"lerp": straight}, static=True)
    with pytest.raises(ValueError, match="at least 2"):
        explore_interpolation(generate, *z_pair, {"lerp": straight}, steps=1, static=True)


def test_a_generator_that_returns_the_wrong_thing_is_named(z_pair):
    with pytest.raises(ValueError, match=r"generate\(lerp\) should return 3 images"):
        explore_interpolation(lambda z: z, *z_pair, {"lerp": straight}, steps=3, static=True)


# --- explore_truncation -------------------------------------------------------------------------------------

def fake_sampler(n: int = 40):
    """Samples whose spread shrinks with the threshold, scored by their spread: enough to check the plumbing."""
    def sample(threshold):
        g = torch.Generator().manual_seed(1)
        return (torch.rand(n, 1, 28, 28, generator=g) * 2 - 1) * min(threshold, 1.0)

    return sample


def spread_score(images):
    return {"FD": 100 * (1 - images.std().item()), "digits drawn": round(10 * images.std().item())}


def test_truncation_scores_every_threshold_and_shows_a_few_samples():
    explorer = explore_truncation(fake_sampler(), [2.0, 1.0, 0.5, 0.25, 0.1], spread_score, shown=16, static=True)
    assert explorer.settings == [2.0, 1.0, 0.5, 0.25, 0.1]
    fd = explorer.values("FD")
    assert fd[0] < fd[2] < fd[4], "lower thresholds should score as the score function says"
    assert all(f["samples"].shape == (16, 1, 28, 28) for f in explorer.frames)
    assert isinstance(explorer.figure, Figure)
    titles = [ax.get_title() for ax in explorer.figure.axes]
    assert "FD" in titles and "digits drawn" in titles
    grids = [ax for ax in explorer.figure.axes if ax.images]
    assert len(grids) == 4, "the overview shows four of the five thresholds, both ends included"
    assert grids[0].get_title() == "threshold = 2.00" and grids[-1].get_title() == "threshold = 0.10"


def test_truncation_table_lists_the_trade_off_as_numbers():
    explorer = explore_truncation(fake_sampler(), [1.0, 0.5], spread_score, static=True)
    lines = explorer.table().splitlines()
    assert lines[0].split() == ["threshold", "FD", "digits", "drawn"]
    assert lines[1].split()[0] == "1.00" and lines[2].split()[0] == "0.50"
    assert float(lines[2].split()[1]) == pytest.approx(explorer.values("FD")[1], rel=1e-3)


def test_truncation_slider_changes_samples_and_numbers():
    explorer = explore_truncation(fake_sampler(), [1.0, 0.5, 0.1], spread_score, static=False)
    assert explorer.slider.description == "threshold" and "gancourse-truncation" in explorer.widget._dom_classes
    before = bytes(explorer.view.value), explorer.caption.value
    explorer.slider.value = 2
    assert bytes(explorer.view.value) != before[0] and explorer.caption.value != before[1]
    assert "threshold = 0.10" in explorer.caption.value and "FD" in explorer.caption.value


def test_truncation_needs_thresholds():
    with pytest.raises(ValueError, match="at least one threshold"):
        explore_truncation(fake_sampler(), [], spread_score, static=True)


# --- explore_arithmetic -------------------------------------------------------------------------------------

def brightness(images):
    return {"brightness": images.mean().item()}


def test_arithmetic_moves_the_start_along_the_direction_and_measures_it():
    start = torch.zeros(4, LATENT_DIM)
    direction = torch.zeros(LATENT_DIM)
    direction[0] = 1.0
    seen = []
    explorer = explore_arithmetic(lambda z: seen.append(z.clone()) or generate(z), start, direction, [0.0, 0.5, 1.0],
                                  brightness, static=True)
    assert [z[:, 0].tolist() for z in seen] == [[0.0] * 4, [0.5] * 4, [1.0] * 4]
    assert explorer.values("brightness") == pytest.approx([0.0, torch.tanh(torch.tensor(0.5)).item(),
                                                           torch.tanh(torch.tensor(1.0)).item()])
    rows = [ax for ax in explorer.figure.axes if ax.images]
    assert isinstance(explorer.figure, Figure) and len(rows) == 3, "one row of images per scale"
    assert [ax.get_title(loc="left") for ax in rows] == ["scale = 0.00", "scale = 0.50", "scale = 1.00"]


def test_arithmetic_slider_shows_each_scale():
    direction = torch.ones(LATENT_DIM)
    explorer = explore_arithmetic(generate, torch.zeros(2, LATENT_DIM), direction, [0.0, 1.0], brightness, static=False)
    assert explorer.slider.description == "scale"
    first = bytes(explorer.view.value)
    explorer.slider.value = 1
    assert bytes(explorer.view.value) != first and "scale = 1.00" in explorer.caption.value


def test_arithmetic_checks_its_shapes():
    with pytest.raises(ValueError, match=r"start should be \(N, latent_dim\)"):
        explore_arithmetic(generate, torch.zeros(LATENT_DIM), torch.zeros(LATENT_DIM), [1.0], brightness, static=True)
    with pytest.raises(ValueError, match="at least one scale"):
        explore_arithmetic(generate, torch.zeros(2, LATENT_DIM), torch.zeros(LATENT_DIM), [], brightness, static=True)


# --- Explorer and its display -------------------------------------------------------------------------------

@pytest.fixture
def displayed(monkeypatch):
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kwargs: shown.append(obj))
    monkeypatch.setattr(widgets, "show", lambda fig: shown.append(fig))
    return shown


def test_a_static_explorer_displays_its_figure(displayed, z_pair):
    explorer = explore_interpolation(generate, *z_pair, {"lerp": straight}, steps=3, static=True)
    explorer._ipython_display_()
    assert displayed == [explorer.figure]


def test_an_interactive_explorer_displays_its_widget(displayed, z_pair):
    explorer = explore_interpolation(generate, *z_pair, {"lerp": straight}, steps=3, static=False)
    explorer._ipython_display_()
    assert displayed == [explorer.widget]


def test_explorer_checks_that_frames_and_curves_match_the_settings():
    frame = {"x": torch.zeros(1, 1, 28, 28)}
    with pytest.raises(ValueError, match="one frame per setting"):
        Explorer("t", [0.0, 1.0], [frame], {}, static=True)
    with pytest.raises(ValueError, match="has 1 values for 2 settings"):
        Explorer("t", [0.0, 1.0], [frame, frame], {"norm": {"a": [1.0]}}, static=True)


def test_explorer_repr_says_what_it_is(z_pair):
    explorer = explore_interpolation(generate, *z_pair, {"lerp": straight}, steps=3, static=True)
    assert repr(explorer) == "<Explorer of 't': 3 settings, static figure>"
