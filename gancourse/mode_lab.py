"""The mode-collapse experiment on 2D mixtures: every setup, distribution and seed for one budget of steps, scored.

A *setup* is what :mod:`gancourse.experiments` calls one: ``setup(batches) -> (generator, step_fn)``, built by
the notebook from its own networks and training steps. :func:`run_grid` trains each one for the same number of
generator steps, with the same seed and the same stream of real samples for every setup, then draws
``toy2d.EVAL_SAMPLES`` samples from fixed noise and rates them with the notebook's ``score``, made of the
student's own metrics. :func:`results_table` prints the mean and spread over seeds next to the numbers the
papers report (:data:`PAPERS`), and :func:`scatter_figure` draws every run's samples.
"""
from __future__ import annotations

import itertools
import math
import statistics
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from gancourse.experiments import Setup
from gancourse.runtime import seed_everything
from gancourse.toy2d import EVAL_SAMPLES, Mixture, draw_points, grid, ring
from gancourse.train import checked_losses, evaluating

METRICS = ("modes", "high quality", "reverse KL")
Score = Callable[[torch.Tensor, Mixture], Mapping[str, float]]


@dataclass(frozen=True)
class Reported:
    """One paper's table: row name -> distribution name -> metric -> mean, with the citation and the setup."""

    citation: str
    setup: str
    rows: dict[str, dict[str, dict[str, float]]]


def _reported(ring_values: tuple, grid_values: tuple) -> dict[str, dict[str, float]]:
    return {"ring of 8": dict(zip(METRICS, ring_values)), "grid of 25": dict(zip(METRICS, grid_values))}


PAPERS = (
    Reported(
        "PacGAN (Lin et al. 2018), Table 1, means of 10 trials",
        "G 4x400 ReLU + batch norm, 2-D noise; D 3x200 maxout (5 pieces) on m packed samples; Adam 1e-4 "
        "(beta1 0.8), 100 packs a batch, 400 epochs of 100,000 samples: 400,000 steps",
        {
            "GAN": _reported((6.3, 0.982, 0.45), (17.3, 0.948, 0.70)),
            "PacGAN2": _reported((7.9, 0.956, 0.07), (23.8, 0.913, 0.13)),
            "PacGAN3": _reported((7.8, 0.977, 0.10), (24.6, 0.942, 0.06)),
            "PacGAN4": _reported((7.8, 0.959, 0.07), (24.8, 0.936, 0.04)),
        },
    ),
    Reported(
        "VEEGAN (Srivastava et al. 2017), Table 1, means of 5 runs, no reverse KL",
        "the same metrics on 2,500 samples, but networks and training of its own: a far worse GAN baseline",
        {"GAN": _reported((1, 0.993, math.nan), (3.3, 0.005, math.nan))},
    ),
)
PAPER_MIXTURES = {m.name: m for m in (ring(), grid())}  # the settings the papers' numbers were measured on


@dataclass
class ModeRun:
    """One finished training: its setup, mixture and seed, its scores and samples, and what it cost."""

    setup: str
    mixture: Mixture
    seed: int
    scores: dict[str, float]
    samples: torch.Tensor  # the toy2d.EVAL_SAMPLES scored points (N, 2), on the CPU
    steps: int
    seconds: float  # wall time of the whole run: building, training and scoring

    @property
    def distribution(self) -> str:
        """The name of the mixture it trained on."""
        return self.mixture.name


