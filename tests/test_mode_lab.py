"""gancourse.mode_lab: the grid of runs on 2D mixtures, its table next to the papers' numbers, and its scatter plots."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gancourse import toy2d
from gancourse.mode_lab import PAPERS, ModeRun, real_batches, results_table, run_grid, scatter_figure

RING, GRID = toy2d.ring(), toy2d.grid()


def reference_score(samples: torch.Tensor, mixture: toy2d.Mixture) -> dict[str, float]:
    """The papers' metrics, written here for the tests only (in the course they are the student's exercises)."""
    distance, nearest = torch.cdist(samples, mixture.centers).min(dim=1)
    good = nearest[distance < 3 * mixture.std]
    if len(good) == 0:
        return {"modes": 0, "high quality": 0.0, "reverse KL": math.inf}
    p = torch.bincount(good, minlength=mixture.num_modes).double() / len(good)
    kl = torch.xlogy(p, p * mixture.num_modes).sum().item()
    return {"modes": len(good.unique()), "high quality": len(good) / len(samples), "reverse KL": kl}


def recording_setup(seen: list, name: str, latent_dim: int = 3):
    """A setup with a linear generator trained towards the batch mean; it records what each run starts from."""

    def setup(batches):
        G = nn.Linear(latent_dim, 2)
        opt = torch.optim.SGD(G.parameters(), lr=0.1)
        record = {"setup": name, "weight": G.weight.detach().clone(), "batches": [], "threads": torch.get_num_threads()}
        seen.append(record)

        def step():
            real = next(batches)
            record["batches"].append(real.clone())
            loss = (G(torch.randn(len(real), latent_dim)).mean(0) - real.mean(0)).pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return {"loss": loss.item()}

        return G, step

    return setup


def grid_of(setups: dict, **kwargs) -> list[ModeRun]:
    options = dict(distributions=[RING, GRID], seeds=[0, 1], steps=3, batch_size=12, latent_dim=3,
                   score=reference_score)
    options.update(kwargs)
    return run_grid(setups, options.pop("distributions"), **options)


# --- real_batches ------------------------------------------------------------------------------------------

def test_real_batches_are_endless_reproducible_samples_of_the_mixture():
    a, b = real_batches(GRID, 50, seed=4), real_batches(GRID, 50, seed=4)
    first = [next(a) for _ in range(3)]
    assert all(tuple(x.shape) == (50, 2) and x.dtype == torch.float32 for x in first)
    assert all(torch.equal(x, next(b)) for x in first)
    assert not torch.equal(first[0], first[1]), "a fresh batch every time"
    assert not torch.equal(first[0], next(real_batches(GRID, 50, seed=5)))
    distance = torch.cdist(torch.cat(first), GRID.centers).min(dim=1).values
    assert distance.max() < 6 * GRID.std


@pytest.mark.parametrize("bad", [0, -2, 2.5, True])
def test_real_batches_rejects_a_batch_size_that_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match="batch_size"):
        real_batches(RING, bad, seed=0)


# --- run_grid ----------------------------------------------------------------------------------------------

def test_run_grid_runs_every_setup_distribution_and_seed_for_the_same_steps():
    seen: list = []
    runs = grid_of({"a": recording_setup(seen, "a"), "b": recording_setup(seen, "b")})
    assert [(r.distribution, r.seed, r.setup) for r in runs] == [
        (d, s, n) for d in ("ring of 8", "grid of 25") for s in (0, 1) for n in ("a", "b")]
    assert len(seen) == 8 and all(len(record["batches"]) == 3 for record in seen)
    for run in runs:
        assert isinstance(run, ModeRun) and run.steps == 3 and run.seconds > 0
        assert run.mixture is RING or run.mixture is GRID
        assert tuple(run.samples.shape) == (toy2d.EVAL_SAMPLES, 2) and run.samples.device.type == "cpu"
        assert set(run.scores) == {"modes", "high quality", "reverse KL"}
        assert all(isinstance(v, float) for v in run.scores.values())


def test_run_grid_gives_every_setup_the_same_seed_and_data_order():
    seen: list = []
    grid_of({"a": recording_setup(seen, "a"), "b": recording_setup(seen, "b")})
    for a, b in zip(seen[0::2], seen[1::2]):  # the two setups of one distribution and seed
        assert torch.equal(a["weight"], b["weight"]), "same seed, same initial generator"
        assert all(torch.equal(x, y) for x, y in zip(a["batches"], b["batches"])), "same real batches"
    assert not torch.equal(seen[0]["batches"][0], seen[2]["batches"][0]), "another seed, other batches"
    assert not torch.equal(seen[0]["weight"], seen[2]["weight"])
    assert seen[0]["batches"][0].shape == (12, 2)


def test_run_grid_scores_every_setup_on_the_same_fixed_noise():
    scored = []
    frozen = lambda batches: (nn.Linear(3, 2), lambda: {"loss": 0.0})  # noqa: E731 (same seed: same weights)
    grid_of({"a": frozen, "b": frozen}, distributions=[RING],
            score=lambda samples, mixture: scored.append(samples) or reference_score(samples, mixture))
    assert len(scored) == 4
    assert torch.equal(scored[0], scored[1]) and torch.equal(scored[2], scored[3])
    assert not torch.equal(scored[0], scored[2]), "each seed has its own noise"


def test_run_grid_trains_on_one_thread_and_restores_the_thread_count():
    before = torch.get_num_threads()
    seen: list = []
    grid_of({"a": recording_setup(seen, "a")}, distributions=[RING], seeds=[0])
    assert seen[0]["threads"] == 1
    assert torch.get_num_threads() == before


def test_run_grid_handles_a_tiny_budget_and_a_single_seed():
    runs = grid_of({"a": recording_setup([], "a")}, distributions=[GRID], seeds=[7], steps=1)
    assert len(runs) == 1 and runs[0].steps == 1 and runs[0].seed == 7


def test_run_grid_returns_the_finished_runs_when_interrupted(capsys):
    def interrupted(batches):
        def step():
            raise KeyboardInterrupt
        return nn.Linear(3, 2), step

    runs = grid_of({"done": recording_setup([], "done"), "stopped": interrupted}, distributions=[RING], seeds=[0])
    assert [r.setup for r in runs] == ["done"]
    assert "Interrupted" in capsys.readouterr().out


@pytest.mark.parametrize("change, message", [
    (dict(setups={}), "no setups"),
    (dict(distributions=[toy2d.TwoMoons()]), "modes to count"),
    (dict(distributions=RING), "list of mixtures"),
    (dict(distributions=[]), "non-empty"),
    (dict(distributions=[RING, toy2d.ring(radius=2.0)]), "share a name"),
    (dict(seeds=[]), "seeds"),
    (dict(seeds=[1, 1]), "distinct"),
    (dict(seeds=[0, -1]), "non-negative ints"),
    (dict(batch_size=0), "batch_size"),
    (dict(steps=0), "steps"),
    (dict(steps=2.0), "steps"),
    (dict(latent_dim=0), "latent_dim"),
    (dict(cpu_threads=0), "cpu_threads"),
])
def test_run_grid_rejects_bad_input_before_training(change, message):
    seen: list = []
    setups = change.pop("setups", {"a": recording_setup(seen, "a")})
    with pytest.raises(ValueError, match=message):
        grid_of(setups, **change)
    assert not seen, "nothing trained"


def test_run_grid_names_a_score_without_the_three_metrics():
    with pytest.raises(ValueError, match=r"exactly the keys .*modes.*got \['modes'\].*setup 'a'"):
        grid_of({"a": recording_setup([], "a")}, score=lambda samples, mixture: {"modes": 3})


def test_run_grid_names_a_generator_that_does_not_draw_points():
    wrong = lambda batches: (nn.Linear(3, 3), lambda: {"loss": 0.0})  # noqa: E731
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match=r"generator of 'wrong'.*\(2500, 2\), got \(2500, 3\)"):
        grid_of({"wrong": wrong})
    assert torch.get_num_threads() == before, "the thread count is restored after an error too"


@pytest.mark.parametrize("output, error", [(None, TypeError), ({"loss": float("nan")}, FloatingPointError)])
def test_run_grid_stops_on_a_step_that_returns_no_losses_or_diverges(output, error):
    with pytest.raises(error):
        grid_of({"bad": lambda batches: (nn.Linear(3, 2), lambda: output)})


# --- results_table -----------------------------------------------------------------------------------------

def finished(setup: str, mixture: toy2d.Mixture, seed: int, modes: float, hq: float, kl: float) -> ModeRun:
    scores = {"modes": modes, "high quality": hq, "reverse KL": kl}
    return ModeRun(setup, mixture, seed, scores, torch.zeros(toy2d.EVAL_SAMPLES, 2), steps=100, seconds=2.0 + seed)


def test_table_gives_mean_and_std_over_seeds_per_setup_and_distribution():
    runs = [finished("GAN", RING, 0, 2, 0.5, 1.0), finished("GAN", RING, 1, 4, 0.7, 0.5),
            finished("PacGAN2", RING, 0, 8, 0.9, 0.1), finished("PacGAN2", RING, 1, 8, 0.9, 0.1),
            finished("GAN", GRID, 0, 20, 0.9, 0.3)]
    text = results_table(runs)
    assert text.index("ring of 8") < text.index("grid of 25")
    ring_block, grid_block = text.split("grid of 25")
    assert "seeds [0, 1], 100 generator steps per run" in ring_block
    gan = next(line for line in ring_block.splitlines() if line.strip().startswith("GAN ") and "±" in line)
    assert gan.split() == ["GAN", "3.0", "±", "1.4", "60.0", "±", "14.1%", "0.75", "±", "0.35", "2.5"]
    pac = next(line for line in ring_block.splitlines() if line.strip().startswith("PacGAN2") and "±" in line)
    assert "8.0 ± 0.0" in pac and "90.0 ± 0.0%" in pac
    assert "20.0 ± 0.0" in grid_block, "one seed: no spread"


def test_table_lists_the_papers_numbers_with_their_citation_and_setup():
    text = results_table([finished("GAN", RING, 0, 2, 0.5, 1.0), finished("GAN", GRID, 0, 20, 0.9, 0.3)])
    ring_block, grid_block = text.split("grid of 25")
    for block in (ring_block, grid_block):
        assert "PacGAN (Lin et al. 2018), Table 1" in block and "10 trials" in block
        assert "4x400" in block and "maxout" in block and "400,000 steps" in block
        assert "VEEGAN (Srivastava et al. 2017)" in block and "5 runs" in block
    for numbers in (["6.3", "98.2%", "0.45"], ["7.9", "95.6%", "0.07"], ["7.8", "95.9%", "0.07"], ["1", "99.3%", "-"]):
        assert any(line.split()[1:] == numbers for line in ring_block.splitlines()), numbers
    for numbers in (["17.3", "94.8%", "0.70"], ["23.8", "91.3%", "0.13"], ["24.8", "93.6%", "0.04"],
                    ["3.3", "0.5%", "-"]):
        assert any(line.split()[1:] == numbers for line in grid_block.splitlines()), numbers


def test_table_omits_the_papers_for_other_mixture_settings():
    wide = toy2d.ring(radius=2.0)  # the Unrolled-GAN/VEEGAN ring: the papers' table was not measured on it
    text = results_table([finished("GAN", wide, 0, 2, 0.5, 1.0)])
    assert "ring of 8" in text and "PacGAN" not in text and "VEEGAN" not in text
    assert "PacGAN" not in results_table([finished("GAN", RING, 0, 2, 0.5, 1.0)], papers=())


def test_table_counts_runs_without_a_high_quality_sample():
    text = results_table([finished("GAN", RING, 0, 0, 0.0, math.inf), finished("GAN", RING, 1, 1, 0.1, 2.0)])
    assert "inf (1 of 2)" in text


def test_the_papers_data_are_pacgans_table_1_and_veegans_gan_baseline():
    pacgan, veegan = PAPERS
    assert pacgan.rows["GAN"]["grid of 25"] == {"modes": 17.3, "high quality": 0.948, "reverse KL": 0.70}
    assert pacgan.rows["PacGAN4"]["grid of 25"] == {"modes": 24.8, "high quality": 0.936, "reverse KL": 0.04}
    assert pacgan.rows["PacGAN2"]["ring of 8"] == {"modes": 7.9, "high quality": 0.956, "reverse KL": 0.07}
    assert veegan.rows["GAN"]["ring of 8"]["modes"] == 1 and veegan.rows["GAN"]["grid of 25"]["modes"] == 3.3
    assert math.isnan(veegan.rows["GAN"]["grid of 25"]["reverse KL"])


def test_table_of_no_runs_is_an_error():
    with pytest.raises(ValueError, match="no finished runs"):
        results_table([])


# --- scatter_figure ----------------------------------------------------------------------------------------

def test_scatter_figure_has_a_row_per_setup_and_a_column_per_distribution_and_seed(tmp_path):
    runs = [finished(setup, mixture, seed, 5, 0.5, 0.2)
            for mixture in (RING, GRID) for seed in (0, 1, 2) for setup in ("GAN", "PacGAN2")]
    fig = scatter_figure(runs)
    axes = fig.axes
    assert len(axes) == 2 * 6
    assert [ax.get_ylabel() for ax in axes[::6]] == ["GAN", "PacGAN2"]
    assert [ax.get_xlabel() for ax in axes[6:]] == [f"{d}, seed {s}" for d in ("ring of 8", "grid of 25")
                                                     for s in (0, 1, 2)]
    assert all(ax.get_title() == "5 modes, 50% HQ" for ax in axes)
    assert axes[0].get_xlim() == axes[8].get_xlim() == axes[0].get_ylim(), "one square per distribution"
    assert axes[0].get_xlim() != axes[3].get_xlim()
    assert axes[0].get_xlim()[0] < -1 and axes[3].get_xlim()[1] > 4, "every mode inside its panel"
    fig.savefig(tmp_path / "scatter.png")


def test_scatter_figure_leaves_missing_runs_blank_and_rejects_no_runs():
    fig = scatter_figure([finished("GAN", RING, 0, 5, 0.5, 0.2), finished("GAN", RING, 1, 5, 0.5, 0.2),
                          finished("WGAN-GP", RING, 0, 5, 0.5, 0.2)])  # interrupted before WGAN-GP's seed 1
    assert sum(ax.axison for ax in fig.axes) == 3
    with pytest.raises(ValueError, match="no finished runs"):
        scatter_figure([])
