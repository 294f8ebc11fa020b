"""A GAN-Lab-style playground: train a small GAN on a 2D distribution and watch it, live or as a replay.

You pick a distribution, one of *your* losses, the learning rates, the discriminator steps per generator step
and the packing; the playground trains a small generator (2D noise -> 3 x 128 ReLU -> 2D point) against a small
discriminator or critic (2m inputs -> 2 x 128 LeakyReLU(0.2) -> 1 score), both with Adam(betas=(0.5, 0.999)),
and keeps snapshots of what happens: the generated points, the discriminator's (or critic's) output D(x) on a
grid (the heat map) and the generator's gradient field -dL_G/dx (where G's loss pushes each sample).

The losses and ``pack`` come from the notebook (this package holds no exercise). With packing m > 1 the
discriminator judges ``pack(x, m)``: groups of m consecutive samples at once. Its heat map then shows D on m
copies of each grid point, the score of a pack whose m samples all sit there.

This module holds the model and its training, in the foreground or in a background thread (Play, Pause).
:mod:`gancourse.playground_view` draws the snapshots and holds the widget; it is imported only when needed.
With a widget front end (JupyterLab, Notebook 7, VS Code) a displayed playground is that widget; without one
(nbgrader, nbclient, tests) displaying it trains a fixed budget of steps and shows the final figure.
"""
from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from gancourse import runtime, toy2d
from gancourse.train import History
from gancourse.viz import figure_png, show
from gancourse.widgets import frontend_attached

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gancourse.playground_view import PlaygroundView

LATENT_DIM = 2
SHOWN = 512  # generated and real points drawn
ARROWS = 64  # generated points that carry an arrow of the gradient field
HEAT_RESOLUTION = 64  # grid points per side of the heat map
MAX_SNAPSHOTS = 400  # above this, every other snapshot is dropped and snapshot_every doubles
MAX_PACKING = 8  # largest packing the widget offers
REDRAW_SECONDS = 0.3  # training time between two pictures while playing
COVERAGE_NAMES = ("modes captured", "high-quality fraction")
SETTINGS = ("distribution", "loss", "packing", "lr_g", "lr_d", "d_steps")  # what configure() changes


@dataclass(frozen=True)
class Loss:
    """One GAN objective, from the notebook's code: D's loss, G's loss, and optionally a penalty on D.

    ``discriminator(real_out, fake_out)`` and ``generator(fake_out)`` take D's raw outputs (logits or critic
    values, shape (B,)) and return a scalar; ``penalty(D, real, fake)`` (for example WGAN-GP's
    ``gradient_penalty``) is added to D's loss times ``penalty_weight``.
    """

    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    penalty: Callable[[nn.Module, Tensor, Tensor], Tensor] | None = None
    penalty_weight: float = 10.0


@dataclass(frozen=True)
class Snapshot:
    """What the picture shows at one step: generated points, the gradient arrows on the first of them, D's heat map."""

    step: int
    fake: Tensor  # (SHOWN, 2) generated from fixed noise
    arrows: Tensor  # (ARROWS, 2): -dL_G/dx at fake[:ARROWS]
    heat: Tensor  # (HEAT_RESOLUTION, HEAT_RESOLUTION): D on the grid, rows along y


def generator_network() -> nn.Module:
    """The playground's generator: 2D noise -> 3 x 128 ReLU -> a 2D point."""
    return nn.Sequential(nn.Linear(LATENT_DIM, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 2))


def discriminator_network(packing: int = 1) -> nn.Module:
    """The playground's discriminator or critic: packs of `packing` points (B, 2 * packing) -> scores (B,)."""
    return nn.Sequential(nn.Linear(2 * packing, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128), nn.LeakyReLU(0.2),
                         nn.Linear(128, 1), nn.Flatten(0))


