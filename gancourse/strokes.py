"""Two unpaired image domains built from MNIST whose true mapping is known: thin and thick strokes (notebook 07).

Domain A is MNIST as it is; domain B is MNIST drawn with a thicker pen, a 3x3 grey-scale dilation (every pixel
takes the inkiest value of its 3x3 neighbourhood, so each stroke grows by one pixel on every side). The two
training sets come from disjoint halves of the digits, so no digit appears in both and no pair exists. The
held-out set is 2,000 test-split digits in both styles, the same whichever splits are on disk: there the true
translation of every image is known, ``thicken(thin)`` one way and ``thin`` the other, so a translation can be
scored against it.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import torch
import torch.nn.functional as F

from gancourse.data import Batches, has_split, load_mnist, to_model_range
from gancourse.metrics import classify, feature_statistics, frechet_distance, gaussian_fit

HELD_OUT = 2000


def thicken(images: torch.Tensor) -> torch.Tensor:
    """Domain A -> domain B, the true mapping: a 3x3 dilation of float images (N, C, H, W) in [-1, 1]."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point():
        shape = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected float images of shape (N, C, H, W) in [-1, 1], got {shape}")
    return F.max_pool2d(images, kernel_size=3, stride=1, padding=1)


class StrokeDomains(NamedTuple):
    """Unpaired training images of both domains, and held-out digits in both styles with their labels."""

    train_a: torch.Tensor  # thin digits, float (N, 1, 28, 28) in [-1, 1]
    train_b: torch.Tensor  # thick digits drawn from the other half of the data
    thin: torch.Tensor  # held-out digits as they are (domain A) ...
    thick: torch.Tensor  # ... and the same digits thickened (domain B): thick == thicken(thin)
    labels: torch.Tensor
    trained_on: str

    def head(self, n: int) -> StrokeDomains:
        """The same data with only the first `n` held-out digits (a quicker evaluation)."""
        if not isinstance(n, int) or isinstance(n, bool) or not 2 <= n <= len(self.labels):
            raise ValueError(f"n must be an int between 2 and {len(self.labels)}, got {n!r}")
        return self._replace(thin=self.thin[:n], thick=self.thick[:n], labels=self.labels[:n])


def stroke_domains() -> StrokeDomains:
    """Thin digits from one half of the training digits, thick ones from the other, and 2,000 held-out digits."""
    test_images, test_labels = load_mnist("test")
    order = torch.randperm(len(test_images), generator=torch.Generator().manual_seed(0))
    train_images, _ = load_mnist("train")  # offline, this warns and falls back to the test split
    if has_split("train"):
        source = f"the MNIST training split ({len(train_images):,} digits)"
    else:
        train_images = test_images[order[HELD_OUT:]]
        source = f"{len(train_images):,} digits of the MNIST test split (the other {HELD_OUT:,} are held out)"
    halves = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(1)).chunk(2)
    thin = to_model_range(test_images[order[:HELD_OUT]])
    return StrokeDomains(
        train_a=to_model_range(train_images[halves[0]]), train_b=thicken(to_model_range(train_images[halves[1]])),
        thin=thin, thick=thicken(thin), labels=test_labels[order[:HELD_OUT]],
        trained_on=f"{source}, split into two disjoint halves",
    )


class UnpairedBatches(Iterator):
    """Endless ``(a, b)`` minibatches, each domain shuffled on its own, so a and b are never the same digits."""

    def __init__(self, images_a: torch.Tensor, images_b: torch.Tensor, batch_size: int, *,
                 device: torch.device | str | None = None, seed: int = 0) -> None:
        self._a = Batches(images_a, batch_size, device=device, seed=seed)
        self._b = Batches(images_b, batch_size, device=device, seed=seed + 1)

    def __len__(self) -> int:
        """Number of full batches in one epoch of the larger domain."""
        return max(len(self._a), len(self._b))

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return next(self._a), next(self._b)


class TranslationScores(NamedTuple):
    """How close translations are to the true mapping (L1), whether they keep the digit, how real they look (FD)."""

    l1: float
    same_digit: float
    fd: float


class TranslationScorer:
    """Scores translations against the truth: ``TranslationScorer(truth, labels)(outputs)``.

    The truth's classifier statistics are computed once, here; each call runs the classifier once.
    """

    def __init__(self, truth: torch.Tensor, labels: torch.Tensor) -> None:
        if len(truth) != len(labels):
            raise ValueError(f"{len(truth)} images but {len(labels)} labels")
        self.truth, self.labels = truth.detach().float().cpu(), labels.cpu()
        self._statistics = feature_statistics(self.truth)

    def __call__(self, outputs: torch.Tensor) -> TranslationScores:
        """L1 to the truth, the share the classifier reads as the source digit (and as a digit at all), and FD."""
        if not isinstance(outputs, torch.Tensor) or outputs.shape != self.truth.shape:
            shape = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
            raise ValueError(f"expected translations of shape {tuple(self.truth.shape)}, got {shape}")
        outputs = outputs.detach().float().cpu()
        readings = classify(outputs)
        same = (readings.probabilities.argmax(dim=1) == self.labels) & readings.is_digit
        return TranslationScores(
            l1=(outputs - self.truth).abs().mean().item(), same_digit=same.float().mean().item(),
            fd=frechet_distance(*self._statistics, *gaussian_fit(readings.features)),
        )
