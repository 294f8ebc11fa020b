"""Notebook 06 as a whole: points, exercises, its test cells against right and wrong answers, the networks its
tables describe, and a fast-mode run.

The test cells (visible and hidden parts) are run here in-process against every mistake and alternative of
test_nbgrader_06.py, which takes seconds (the U-Net's Jacobian a little longer); test_nbgrader_06.py then runs the
same submissions through nbgrader.
"""
from __future__ import annotations

import ast

import pytest
import torch

from course_helpers import (REPO, cell_runner, cells_by_id, exercise_tests, graded_points, nbgrader_meta,
                            run_in_fast_mode, stream_text)
from gancourse.nbtools import exercise_namespace
from test_course import exercise_names
from test_nbgrader_06 import ALTERNATIVES, HINTS, MISTAKES, MORE_ALTERNATIVES

SOLUTION_06 = REPO / "solutions" / "06_pix2pix" / "pix2pix.ipynb"
EXERCISES = ["UNetGenerator", "PatchDiscriminator", "pix2pix_discriminator_loss", "pix2pix_generator_loss",
             "pix2pix_train_step"]
POINTS = {"test_unet_generator": 3, "test_patch_discriminator": 3, "test_discriminator_loss": 2,
          "test_generator_loss": 2, "test_train_step": 3}
TEST_OF = exercise_tests(SOLUTION_06)  # solution cell -> the test cell below it
# Mistakes that the visible tests let through and only the hidden tests catch: BCE on a sigmoid, or the log of a
# sigmoid, is right at moderate logits and breaks only at logits of +-200.
HIDDEN_ONLY = {"d_loss_bce_on_sigmoid", "d_loss_log_of_sigmoid", "g_loss_bce_on_sigmoid"}


# --- structure ----------------------------------------------------------------------------------------------

def test_points_of_the_source_notebook():
    tests, answers = graded_points(SOLUTION_06)
    assert tests == POINTS and sum(tests.values()) == 13 and answers == [2, 2, 2]


def test_exercises_are_defined_by_the_solution():
    assert exercise_names(SOLUTION_06) == set(EXERCISES)
    namespace = exercise_namespace(SOLUTION_06)
    assert all(callable(namespace[name]) for name in EXERCISES)


def test_given_training_code_is_locked():
    given = cells_by_id(SOLUTION_06)["given_training"]
    assert nbgrader_meta(given)["locked"] and not nbgrader_meta(given)["solution"]
    defined = {node.name for node in ast.parse(given.source).body if isinstance(node, ast.FunctionDef)}
    assert defined == {"weights_init", "l1_train_step", "complete", "new_generator"}


# --- the networks the text's tables describe ---------------------------------------------------------------------

