"""How good are the samples? A Fréchet distance in the space of a pretrained MNIST classifier, a digit summary, and
for a conditional generator, how often it draws the digit it was asked for.

Inception-based FID needs internet weights and 299-pixel images; on MNIST the honest equivalent measures
the distance between real and generated feature statistics of a good digit classifier (``gancourse.classifier``).
Lower is better; read it against :func:`calibration`. The digit summary counts a sample as digit k only when
the classifier gives k a probability of at least 0.9 *and* the sample passes its digit check (it looks like
an MNIST digit at all): a softmax alone calls noise an 8 with certainty.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from gancourse.classifier import CONFIDENT, load_classifier, load_digit_check


def _check_images(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.shape[1:] != (1, 28, 28):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected MNIST-shaped images (N, 1, 28, 28) in [-1, 1], got {shape}")
    if images.dtype == torch.uint8:
        raise TypeError("expected float images in [-1, 1]; convert uint8 pixels with data.to_model_range")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or infinity")
    return images.detach().float()


class Classified(NamedTuple):
    """What one pass of the classifier says about N images (all on the CPU)."""

    features: torch.Tensor  # (N, 128) float64, for the Fréchet distance
    probabilities: torch.Tensor  # (N, 10)
    is_digit: torch.Tensor  # (N,) bool: passes the digit check


@torch.no_grad()
def classify(images: torch.Tensor, batch_size: int = 100) -> Classified:
    """Run the classifier and its digit check over `images` once."""
    images = _check_images(images)
    model, digit_check = load_classifier(str(images.device)), load_digit_check()
    features, probabilities, is_digit = [], [], []
    for chunk in images.split(batch_size):  # small channels-last batches: 4-5x faster on a CPU than 1,000
        detectors, h = model.detectors_and_features(chunk.contiguous(memory_format=torch.channels_last))
        features.append(h.double().cpu())
        probabilities.append(F.softmax(model.head(h), dim=1).cpu())
        is_digit.append(digit_check(detectors.cpu(), features[-1]))
    return Classified(torch.cat(features), torch.cat(probabilities), torch.cat(is_digit))


def feature_statistics(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the classifier features of `images`."""
    return gaussian_fit(classify(images).features)


def gaussian_fit(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of classifier features (N, D), N >= 2, as float64 arrays."""
    features = features.numpy()
    if len(features) < 2:
        raise ValueError("need at least 2 images to estimate a covariance")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix via its eigendecomposition."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, cov1) and N(mu2, cov2).

    ``|mu1 - mu2|^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2))``. The trace of the cross term is computed as
    ``tr((s1 cov2 s1)^(1/2))`` with ``s1 = cov1^(1/2)``: a symmetric matrix, so no complex parts arise.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: means {mu1.shape}, {mu2.shape}; covariances {cov1.shape}, {cov2.shape}")
    s1 = _psd_sqrt(cov1)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(s1 @ cov2 @ s1), 0.0, None)).sum()
    distance = float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2.0 * cross)
    return max(distance, 0.0)


def mnist_fd(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between real and generated digits in the classifier's feature space."""
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake))


class DigitScorer:
    """Scores generated digits against fixed real statistics: ``{"FD": ..., "digits drawn": ...}``."""

    def __init__(self, real: torch.Tensor, n: int = 2000) -> None:
        self.n = min(n, len(real))
        self.real_statistics = feature_statistics(real[: self.n])

    def __call__(self, fake: torch.Tensor) -> dict[str, float]:
        """FD against the real statistics, and the number of digit classes drawn."""
        classified = classify(fake)  # one pass of the classifier serves both
        return {
            "FD": frechet_distance(*self.real_statistics, *gaussian_fit(classified.features)),
            "digits drawn": _summarise(classified).classes_drawn,
        }


@dataclass
class DigitSummary:
    """Which digits a generator draws, according to the classifier and its digit check."""

    classes_drawn: int
    class_share: list[float] = field(repr=False)  # per digit: share of samples that are it, confidently
    confidence: float  # mean top-class probability, counting samples that are not digits as 0
    confident_fraction: float  # share of samples that are a digit with p >= threshold
    not_digit_fraction: float  # share of samples that fail the digit check

    def __str__(self) -> str:
        shares = " ".join(f"{d}:{s:4.0%}" for d, s in enumerate(self.class_share))
        return (f"{self.classes_drawn}/10 digits drawn, mean confidence {self.confidence:.2f}, "
                f"{self.confident_fraction:.0%} confident, {self.not_digit_fraction:.0%} not digits  [{shares}]")


def digit_summary(fake: torch.Tensor, threshold: float = CONFIDENT, min_share: float = 0.01) -> DigitSummary:
    """Summarise samples: a digit counts as drawn when at least `min_share` of them are it with p >= `threshold`.

    Samples that fail the classifier's digit check (noise, blobs, blur, ...) are no digit, whatever their p.
    """
    return _summarise(classify(fake), threshold, min_share)


def _summarise(classified: Classified, threshold: float = CONFIDENT, min_share: float = 0.01) -> DigitSummary:
    confidence, label = classified.probabilities.max(dim=1)
    confident = classified.is_digit & (confidence >= threshold)
    share = torch.bincount(label[confident], minlength=10).double() / len(confidence)
    return DigitSummary(
        classes_drawn=int((share >= min_share).sum()),
        class_share=[round(s, 4) for s in share.tolist()],
        confidence=(confidence * classified.is_digit).mean().item(),
        confident_fraction=confident.double().mean().item(),
        not_digit_fraction=1.0 - classified.is_digit.double().mean().item(),
    )


