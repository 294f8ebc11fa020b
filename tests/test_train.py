"""gancourse.train: the fit loop, its history, its checks of what a step returns, and checkpoints."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from gancourse import train as train_module
from gancourse.train import History, fit, load_checkpoint, save_checkpoint


class FakeStep:
    """A step function returning decreasing losses; remembers the batches it was given."""

    def __init__(self) -> None:
        self.batches = []

    def __call__(self, batch) -> dict[str, float]:
        self.batches.append(batch)
        n = len(self.batches)
        sum(range(1000))  # a little work, so the measured time is positive
        return {"d_loss": 1.0 / n, "g_loss": 2.0 / n}


class CountingMetric:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, float]:
        self.calls += 1
        return {"fd": 100.0 / self.calls}


# --- History ------------------------------------------------------------------------------------------------

def test_history_starts_empty_at_step_zero():
    history = History()
    assert history.step == 0
    assert history.steps == [] and history.losses == {} and history.metrics == {}


def test_history_records_losses_and_metrics_at_the_current_step():
    history = History()
    history.record_losses({"loss": 0.5})
    history.record_losses({"loss": 0.25})
    history.train_seconds = 1.23456
    history.record_metrics({"fd": np.float32(7.5)})
    assert history.step == 2
    assert history.steps == [1, 2]
    assert history.losses == {"loss": [0.5, 0.25]}
    assert history.metric_steps == [2]
    assert history.metric_seconds == [1.235]
    assert history.metrics == {"fd": [7.5]}
    assert type(history.metrics["fd"][0]) is float


# --- fit: the loop ------------------------------------------------------------------------------------------

def test_fit_runs_exactly_the_given_steps_on_successive_batches():
    step = FakeStep()
    history = fit(step, iter(range(100)), steps=7)
    assert step.batches == list(range(7))
    assert history.steps == list(range(1, 8))
    assert history.step == 7


def test_fit_records_every_loss_of_every_step():
    history = fit(FakeStep(), itertools.count(), steps=4)
    assert history.losses == {
        "d_loss": [1.0, 0.5, 1 / 3, 0.25],
        "g_loss": [2.0, 1.0, 2 / 3, 0.5],
    }


def test_fit_measures_training_time():
    history = fit(FakeStep(), itertools.count(), steps=3)
    assert history.train_seconds > 0


def test_fit_accepts_scalar_tensors_and_ints_as_losses():
    def step_fn(batch):
        return {"tensor": torch.tensor(0.5, requires_grad=True) * 2, "one-element": torch.tensor([0.25]), "int": 3}

    history = fit(step_fn, itertools.count(), steps=2)
    assert history.losses == {"tensor": [1.0, 1.0], "one-element": [0.25, 0.25], "int": [3.0, 3.0]}
    assert all(type(v) is float for values in history.losses.values() for v in values)


def test_fit_works_with_batches_from_the_data_module():
    from gancourse.data import Batches

    shapes = []
    fit(lambda x: shapes.append(tuple(x.shape)) or {"loss": 0.0}, Batches(torch.zeros(10, 1, 4, 4), 4), steps=5)
    assert shapes == [(4, 1, 4, 4)] * 5


def test_fit_continues_a_given_history():
    history = fit(FakeStep(), itertools.count(), steps=3)
    history = fit(FakeStep(), itertools.count(), steps=5, history=history)
    assert history.steps == [1, 2, 3, 4, 5]
    assert len(history.losses["d_loss"]) == 5


@pytest.mark.parametrize("steps", [0, -1, 2.5, "10", None])
def test_fit_rejects_a_step_count_that_is_not_a_positive_int(steps):
    with pytest.raises(ValueError, match="steps must be a positive int"):
        fit(FakeStep(), itertools.count(), steps=steps)


def test_fit_keeps_the_live_view_off_outside_jupyter():
    calls = []
    fit(FakeStep(), itertools.count(), steps=3, sample_fn=lambda: calls.append(1), view_every=1)
    assert calls == [], "samples are only drawn for a live view"


def test_fit_updates_the_live_view_in_jupyter(monkeypatch):
    updates = []
    monkeypatch.setattr(train_module.LiveView, "__init__", lambda self: setattr(self, "enabled", True))
    monkeypatch.setattr(train_module.LiveView, "update", lambda self, h, s=None, n=8: updates.append((h.step, s, n)))
    fit(FakeStep(), itertools.count(), steps=7, sample_fn=lambda: "samples", view_every=3, view_nrow=10)
    assert updates == [(3, "samples", 10), (6, "samples", 10), (7, "samples", 10)]


# --- fit: metrics -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("steps", "every", "expected"),
    [(10, 3, [3, 6, 9, 10]), (9, 3, [3, 6, 9]), (5, 0, [5]), (4, 10, [4]), (3, 1, [1, 2, 3])],
)
def test_fit_measures_metrics_every_few_steps_and_at_the_end_never_twice(steps, every, expected):
    metric = CountingMetric()
    history = fit(FakeStep(), itertools.count(), steps=steps, metric_fn=metric, metric_every=every)
    assert history.metric_steps == expected
    assert metric.calls == len(expected)
    assert history.metrics == {"fd": [100.0 / k for k in range(1, len(expected) + 1)]}
    assert len(history.metric_seconds) == len(expected)
    assert history.metric_seconds == sorted(history.metric_seconds)


def test_fit_excludes_metric_time_from_training_time():
    import time

    def slow_metric():
        started = time.perf_counter()
        while time.perf_counter() - started < 0.05:  # busy, not sleeping: 50 ms of metric work
            pass
        return {"fd": 1.0}

    history = fit(FakeStep(), itertools.count(), steps=4, metric_fn=slow_metric, metric_every=1)
    assert history.train_seconds < 0.1, "4 x 50 ms of metric work must not count as training"


# --- fit: what a step function may return -------------------------------------------------------------------

@pytest.mark.parametrize("output", [0.7, None, [0.7], (("loss", 0.7),), {}], ids=["float", "None", "list", "tuple", "empty"])
def test_fit_says_to_return_a_dict_of_losses(output):
    with pytest.raises(TypeError, match=r"must return a dict of losses like \{'d_loss': 0.7, 'g_loss': 0.7\}"):
        fit(lambda batch: output, itertools.count(), steps=3)


def test_fit_rejects_a_loss_tensor_with_more_than_one_element():
    with pytest.raises(TypeError, match=r"loss 'g_loss' should be a single number, got a tensor of shape \(4,\)"):
        fit(lambda batch: {"d_loss": 0.1, "g_loss": torch.ones(4)}, itertools.count(), steps=3)


def test_fit_accepts_numpy_numbers_as_losses():
    history = fit(lambda batch: {"loss": np.float32(0.5)}, itertools.count(), steps=2)
    assert history.losses == {"loss": [0.5, 0.5]}


def test_fit_says_when_the_data_runs_out():
    with pytest.raises(RuntimeError, match=r"the data ran out after 3 steps: pass endless batches"):
        fit(lambda batch: {"loss": 0.5}, iter(range(3)), steps=5)


@pytest.mark.parametrize("value", ["0.7", None, [0.7], True])
def test_fit_rejects_a_loss_that_is_not_a_number(value):
    with pytest.raises(TypeError, match=r"loss 'd_loss' should be a float, got"):
        fit(lambda batch: {"d_loss": value}, itertools.count(), steps=3)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), torch.tensor(float("nan"))])
def test_fit_reports_the_step_at_which_training_diverged(bad):
    step = FakeStep()

    def diverging(batch):
        losses = step(batch)
        if len(step.batches) == 3:
            losses["g_loss"] = bad
        return losses

    with pytest.raises(FloatingPointError, match=r"training diverged at step 3: g_loss = (nan|inf)"):
        fit(diverging, itertools.count(), steps=10)
    assert len(step.batches) == 3, "training stops at the first non-finite loss"


# --- fit: interruption --------------------------------------------------------------------------------------

def test_keyboard_interrupt_stops_training_and_returns_the_history_so_far(capsys):
    step = FakeStep()
    metric = CountingMetric()

    def interrupted(batch):
        if len(step.batches) == 4:
            raise KeyboardInterrupt
        return step(batch)

    try:
        history = fit(interrupted, itertools.count(), steps=100, metric_fn=metric, metric_every=50)
    except KeyboardInterrupt:  # must not escape: it would abort the whole test session
        pytest.fail("fit let a KeyboardInterrupt escape")
    assert history.steps == [1, 2, 3, 4]
    assert len(history.losses["d_loss"]) == 4
    assert history.metric_steps == [4], "the final metric is still measured"
    assert "Interrupted at step 4." in capsys.readouterr().out


# --- checkpoints --------------------------------------------------------------------------------------------

def make_state(seed: int) -> dict:
    torch.manual_seed(seed)
    model = nn.Linear(3, 2)
    return {"model": model, "opt": torch.optim.Adam(model.parameters(), lr=0.1)}


def linear_step(state: dict, log: list | None = None):
    """A real optimisation step on the state's model; logs the weights it starts from."""
    model, opt = state["model"], state["opt"]

    def step_fn(batch):
        if log is not None:
            log.append(model.weight.detach().clone())
        loss = model(batch).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss}

    return step_fn