@contextmanager
def _one_cpu_thread() -> Iterator[None]:
    """Run torch's CPU operations of this thread on one core: these matrices are too small to share out.

    On a busy 2-core CPU (other processes running) two threads made a training step of these networks 15 to 20
    times slower than one. ``torch.set_num_threads`` sets the calling thread's count (a thread that has used
    torch already keeps its own: the notebook's does not change while a playground plays) but also, process-wide,
    the count that a thread starts with when it first uses torch. Both are restored on the way out.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _square_around(points: Tensor) -> tuple[float, float, float]:
    """(centre x, centre y, half width) of a square that holds `points` with a margin."""
    low, high = points.min(dim=0).values, points.max(dim=0).values
    centre = (low + high) / 2
    return centre[0].item(), centre[1].item(), 0.6 * (high - low).max().item() + 0.1


_playing: weakref.WeakSet = weakref.WeakSet()  # playgrounds whose thread trains now (at most one)


def _pause_all_but(playground: Playground) -> None:
    """Pause every playground that trains in the background, except `playground`."""
    for other in list(_playing):
        if other is not playground:
            other.pause()


class Playground:
    """Train a small GAN on a 2D distribution with your losses; watch it as a widget or get its history and figure.

    ``losses`` maps a name to a :class:`Loss`; ``pack`` is your ``pack(x, m)``, needed for packing > 1;
    ``coverage`` is your ``mode_coverage(samples, centers, std) -> (modes, high-quality fraction)``, measured
    at every snapshot on ``toy2d.EVAL_SAMPLES`` generated points when the distribution is a mixture.
    ``distributions`` defaults to ``toy2d.distributions()``; ``distribution`` and ``loss`` to the first of each.
    ``steps`` is what a display without a front end trains (a small budget under nbgrader). Changing the
    distribution, the loss or the packing starts again from fresh networks; the learning rates and ``d_steps``
    (D updates per G update) apply from the next step. Everything is seeded by ``seed``: on the CPU the same
    settings give the same run, and the notebook's own random numbers are left alone. Training computes on one
    CPU thread: these networks are too small to gain from more.
    """

    def __init__(self, losses: Mapping[str, Loss], pack: Callable[[Tensor, int], Tensor] | None = None,
                 distributions: Mapping[str, toy2d.Mixture | toy2d.TwoMoons] | None = None, *,
                 distribution: str | None = None, loss: str | None = None, lr_g: float = 1e-3, lr_d: float = 1e-3,
                 d_steps: int = 1, packing: int = 1, batch_size: int = 240,
                 coverage: Callable[[Tensor, Tensor, float], tuple[int, float]] | None = None, seed: int = 0,
                 steps: int | None = None, snapshot_every: int = 20, device: torch.device | str | None = None,
                 static: bool | None = None) -> None:
        if not isinstance(losses, Mapping) or not losses:
            raise ValueError("losses must map at least one name to a Loss(discriminator=..., generator=...)")
        for name, value in losses.items():
            if not isinstance(value, Loss):
                raise TypeError(f"losses[{name!r}] must be a Loss(discriminator=..., generator=...), "
                                 f"got {type(value).__name__}")
        self.losses, self.pack, self.coverage = dict(losses), pack, coverage
        self.distributions = dict(toy2d.distributions() if distributions is None else distributions)
        if not self.distributions:
            raise ValueError("distributions must hold at least one distribution")
        self.batch_size = _positive_int("batch_size", batch_size)
        self.snapshot_every_setting = _positive_int("snapshot_every", snapshot_every)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = seed
        self.steps = runtime.budget(2000, fast=100) if steps is None else _positive_int("steps", steps)
        self.device = torch.device(device) if device is not None else runtime.device()
        self.distribution, self.loss, self.packing = "", "", 1
        self.lr_g, self.lr_d, self.d_steps = 0.0, 0.0, 1
        self.error: BaseException | None = None  # what stopped the background training, if anything did
        self._lock = threading.RLock()  # held while the networks, the history or the snapshots change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._session = {"started": 0.0, "stopped": 0.0, "steps": 0, "updates": 0}
        self.configure(distribution=next(iter(self.distributions)) if distribution is None else distribution,
                       loss=next(iter(self.losses)) if loss is None else loss,
                       packing=packing, lr_g=lr_g, lr_d=lr_d, d_steps=d_steps)
        _pause_all_but(self)  # a cell run again leaves its old playground training: stop it
        self.static = (not frontend_attached()) if static is None else bool(static)
        self.view: PlaygroundView | None = None
        if not self.static:
            from gancourse.playground_view import PlaygroundView  # imports ipywidgets

            self.view = PlaygroundView(self)

    # --- settings ---------------------------------------------------------------------------------------------

    def configure(self, **settings) -> None:
        """Change settings by name (distribution, loss, packing, lr_g, lr_d, d_steps); all are checked first.

        A new distribution, loss or packing starts again from fresh networks (step 0).
        """
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise ValueError(f"unknown setting {', '.join(map(repr, unknown))}; the settings are {sorted(SETTINGS)}")
        new = {name: getattr(self, name) for name in SETTINGS} | settings
        if new["distribution"] not in self.distributions:
            raise ValueError(f"unknown distribution {new['distribution']!r}; choose one of "
                             f"{', '.join(map(repr, self.distributions))}")
        if new["loss"] not in self.losses:
            raise ValueError(f"unknown loss {new['loss']!r}; choose one of {', '.join(map(repr, self.losses))}")
        packing = _positive_int("packing", new["packing"])
        if packing > 1 and self.pack is None:
            raise ValueError(f"packing={packing} needs your pack function: Playground(losses, pack=pack)")
        if self.batch_size % packing:
            raise ValueError(f"packing={packing} does not divide batch_size={self.batch_size}: the discriminator "
                             f"judges the batch in groups of {packing}; choose a packing that divides it")
        if packing > 1:
            self._check_pack(packing)
        lr_g, lr_d = _positive_float("lr_g", new["lr_g"]), _positive_float("lr_d", new["lr_d"])
        d_steps = _positive_int("d_steps", new["d_steps"])
        with self._lock:
            old = self.distribution, self.loss, self.packing
            restart = (new["distribution"], new["loss"], packing) != old
            self.distribution, self.loss, self.packing = new["distribution"], new["loss"], packing
            self.lr_g, self.lr_d, self.d_steps = lr_g, lr_d, d_steps
            if not restart:
                for optimizer, lr in ((self.opt_g, lr_g), (self.opt_d, lr_d)):
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                return
            try:
                self.reset()
            except Exception:  # a loss that fails on the first snapshot: go back to what worked, if anything did
                if not old[0]:
                    raise
                self.distribution, self.loss, self.packing = old
                self.reset()
                raise

    def _check_pack(self, packing: int) -> None:
        """Fail clearly, before anything changes, when ``pack`` is not written yet or returns the wrong shape."""
        x = torch.zeros(self.batch_size, 2)
        try:
            packed = self.pack(x, packing)
        except NotImplementedError as error:
            raise ValueError(f"packing={packing} needs pack, which is not written yet") from error
        expected = (self.batch_size // packing, 2 * packing)
        if not isinstance(packed, Tensor) or tuple(packed.shape) != expected:
            got = tuple(packed.shape) if isinstance(packed, Tensor) else type(packed).__name__
            raise ValueError(f"pack(x, {packing}) with x of shape {tuple(x.shape)} should return shape "
                             f"{expected}, got {got}")

    def packing_options(self) -> list[int]:
        """The packings this playground accepts: 1, and with a ``pack`` every m <= 8 that divides the batch."""
        return [m for m in range(1, MAX_PACKING + 1) if self.batch_size % m == 0 and (m == 1 or self.pack)]

    def reset(self) -> None:
        """Start again from freshly initialised networks and an empty history (same seed, same settings)."""
        with self._lock:
            shape = self.distributions[self.distribution]
            self._data_rng = torch.Generator().manual_seed(self.seed)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                self.generator = generator_network().to(self.device)
                self.discriminator = discriminator_network(self.packing).to(self.device)
                self._rng_state = torch.get_rng_state()  # the playground's own global RNG (penalties draw from it)
            view_rng = torch.Generator().manual_seed(self.seed + 1)
            self.real_shown = shape.sample(SHOWN, view_rng)
            self._noise_shown = torch.randn(SHOWN - SHOWN % self.packing, LATENT_DIM, generator=view_rng)
            self._noise_scored = torch.randn(toy2d.EVAL_SAMPLES, LATENT_DIM, generator=view_rng)
            self.bounds = _square_around(shape.sample(4096, view_rng))
            axis = torch.linspace(-1, 1, HEAT_RESOLUTION)
            centre_x, centre_y, half = self.bounds
            ys, xs = torch.meshgrid(centre_y + half * axis, centre_x + half * axis, indexing="ij")
            self._grid = torch.stack([xs.flatten(), ys.flatten()], dim=1)
            fused = self.device.type in ("cpu", "cuda")  # one kernel per step for all parameters
            self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=self.lr_g, betas=(0.5, 0.999), fused=fused)
            self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.lr_d, betas=(0.5, 0.999),
                                          fused=fused)
            self.history = History()
            self.snapshot_every = self.snapshot_every_setting
            self.snapshots: list[Snapshot] = []
            self.error = None
            self._remember()

    # --- training ---------------------------------------------------------------------------------------------

    def _judge(self, points: Tensor) -> Tensor:
        """D's scores of `points` (B, 2), packed in groups of m consecutive points when packing m > 1."""
        return self.discriminator(self._packed(points))

    def _packed(self, points: Tensor) -> Tensor:
        return self.pack(points, self.packing) if self.packing > 1 else points

    @contextmanager
    def _working(self) -> Iterator[None]:
        """Hold the playground's lock and compute on one CPU thread."""
        with self._lock, _one_cpu_thread():
            yield

    @contextmanager
    def _own_randomness(self) -> Iterator[None]:
        """Draw from the playground's own copy of torch's global RNG, so that a run repeats whatever else draws."""
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._rng_state)
            yield
            self._rng_state = torch.get_rng_state()

    def _real(self) -> Tensor:
        return self.distributions[self.distribution].sample(self.batch_size, self._data_rng).to(self.device)

    def _noise(self, n: int) -> Tensor:
        return torch.randn(n, LATENT_DIM, generator=self._data_rng).to(self.device)

    def _train_one(self) -> None:
        """One generator update after d_steps discriminator updates; records the losses."""
        objective = self.losses[self.loss]
        losses = {}
        for _ in range(self.d_steps):
            real = self._real()
            with torch.no_grad():
                fake = self.generator(self._noise(self.batch_size))
            d_loss = objective.discriminator(self._judge(real), self._judge(fake))
            total = d_loss
            if objective.penalty is not None:
                penalty = objective.penalty(self.discriminator, self._packed(real), self._packed(fake))
                total = d_loss + objective.penalty_weight * penalty
                losses["penalty"] = penalty.item()
            self.opt_d.zero_grad(set_to_none=True)
            total.backward()
            self.opt_d.step()
        g_loss = objective.generator(self._judge(self.generator(self._noise(self.batch_size))))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        losses = {"d_loss": d_loss.item(), "g_loss": g_loss.item(), **losses}
        bad = [name for name, value in losses.items() if not math.isfinite(value)]
        if bad:
            raise FloatingPointError(f"training diverged at step {self.history.step + 1}: {bad[0]} is "
                                     f"{losses[bad[0]]} (lower the learning rates, then reset)")
        self.history.record_losses(losses)

    def _train(self, steps: int) -> None:
        with self._working(), self._own_randomness():
            for _ in range(steps):
                self._train_one()
                if self.history.step % self.snapshot_every == 0:
                    self._remember()

    def step(self, n: int = 1) -> None:
        """Train `n` generator steps (each after ``d_steps`` discriminator steps) and keep a snapshot of the end."""
        self._train(_positive_int("n", n))
        self._remember()

    def run(self, steps: int) -> History:
        """Train `steps` more generator steps (without a front end: the headless run) and return the history.

        ``history.losses`` holds d_loss, g_loss (and penalty) for every step; ``history.metrics`` the coverage
        numbers at every snapshot, when ``coverage`` was given and the distribution is a mixture.
        """
        self.step(_positive_int("steps", steps))
        return self.history

    # --- snapshots --------------------------------------------------------------------------------------------

    def gradient_field(self, points: Tensor) -> Tensor:
        """-dL_G/dx at generated `points` (N, 2), N a multiple of the packing: where G's loss pushes each point."""
        points = points.detach().to(self.device).requires_grad_(True)
        with self._working():
            g_loss = self.losses[self.loss].generator(self._judge(points))
            (gradient,) = torch.autograd.grad(g_loss, points)
        return -gradient.detach().cpu()

    def heat_map(self) -> Tensor:
        """D on a square grid over the view (HEAT_RESOLUTION x HEAT_RESOLUTION, rows along y).

        With packing m > 1, D judges m copies of each grid point.
        """
        with self._working(), torch.no_grad():
            grid = self._grid.to(self.device).repeat_interleave(self.packing, dim=0)
            return self._judge(grid).float().cpu().view(HEAT_RESOLUTION, HEAT_RESOLUTION)

    def capture(self) -> Snapshot:
        """The current state as a :class:`Snapshot` (not stored)."""
        with self._working():
            with torch.no_grad():
                fake = self.generator(self._noise_shown.to(self.device))
            arrows = self.gradient_field(fake)[:ARROWS]
            return Snapshot(self.history.step, fake.float().cpu(), arrows, self.heat_map())

    def _remember(self) -> None:
        """Store a snapshot of the current step (and measure the coverage there), unless one is stored already."""
        with self._working():
            if self.snapshots and self.snapshots[-1].step == self.history.step:
                return
            self.snapshots.append(self.capture())
            shape = self.distributions[self.distribution]
            if self.coverage is not None and isinstance(shape, toy2d.Mixture):
                with torch.no_grad():
                    samples = self.generator(self._noise_scored.to(self.device)).cpu()
                self.history.record_metrics(dict(zip(COVERAGE_NAMES, self.coverage(samples, shape.centers,
                                                                                   shape.std))))
            if len(self.snapshots) > MAX_SNAPSHOTS:
                self.snapshots = self.snapshots[:-1:2] + self.snapshots[-1:]
                self.snapshot_every *= 2

    # --- words and pictures (drawn by gancourse.playground_view) ----------------------------------------------

    def describe(self) -> str:
        """One line: the settings."""
        packing = f", packing {self.packing}" if self.packing > 1 else ""
        return (f"{self.distribution}, {self.loss}{packing}, lr G {self.lr_g:.0e} / D {self.lr_d:.0e}, "
                f"{self.d_steps} D step{'s' * (self.d_steps > 1)} per G step")

    def summary(self) -> str:
        """One line: the step, the latest losses and, when measured, the coverage."""
        with self._lock:
            parts = [f"step {self.history.step}"]
            parts += [f"{name} {values[-1]:.3f}" for name, values in self.history.losses.items() if values]
            if self.history.metrics:
                modes, quality = (self.history.metrics[name][-1] for name in COVERAGE_NAMES)
                parts.append(f"{modes:.0f} mode{'s' * (modes != 1)}, {quality:.0%} high quality")
        return ", ".join(parts)

    def figure(self, index: int = -1, snapshot: Snapshot | None = None) -> Figure:
        """Snapshot `index` (or the given `snapshot`): the points, D's heat map and G's gradient field, the losses so
        far and, when measured, the coverage so far."""
        from gancourse.playground_view import history_until, snapshot_figure

        with self._lock:  # copy what the figure shows, then draw without holding up the training
            shot = self.snapshots[index] if snapshot is None else snapshot
            history = history_until(self.history, shot.step)
            shape, real, bounds, title = self.distributions[self.distribution], self.real_shown, self.bounds, \
                self.describe()
        return snapshot_figure(shot, history, shape, real, bounds, title)

    def picture(self, index: int = -1, snapshot: Snapshot | None = None) -> bytes:
        """PNG of :meth:`figure`."""
        return figure_png(self.figure(index, snapshot), dpi=72)

    # --- background training ----------------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        """True while the background thread trains."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def play(self, on_update: Callable[[], None] | None = None, every: float = REDRAW_SECONDS) -> None:
        """Train in a background thread until :meth:`pause`, calling `on_update` after every `every` s of training,
        or longer when `on_update` itself takes longer: the thread spends at least half its time training.

        Only one playground plays at a time: this pauses any other. An error (a loss that raises, a diverged
        run) stops the thread; it is kept in ``error`` and `on_update` is called once more.
        """
        if self.playing:
            return
        _pause_all_but(self)
        self.pause()
        self.error = None
        self._stop.clear()
        self._session = {"started": time.perf_counter(), "stopped": 0.0, "steps": 0, "updates": 0}
        self._thread = threading.Thread(target=self._work, args=(on_update, every), daemon=True,
                                        name="gancourse-playground")
        _playing.add(self)
        self._thread.start()

    def _work(self, on_update: Callable[[], None] | None, every: float) -> None:
        last, interval = time.perf_counter(), every
        try:
            with _one_cpu_thread():  # for the whole thread, and undone when it ends
                while not self._stop.is_set():
                    self._train(1)
                    self._session["steps"] += 1
                    if time.perf_counter() - last >= interval and not self._stop.is_set():
                        started = time.perf_counter()
                        if on_update is not None:
                            on_update()
                        self._session["updates"] += 1
                        last = time.perf_counter()
                        interval = max(every, last - started)
        except Exception as error:  # shown to the student by on_update, kept in self.error
            self.error = error
        finally:
            self._session["stopped"] = time.perf_counter()
            self._stop.set()
            _playing.discard(self)
            if self.error is not None and on_update is not None:
                on_update()

    def pause(self, timeout: float = 30) -> None:
        """Stop the background training (waits for the current step to finish) and keep a snapshot of the end."""
        thread = self._thread
        self._stop.set()
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the playground's training thread did not stop within {timeout} s")
        self._thread = None
        _playing.discard(self)
        if self.error is None:
            self._remember()

    def speed(self) -> dict[str, float]:
        """Steps and redraws per second of wall time during the latest (or current) play."""
        session = self._session
        if not session["started"]:
            return {"steps/s": 0.0, "redraws/s": 0.0}
        seconds = (session["stopped"] or time.perf_counter()) - session["started"]
        return {"steps/s": session["steps"] / seconds, "redraws/s": session["updates"] / seconds}

    # --- display ----------------------------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.view is not None:
            display(self.view.widget)
            return
        if self.history.step < self.steps:
            self.run(self.steps - self.history.step)
        print(self.summary())
        show(self.figure())

    def close(self) -> None:
        """Stop training and close the widget, if there is one."""
        self.pause()
        if self.view is not None:
            self.view.widget.close()

    def __repr__(self) -> str:
        mode = "static figure" if self.static else "widget"
        return f"<Playground: {self.describe()}, step {self.history.step}, {mode}>"

