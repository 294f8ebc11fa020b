"""Comparing trainings on one wall-clock budget: run each setup for so many seconds, score it over time, compare.

A *setup* builds a generator and a step function from an iterator of real minibatches; what a step does (the
losses, the critic updates) is the notebook's code. :func:`compare` gives every setup the same seed, the same
data order and the same seconds of training, and scores samples from fixed noise every few seconds.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from torch import nn
from tqdm.auto import tqdm

from gancourse.data import Batches
from gancourse.runtime import is_fast_mode, seed_everything
from gancourse.train import History, checked_losses, evaluating
from gancourse.viz import LiveView, image_grid

StepFn = Callable[[], Mapping[str, float]]
Setup = Callable[[Iterator], tuple[nn.Module, StepFn]]


@dataclass
class Run:
    """One finished training: its history (losses per step, metrics over seconds) and its generator."""

    name: str
    history: History
    generator: nn.Module
    samples: torch.Tensor  # the last samples from the fixed noise, on the CPU


def train_for(
    step_fn: StepFn,
    seconds: float,
    *,
    metric_fn: Callable[[], Mapping[str, float]] | None = None,
    metric_every: float = 5.0,
    sample_fn: Callable[[], torch.Tensor] | None = None,
    desc: str = "training",
) -> History:
    """Call ``step_fn()`` until `seconds` of training time have passed; return the history.

    Metrics are recorded before the first step, then each time another `metric_every` seconds of training
    have passed, and at the end. Training time excludes the metrics and the live view (shown in Jupyter, but
    not in fast mode, where nobody watches: autograding and CI).
    """
    if not seconds > 0 or not metric_every > 0:
        raise ValueError(f"seconds and metric_every must be positive, got {seconds!r} and {metric_every!r}")
    history, view = History(), LiveView()
    view.enabled = view.enabled and not is_fast_mode()
    next_metric = 0.0

    def observe() -> None:
        if metric_fn is not None:
            history.record_metrics(metric_fn())
        if view.enabled:
            with torch.no_grad():
                view.update(history, sample_fn() if sample_fn else None)

    with tqdm(total=seconds, desc=desc, unit="s", mininterval=0.5,
              bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s{postfix}") as progress:
        while history.train_seconds < seconds:
            if history.train_seconds >= next_metric:
                observe()
                next_metric = (history.train_seconds // metric_every + 1) * metric_every  # skip missed points
            started = time.perf_counter()
            losses = checked_losses(step_fn(), history.step + 1)
            elapsed = time.perf_counter() - started
            history.train_seconds += elapsed
            history.record_losses(losses)
            progress.update(min(elapsed, seconds - progress.n))
            progress.set_postfix(steps=history.step, refresh=False)
    observe()
    return history


def compare(
    setups: Mapping[str, Setup],
    images: torch.Tensor,
    *,
    batch_size: int,
    latent_dim: int,
    seconds: float,
    scorer: Callable[[torch.Tensor], Mapping[str, float]],
    device: torch.device | str = "cpu",
    seed: int = 0,
    metric_every: float = 5.0,
    n_samples: int = 1000,
) -> dict[str, Run]:
    """Train every setup for `seconds` from the same seed and data order; score samples of fixed noise.

    Each setup is called as ``setup(batches)`` right after ``seed_everything(seed)`` and returns
    ``(generator, step_fn)``. ``scorer(samples)`` returns the metrics (e.g. a ``DigitScorer``). Stop it with
    the notebook's stop button: the runs finished so far are returned.
    """
    noise = torch.randn(n_samples, latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    runs: dict[str, Run] = {}
    try:
        for name, setup in setups.items():
            seed_everything(seed)
            G, step_fn = setup(Batches(images, batch_size, device=device, seed=seed))

            def generate(G=G) -> torch.Tensor:
                with evaluating(G), torch.no_grad():
                    return G(noise)

            history = train_for(step_fn, seconds, metric_fn=lambda: scorer(generate()), metric_every=metric_every,
                                sample_fn=lambda: generate()[:64], desc=name)
            runs[name] = Run(name, history, G, generate()[:64].cpu())
            print(summary_line(runs[name]))
    except KeyboardInterrupt:
        print(f"Interrupted: returning the {len(runs)} finished runs.")
    return runs


def summary_line(run: Run) -> str:
    """One line: steps, training seconds and the last value of every metric of a run."""
    h = run.history
    metrics = ", ".join(f"{name} {values[-1]:.4g}" for name, values in h.metrics.items())
    return f"{run.name}: {h.step} steps in {h.train_seconds:.0f} s; {metrics}"


def table(runs: Mapping[str, Run]) -> str:
    """A plain-text table of every run: steps, training seconds and the final metrics."""
    names = list(dict.fromkeys(m for run in runs.values() for m in run.history.metrics))
    width = max([len("setup"), *map(len, runs)])
    lines = [f"{'setup':<{width}}  {'steps':>6}  {'train s':>7}" + "".join(f"  {m:>12}" for m in names)]
    for run in runs.values():
        h = run.history
        values = "".join(f"  {h.metrics[m][-1]:12.5g}" if m in h.metrics else f"  {'-':>12}" for m in names)
        lines.append(f"{run.name:<{width}}  {h.step:6d}  {h.train_seconds:7.1f}{values}")
    return "\n".join(lines)


def metrics_figure(runs: Mapping[str, Run], metrics: Sequence[str] = ("FD", "digits drawn")) -> Figure:
    """One panel per metric, one line per run, against seconds of training."""
    fig = Figure(figsize=(5.2 * len(metrics), 3.8), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        for run in runs.values():
            h = run.history
            if metric in h.metrics:
                ax.plot(h.metric_seconds, h.metrics[metric], marker="o", markersize=3, linewidth=1.2, label=run.name)
        ax.set_xlabel("seconds of training")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    if metrics and "FD" in metrics and all(min(r.history.metrics.get("FD", [1])) > 0 for r in runs.values()):
        axes[list(metrics).index("FD")].set_yscale("log")
    axes[0].legend(fontsize=8)
    return fig


def samples_figure(runs: Mapping[str, Run], n: int = 36, nrow: int = 6) -> Figure:
    """The last samples of every run, side by side, titled with the run's name."""
    columns = min(len(runs), 4)
    rows = -(-len(runs) // columns)
    fig = Figure(figsize=(3.2 * columns, 3.5 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, run in zip(axes, runs.values()):
        ax.imshow(image_grid(run.samples[:n], nrow).numpy(), interpolation="nearest")
        ax.set_title(run.name, fontsize=10)
    for ax in axes:
        ax.set_axis_off()
    return fig