def batches():
    generator = torch.Generator().manual_seed(0)
    while True:
        yield torch.randn(8, 3, generator=generator)


def test_fit_saves_a_checkpoint_and_resumes_from_it(tmp_path, capsys):
    checkpoint = tmp_path / "ck.pt"
    first = make_state(0)
    history = fit(linear_step(first), batches(), steps=3, checkpoint=checkpoint, state=first)
    assert checkpoint.is_file()
    assert history.step == 3
    saved_weight = first["model"].weight.detach().clone()
    saved_adam_steps = first["opt"].state_dict()["state"][0]["step"]

    second = make_state(1)  # fresh, differently initialised objects, as after a kernel restart
    assert not torch.equal(second["model"].weight, saved_weight)
    log = []
    history = fit(linear_step(second, log), batches(), steps=5, checkpoint=checkpoint, state=second)

    assert "Resumed from" in capsys.readouterr().out
    assert len(log) == 2, "only the missing steps 4 and 5 run"
    assert torch.equal(log[0], saved_weight), "the model resumed from the saved weights"
    assert second["opt"].state_dict()["state"][0]["step"] == saved_adam_steps + 2, "and the optimizer from its state"
    assert history.steps == [1, 2, 3, 4, 5]
    assert len(history.losses["loss"]) == 5
    assert load_checkpoint(checkpoint, make_state(2)).steps == [1, 2, 3, 4, 5], "the checkpoint was updated"


