"""2D toy distributions of the mode-collapse literature, to sample from and to draw.

The ring and the grid are equal-weight mixtures of isotropic Gaussians with the settings of PacGAN (Lin et al.
2018, Table 1): the ring of 8 modes on the unit circle with std 0.01, and the 5x5 grid of 25 modes at
{-4, -2, 0, 2, 4}^2 with std 0.05. (Unrolled GANs and VEEGAN use a ring of radius 2 with std 0.02: the same
ring scaled by 2, so the 3-std test gives the same answer on it.) The ring's centres sit at angles 2*pi*k/8
for k = 0..7: the widely copied ``linspace(0, 2*pi, 8)`` repeats the first centre and leaves 7 modes.
Two moons has no modes to count; it is there to play with.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from matplotlib.axes import Axes
from matplotlib.patches import Circle

EVAL_SAMPLES = 2500  # generated samples scored per evaluation, as in VEEGAN and PacGAN


@dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic Gaussians in the plane: its centres (K, 2) and their common std."""

    name: str
    centers: torch.Tensor
    std: float

    @property
    def num_modes(self) -> int:
        """The number of Gaussians, K."""
        return len(self.centers)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n points (n, 2), float32 on the CPU: each from a uniformly chosen mode plus N(0, std^2 I) noise."""
        _check_count(n)
        modes = torch.randint(self.num_modes, (n,), generator=generator)
        return self.centers[modes] + self.std * torch.randn(n, 2, generator=generator)


@dataclass(frozen=True)
class TwoMoons:
    """Two interleaved half circles with Gaussian noise: a shape without modes to count."""

    name: str = "two moons"
    noise: float = 0.05
    centers: None = None

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n points (n, 2), float32 on the CPU, centred near the origin."""
        _check_count(n)
        angle = math.pi * torch.rand(n, generator=generator)
        lower = torch.rand(n, generator=generator) < 0.5
        x = torch.where(lower, 1 - torch.cos(angle), torch.cos(angle)) - 0.5
        y = torch.where(lower, 0.5 - torch.sin(angle), torch.sin(angle)) - 0.25
        return torch.stack([x, y], dim=1) + self.noise * torch.randn(n, 2, generator=generator)


def _check_count(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of samples must be a positive integer, got {n!r}")


def ring(modes: int = 8, radius: float = 1.0, std: float = 0.01) -> Mixture:
    """`modes` Gaussians evenly spaced on a circle (PacGAN's ring by default)."""
    if modes < 1 or radius <= 0 or std <= 0:
        raise ValueError(f"a ring needs modes >= 1, radius > 0 and std > 0, got {modes}, {radius}, {std}")
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    centers = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return Mixture(f"ring of {modes}", centers.float(), std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> Mixture:
    """A side x side grid of Gaussians centred on the origin (PacGAN's 5x5 grid by default)."""
    if side < 1 or spacing <= 0 or std <= 0:
        raise ValueError(f"a grid needs side >= 1, spacing > 0 and std > 0, got {side}, {spacing}, {std}")
    axis = spacing * (torch.arange(side, dtype=torch.float32) - (side - 1) / 2)
    centers = torch.cartesian_prod(axis, axis)
    return Mixture(f"grid of {side * side}", centers, std)


def distributions() -> dict[str, Mixture | TwoMoons]:
    """The course's 2D distributions by name: the papers' ring and grid, and two moons for play."""
    shapes = [ring(), grid(), TwoMoons()]
    return {shape.name: shape for shape in shapes}


def draw_points(ax: Axes, points: torch.Tensor, distribution: Mixture | TwoMoons | None = None,
                title: str | None = None, color: str = "tab:blue") -> None:
    """Scatter `points` (N, 2) on `ax`; for a mixture, mark its centres and their 3-std circles."""
    points = points.detach().float().cpu()
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"expected points of shape (N, 2), got {tuple(points.shape)}")
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.4, color=color, linewidths=0)
    if isinstance(distribution, Mixture):
        for x, y in distribution.centers.tolist():
            ax.add_patch(Circle((x, y), 3 * distribution.std, fill=False, color="black", linewidth=0.6))
        ax.scatter(distribution.centers[:, 0], distribution.centers[:, 1], s=12, marker="x", color="black")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=9)

