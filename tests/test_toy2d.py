import math

import pytest
import torch
from matplotlib.figure import Figure

from gancourse import toy2d


def test_ring_has_eight_distinct_centres_on_the_unit_circle():
    ring = toy2d.ring()
    assert ring.num_modes == 8 and ring.std == 0.01
    assert torch.allclose(ring.centers.norm(dim=1), torch.ones(8))
    distances = torch.cdist(ring.centers, ring.centers) + 10 * torch.eye(8)
    assert distances.min() == pytest.approx(2 * math.sin(math.pi / 8), rel=1e-5)  # no repeated centre


def test_grid_centres_are_the_papers():
    grid = toy2d.grid()
    assert grid.num_modes == 25 and grid.std == 0.05
    expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {tuple(c) for c in grid.centers.round().int().tolist()} == expected


@pytest.mark.parametrize("mixture", [toy2d.ring(), toy2d.grid()], ids=lambda m: m.name)
def test_samples_lie_near_their_modes_and_cover_them_evenly(mixture):
    points = mixture.sample(20_000, generator=torch.Generator().manual_seed(0))
    assert points.shape == (20_000, 2) and points.dtype == torch.float32
    distance, nearest = torch.cdist(points, mixture.centers).min(dim=1)
    assert distance.max() < 6 * mixture.std  # a 6-sigma outlier in 20,000 draws would be a bug
    assert (distance < 3 * mixture.std).float().mean() > 0.98  # chi with 2 dof: P(r < 3 sigma) = 0.989
    counts = torch.bincount(nearest, minlength=mixture.num_modes).float()
    assert counts.min() > 0.8 * counts.mean()


def test_sampling_is_reproducible_with_a_generator():
    for shape in toy2d.distributions().values():
        a = shape.sample(100, generator=torch.Generator().manual_seed(3))
        b = shape.sample(100, generator=torch.Generator().manual_seed(3))
        assert torch.equal(a, b)


def test_two_moons_is_bounded_and_has_no_modes():
    moons = toy2d.TwoMoons()
    points = moons.sample(5000, generator=torch.Generator().manual_seed(0))
    assert moons.centers is None
    assert points.abs().max() < 2 and points.mean(0).abs().max() < 0.2


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_bad_sample_counts_are_refused(bad):
    with pytest.raises(ValueError, match="positive integer"):
        toy2d.ring().sample(bad)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="std > 0"):
        toy2d.ring(std=0)
    with pytest.raises(ValueError, match="side >= 1"):
        toy2d.grid(side=0)


def test_draw_points_marks_centres_and_three_std_circles():
    fig = Figure()
    ax = fig.add_subplot()
    toy2d.draw_points(ax, toy2d.ring().sample(50), toy2d.ring(), title="ring")
    assert len(ax.patches) == 8 and ax.patches[0].get_radius() == pytest.approx(0.03)
    assert ax.get_title() == "ring"
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        toy2d.draw_points(ax, torch.zeros(5, 3))
