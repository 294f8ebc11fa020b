"""gancourse.experiments: training for a wall-clock budget, comparing setups, and their table and figures."""
from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from gancourse.experiments import Run, compare, metrics_figure, samples_figure, table, train_for
from gancourse.train import History


def slow_step(seconds: float = 0.01):
    """A step function that takes about `seconds` and counts its calls."""
    calls = []

    def step():
        time.sleep(seconds)
        calls.append(1)
        return {"loss": 1.0 / len(calls)}

    return step, calls


# --- train_for ----------------------------------------------------------------------------------------------

def test_train_for_stops_once_the_training_seconds_are_spent():
    step, calls = slow_step(0.01)
    history = train_for(step, 0.2)
    assert 0.2 <= history.train_seconds < 0.3
    assert history.step == len(calls) >= 10
    assert history.losses["loss"] == [1.0 / n for n in range(1, len(calls) + 1)]


def test_train_for_measures_before_the_first_step_every_few_seconds_and_at_the_end():
    step, _ = slow_step(0.01)
    measured_at = []
    history = train_for(step, 0.3, metric_fn=lambda: measured_at.append(1) or {"FD": float(len(measured_at))},
                        metric_every=0.1)
    assert history.metric_steps[0] == 0 and history.metric_seconds[0] == 0.0
    assert history.metric_steps[-1] == history.step
    assert 4 <= len(history.metric_steps) <= 5  # at 0, ~0.1, ~0.2 (maybe ~0.3) and the end
    assert history.metrics["FD"] == [float(n) for n in range(1, len(measured_at) + 1)]
    assert history.metric_seconds == sorted(history.metric_seconds)


def test_train_for_excludes_the_metric_time_from_the_training_time():
    step, _ = slow_step(0.005)
    history = train_for(step, 0.05, metric_fn=lambda: time.sleep(0.05) or {"FD": 1.0}, metric_every=0.01)
    assert history.train_seconds < 0.1


def test_train_for_measures_once_after_a_step_longer_than_the_measuring_interval():
    step, _ = slow_step(0.05)
    history = train_for(step, 0.12, metric_fn=lambda: {"FD": 1.0}, metric_every=0.01)
    assert history.metric_steps == sorted(set(history.metric_steps)), "never twice at the same step"
    assert len(history.metric_steps) == history.step + 1  # before every step and at the end, no catching up


def test_train_for_runs_at_least_one_step_even_if_it_is_slower_than_the_budget():
    step, calls = slow_step(0.05)
    assert train_for(step, 0.001).step == len(calls) == 1


@pytest.mark.parametrize("seconds, every", [(0, 1.0), (-1, 1.0), (1.0, 0)])
def test_train_for_rejects_budgets_that_are_not_positive(seconds, every):
    with pytest.raises(ValueError, match="positive"):
        train_for(lambda: {"loss": 0.0}, seconds, metric_every=every)


def test_train_for_stops_on_a_diverged_loss():
    with pytest.raises(FloatingPointError, match="diverged"):
        train_for(lambda: {"loss": float("nan")}, 1.0)


# --- compare ------------------------------------------------------------------------------------------------

class TinyG(nn.Module):
    def __init__(self, latent_dim: int = 4):
        super().__init__()
        self.fc = nn.Linear(latent_dim, 4)
        self.norm = nn.BatchNorm1d(4)

    def forward(self, z):
        return torch.tanh(self.norm(self.fc(z))).view(len(z), 1, 2, 2)


def recording_setup(seen: dict, name: str):
    """A setup that records its generator's first weights and the first batch it trains on."""

    def setup(batches):
        G = TinyG()
        seen[name] = {"weight": G.fc.weight.detach().clone(), "batch": None}

        def step():
            batch = next(batches)
            if seen[name]["batch"] is None:
                seen[name]["batch"] = batch.clone()
            time.sleep(0.002)
            return {"loss": float(batch.mean())}

        return G, step

    return setup


