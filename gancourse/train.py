"""A small ``fit`` loop: it calls *your* training step for a budgeted number of steps.

The harness does the bookkeeping (minibatches, history, live view, progress bar, metrics, checkpoints);
what one step does is the exercise, passed in as ``step_fn``.
"""
from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from gancourse.viz import LiveView

Stateful = torch.nn.Module | torch.optim.Optimizer


@contextmanager
def evaluating(*modules: torch.nn.Module):
    """Put `modules` in eval mode (batch norm uses running statistics, dropout is off) and restore them after."""
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


@dataclass
class History:
    """Losses at every step, metrics every few steps, and the training time (excluding plots and metrics)."""

    steps: list[int] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)
    metric_steps: list[int] = field(default_factory=list)
    metric_seconds: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    train_seconds: float = 0.0

    @property
    def step(self) -> int:
        """Number of steps trained so far."""
        return self.steps[-1] if self.steps else 0

    def record_losses(self, losses: Mapping[str, float]) -> None:
        """Append one step's losses."""
        self.steps.append(self.step + 1)
        for name, value in losses.items():
            self.losses.setdefault(name, []).append(value)

    def record_metrics(self, metrics: Mapping[str, float]) -> None:
        """Append metric values measured at the current step and training time."""
        self.metric_steps.append(self.step)
        self.metric_seconds.append(round(self.train_seconds, 3))
        for name, value in metrics.items():
            self.metrics.setdefault(name, []).append(float(value))


def checked_losses(output: object, step: int) -> dict[str, float]:
    """Validate what a step function returned: a dict of finite numbers."""
    if not isinstance(output, Mapping) or not output:
        raise TypeError(
            f"the step function must return a dict of losses like {{'d_loss': 0.7, 'g_loss': 0.7}}, "
            f"got {type(output).__name__}"
        )
    losses = {}
    for name, value in output.items():
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise TypeError(f"loss {name!r} should be a single number, got a tensor of shape {tuple(value.shape)}")
            value = value.item()
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"loss {name!r} should be a float, got {type(value).__name__}")
        if not math.isfinite(value):
            raise FloatingPointError(f"training diverged at step {step}: {name} = {value}")
        losses[name] = float(value)
    return losses


def save_checkpoint(path: str | Path, objects: Mapping[str, Stateful], history: History | None = None) -> None:
    """Save the state of models and optimizers (and the history) to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: obj.state_dict() for name, obj in objects.items()}
    torch.save({"state": state, "history": vars(history) if history else None}, path)


def load_checkpoint(path: str | Path, objects: Mapping[str, Stateful]) -> History:
    """Restore models and optimizers from `path` in place and return the saved history."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    missing = set(objects) - set(saved["state"])
    if missing:
        raise KeyError(f"{path} holds no state for {sorted(missing)} (it has {sorted(saved['state'])})")
    for name, obj in objects.items():
        obj.load_state_dict(saved["state"][name])
    return History(**saved["history"]) if saved["history"] else History()


def fit(
    step_fn: Callable[[torch.Tensor], Mapping[str, float]],
    batches: Iterator,
    steps: int,
    *,
    sample_fn: Callable[[], torch.Tensor] | None = None,
    metric_fn: Callable[[], Mapping[str, float]] | None = None,
    metric_every: int = 0,
    view_every: int = 100,
    view_nrow: int = 8,
    checkpoint: str | Path | None = None,
    state: Mapping[str, Stateful] | None = None,
    history: History | None = None,
) -> History:
    """Train until `steps` steps are done, calling ``step_fn(next(batches))`` once per step.

    ``sample_fn()`` returns images for the live view (`view_nrow` per row); ``metric_fn()`` returns metrics,
    recorded every `metric_every` steps and at the end. With `checkpoint`, the models and optimizers in `state`
    are saved there at the end (or on interrupt) and restored from it first if it exists, so training resumes.
    Stop early with the notebook's stop button: the history so far is returned.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if checkpoint is not None and not state:
        raise ValueError("a checkpoint needs `state`: the models and optimizers to save")
    history = history if history is not None else History()
    if checkpoint is not None and Path(checkpoint).is_file():
        history = load_checkpoint(checkpoint, state)
        print(f"Resumed from {checkpoint} at step {history.step}.")
    view = LiveView()

    def observe(final: bool = False) -> None:
        if metric_fn is not None and (final or (metric_every and history.step % metric_every == 0)):
            if not history.metric_steps or history.metric_steps[-1] != history.step:
                history.record_metrics(metric_fn())
        if view.enabled and (final or history.step % view_every == 0):
            with torch.no_grad():
                view.update(history, sample_fn() if sample_fn else None, view_nrow)

    progress = tqdm(total=steps, initial=min(history.step, steps), desc="training", unit="step", mininterval=0.5)
    try:
        while history.step < steps:
            started = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                raise RuntimeError(f"the data ran out after {history.step} steps: pass endless batches "
                                   "(gancourse.data.Batches) or fewer steps") from None
            losses = checked_losses(step_fn(batch), history.step + 1)
            history.train_seconds += time.perf_counter() - started
            history.record_losses(losses)
            progress.update()
            progress.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            observe()
    except KeyboardInterrupt:
        print(f"Interrupted at step {history.step}.")
    finally:
        progress.close()
    observe(final=True)
    if checkpoint is not None:
        save_checkpoint(checkpoint, state, history)
    return history
