"""gancourse.grading: the instruments of the notebooks' test cells."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gancourse.grading import (
    ATOL,
    RTOL,
    InputRecorder,
    StepRecorder,
    assert_close,
    assert_scalar,
    changed_parameters,
    expect,
    fill_gradients,
    is_close,
    report_earlier_exercises,
    snapshot,
    stand_ins,
)

# --- expect -------------------------------------------------------------------------------------------------


def test_expect_passes_when_the_condition_holds():
    expect(True, "never shown")
    expect(1 + 1 == 2, "never shown")


def test_expect_fails_with_exactly_the_hint():
    with pytest.raises(AssertionError) as error:
        expect(False, "D should output probabilities: did you forget the sigmoid?")
    assert str(error.value) == "D should output probabilities: did you forget the sigmoid?"


# --- is_close / assert_close --------------------------------------------------------------------------------

def test_tolerances_are_loose_for_gpu_kernels_but_not_for_wrong_formulas():
    assert RTOL == 1e-3 and ATOL == 1e-5


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (0.5, 0.5),
        (1.0, 1.0 + 5e-4),
        (torch.tensor(0.5), 0.5),
        (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64)),
        (torch.tensor([1, 2]), [1.0, 2.0]),
        (np.array([0.25, 0.5]), torch.tensor([0.25, 0.5])),
        (torch.tensor([1.0, 2.0], requires_grad=True) * 1, torch.tensor([1.0, 2.0])),
        (0.0, 1e-6),
    ],
)
def test_is_close_accepts_equal_values_within_tolerance(actual, expected):
    assert is_close(actual, expected) is True
    assert_close(actual, expected)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (0.5, 0.6),
        (1.0, 1.0 + 2e-3),
        (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.1])),
        (float("nan"), float("nan")),
        (torch.tensor([1.0]), 1.0),  # a (1,) tensor is not a scalar
        (torch.ones(2, 3), torch.ones(3, 2)),
        (torch.ones(1, 3), torch.ones(3)),  # would broadcast, but shapes differ
    ],
)
def test_is_close_rejects_different_values_or_shapes(actual, expected):
    assert is_close(actual, expected) is False
    with pytest.raises(AssertionError):
        assert_close(actual, expected)


def test_is_close_honours_custom_tolerances():
    assert not is_close(1.0, 1.1)
    assert is_close(1.0, 1.1, rtol=0.2)
    assert is_close(0.0, 0.05, atol=0.1)


def test_assert_close_message_shows_values_difference_and_hint():
    with pytest.raises(AssertionError) as error:
        assert_close(torch.tensor(0.25), 0.75, hint="Check the sign of the generator loss.")
    message = str(error.value)
    assert "expected 0.75, got 0.25" in message
    assert "largest difference 0.5" in message
    assert message.endswith("Check the sign of the generator loss.")


def test_assert_close_message_for_tensors_names_the_shape():
    with pytest.raises(AssertionError, match=r"the values differ from the expected tensor of shape \(2, 2\) "
                                             r"\(largest difference 3\)\. hint"):
        assert_close(torch.zeros(2, 2) + torch.tensor([[0.0, 3.0], [0.0, 0.0]]), torch.zeros(2, 2), hint="hint")


def test_assert_close_reports_a_shape_mismatch_before_values():
    with pytest.raises(AssertionError) as error:
        assert_close(torch.zeros(8, 1), torch.zeros(8), hint="Squeeze the discriminator's output.")
    assert str(error.value) == "expected shape (8,), got (8, 1). Squeeze the discriminator's output."


def test_assert_close_without_hint_has_no_trailing_space():
    with pytest.raises(AssertionError) as error:
        assert_close(1.0, 2.0)
    assert not str(error.value).endswith(" ")
    with pytest.raises(AssertionError) as error:
        assert_close(torch.zeros(2), torch.zeros(3))
    assert str(error.value) == "expected shape (3,), got (2,)."


def test_assert_close_of_empty_tensors():
    assert_close(torch.zeros(0), torch.zeros(0))


# --- assert_scalar ------------------------------------------------------------------------------------------

def test_assert_scalar_accepts_a_0d_float_tensor():
    assert_scalar(torch.tensor(0.7), "d_loss")
    assert_scalar(torch.ones(4, requires_grad=True).mean(), "d_loss")


def test_assert_scalar_rejects_non_tensors_naming_the_function():
    with pytest.raises(AssertionError, match=r"d_loss should return a torch.Tensor, got float"):
        assert_scalar(0.7, "d_loss")


@pytest.mark.parametrize("shape", [(4,), (1,), (4, 1)])
def test_assert_scalar_rejects_batches_and_suggests_mean(shape):
    with pytest.raises(AssertionError) as error:
        assert_scalar(torch.zeros(shape), "g_loss")
    message = str(error.value)
    assert f"g_loss should return a scalar (0-d) tensor, got shape {shape}" in message
    assert ".mean()" in message


def test_assert_scalar_rejects_integer_tensors():
    with pytest.raises(AssertionError, match=r"g_loss should return a float tensor, got torch.int64"):
        assert_scalar(torch.tensor(1), "g_loss")


# --- snapshot, changed_parameters, fill_gradients -----------------------------------------------------------

def test_snapshot_is_a_detached_copy_of_every_parameter():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    before = snapshot(model)
    assert set(before) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert all(not t.requires_grad for t in before.values())
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert not torch.equal(before["0.weight"], model[0].weight), "the snapshot must not follow the model"


def test_changed_parameters_names_exactly_the_parameters_that_moved():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    before = snapshot(model)
    assert changed_parameters(model, before) == []
    with torch.no_grad():
        model[1].bias.add_(0.5)
        model[0].weight[0, 0] += 1e-3
    assert changed_parameters(model, before) == ["0.weight", "1.bias"]


def test_changed_parameters_after_an_optimizer_step():
    model = nn.Linear(3, 1)
    before = snapshot(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.ones(2, 3)).sum().backward()
    opt.step()
    assert changed_parameters(model, before) == ["weight", "bias"]


def test_fill_gradients_gives_every_parameter_a_constant_gradient():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    fill_gradients(model, 7.0)
    for p in model.parameters():
        assert p.grad is not None and p.grad.shape == p.shape
        assert (p.grad == 7.0).all()


def test_fill_gradients_stale_values_show_whether_zero_grad_was_called():
    model = nn.Linear(2, 1)
    fill_gradients(model, 100.0)
    model(torch.ones(1, 2)).sum().backward()  # accumulates onto the stale gradient
    assert (model.bias.grad == 101.0).all()


# --- StepRecorder -------------------------------------------------------------------------------------------

@pytest.fixture
def gan():
    torch.manual_seed(0)
    G, D = nn.Linear(2, 3), nn.Linear(3, 1)
    return G, D, torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1)


def test_step_recorder_records_the_order_of_optimizer_steps(gan):
    G, D, opt_G, opt_D = gan
    with StepRecorder({"G": G, "D": D}, {"opt_G": opt_G, "opt_D": opt_D}) as record:
        for _ in range(2):
            D(G(torch.randn(4, 2)).detach()).mean().backward()
            opt_D.step()
            D(G(torch.randn(4, 2))).mean().backward()
            opt_G.step()
    assert record.order == ["opt_D", "opt_G", "opt_D", "opt_G"]


def test_step_recorder_sees_params_and_grads_just_before_each_step(gan):
    G, D, opt_G, opt_D = gan
    with StepRecorder({"G": G, "D": D}, {"opt_G": opt_G, "opt_D": opt_D}) as record:
        D(torch.randn(4, 3)).mean().backward()
        d_weight, d_grad = D.weight.detach().clone(), D.weight.grad.clone()
        opt_D.step()
        opt_D.zero_grad()

    (step,) = record.records
    assert step.optimizer == "opt_D"
    assert set(step.params) == set(step.grads) == {"G", "D"}
    assert torch.equal(step.params["D"]["weight"], d_weight), "parameters before the update"
    assert not torch.equal(step.params["D"]["weight"], D.weight), "the record does not follow later updates"
    assert torch.equal(step.grads["D"]["weight"], d_grad)
    assert step.grads["G"] == {"weight": None, "bias": None}, "G had no gradient when D stepped"
    assert torch.equal(step.params["G"]["weight"], G.weight)


def test_step_recorder_keeps_gradients_that_are_zeroed_later(gan):
    G, D, opt_G, opt_D = gan
    with StepRecorder({"D": D}, {"opt_D": opt_D}) as record:
        D(torch.ones(1, 3)).sum().backward()
        opt_D.step()
        opt_D.zero_grad(set_to_none=False)
    assert torch.equal(record.records[0].grads["D"]["bias"], torch.ones(1))


def test_step_recorder_removes_its_hooks_after_the_block(gan):
    G, D, opt_G, opt_D = gan
    with StepRecorder({"G": G, "D": D}, {"opt_G": opt_G, "opt_D": opt_D}) as record:
        opt_G.step()
    assert record.order == ["opt_G"]
    opt_G.step()
    opt_D.step()
    assert record.order == ["opt_G"], "steps after the with-block are not recorded"
    assert len(opt_G._optimizer_step_pre_hooks) == 0 and len(opt_D._optimizer_step_pre_hooks) == 0


def test_step_recorder_removes_its_hooks_when_the_block_fails(gan):
    G, D, opt_G, opt_D = gan
    with pytest.raises(RuntimeError, match="student error"):
        with StepRecorder({"G": G}, {"opt_G": opt_G}):
            raise RuntimeError("student error")
    assert len(opt_G._optimizer_step_pre_hooks) == 0


def test_step_recorder_records_nothing_without_steps(gan):
    G, D, opt_G, opt_D = gan
    with StepRecorder({"G": G}, {"opt_G": opt_G}) as record:
        G(torch.randn(2, 2))
    assert record.records == [] and record.order == []


# --- InputRecorder ------------------------------------------------------------------------------------------

def test_input_recorder_records_each_forward_input():
    G = nn.Linear(2, 3)
    z1, z2 = torch.randn(4, 2), torch.randn(6, 2)
    with InputRecorder(G) as recorder:
        G(z1)
        G(z2)
    assert len(recorder.inputs) == 2
    assert torch.equal(recorder.inputs[0], z1) and torch.equal(recorder.inputs[1], z2)


def test_input_recorder_keeps_a_detached_copy():
    G = nn.Linear(2, 3)
    z = torch.randn(4, 2, requires_grad=True)
    original = z.detach().clone()
    with InputRecorder(G) as recorder:
        G(z)
    with torch.no_grad():
        z.add_(1.0)  # later in-place changes must not reach the record
    assert not recorder.inputs[0].requires_grad
    assert torch.equal(recorder.inputs[0], original)


def test_input_recorder_removes_its_hook():
    G = nn.Linear(2, 3)
    with InputRecorder(G) as recorder:
        G(torch.randn(1, 2))
    G(torch.randn(1, 2))
    assert len(recorder.inputs) == 1
    assert len(G._forward_pre_hooks) == 0


def test_input_recorder_removes_its_hook_when_the_block_fails():
    G = nn.Linear(2, 3)
    with pytest.raises(ValueError):
        with InputRecorder(G):
            raise ValueError
    assert len(G._forward_pre_hooks) == 0


# --- gradients ----------------------------------------------------------------------------------------------

def test_gradients_of_a_function_of_a_parameter_dict():
    from gancourse.grading import gradients

    params = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor(3.0), "unused": torch.ones(2)}
    grads = gradients(lambda p: (p["w"] ** 2).sum() + 5 * p["b"], params)
    assert torch.equal(grads["w"], torch.tensor([2.0, 4.0]))
    assert torch.equal(grads["b"], torch.tensor(5.0))
    assert torch.equal(grads["unused"], torch.zeros(2)), "an unused parameter has a zero gradient"
    assert not params["w"].requires_grad, "the caller's tensors are left alone"


class KeywordOnly(nn.Module):
    def forward(self, *, z):
        return z * 2


@pytest.mark.parametrize("call", [lambda G, z: G(z), lambda G, z: G(input=z)], ids=["positional", "keyword"])
def test_input_recorder_records_positional_and_keyword_calls(call):
    G, z = nn.Linear(2, 3), torch.randn(4, 2)
    with InputRecorder(G) as recorder:
        call(G, z)
    assert len(recorder.inputs) == 1 and torch.equal(recorder.inputs[0], z)


def test_input_recorder_records_a_keyword_only_forward():
    z = torch.randn(3, 2)
    with InputRecorder(KeywordOnly()) as recorder:
        recorder.module(z=z)
    assert torch.equal(recorder.inputs[0], z)


def test_input_recorder_records_none_for_a_call_without_tensors():
    class Constant(nn.Module):
        def forward(self, n):
            return torch.zeros(n)

    with InputRecorder(Constant()) as recorder:
        recorder.module(3)
    assert recorder.inputs == [None]


# --- stand_ins ----------------------------------------------------------------------------------------------

def test_stand_ins_replace_names_and_restore_them():
    namespace = {"sample_noise": "student's", "other": 1}
    with stand_ins(namespace, sample_noise="stand-in", extra="new"):
        assert namespace == {"sample_noise": "stand-in", "other": 1, "extra": "new"}
    assert namespace == {"sample_noise": "student's", "other": 1}


def test_stand_ins_restore_the_names_when_the_step_raises():
    namespace = {"loss": "student's"}
    with pytest.raises(ZeroDivisionError), stand_ins(namespace, loss="stand-in"):
        1 / 0
    assert namespace == {"loss": "student's"}


def test_stand_ins_are_seen_by_functions_defined_in_the_namespace():
    namespace: dict = {}
    exec("def noise():\n    return 'student'\ndef step():\n    return noise()", namespace)
    with stand_ins(namespace, noise=lambda: "stand-in"):
        assert namespace["step"]() == "stand-in"
    assert namespace["step"]() == "student"


# --- report_earlier_exercises -------------------------------------------------------------------------------

def test_report_earlier_exercises_prints_a_note_per_failing_check_and_never_raises(capsys):
    def wrong_dtype():
        raise AssertionError("sample_noise returned float64")

    def crashes():
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    notes = report_earlier_exercises({"exercise 1 (sample_noise)": wrong_dtype, "exercise 4 (discriminator_loss)": crashes,
                                      "exercise 5 (generator_loss)": lambda: None})
    out = capsys.readouterr()
    assert len(notes) == 2 and out.err == ""
    assert "exercise 1 (sample_noise) is not right yet (sample_noise returned float64)" in out.out
    assert "Fix exercise 1 (sample_noise) first" in out.out
    assert "exercise 4 (discriminator_loss) is not right yet (mat1 and mat2" in out.out
    assert "generator_loss" not in out.out


def test_report_earlier_exercises_is_silent_when_all_pass(capsys):
    assert report_earlier_exercises({"exercise 1": lambda: None}) == []
    assert capsys.readouterr().out == ""