def real_batches(distribution: Mixture, batch_size: int, seed: int,
                 device: torch.device | str = "cpu") -> Iterator[torch.Tensor]:
    """Endless minibatches (batch_size, 2) of real samples on `device`: the same sequence for the same seed."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    generator = torch.Generator().manual_seed(seed)
    return (distribution.sample(batch_size, generator=generator).to(device) for _ in itertools.count())


@contextmanager
def _torch_threads(count: int):
    """Run PyTorch's CPU operations on `count` threads inside the block, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_grid(
    setups: Mapping[str, Setup],
    distributions: Sequence[Mixture],
    *,
    seeds: Sequence[int],
    steps: int,
    batch_size: int,
    latent_dim: int,
    score: Score,
    device: torch.device | str = "cpu",
    cpu_threads: int = 1,
) -> list[ModeRun]:
    """Train every setup on every distribution for every seed, `steps` generator steps each, and score it.

    For each distribution and seed, every setup is called as ``setup(batches)`` right after
    ``seed_everything(seed)``, with the same stream of real batches, and returns ``(generator, step_fn)``;
    ``step_fn()`` does one generator step (and its discriminator steps) and returns its losses. At the end,
    ``score(samples, distribution)`` rates toy2d.EVAL_SAMPLES points of the generator (in eval mode), drawn
    from the same fixed noise for every setup. Stop it with the stop button: the finished runs are returned.

    PyTorch runs on `cpu_threads` CPU threads meanwhile: networks this small gain nothing from more, and
    several threads slow down many times over while other programs keep the cores busy (benchmarks/).
    """
    _check_grid(setups, distributions, seeds, steps, latent_dim, cpu_threads)
    runs: list[ModeRun] = []
    progress = tqdm(total=len(setups) * len(distributions) * len(seeds) * steps, unit="step", mininterval=0.5)
    try:
        with _torch_threads(cpu_threads):
            for distribution in distributions:
                for seed in seeds:
                    noise = torch.randn(EVAL_SAMPLES, latent_dim, generator=torch.Generator().manual_seed(seed))
                    for name, setup in setups.items():
                        progress.set_description(f"{name}, {distribution.name}, seed {seed}")
                        started = time.perf_counter()
                        seed_everything(seed)
                        G, step_fn = setup(real_batches(distribution, batch_size, seed, device))
                        for step in range(1, steps + 1):
                            checked_losses(step_fn(), step)
                            progress.update()
                        samples = _samples(G, noise.to(device), name)
                        scores = _checked_scores(score(samples, distribution), name)
                        runs.append(ModeRun(name, distribution, seed, scores, samples, steps,
                                            time.perf_counter() - started))
    except KeyboardInterrupt:
        print(f"Interrupted: returning the {len(runs)} finished runs.")
    finally:
        progress.close()
    return runs


def _check_grid(setups: Mapping, distributions: Sequence, seeds: Sequence[int], steps: int, latent_dim: int,
                cpu_threads: int) -> None:
    if not setups:
        raise ValueError("no setups to run: pass a dict like {'GAN': setup, ...}")
    if isinstance(distributions, Mixture) or not distributions or \
            not all(isinstance(d, Mixture) for d in distributions):
        raise ValueError("distributions must be a non-empty list of mixtures with modes to count, like "
                         f"[toy2d.ring(), toy2d.grid()], got {distributions!r}")
    if len({d.name for d in distributions}) != len(distributions):
        raise ValueError(f"two distributions share a name: {[d.name for d in distributions]}")
    if not seeds or len(set(seeds)) != len(seeds) or \
            not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct non-negative ints, got {seeds!r}")
    for label, value in (("steps", steps), ("latent_dim", latent_dim), ("cpu_threads", cpu_threads)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label} must be a positive int, got {value!r}")


def _samples(G: torch.nn.Module, noise: torch.Tensor, setup: str) -> torch.Tensor:
    """The generator's points for `noise`, in eval mode, on the CPU, checked to be (N, 2)."""
    with evaluating(G), torch.no_grad():
        samples = G(noise).detach().float().cpu()
    if samples.shape != (len(noise), 2):
        raise ValueError(f"the generator of {setup!r} should map noise {tuple(noise.shape)} to points "
                         f"({len(noise)}, 2), got {tuple(samples.shape)}")
    return samples


def _checked_scores(scores: object, setup: str) -> dict[str, float]:
    if not isinstance(scores, Mapping) or set(scores) != set(METRICS):
        got = sorted(scores) if isinstance(scores, Mapping) else type(scores).__name__
        raise ValueError(f"score(samples, distribution) must return a dict with exactly the keys {list(METRICS)}, "
                         f"got {got} (setup {setup!r})")
    return {metric: float(scores[metric]) for metric in METRICS}


def _mean_spread(values: Sequence[float], digits: int, scale: float = 1.0, unit: str = "") -> str:
    """'mean ± std' over seeds (sample std, 0 for one seed); 'inf (k of n)' when k runs had no high-quality point."""
    infinite = sum(math.isinf(v) for v in values)
    if infinite:
        return f"inf ({infinite} of {len(values)})"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{scale * statistics.mean(values):.{digits}f} ± {scale * spread:.{digits}f}{unit}"


