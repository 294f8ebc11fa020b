"""Helpers for the notebooks' test cells: tolerant comparisons, parameter snapshots, optimizer-step records.

These are instruments, never answers: nothing here computes what an exercise asks for.
"""
from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from gancourse.runtime import NBGRADER_ENV

# Loose enough for GPU kernels (TF32 convolutions, reordered sums), tight enough to catch a wrong formula.
RTOL, ATOL = 1e-3, 1e-5


def _show_warning_on_stdout(message, category, filename, lineno, file=None, line=None) -> None:
    print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stdout)


# nbgrader scores any stderr output of a test cell as a failure, so a harmless warning raised by correct
# code (say, float() of a tensor that requires grad) would cost points: under nbgrader, warn on stdout.
if os.environ.get(NBGRADER_ENV):
    warnings.showwarning = _show_warning_on_stdout


def expect(condition: bool, hint: str) -> None:
    """Fail with `hint` (which should name the likely mistake) unless `condition` holds."""
    if not condition:
        raise AssertionError(hint)


def _as_cpu_tensor(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64)
    return torch.as_tensor(value, dtype=torch.float64)


def is_close(actual, expected, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """True if `actual` matches `expected` (tensors on any device, or numbers) within tolerance."""
    a, e = _as_cpu_tensor(actual), _as_cpu_tensor(expected)
    return a.shape == e.shape and bool(torch.allclose(a, e, rtol=rtol, atol=atol, equal_nan=False))


def assert_close(actual, expected, hint: str = "", rtol: float = RTOL, atol: float = ATOL) -> None:
    """Fail with the values and `hint` unless `actual` matches `expected` within tolerance."""
    a, e = _as_cpu_tensor(actual), _as_cpu_tensor(expected)
    if a.shape != e.shape:
        raise AssertionError(f"expected shape {tuple(e.shape)}, got {tuple(a.shape)}. {hint}".strip())
    if not is_close(a, e, rtol, atol):
        worst = (a - e).abs().max().item() if a.numel() else 0.0
        if a.numel() == 1:
            found = f"expected {e.item():.6g}, got {a.item():.6g}"
        else:
            found = f"the values differ from the expected tensor of shape {tuple(e.shape)}"
        raise AssertionError(f"{found} (largest difference {worst:.3g}). {hint}".strip())


def assert_scalar(value, name: str) -> None:
    """Fail unless `value` is a 0-dimensional floating-point tensor."""
    expect(isinstance(value, torch.Tensor), f"{name} should return a torch.Tensor, got {type(value).__name__}")
    expect(value.ndim == 0, f"{name} should return a scalar (0-d) tensor, got shape {tuple(value.shape)}: "
                            "did you forget to average over the batch with .mean()?")
    expect(value.is_floating_point(), f"{name} should return a float tensor, got {value.dtype}")


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter of `module`."""
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def changed_parameters(module: nn.Module, before: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the parameters of `module` that differ from the `before` snapshot."""
    return [name for name, p in module.named_parameters() if not torch.equal(p.detach(), before[name])]


def gradients(loss_fn, params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Gradients of the scalar ``loss_fn(params)`` with respect to every tensor in `params` (copied first)."""
    leaves = {name: value.detach().clone().requires_grad_(True) for name, value in params.items()}
    grads = torch.autograd.grad(loss_fn(leaves), list(leaves.values()), allow_unused=True)
    return {name: torch.zeros_like(leaves[name]) if g is None else g for name, g in zip(leaves, grads)}


def fill_gradients(module: nn.Module, value: float) -> None:
    """Give every parameter a stale gradient equal to `value`, as if left over from earlier work."""
    for p in module.parameters():
        p.grad = torch.full_like(p, value)


@dataclass
class StepRecord:
    """What one ``optimizer.step()`` saw: parameters and gradients of every watched module just before it."""

    optimizer: str
    params: dict[str, dict[str, torch.Tensor]]
    grads: dict[str, dict[str, torch.Tensor | None]]


class StepRecorder:
    """Records each ``step()`` of the named optimizers, with the watched modules' state at that moment.

    >>> with StepRecorder({"G": G, "D": D}, {"opt_G": opt_G, "opt_D": opt_D}) as record:
    ...     train_step(...)
    >>> record.order  # e.g. ["opt_D", "opt_G"]
    """

    def __init__(self, modules: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
        self.modules, self.optimizers = dict(modules), dict(optimizers)
        self.records: list[StepRecord] = []
        self._handles: list = []

    def _hook(self, name: str):
        def before_step(optimizer, args, kwargs) -> None:
            params = {m: snapshot(module) for m, module in self.modules.items()}
            grads = {
                m: {n: None if p.grad is None else p.grad.detach().clone() for n, p in module.named_parameters()}
                for m, module in self.modules.items()
            }
            self.records.append(StepRecord(name, params, grads))

        return before_step

    @property
    def order(self) -> list[str]:
        """Names of the optimizers in the order their ``step()`` was called."""
        return [r.optimizer for r in self.records]

    def __enter__(self) -> StepRecorder:
        self._handles = [opt.register_step_pre_hook(self._hook(n)) for n, opt in self.optimizers.items()]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()


class InputRecorder:
    """Records the input of every ``forward`` call of `module` (e.g. the noise fed to G), however it is passed.

    The input is the first positional argument or, for a keyword call such as ``G(z=z)``, the first tensor
    among the keyword arguments; a call without any tensor is recorded as ``None``.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module, self.inputs = module, []
        self._handle = None

    def _record(self, module, args, kwargs) -> None:
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        self.inputs.append(tensors[0].detach().clone() if tensors else None)

    def __enter__(self) -> InputRecorder:
        self._handle = self.module.register_forward_pre_hook(self._record, with_kwargs=True)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()


@contextmanager
def stand_ins(namespace: dict, **replacements: Callable) -> Iterator[None]:
    """Temporarily replace names in a notebook's namespace (e.g. earlier exercises), restoring them afterwards.

    A test of a training step uses it to run the student's step with test-owned versions of the functions the
    step calls, so that a mistake in an earlier exercise costs points only in that exercise's own test.
    """
    missing = object()
    saved = {name: namespace.get(name, missing) for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def report_earlier_exercises(checks: Mapping[str, Callable[[], None]]) -> list[str]:
    """Run quick checks of earlier exercises; print (never raise) a note for each one that fails.

    `checks` maps a label such as ``"exercise 1 (sample_noise)"`` to a function that raises with a message
    naming the problem. Returns the notes, so that a test cell can also show them in its own words.
    """
    notes = []
    for label, check in checks.items():
        try:
            check()
        except Exception as error:  # an earlier exercise may fail in any way: report it, never crash here
            reason = str(error) or type(error).__name__
            notes.append(f"Note: {label} is not right yet ({reason}). Fix {label} first: the training below "
                         "uses it. This test ran your code with stand-ins for it, so it grades this exercise alone.")
    for note in notes:
        print(note)
    return notes