class ClassAccuracy(NamedTuple):
    """How often a conditional generator draws the digit it was asked for: per digit (10,), and their mean."""

    per_class: torch.Tensor  # (10,) float64: share of the samples asked for digit k that are digit k
    mean: float  # the mean over the ten digits (each digit weighs the same, whatever its sample count)


def class_accuracy(images: torch.Tensor, requested: torch.Tensor, threshold: float = CONFIDENT) -> ClassAccuracy:
    """Per requested digit, the share of `images` (N, 1, 28, 28) that are that digit: the classifier's top class,
    with p >= `threshold`, and passing the digit check (noise the softmax calls an 8 does not count)."""
    if not isinstance(requested, torch.Tensor) or requested.dim() != 1 or len(requested) != len(images):
        got = tuple(requested.shape) if isinstance(requested, torch.Tensor) else type(requested).__name__
        raise ValueError(f"requested must be a 1-D tensor of {len(images)} digit labels (one per image), got {got}")
    if requested.dtype.is_floating_point or requested.dtype == torch.bool:
        raise TypeError(f"requested must hold integer digit labels, got dtype {requested.dtype}")
    requested = requested.cpu()
    if len(requested) and (requested.min() < 0 or requested.max() > 9):
        raise ValueError(f"requested labels must be digits 0-9, got values from {int(requested.min())} "
                         f"to {int(requested.max())}")
    asked = torch.bincount(requested, minlength=10)
    if (asked == 0).any():
        missing = ", ".join(str(d) for d in (asked == 0).nonzero().flatten().tolist())
        raise ValueError(f"ask for every digit at least once: no image was requested for digit(s) {missing}")
    classified = classify(images)
    confidence, label = classified.probabilities.max(dim=1)
    right = (label == requested) & classified.is_digit & (confidence >= threshold)
    per_class = torch.bincount(requested[right], minlength=10).double() / asked
    return ClassAccuracy(per_class, per_class.mean().item())


def _blur(images: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    radius = int(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).view(1, 1, 1, -1)
    padded = F.pad(images, [radius] * 4, mode="replicate")
    return F.conv2d(F.conv2d(padded, kernel), kernel.transpose(2, 3))


def _blobs(n: int, generator: torch.Generator, max_blobs: int = 4) -> torch.Tensor:
    """`n` images of 1 to `max_blobs` soft round Gaussian blobs on a black background, in [-1, 1]."""
    centres = 6 + 16 * torch.rand(n, max_blobs, 2, 1, 1, generator=generator)
    widths = 1.5 + 3.5 * torch.rand(n, max_blobs, 1, 1, generator=generator)
    present = torch.arange(max_blobs) < torch.randint(1, max_blobs + 1, (n, 1), generator=generator)
    y, x = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    squared = (x - centres[:, :, 0]) ** 2 + (y - centres[:, :, 1]) ** 2
    blobs = torch.exp(-squared / (2 * widths**2)) * present[..., None, None]
    return blobs.sum(dim=1, keepdim=True).clamp(max=1.0) * 2 - 1


@dataclass(frozen=True)
class Calibration:
    """Reference scores for `n` samples of each kind: FD against `n` real digits, and the digit summary."""

    n: int
    rows: dict[str, dict[str, float]]  # "real vs ..." -> {"FD", "digits drawn", "confident", "not digits"}

    def __str__(self) -> str:
        lines = [f"Calibration: {self.n:,} images of each kind against {self.n:,} real digits",
                 f"  {'':24s} {'FD':>8s}  {'digits drawn':>12s}  {'confident':>9s}  {'not digits':>10s}"]
        for name, row in self.rows.items():
            lines.append(f"  {name:24s} {row['FD']:8.1f}  {row['digits drawn']:9.0f}/10  "
                         f"{row['confident']:9.0%}  {row['not digits']:10.0%}")
        return "\n".join(lines)


def calibration(real: torch.Tensor, n: int = 2000, seed: int = 0) -> Calibration:
    """FD and digit summary of `n` other real, blurred real, blob and uniform-noise images, against `n` real ones."""
    real = _check_images(real)
    if len(real) < 2 * n:
        raise ValueError(f"calibration needs at least {2 * n} real images, got {len(real)}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(real), generator=generator).to(real.device)
    half_a, half_b = real[order[:n]], real[order[n : 2 * n]]
    noise = torch.rand(half_b.shape, generator=generator).to(real.device) * 2 - 1
    kinds = {
        "real vs other real": half_b,
        "real vs blurred real": _blur(half_b),
        "real vs Gaussian blobs": _blobs(n, generator).to(real.device),
        "real vs uniform noise": noise,
    }
    reference = feature_statistics(half_a)
    rows = {}
    for name, images in kinds.items():
        classified = classify(images)
        summary = _summarise(classified)
        rows[name] = {
            "FD": frechet_distance(*reference, *gaussian_fit(classified.features)),
            "digits drawn": summary.classes_drawn,
            "confident": summary.confident_fraction,
            "not digits": summary.not_digit_fraction,
        }
    return Calibration(n, rows)