def _reported_lines(mixture: Mixture, papers: Sequence[Reported]) -> list[str]:
    """The papers' numbers for `mixture`, if it has the settings they were measured on; else no line."""
    theirs = PAPER_MIXTURES.get(mixture.name)
    if theirs is None or theirs.std != mixture.std or theirs.centers.shape != mixture.centers.shape \
            or not torch.allclose(theirs.centers, mixture.centers):
        return []
    lines = []
    for paper in papers:
        reported = {row: values[mixture.name] for row, values in paper.rows.items() if mixture.name in values}
        if reported:
            lines += [f"  reported by {paper.citation}:", *textwrap.wrap(paper.setup, 100, initial_indent="    ",
                                                                           subsequent_indent="    ")]
        for row, values in reported.items():
            kl = "-" if math.isnan(values["reverse KL"]) else f"{values['reverse KL']:.2f}"
            lines.append(f"  {row:<22}{values['modes']:>15g}{100 * values['high quality']:>16.1f}%{kl:>17}")
    return lines


def results_table(runs: Sequence[ModeRun], papers: Sequence[Reported] = PAPERS) -> str:
    """Per distribution: every setup's mean ± std over seeds and seconds per run, then the papers' numbers.

    The papers' numbers are listed only under the ring and the grid of their settings (toy2d.ring(), toy2d.grid()).
    """
    if not runs:
        raise ValueError("no finished runs to tabulate")
    lines = []
    for name in dict.fromkeys(r.distribution for r in runs):
        mine = [r for r in runs if r.distribution == name]
        seeds = sorted({r.seed for r in mine})
        lines += [f"{name}: mean ± std over seeds {seeds}, {mine[0].steps} generator steps per run",
                  f"  {'setup':<22}{'modes':>15}{'high quality':>17}{'reverse KL':>17}{'s per run':>11}"]
        for setup in dict.fromkeys(r.setup for r in mine):
            values = {m: [r.scores[m] for r in mine if r.setup == setup] for m in METRICS}
            seconds = statistics.mean(r.seconds for r in mine if r.setup == setup)
            lines.append(f"  {setup:<22}{_mean_spread(values['modes'], 1):>15}"
                         f"{_mean_spread(values['high quality'], 1, 100, '%'):>17}"
                         f"{_mean_spread(values['reverse KL'], 2):>17}{seconds:>11.1f}")
        lines += _reported_lines(mine[0].mixture, papers)
        lines.append("")
    return "\n".join(lines).rstrip()


def scatter_figure(runs: Sequence[ModeRun], panel_size: float = 1.7) -> Figure:
    """A grid of scatter plots: one row per setup, one column per distribution and seed, titled with the scores.

    Every panel of a distribution shows the same square around its modes (points far outside are cut off).
    """
    if not runs:
        raise ValueError("no finished runs to draw")
    setups = list(dict.fromkeys(r.setup for r in runs))
    columns = list(dict.fromkeys((r.distribution, r.seed) for r in runs))
    fig = Figure(figsize=(panel_size * len(columns) + 0.6, panel_size * len(setups) + 0.4), layout="constrained")
    axes = fig.subplots(len(setups), len(columns), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for run in runs:
        ax = axes[setups.index(run.setup), columns.index((run.distribution, run.seed))]
        ax.set_axis_on()
        draw_points(ax, run.samples, run.mixture)
        low, high = run.mixture.centers.min().item(), run.mixture.centers.max().item()
        margin = 0.25 * (high - low) + 3 * run.mixture.std
        ax.set_xlim(low - margin, high + margin)
        ax.set_ylim(low - margin, high + margin)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{run.scores['modes']:.0f} modes, {100 * run.scores['high quality']:.0f}% HQ", fontsize=7)
    for row, setup in enumerate(setups):
        axes[row, 0].set_ylabel(setup, fontsize=8)
    for col, (distribution, seed) in enumerate(columns):
        axes[-1, col].set_xlabel(f"{distribution}, seed {seed}", fontsize=7)
    return fig