def test_fit_resumes_into_a_finished_run_without_training(tmp_path):
    checkpoint = tmp_path / "ck.pt"
    state = make_state(0)
    fit(linear_step(state), batches(), steps=4, checkpoint=checkpoint, state=state)
    calls = []
    history = fit(lambda b: calls.append(b) or {"loss": 0.0}, batches(), steps=4, checkpoint=checkpoint, state=make_state(1))
    assert calls == []
    assert history.step == 4


def test_fit_saves_a_checkpoint_when_interrupted(tmp_path):
    checkpoint = tmp_path / "ck.pt"
    state = make_state(0)
    step_fn = linear_step(state)
    count = itertools.count(1)

    def interrupted(batch):
        if next(count) == 3:
            raise KeyboardInterrupt
        return step_fn(batch)

    fit(interrupted, batches(), steps=10, checkpoint=checkpoint, state=state)
    assert load_checkpoint(checkpoint, make_state(1)).steps == [1, 2]


def test_fit_needs_state_for_a_checkpoint(tmp_path):
    for state in (None, {}):
        with pytest.raises(ValueError, match="a checkpoint needs `state`"):
            fit(FakeStep(), itertools.count(), steps=2, checkpoint=tmp_path / "ck.pt", state=state)
    assert not (tmp_path / "ck.pt").exists()


def test_save_and_load_checkpoint_round_trip(tmp_path):
    path = tmp_path / "nested" / "folder" / "ck.pt"
    state = make_state(0)
    linear_step(state)(torch.ones(2, 3))
    history = History()
    history.record_losses({"loss": 0.5})
    history.train_seconds = 2.0
    save_checkpoint(path, state, history)

    restored = make_state(1)
    loaded = load_checkpoint(path, restored)
    assert loaded == history
    for a, b in zip(state["model"].parameters(), restored["model"].parameters()):
        assert torch.equal(a, b)
    assert restored["opt"].state_dict()["state"][0]["step"] == 1


def test_load_checkpoint_without_a_saved_history_returns_an_empty_one(tmp_path):
    save_checkpoint(tmp_path / "ck.pt", make_state(0))
    assert load_checkpoint(tmp_path / "ck.pt", make_state(1)) == History()


def test_load_checkpoint_names_missing_state(tmp_path):
    state = make_state(0)
    save_checkpoint(tmp_path / "ck.pt", {"model": state["model"]})
    with pytest.raises(KeyError, match=r"no state for \['opt'\].*it has \['model'\]"):
        load_checkpoint(tmp_path / "ck.pt", state)


def test_checkpoint_history_is_consistent_with_fit(tmp_path):
    """What fit saves loads back equal to what it returned (all History fields survive)."""
    state = make_state(0)
    metric = CountingMetric()
    history = fit(linear_step(state), batches(), steps=4, metric_fn=metric, metric_every=2,
                  checkpoint=tmp_path / "ck.pt", state=state)
    loaded = load_checkpoint(tmp_path / "ck.pt", make_state(1))
    assert loaded == history
    assert loaded.metric_steps == [2, 4]
    assert all(math.isfinite(v) for v in loaded.losses["loss"])


def test_evaluating_switches_to_eval_mode_and_restores_each_module():
    trained, frozen = nn.Dropout(0.5), nn.Dropout(0.5).eval()
    with train_module.evaluating(trained, frozen):
        assert not trained.training and not frozen.training
    assert trained.training and not frozen.training


def test_evaluating_restores_modes_after_an_error():
    model = nn.BatchNorm1d(3)
    with pytest.raises(ValueError), train_module.evaluating(model):
        raise ValueError("boom")
    assert model.training