def test_compare_gives_every_setup_the_same_seed_data_order_and_budget():
    seen: dict = {}
    images = torch.randint(0, 256, (40, 1, 2, 2), dtype=torch.uint8)
    runs = compare({"a": recording_setup(seen, "a"), "b": recording_setup(seen, "b")}, images, batch_size=8,
                   latent_dim=4, seconds=0.05, scorer=lambda fake: {"FD": float(fake.abs().mean())}, seed=3,
                   metric_every=0.02)
    assert list(runs) == ["a", "b"]
    assert torch.equal(seen["a"]["weight"], seen["b"]["weight"]), "same seed, same initial generator"
    assert torch.equal(seen["a"]["batch"], seen["b"]["batch"]), "same data order"
    for run in runs.values():
        assert isinstance(run, Run) and isinstance(run.history, History)
        assert run.history.train_seconds >= 0.05
        assert run.history.metric_steps[0] == 0 and len(run.history.metrics["FD"]) >= 3
        assert tuple(run.samples.shape) == (64, 1, 2, 2)
        assert run.samples.device.type == "cpu"


def test_compare_scores_every_run_on_the_same_fixed_noise():
    images = torch.randint(0, 256, (40, 1, 2, 2), dtype=torch.uint8)
    noises = []
    frozen = lambda batches: (TinyG().eval(), lambda: {"loss": float(next(batches).mean())})
    compare({"a": frozen, "b": frozen}, images, batch_size=8, latent_dim=4, seconds=0.01,
            scorer=lambda fake: noises.append(fake.clone()) or {"FD": 0.0}, seed=0, n_samples=10)
    assert len(noises) == 4 and all(tuple(x.shape) == (10, 1, 2, 2) for x in noises)  # each run: start and end
    assert torch.equal(noises[0], noises[2]), "the same untrained generator on the same noise: the same samples"


def test_compare_returns_the_finished_runs_when_interrupted(capsys):
    def interrupted(batches):
        def step():
            raise KeyboardInterrupt
        return TinyG(), step

    images = torch.randint(0, 256, (16, 1, 2, 2), dtype=torch.uint8)
    runs = compare({"done": lambda b: (TinyG(), lambda: {"loss": 0.0}), "stopped": interrupted, "never": interrupted},
                   images, batch_size=4, latent_dim=4, seconds=0.01, scorer=lambda fake: {"FD": 1.0})
    assert list(runs) == ["done"]
    assert "Interrupted" in capsys.readouterr().out


# --- table and figures --------------------------------------------------------------------------------------

def finished_run(name: str, fd: list[float], steps: int = 3) -> Run:
    history = History()
    for _ in range(steps):
        history.record_losses({"loss": 0.0})
    history.train_seconds = 2.0
    history.metric_seconds, history.metric_steps = [0.0, 1.0, 2.0][: len(fd)], list(range(len(fd)))
    history.metrics = {"FD": fd, "digits drawn": [float(i) for i in range(len(fd))]}
    return Run(name, history, TinyG(), torch.rand(64, 1, 28, 28) * 2 - 1)


def test_table_lists_every_run_with_its_steps_seconds_and_final_metrics():
    text = table({"short": finished_run("short", [300.0, 120.5]), "a much longer name": finished_run("a much longer name", [90.0], 7)})
    lines = text.splitlines()
    assert lines[0].split() == ["setup", "steps", "train", "s", "FD", "digits", "drawn"]
    assert lines[1].split() == ["short", "3", "2.0", "120.5", "1"]
    assert lines[2].startswith("a much longer name") and lines[2].split()[-4:] == ["7", "2.0", "90", "0"]


def test_figures_have_a_panel_per_metric_and_per_run(tmp_path):
    runs = {name: finished_run(name, [100.0, 50.0, 25.0]) for name in ["a", "b", "c", "d", "e"]}
    fig = metrics_figure(runs)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    assert [line.get_label() for line in fig.axes[0].lines] == list(runs)
    fig.savefig(tmp_path / "metrics.png")
    fig = samples_figure(runs)
    assert sum(ax.get_title() != "" for ax in fig.axes) == 5
    fig.savefig(tmp_path / "samples.png")