def receptive_field(D: torch.nn.Module, size: int, channels: int = 2) -> tuple[tuple[int, ...], int, int]:
    """The logit map's shape on a size x size pair, and the height and width of the input region that the centre
    logit depends on (the support of its gradient, in eval mode: batch norm then works patch by patch)."""
    D.eval()
    pair = (torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    pair = pair.double().requires_grad_()
    logits = D.double()(pair)
    logits[0, 0, logits.shape[2] // 2, logits.shape[3] // 2].backward()
    support = pair.grad[0].abs().sum(dim=0) > 0
    rows, cols = support.any(dim=1).nonzero().flatten(), support.any(dim=0).nonzero().flatten()
    height, width = int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
    assert int(support.sum()) == height * width, "the centre logit should see one solid square of the pair"
    assert rows[0] > 0 and cols[0] > 0 and rows[-1] < size - 1 and cols[-1] < size - 1, "the window is clipped"
    return tuple(logits.shape), height, width


def test_the_reference_unet_follows_the_text():
    """e1..e4 halve 32 down to the 2x2 bottleneck with widths F, 2F, 4F, 4F; d4..d1 double back, each decoder
    layer after a skip taking twice the channels; tanh at the end."""
    UNet = exercise_namespace(SOLUTION_06)["UNetGenerator"]
    G = UNet()
    convs = {name: next(m for m in getattr(G, name).modules() if isinstance(m, (torch.nn.Conv2d,
                                                                              torch.nn.ConvTranspose2d)))
             for name in ("e1", "e2", "e3", "e4", "d4", "d3", "d2", "d1")}
    widths = {name: (conv.in_channels, conv.out_channels) for name, conv in convs.items()}
    assert widths == {"e1": (1, 32), "e2": (32, 64), "e3": (64, 128), "e4": (128, 128),
                      "d4": (128, 128), "d3": (256, 64), "d2": (128, 32), "d1": (64, 1)}
    assert all(conv.kernel_size == (4, 4) and conv.stride == (2, 2) and conv.padding == (1, 1)
               for conv in convs.values())
    sizes = {}
    for name in convs:
        getattr(G, name).register_forward_hook(lambda m, i, out, name=name: sizes.__setitem__(name, out.shape[-1]))
    with torch.no_grad():
        out = G(torch.rand(3, 1, 32, 32) * 2 - 1)
    assert sizes == {"e1": 16, "e2": 8, "e3": 4, "e4": 2, "d4": 4, "d3": 8, "d2": 16, "d1": 32}
    assert out.shape == (3, 1, 32, 32) and isinstance(G.d1[-1], torch.nn.Tanh)
    with pytest.raises(ValueError, match="multiples of 16"):
        G(torch.zeros(1, 1, 28, 28))


def test_the_reference_patchgan_follows_the_table():
    """"On a 32x32 pair its output is a 6x6 map" and "each logit sees a 34x34 window"."""
    D = exercise_namespace(SOLUTION_06)["PatchDiscriminator"]()
    with torch.no_grad():
        assert D(torch.rand(5, 2, 32, 32) * 2 - 1).shape == (5, 1, 6, 6)
    shape, height, width = receptive_field(D, 64)
    assert shape == (1, 1, 14, 14) and (height, width) == (34, 34)


@pytest.mark.parametrize("n_layers, size, patch, logits", [(1, 32, 16, 14), (2, 32, 34, 6), (3, 256, 70, 30)])
def test_the_official_patchgans_have_the_patches_the_text_quotes(n_layers, size, patch, logits):
    """The official NLayerDiscriminator (the flow's alternative): n_layers=3 is the 70x70 PatchGAN, with a 30x30
    map on 256x256 images; n_layers=2 is ours (34, 6x6 on 32x32); n_layers=1 the 16x16 one (a 14x14 map)."""
    namespace = dict(exercise_namespace(SOLUTION_06))
    exec(compile(ALTERNATIVES["patch_discriminator"], "alternative", "exec"), namespace)
    D = namespace["PatchDiscriminator"](in_channels=6 if n_layers == 3 else 2, features=4, n_layers=n_layers)
    with torch.no_grad():
        assert D.eval()(torch.zeros(1, D.model[0].in_channels, size, size)).shape == (1, 1, logits, logits)
    _, height, width = receptive_field(D, 2 * patch + 8, channels=D.model[0].in_channels)
    assert (height, width) == (patch, patch)


# --- the test cells, in-process -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def notebook():
    """A runner for the solution's test cells, with other answers swapped in."""
    return cell_runner(SOLUTION_06, given=["given_training"])


@pytest.fixture(scope="module")
def visible_part():
    """A runner for the visible part of a test cell only (what a student sees before submitting)."""
    cells = cells_by_id(SOLUTION_06)
    base = exercise_namespace(SOLUTION_06)
    exec(compile(cells["given_training"].source, "given_training", "exec"), base)

    def run(test_id: str, answer: str) -> None:
        source = cells[test_id].source
        assert "### BEGIN HIDDEN TESTS" in source
        namespace = dict(base)
        exec(compile(answer, "answer", "exec"), namespace)
        exec(compile(source.split("### BEGIN HIDDEN TESTS")[0], test_id, "exec"), namespace)

    return run


@pytest.mark.parametrize("cell", sorted(TEST_OF))
def test_the_reference_passes_every_test_cell(notebook, cell, capsys):
    notebook(TEST_OF[cell])
    assert capsys.readouterr().out.strip() == "Visible tests passed."


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar")  # float(loss): fine
@pytest.mark.parametrize("cell, index", [(cell, i) for cell, answers in sorted(MORE_ALTERNATIVES.items())
                                         for i in range(len(answers) + 1)])
def test_other_correct_answers_pass(notebook, cell, index, capsys):
    answer = [ALTERNATIVES[cell], *MORE_ALTERNATIVES[cell]][index]
    notebook(TEST_OF[cell], answer)
    assert capsys.readouterr().out.strip() == "Visible tests passed."


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_mistake_fails_its_test_cell_with_a_message_that_names_it(notebook, name):
    mistake = MISTAKES[name]
    with pytest.raises(AssertionError) as failure:
        notebook(TEST_OF[mistake.cell], mistake.code)
    assert HINTS[name] in str(failure.value), f"{name}: {failure.value}"


@pytest.mark.parametrize("name", sorted(HIDDEN_ONLY))
def test_unstable_losses_pass_the_visible_tests_and_fail_the_hidden_ones(visible_part, notebook, name, capsys):
    mistake = MISTAKES[name]
    visible_part(TEST_OF[mistake.cell], mistake.code)
    with pytest.raises(AssertionError, match="log breaks"):
        notebook(TEST_OF[mistake.cell], mistake.code)


def test_every_mistake_has_a_hint_and_loses_only_its_own_test_cell():
    assert set(HINTS) == set(MISTAKES) and HIDDEN_ONLY <= MISTAKES.keys()
    assert all(mistake.loses == (TEST_OF[mistake.cell],) for mistake in MISTAKES.values())
    assert set(ALTERNATIVES) == set(MORE_ALTERNATIVES) == set(TEST_OF)
    assert {MISTAKES[name].cell for name in MISTAKES} == set(TEST_OF)


# --- the whole notebook ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_solution_runs_top_to_bottom_in_fast_mode_with_every_test_passing(mnist_root, monkeypatch):
    assert not (mnist_root / "pix2pix" / "facades").exists(), "this test expects facades to be absent"
    cells = run_in_fast_mode(SOLUTION_06, mnist_root, monkeypatch)
    assert "pix2pix: 20 steps" in stream_text(cells["train"]), "fast mode should train 20 steps"
    assert "L1 only: 20 steps" in stream_text(cells["train_baseline"]), "fast mode should train 20 steps"
    table = stream_text(cells["evaluate"]).splitlines()
    header = next(i for i, line in enumerate(table) if "PSNR (dB)" in line)
    rows = [line.strip() for line in table[header + 1:header + 5]]
    for row, name in zip(rows, ["input (hole left grey)", "pix2pix", "L1 only", "the truth"]):
        assert row.startswith(name) and len(row[len(name):].split()) == 6, row
    data = [o.get("data", {}) for o in cells["evaluate"].outputs]
    assert any("image/png" in d for d in data), "the evaluation shows no figure"
    assert "The facades dataset is not on this machine" in stream_text(cells["official"])
